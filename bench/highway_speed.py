"""Highway evaluation with and without dpf_gui.envs.highway_fast: decisions per second, same episodes.

    PYTHONPATH=. python bench/highway_speed.py [--episodes 20] [--rounds 2]

The shipped task agent plays the same held-out episodes (``evaluate``'s batched loop, one process) with
highway-env's own code and with the faster equivalents (neighbour search, lane geometry, vehicle control,
observation), alternately ``--rounds``
times so both see the same load. Fails unless every round played the same episodes (length, success,
return, regions of every decision).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main(argv: list[str] | None = None) -> int:
    from dpf_gui.envs import highway_fast
    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.rollout import episode_seeds

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    if not highway_fast.available():
        print(f"the installed highway-env is not one of {highway_fast.CHECKED_VERSIONS}: nothing to compare")
        return 1
    task = load_task_agent("highway")
    agent = FusedAgent(task, "task")
    seeds = episode_seeds(args.seed, args.episodes, held_out=True)
    rates: dict[bool, list[float]] = {True: [], False: []}
    first = None
    for _ in range(args.rounds):
        for enabled in (False, True):
            highway_fast.ENABLED = enabled
            t0 = time.perf_counter()
            records = play_records("highway", agent, seeds, task.env_config, progress=False)
            wall = time.perf_counter() - t0
            rates[enabled].append(sum(r.length for r in records) / wall)
            key = [(r.length, r.task_success, r.task_return, r.regions.tobytes()) for r in records]
            if first is None:
                first = key
            elif key != first:
                print("FAIL: the episodes differ between runs")
                return 1
    decisions = sum(k[0] for k in first)
    slow, fast = np.median(rates[False]), np.median(rates[True])
    print(f"{args.episodes} episodes, {decisions} decisions, load average {os.getloadavg()[0]:.1f}")
    print(f"highway-env's own code: {slow:.1f} decisions/s (rounds: {', '.join(f'{r:.1f}' for r in rates[False])})")
    print(f"highway_fast:           {fast:.1f} decisions/s (rounds: {', '.join(f'{r:.1f}' for r in rates[True])})")
    print(f"speed-up {fast / slow:.2f}x; every round played the same episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

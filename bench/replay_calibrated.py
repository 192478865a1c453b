"""Replay one benchmark cell's calibrated agent on new episodes: is its held-out success what the confirmation said?

Trains the cell's intent exactly as ``dpf benchmark`` does (same labels, same seed), sets the strength and c the
calibration chose (read them from the cell's table), and plays new episodes from the held-out range and from the
training range (the calibration's), one process each if ``--jobs 2``. Nothing here is cached; highway: about 2
minutes for 150 episodes a range on the 2-core AMD EPYC.

    python bench/replay_calibrated.py --env highway --split dev --wish w03-avoid --strength 8 --c 12 \\
        --episodes 150 --set risk=0.005 --set margin=none
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _fusion(sets: list[str]) -> dict:
    out = {}
    for text in sets:
        key, value = text.split("=", 1)
        out[key] = None if value == "none" else float(value)
    return out


def replay(args: argparse.Namespace, held_out: bool) -> float:
    from cell_intent import cell_agents

    from dpf_gui.evaluate import play_records
    from dpf_gui.rollout import episode_seeds

    ctx, agent = cell_agents(args, _fusion(args.set))
    seeds = episode_seeds(args.seed, args.episodes, held_out=held_out)
    return float(np.mean([r.task_success for r in play_records(args.env, agent, seeds, ctx.task.env_config)]))


def main() -> int:
    from cell_intent import add_cell_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cell_arguments(p, episodes=150)
    p.add_argument("--seed", type=int, default=777, help="seed of the new episodes' reset seeds")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="fusion override (none: off)")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(("held-out", "training range"), pool.map(replay, [args, args], [True, False]), strict=True))
    for name, success in results.items():
        print(f"{args.wish}: {name}, {args.episodes} new episodes: success {success:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How often does the fused agent step back and forth instead of going round? (docs/EXPERIMENTS.md section 76)

A back-step is a decision that returns to the state's regions of two decisions before after leaving them
(gridnav: the cell; highway: lane and speed band): A -> B -> A. Where the intent's per-step rewards say that
stepping into an avoided region is bad and stepping back is good, but nothing values going round, dynamic fusion
dithers at the region's edge until its budget c is spent, then crosses: the avoided share falls with the
episode's length while the decisions in the region do not (``avoid_steps``). Prints, for the task agent and for
dynamic fusion at the given strength and c, the share of back-steps among all decisions, the episodes with four
or more, the mean length and the avoided decisions per episode of the wish recorded with the intent.

    # the quick start's intent (README), at the strength its calibration chose (dpf evaluate --calibrate says it)
    python bench/dithering.py --intent runs/intent --strength 2 --c 12

2026-12-07, that intent (25 suggested exact marks, gridnav's avoid preset), 100 episodes from seed 1000, 2-core AMD
EPYC: task 0 % back-steps, length 9.6, 4.0 decisions on toll cells; dynamic 41 %, 34 episodes with >= 4, length
19.9, 1.7 on toll cells (4 s): on this wish it avoids on the whole, and in a third of its episodes it dithers.
"""

from __future__ import annotations

import argparse

import numpy as np

from dpf_gui.back_steps import DITHER_COUNT, back_steps
from dpf_gui.cache import read_json
from dpf_gui.checkpoints import SIDECAR_FILE
from dpf_gui.episode import recorded_wish
from dpf_gui.pipeline import build_agents, load_task_agent, task_region_features
from dpf_gui.trace import play_trace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--intent", required=True, help="an intent-model folder (dpf train-intent)")
    p.add_argument("--strength", type=float, required=True, help="the intent's strength (dpf evaluate --calibrate)")
    p.add_argument("--c", type=float, required=True, help="dynamic fusion's budget c (dpf evaluate --calibrate)")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=1000, help="the first episode's reset seed")
    args = p.parse_args()
    meta = read_json(f"{args.intent}/{SIDECAR_FILE}")
    task = load_task_agent(meta["env"])
    wish = recorded_wish(task_region_features(task), meta)
    overrides = {"strength": args.strength, "c": args.c}
    for strategy in ("task", "dynamic"):
        agent = build_agents(task, [strategy], intent_dir=args.intent, overrides=overrides, progress=False)[strategy]
        back, decisions, dithering, lengths, avoided = 0, 0, 0, [], []
        for seed in range(args.seed, args.seed + args.episodes):
            trace = play_trace(task.env_name, agent, seed, env_config=task.env_config, wish=wish)
            regions = [tuple(v for k, v in row.items() if k.startswith("region:")) for row in trace.rows]
            n = back_steps(regions)
            back, decisions, dithering = back + n, decisions + len(regions), dithering + (n >= DITHER_COUNT)
            lengths.append(len(regions))
            avoided.append(sum(int(row.get("in_avoid") or 0) for row in trace.rows))
        print(f"{strategy}: back-steps {back / max(decisions, 1):.1%} of the decisions, {dithering} of "
              f"{args.episodes} episodes with >= {DITHER_COUNT}, mean length {np.mean(lengths):.1f}, "
              f"avoided decisions per episode {np.mean(avoided):.2f}")


if __name__ == "__main__":
    main()

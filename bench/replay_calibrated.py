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
from dataclasses import replace
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
    from cell_intent import fused_agent, train_cell_intent

    from dpf_gui import benchmark as B
    from dpf_gui.evaluate import play_records
    from dpf_gui.pipeline import fusion_params
    from dpf_gui.rollout import episode_seeds

    spec = B.BenchmarkSpec(envs=(args.env,), split=args.split, wishes=args.wishes, budgets=(args.budget,),
                           label_types=(args.labels,), selections=("random",), rows=("calibrated",),
                           fusion=_fusion(args.set))
    ctx = B.env_context(args.env, spec, Path(args.work))
    cell = next(c for c in B.cells_of(ctx, spec) if c.wish.name == args.wish)
    _, seed, _, trained = train_cell_intent(ctx.task, ctx.data, cell.wish, args.split, args.budget, args.labels)
    params = replace(fusion_params(ctx.task, spec.fusion), strength=args.strength, c=args.c)
    agent = fused_agent(ctx.task, trained, params, seed)
    seeds = episode_seeds(args.seed, args.episodes, held_out=held_out)
    return float(np.mean([r.task_success for r in play_records(args.env, agent, seeds, ctx.task.env_config)]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="highway")
    p.add_argument("--split", default="dev", choices=("dev", "report"))
    p.add_argument("--wishes", type=int, default=8)
    p.add_argument("--wish", required=True, help="the cell's wish name, e.g. w03-avoid")
    p.add_argument("--budget", type=int, default=25)
    p.add_argument("--labels", default="exact")
    p.add_argument("--strength", type=float, required=True)
    p.add_argument("--c", type=float, required=True)
    p.add_argument("--episodes", type=int, default=150)
    p.add_argument("--seed", type=int, default=777, help="seed of the new episodes' reset seeds")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="fusion override (none: off)")
    p.add_argument("--work", default="runs/benchmark", help="the benchmark's cache (the task agent's episodes)")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(("held-out", "training range"), pool.map(replay, [args, args], [True, False]), strict=True))
    for name, success in results.items():
        print(f"{args.wish}: {name}, {args.episodes} new episodes: success {success:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

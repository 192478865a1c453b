"""Do a fused agent's successes and the task agent's go together on the same reset seeds?

The calibration's confirmation (``dpf_gui.calibrate``) leans on the task agent played on the winner's fresh seeds
as much as their outcomes correlate (``regression_bounds``). This plays the task agent and one benchmark cell's
calibrated agent (its intent trained as ``dpf benchmark`` trains it, at a given strength and c) on the same
training-range seeds and prints the correlation of their successes and how much of the margin's variance the
pairing removes (1 - corr^2). Nothing is cached; highway: about 1 s an episode on the 2-core AMD EPYC.

    python bench/confirm_pairing.py --env highway --wish w03-avoid --strength 4 --c 3 --episodes 200
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def successes(args: argparse.Namespace, fused: bool) -> np.ndarray:
    from cell_intent import fused_agent, train_cell_intent

    from dpf_gui import benchmark as B
    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import fusion_params
    from dpf_gui.rollout import episode_seeds

    spec = B.BenchmarkSpec(envs=(args.env,), split=args.split, wishes=args.wishes, budgets=(args.budget,),
                           label_types=(args.labels,), selections=("random",), rows=("calibrated",))
    ctx = B.env_context(args.env, spec, Path(args.work))
    agent = FusedAgent(ctx.task, "task")
    if fused:
        cell = next(c for c in B.cells_of(ctx, spec) if c.wish.name == args.wish)
        _, seed, _, trained = train_cell_intent(ctx.task, ctx.data, cell.wish, args.split, args.budget, args.labels)
        agent = fused_agent(ctx.task, trained, replace(fusion_params(ctx.task, spec.fusion), strength=args.strength,
                                                       c=args.c), seed)
    seeds = episode_seeds(args.seed, args.episodes, held_out=False)
    return np.array([r.task_success for r in play_records(args.env, agent, seeds, ctx.task.env_config)], dtype=float)


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
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=424242, help="seed of the training-range reset seeds played")
    p.add_argument("--work", default="runs/benchmark", help="the benchmark's cache (the task agent's episodes)")
    args = p.parse_args()
    with ProcessPoolExecutor(max_workers=2) as pool:
        task, fused = pool.map(successes, [args, args], [False, True])
    corr = float(np.corrcoef(fused, task)[0, 1]) if fused.std() and task.std() else 0.0
    both = int(((fused == 0) & (task == 0)).sum())
    print(f"{args.env} {args.wish} (strength {args.strength:g}, c {args.c:g}), {args.episodes} training-range "
          f"episodes: task agent {task.mean():.3f}, fused {fused.mean():.3f}, both failed {both}; "
          f"correlation {corr:.2f}, margin variance left by pairing {1 - corr ** 2:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

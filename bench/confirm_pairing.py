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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def successes(args: argparse.Namespace, fused: bool) -> np.ndarray:
    from cell_intent import cell_agents

    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.rollout import episode_seeds

    if fused:
        ctx, agent = cell_agents(args)
        task = ctx.task
    else:  # the task agent needs no cell: the same shipped agent the cells fuse with
        task = load_task_agent(args.env)
        agent = FusedAgent(task, "task")
    seeds = episode_seeds(args.seed, args.episodes, held_out=False)
    return np.array([r.task_success for r in play_records(args.env, agent, seeds, task.env_config)], dtype=float)


def main() -> int:
    from cell_intent import add_cell_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cell_arguments(p, episodes=200)
    p.add_argument("--seed", type=int, default=424242, help="seed of the training-range reset seeds played")
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

"""What keeps a wish short? Play one benchmark cell's intent under fusion variants and print wish shares.

Trains the cell's additive intent exactly as ``dpf benchmark`` does (the split's generated wish, the same
simulated labels and seed, random selection), then plays dynamic fusion with each ``--variant`` (JSON overrides
of the task agent's stored fusion parameters, ``null`` for off) on the split's first ``--episodes`` held-out
episodes, beside the task agent on the same episodes. Nothing is cached; use it on the dev split only (the
report split's wishes stay unseen). Highway: about 20 s per variant for 30 episodes on the 2-core AMD EPYC;
Pong: 15-30 s per variant for 200 episodes.

    python bench/probe_wish_limits.py --env highway --wish w07-prefer --episodes 30 \\
        --variant '{"strength": 8, "c": 12}' --variant '{"strength": 8, "c": 12, "risk": null}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _shares(records, wish) -> str:
    from dpf_gui.evaluate import summarise_episodes

    s = summarise_episodes([r.stats(wish) for r in records])
    keys = ("task_success", "prefer_fraction", "avoid_fraction", "fusion_weight")
    return ", ".join(f"{k} {s[k]['mean']:.3f}" for k in keys if k in s)


def main() -> int:
    from cell_intent import fused_agent, split_wishes, train_cell_intent

    from dpf_gui import benchmark as B
    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import fusion_params
    from dpf_gui.rollout import episode_seeds

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="highway")
    p.add_argument("--split", default="dev", choices=("dev", "report"))
    p.add_argument("--wishes", type=int, default=8)
    p.add_argument("--wish", action="append", required=True, help="a generated wish's name, e.g. w07-prefer")
    p.add_argument("--budget", type=int, default=25)
    p.add_argument("--labels", default="exact")
    p.add_argument("--draw", type=int, default=0, help="the draw of labels (dpf benchmark --draw)")
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--variant", action="append", required=True, metavar="JSON", help="fusion overrides")
    args = p.parse_args()

    split = B.SPLITS[args.split]
    task, data, wishes = split_wishes(args.env, args.split, args.wishes)
    seeds = episode_seeds(split.eval_seed, args.episodes, held_out=True)
    task_records = play_records(args.env, FusedAgent(task, "task"), seeds, task.env_config)
    for name in args.wish:
        generated = wishes[name]
        wish, seed, _, trained = train_cell_intent(task, data, generated, args.split, args.budget, args.labels,
                                                     draw=args.draw)
        print(f"{name} ({generated.text()}), task agent: {_shares(task_records, wish)}", flush=True)
        for text in args.variant:
            t0 = time.time()
            params = replace(fusion_params(task, {}), **json.loads(text))
            records = play_records(args.env, fused_agent(task, trained, params, seed), seeds, task.env_config)
            print(f"  {text}: {_shares(records, wish)} ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the choice of trajectories does to a few labels: random, first in the list, or suggested.

For each environment, preset wish and selection (``random``, ``first``,
``active`` with one round, i.e. diversity only, or more with ``--rounds``), a
noise-free simulated user labels ``K`` trajectories of the shipped dataset
(:func:`dpf_gui.selection.select_and_label`). Printed per cell and seed:
the number of different scores among the K labels (one: the intent model
refuses them), and with ``--train`` the correlation, over every stored
trajectory, between the true score and the score predicted by an intent
model trained on the K labels (the additive kind's utility stage with its
default settings; the value stage, which does not change predicted scores,
cut to one step).

    python bench/selection_quality.py [--envs gridnav] [--budget 10] [--seeds 2] [--train]
"""

from __future__ import annotations

import argparse

import numpy as np

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import env_spec
from dpf_gui.errors import UserError
from dpf_gui.intent.additive import AdditiveConfig
from dpf_gui.intent.registry import train_intent
from dpf_gui.oracles import FeedbackNoise
from dpf_gui.paths import dataset_path
from dpf_gui.selection import select_and_label, summaries
from dpf_gui.threads import limit_threads
from dpf_gui.wish import make_wish

EVAL_TRAINING = AdditiveConfig(value_steps=1, max_transitions=1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default="gridnav")
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1, help="rounds of active selection (default: 1)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--train", action="store_true", help="also train an intent model on the labels")
    args = ap.parse_args()
    limit_threads(1)
    print(f"K = {args.budget}; per seed: different scores" + (" / correlation" if args.train else ""))
    print("| env | wish | random | first | active |\n|---|---|---|---|---|")
    for env in [e.strip() for e in args.envs.split(",") if e.strip()]:
        data = TrajectoryDataset.load(dataset_path(env))  # the shipped data, from any folder
        for preset in ("avoid", "prefer", "mixed"):
            wish = make_wish(data.region_features, preset=env_spec(env).preset(preset))
            cells = []
            for select in ("random", "first", "active"):
                runs = []
                for seed in range(args.seeds):
                    labels = select_and_label(data, wish, FeedbackNoise(), args.budget, select=select,
                                              rounds=args.rounds if select == "active" else 1, seed=seed)
                    text = str(len(np.unique(labels.scores[labels.labelled])))
                    if args.train:
                        try:
                            model = train_intent(data, labels, seed, config=EVAL_TRAINING, progress=False).model
                            pred = summaries(data).predicted_scores(model).mean(0)
                            text += f" / {np.corrcoef(pred, labels.true_scores)[0, 1]:+.2f}"
                        except UserError:
                            text += " / refused"
                    runs.append(text)
                cells.append(", ".join(runs))
            print(f"| {env} | {preset} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

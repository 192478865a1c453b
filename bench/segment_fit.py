"""How well does the utility learnt from a cell's labels follow the wish, step by step? Dev split only.

For each generated wish of the split, trains the utility of the additive intent on the benchmark cell's
labels (``--labels segments`` by default: a person's marked stretches, random selection) and prints the
correlation, over every stored decision, of the learnt utility of the state it led to with the wish's true
mark there (+1 preferred, -1 avoided, 0 neither), and over every stored trajectory of the summed utility with
the true score; also the share of the labelled trajectories' decisions that the marks cover. The value
stage is cut (only the utility is read), so a wish takes seconds to a minute.

Run it from two copies of the source to compare learners: docs/EXPERIMENTS.md ("Marked segments") compares
today's with one that fits a trajectory marked only in part by its marked steps alone (V24, not adopted).

    python bench/segment_fit.py --env pong --budget 25
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from cell_intent import split_wishes

    from dpf_gui import benchmark as B
    from dpf_gui.errors import UserError
    from dpf_gui.intent.additive import AdditiveConfig, region_code
    from dpf_gui.intent.registry import train_intent
    from dpf_gui.overrides import config_from_sets, parse_sets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="pong")
    p.add_argument("--split", default="dev", choices=("dev", "report"))
    p.add_argument("--wishes", type=int, default=8)
    p.add_argument("--budget", type=int, default=25)
    p.add_argument("--labels", default="segments", choices=B.LABEL_TYPES)
    p.add_argument("--draw", type=int, default=0, help="which draw of labels (as dpf benchmark --draw)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a field of the additive intent's config, as dpf benchmark --intent-set (repeatable)")
    args = p.parse_args()
    try:  # the utility alone is read
        config = config_from_sets(AdditiveConfig, {**parse_sets(args.set), "value_steps": 1, "max_transitions": 1000})
    except UserError as exc:
        p.error(str(exc))

    task, data, wishes = split_wishes(args.env, args.split, args.wishes)
    code = region_code(data.regions, data.region_features)
    features = data.features.astype(np.float32)
    next_rows = np.concatenate([np.arange(data.state_slice(i).start + 1, data.state_slice(i).stop)
                                for i in range(len(data))])
    owner = np.repeat(np.arange(len(data)), data.lengths)
    print(f"{args.env}, {args.split} split, {args.budget} {args.labels} labels (random selection, draw "
          f"{args.draw}){' ' + ' '.join(args.set) if args.set else ''}")
    for name, generated in wishes.items():
        t0 = time.time()
        wish, seed, chosen = B.cell_labels(task, data, generated, args.split, args.budget, args.labels, "random",
                                               args.draw)
        try:
            trained = train_intent(data, chosen, seed, config=config, progress=False)
        except UserError as exc:  # e.g. every chosen trajectory has the same score: the benchmark's cell has no intent
            print(f"  {name} ({generated.text()}): no intent ({exc})", flush=True)
            continue
        u = trained.model.utilities(features, code).mean(0)[next_rows]
        true = wish.marks(data.next_state_regions()).astype(np.float64)
        per_traj = np.bincount(owner, weights=u, minlength=len(data))
        true_traj = np.bincount(owner, weights=true, minlength=len(data))
        known = chosen.known_steps()
        labelled = np.flatnonzero(chosen.labelled)
        covered = (float(np.mean([known[data.step_slice(int(i))].mean() for i in labelled]))
                   if known is not None else float("nan"))
        print(f"  {name} ({generated.text()}): decisions {np.corrcoef(u, true)[0, 1]:+.2f}, trajectories "
              f"{np.corrcoef(per_traj, true_traj)[0, 1]:+.2f}; marks cover {covered:.2f} of the labelled "
              f"decisions ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

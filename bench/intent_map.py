"""What did a benchmark cell's intent learn, and could its labels have taught more? Dev split only.

Trains one cell's additive intent as ``dpf benchmark`` does (the split's generated wish, its simulated labels
and seed, the chosen selection) and prints, for each wish:

* how many of the chosen trajectories enter each preferred and avoided region of the wish (and how many of all the
  stored ones do): a region no labelled trajectory enters cannot be learnt from those labels;
* the learnt utility (score units, the ensemble's mean, and its members' spread) on the stored states inside
  the preferred region, the avoided one and elsewhere: the true marks are +1, -1 and 0;
* on gridnav, the learnt utility per cell beside the wish's marks per cell, so a confounded region (one that
  the labelled trajectories always enter together with another) shows as two cells valued alike.

About 45 s a wish on the 2-core AMD EPYC beside a benchmark run (gridnav, 25 labels). Use the dev split:
the report split's wishes stay unseen.

    python bench/intent_map.py --env gridnav --wish w02-mixed --wish w05-mixed --budget 25 --labels exact
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cell_map(values: np.ndarray, xs: np.ndarray, ys: np.ndarray, fmt) -> list[str]:
    """One text row per grid row: ``fmt(values of the states in the cell)`` per cell, '.' where none are stored."""
    rows = []
    for y in range(int(np.nanmax(ys)) + 1):
        cells = []
        for x in range(int(np.nanmax(xs)) + 1):
            inside = (xs == x) & (ys == y)
            cells.append(fmt(values[inside]) if inside.any() else "     .")
        rows.append(" ".join(cells))
    return rows


def _marks_text(marks: np.ndarray) -> str:
    """A cell's true marks: +1 or -1 where every stored state there has it, 0 where none does, else 'mixed'."""
    if (marks > 0).all():
        return "    +1"
    if (marks < 0).all():
        return "    -1"
    return "     0" if (marks == 0).all() else " mixed"


def main() -> int:
    from cell_intent import split_wishes, train_cell_intent

    from dpf_gui.benchmark import LABEL_TYPES
    from dpf_gui.coverage import region_coverage
    from dpf_gui.intent.additive import region_code

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="gridnav")
    p.add_argument("--split", default="dev", choices=("dev", "report"))
    p.add_argument("--wishes", type=int, default=8)
    p.add_argument("--wish", action="append", required=True, help="a generated wish's name, e.g. w05-mixed")
    p.add_argument("--budget", type=int, default=25)
    p.add_argument("--labels", default="exact", choices=LABEL_TYPES)
    p.add_argument("--select", default="random", choices=("random", "active"))
    args = p.parse_args()

    task, data, wishes = split_wishes(args.env, args.split, args.wishes)
    unknown = [name for name in args.wish if name not in wishes]
    if unknown:
        print(f"no such wish on the {args.split} split: {', '.join(unknown)}; there are {', '.join(wishes)}",
              file=sys.stderr)
        return 2
    names = [rf.name for rf in data.region_features]
    code = region_code(data.regions, data.region_features)
    for name in args.wish:
        wish, _, chosen, trained = train_cell_intent(task, data, wishes[name], args.split, args.budget,
                                                     args.labels, args.select)
        model = trained.model
        u = model.utilities(data.features.astype(np.float32), code) * float(model.score_scale)  # (members, N)
        mean, spread = u.mean(0), u.std(0)
        labelled = np.flatnonzero(chosen.labelled)
        prefer = wish.in_prefer(data.regions) if wish.prefer else np.zeros(len(data.regions), bool)
        avoid = wish.in_avoid(data.regions) if wish.avoid else np.zeros(len(data.regions), bool)
        print(f"{name}: {wishes[name].text()} ({args.budget} {args.labels} labels, {args.select})")
        for region, inside in region_coverage(data, wish):
            print(f"  {region.kind} {region.expression}: {int((inside[labelled] > 0).sum())} of the {len(labelled)} "
                  f"labelled trajectories enter it ({region.trajectories} of {region.of_trajectories} stored)")
        for part, mask, true in (("preferred", prefer, "+1"), ("avoided", avoid, "-1"),
                                 ("elsewhere", ~prefer & ~avoid, "0")):
            if mask.any():
                print(f"  learnt utility, {part} states (true {true}): mean {mean[mask].mean():+.3f}, "
                      f"10-90 % {np.quantile(mean[mask], 0.1):+.3f}..{np.quantile(mean[mask], 0.9):+.3f}, "
                      f"members' spread {spread[mask].mean():.3f}")
        if {"x", "y"} <= set(names):
            xs, ys = data.regions[:, names.index("x")], data.regions[:, names.index("y")]
            marks = prefer.astype(np.int8) - avoid.astype(np.int8)
            print("  learnt utility per cell (rows y, columns x), beside the wish's marks:")
            learnt = _cell_map(mean, xs, ys, lambda v: f"{v.mean():+6.2f}")
            true = _cell_map(marks, xs, ys, _marks_text)
            for a, b in zip(learnt, true, strict=True):
                print(f"    {a}    |  {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

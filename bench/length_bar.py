"""What a bar on episode length would make of benchmark cells already measured (docs/EXPERIMENTS.md section 83).

The claim has no bar on episode length, so a fused agent that halves its avoided decisions by stepping back and
forth for 30 decisions meets it as one that goes round in 13. This re-scores measured cells, plays nothing: a met
cell stays met only if its calibrated row's mean episode length is at most BAR times the task agent's (by default
only on wishes with an avoid part: a prefer wish's detour to its place is what it asks for). Two sets of cells of
the same wishes, labels and episodes are compared: a benchmark JSON (``dpf benchmark``'s
``docs/results/benchmark.json``) or a ``--work`` folder each.

    # section 80's report cells with the time cost against the published ones
    python bench/length_bar.py --env gridnav docs/results/benchmark.json runs/benchmark-tc

2026-12-07, exactly that (section 80's `--intent-set time_cost=0.5` cells, 32 gridnav cells, under a second):
no bar 26 -> 26, bar 2x on avoid wishes 20 -> 26, 1.5x 14 -> 21, 2x on every wish 17 -> 23.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_cells(source: str, env: str) -> dict[str, dict]:
    """Cells of ``env`` by name, from a benchmark JSON or a ``--work`` folder's cell.json files."""
    path = Path(source)
    if path.is_file():
        cells = json.loads(path.read_text())["cells"]
    else:
        cells = [json.loads(f.read_text()) for f in sorted(path.glob(f"{env}/cells/*/cell.json"))]
    return {c["cell"]: c for c in cells if c["env"] == env}


def met_under_bar(cell: dict, bar: float | None, avoid_only: bool) -> bool:
    """Whether the calibrated row meets the claim and, with ``bar``, lasts at most ``bar`` x the task agent."""
    if not cell["claim"]["calibrated"]["met"]:
        return False
    if bar is None or (avoid_only and not cell["wish"]["avoid"]):
        return True
    rows = cell["rows"]
    return rows["calibrated"]["length"]["mean"] <= bar * rows["task"]["length"]["mean"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base", help="a benchmark JSON or --work folder")
    p.add_argument("other", help="another, of the same cells")
    p.add_argument("--env", default="gridnav")
    p.add_argument("--bars", default="2,1.5", help="comma-separated bars, in task agent lengths")
    args = p.parse_args()
    base, other = load_cells(args.base, args.env), load_cells(args.other, args.env)
    shared = sorted(set(base) & set(other))
    if not shared:
        raise SystemExit(f"no {args.env} cell in both {args.base} and {args.other}")
    print(f"{len(shared)} {args.env} cells in both")
    bars = [(None, True)] + [(float(b), avoid) for b in args.bars.split(",") for avoid in (True, False)]
    for bar, avoid_only in bars:
        what = "no bar (the claim)" if bar is None else f"length <= {bar:g}x the task agent's" + (
            ", wishes with an avoid part" if avoid_only else ", every wish")
        a = sum(met_under_bar(base[k], bar, avoid_only) for k in shared)
        b = sum(met_under_bar(other[k], bar, avoid_only) for k in shared)
        print(f"{what}: {a} -> {b} of {len(shared)}")


if __name__ == "__main__":
    main()

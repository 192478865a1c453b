"""Re-judge benchmark cells made before the claim's baseline grew: the task agent on more held-out episodes.

Cells made before ``dpf_gui.benchmark.BASELINE_EPISODES`` judged every row against the task agent on the
row's own held-out episodes (Pong: 300). This reads such a run's ``results/benchmark.json``, plays (or reads
from ``--work``) the task agent's baseline on the same held-out seeds, the rows' episodes first, and judges
every row again; the rows themselves are what the cells played and are not replayed. It first checks that
the baseline's first episodes reproduce the cell's old task row exactly (the same task agent, seeds and
code of play), and refuses a file where they do not.

    python bench/rejudge_baseline.py RUN/results/benchmark.json [...] --work runs/rejudge [--cells]

Prints per file and row: cells meeting the claim and keeping the task, before -> after; with ``--cells``,
one Markdown line per cell (the calibrated row). A ``dpf benchmark`` run of today's code gives the same
numbers for the same cells (it plays the same rows and the same baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dpf_gui import benchmark as bm
from dpf_gui.evaluate import summarise_episodes
from dpf_gui.pipeline import task_region_features
from dpf_gui.wishgen import GeneratedWish


def _wish(cell: dict) -> GeneratedWish:
    w = cell["wish"]
    return GeneratedWish(w["name"], w["mode"], tuple(w["prefer"]), tuple(w["avoid"]), w.get("coverage", {}))


def _shares(row: dict) -> str:
    return ", ".join(f"{name} {row[key]['mean']:.3f}" for key, name in (("prefer_fraction", "preferred"),
                                                                        ("avoid_fraction", "avoided")) if key in row)


def _verdict(claim: dict) -> str:
    return "met" if claim["met"] else "loses the task" if not claim["keeps_task"] else "missed"


def rejudge(path: Path, work: Path, baseline: dict[str, int], envs: tuple[str, ...]) -> list[dict]:
    """The file's cells of ``envs`` with the task row and the claim judged against the baseline (rows untouched)."""
    report = json.loads(path.read_text(encoding="utf-8"))
    old_spec = report["spec"]
    contexts: dict[str, bm.EnvContext] = {}
    out = []
    for cell in report["cells"]:
        env = cell["env"]
        if env not in envs:
            continue
        if env not in contexts:
            spec = bm.BenchmarkSpec(envs=(env,), wishes=old_spec["wishes"], split=old_spec["split"],
                                    episodes=old_spec["episodes"], baseline=baseline)
            contexts[env] = bm.env_context(env, spec, work, progress=True)
        ctx = contexts[env]
        wish = _wish(cell).wish(task_region_features(ctx.task))
        same = summarise_episodes([r.stats(wish) for r in ctx.task_records])
        old = cell["rows"].get("task_same_episodes", cell["rows"]["task"])
        for key, value in old.items():
            if not np.isclose(same[key]["mean"], value["mean"], rtol=0, atol=1e-12):
                raise SystemExit(f"{path}: {cell['cell']}: the task agent's {key} on the rows' episodes is "
                                 f"{same[key]['mean']} today, {value['mean']} in the cell; not the same episodes")
        task = summarise_episodes([r.stats(wish) for r in ctx.baseline_records])
        rows = {**cell["rows"], "task": task, "task_same_episodes": same}
        claim = {row: bm.strict_claim(task, rows[row]) for row in cell["claim"]}
        out.append({**cell, "rows": rows, "claim": claim, "claim_before": cell["claim"],
                    "baseline_episodes": len(ctx.baseline_records)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", type=Path, help="results/benchmark.json of earlier runs")
    ap.add_argument("--work", type=Path, default=Path("runs/rejudge"), help="cache of the task agent's episodes")
    ap.add_argument("--envs", default="gridnav,highway,pong", help="the environments whose cells to judge")
    ap.add_argument("--cells", action="store_true", help="one Markdown line per cell (calibrated row)")
    args = ap.parse_args(argv)
    for path in args.reports:
        cells = rejudge(path, args.work, dict(bm.BASELINE_EPISODES), tuple(args.envs.split(",")))
        rows = list(cells[0]["claim"]) if cells else []
        print(f"{path}: {len(cells)} cells, split {json.loads(path.read_text())['spec']['split']}")
        groups: dict[tuple, list[dict]] = {}
        for c in cells:
            groups.setdefault((c["env"], str(c["budget"] or "all"), c["labels"], c["select"]), []).append(c)
        for group, members in groups.items():
            for row in rows:
                met = [sum(bool(c[key][row]["met"]) for c in members) for key in ("claim_before", "claim")]
                keeps = [sum(bool(c[key][row]["keeps_task"]) for c in members) for key in ("claim_before", "claim")]
                print(f"  {' '.join(group)}, {len(members)} cells, {row}: meets {met[0]} -> {met[1]}, "
                      f"keeps the task {keeps[0]} -> {keeps[1]}")
        if args.cells and "calibrated" in rows:
            for c in cells:
                t, s, k = c["rows"]["task"], c["rows"]["task_same_episodes"], c["rows"]["calibrated"]
                n = c["baseline_episodes"]
                verdict, before = _verdict(c["claim"]["calibrated"]), _verdict(c["claim_before"]["calibrated"])
                verdict = "**met**" if verdict == "met" else verdict
                print(f"| {c['cell']} | {s['task_success']['mean']:.3f}, {_shares(s)} | "
                      f"{t['task_success']['mean']:.3f} (bar {0.9 * t['task_success']['mean']:.3f}), {_shares(t)} "
                      f"({n}) | {k['task_success']['mean']:.3f}, {_shares(k)} | {before} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

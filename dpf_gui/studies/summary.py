"""Per condition: means and 95 % intervals of the outcomes and of each questionnaire item, and a plot.

The unit is the participant: each participant contributes one value per
condition (their agent's outcome, their answer), and the interval is
Student's t interval of the mean over participants (n - 1 degrees of
freedom), which is what a handful of participants needs; with one participant
the interval is the value itself. A measure that can only take values in a
range (a share of the time, a Likert answer, a TLX rating) has its interval
cut to that range: with two participants the t interval of a share of 0.05
reaches far below 0, where the mean cannot be. Only finished conditions count (``completed``
in ``results.csv``). Simulated and real participants are never pooled: the
summary says which it covers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.fileio import write_atomic
from dpf_gui.studies.export import collect
from dpf_gui.studies.folder import Study
from dpf_gui.studies.protocol import LIKERT_POINTS

#: two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
#: ``intent_trained``: the share of participants whose feedback trained an intent model at all (marks all alike
#: train none, and the condition plays the task agent): what a comparison of feedback kinds needs beside outcomes
OUTCOMES = ("task_success", "task_return", "prefer_fraction", "avoid_fraction", "watch_task_success", "intent_trained")
#: measures whose every value is a share (task_return's range depends on the environment)
SHARES = ("task_success", "prefer_fraction", "avoid_fraction", "watch_task_success", "intent_trained")


def measure_range(measure: str) -> tuple[float, float] | None:
    """The values ``measure`` can take, where fixed: shares 0..1, Likert answers 1..7, raw TLX 0..100, seconds
    from 0."""
    if measure in SHARES:
        return 0.0, 1.0
    if measure.startswith("q_"):
        return 1.0, float(LIKERT_POINTS)
    if measure == "tlx_raw":
        return 0.0, 100.0
    if measure == "annotate_s":
        return 0.0, math.inf
    return None


def t_interval(values: list[float], bounds: tuple[float, float] | None = None) -> dict[str, Any]:
    """Student's t 95 % interval of the mean; ``bounds``: the values can only lie there, so the interval is cut
    to them (the mean of such values cannot lie outside)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "ci95": [None, None]}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "ci95": [mean, mean]}
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.959963984540054
    half = t * float(x.std(ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"n": n, "mean": mean, "ci95": [low, high]}


def summarise_study(study: Study, simulated: bool | None = None) -> dict[str, Any]:
    """``{"who", "measures", "conditions": {name: {measure: {n, mean, ci95}}}}``; ``simulated``: only pilot
    participants (True), only people (False), or people if there are any, else the pilot (None)."""
    header, rows = collect(study)["tables"]["results.csv"]
    rows = [r for r in rows if r.get("completed")]
    if simulated is None:
        simulated = bool(rows) and not any(not r["simulated"] for r in rows)  # nothing yet: people's study
    rows = [r for r in rows if bool(r["simulated"]) == simulated]
    measures = [m for m in OUTCOMES if m in header]
    if not simulated:  # how long people took to give their feedback (a simulated participant's time is the machine's)
        measures.append("annotate_s")
    measures += [f"q_{i.id}" for i in study.protocol.items if i.type == "likert"]
    if "tlx_raw" in header:
        measures.append("tlx_raw")
    out: dict[str, Any] = {"who": "simulated participants (pilot)" if simulated else "participants",
                           "participants": len({r["participant"] for r in rows}), "measures": measures,
                           "conditions": {}}
    for cond in study.protocol.conditions:
        mine = [r for r in rows if r["condition"] == cond.name]
        out["conditions"][cond.name] = {
            m: t_interval([float(r[m]) for r in mine if isinstance(r.get(m), (int, float))], measure_range(m))
            for m in measures}
    return out


def summary_table(summary: dict[str, Any]) -> str:
    names = list(summary["conditions"])
    head = ["measure", *names]
    lines = [head]
    for m in summary["measures"]:
        row = [m]
        for c in names:
            s = summary["conditions"][c][m]
            row.append("-" if s["mean"] is None
                       else f"{s['mean']:.2f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] n={s['n']}")
        lines.append(row)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def plot_summary(summary: dict[str, Any], path: str | Path, title: str) -> Path:
    """One panel per measure: each condition's mean with its 95 % interval."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    measures = summary["measures"]
    names = list(summary["conditions"])
    cols = min(4, max(1, len(measures)))
    rows = math.ceil(len(measures) / cols)
    fig = Figure(figsize=(3 * cols, 2.6 * rows + 0.4))
    FigureCanvasAgg(fig)
    for k, m in enumerate(measures):
        ax = fig.add_subplot(rows, cols, k + 1)
        for j, c in enumerate(names):
            s = summary["conditions"][c][m]
            if s["mean"] is None:
                continue
            ax.errorbar([j], [s["mean"]], yerr=[[s["mean"] - s["ci95"][0]], [s["ci95"][1] - s["mean"]]], fmt="o",
                        capsize=4)
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_title(m, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{title}: {summary['who']}, n = {summary['participants']} (mean, 95 % interval)", fontsize=9)
    fig.tight_layout()
    return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))


__all__ = ["SHARES", "measure_range", "plot_summary", "summarise_study", "summary_table", "t_interval"]

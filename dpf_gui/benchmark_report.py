"""The unseen-wish benchmark's report: its section of docs/RESULTS.md, a plot, the cells as JSON, every cell's page.

Kept apart from :mod:`dpf_gui.benchmark` so that changing how results are shown never invalidates a cached
cell (cells are keyed by the code that computes them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dpf_gui.benchmark import (
    COMPARED,
    MYOPIC_GAMMA,
    PAIRS_FLIP,
    RANK_GROUP,
    RANK_SWAP,
    STOCHASTIC_T,
    BenchmarkSpec,
    halved_by_longer,
    no_intent_note,
)
from dpf_gui.fileio import write_json_atomic
from dpf_gui.wishgen import CLAIM_KEEP, prefer_target

START = "<!-- benchmark: start (written by `dpf benchmark`) -->"
END = "<!-- benchmark: end -->"


def wish_text(wish: dict[str, Any]) -> str:
    """A cell's wish on one line, as `dpf envs` writes one: "prefer A | B; avoid C"."""
    parts = (f"prefer {' | '.join(wish['prefer'])}" if wish.get("prefer") else "",
             f"avoid {' | '.join(wish['avoid'])}" if wish.get("avoid") else "")
    return "; ".join(p for p in parts if p)


def own_agents_lines(agents: Sequence[tuple[str, str]]) -> list[str]:
    """A report's line (and the blank after it) naming the task agents it ran that are not the shipped ones
    (``--task``: (environment, folder) pairs, in the order given); none without any."""
    if not agents:
        return []
    return ["Task agents other than the shipped ones (`--task`): "
            + "; ".join(f"{env}'s from `{folder}`" for env, folder in agents) + ".", ""]


def _budget_text(b: int | None) -> str:
    return "all" if b is None else str(b)


def selection_text(item: dict[str, Any]) -> str:
    """A cell's (or a table row's) selection as the tables show it, with its draw of labels if not the published."""
    draw = item.get("draw", 0)
    return f"{item['select']}, draw {draw}" if draw else item["select"]


def _tally(results: Sequence[dict[str, Any]], rows: Sequence[str], by_env: bool) -> list[dict[str, Any]]:
    """Per (env if ``by_env``, budget, label type, selection, draw), in that order: cells, and per row the cells
    meeting the claim / keeping the task."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for c in results:
        budget = c["budget"] if c["budget"] is not None else 10**9  # "every label" sorts last
        groups.setdefault(((c["env"],) if by_env else ()) + (budget, c["labels"], c["select"], c.get("draw", 0)),
                          []).append(c)
    out = []
    for key, cells in sorted(groups.items()):
        *env, budget, labels, select, draw = key
        row = {**({"env": env[0]} if by_env else {}), "budget": None if budget == 10**9 else budget,
               "labels": labels, "select": select, "draw": draw, "cells": len(cells)}
        for r in rows:
            row[r] = sum(bool(c["claim"][r]["met"]) for c in cells if r in c["claim"])
            row[f"{r}_keeps"] = sum(bool(c["claim"][r]["keeps_task"]) for c in cells if r in c["claim"])
        out.append(row)
    return out


def summarise(results: Sequence[dict[str, Any]], rows: Sequence[str]) -> list[dict[str, Any]]:
    """Per (env, budget, label type, selection, draw): cells, and per row the cells meeting the claim / keeping the
    task."""
    return _tally(results, rows, by_env=True)


def overall(results: Sequence[dict[str, Any]], rows: Sequence[str]) -> list[dict[str, Any]]:
    """The same counts over every environment, per (budget, label type, selection, draw)."""
    return _tally(results, rows, by_env=False)


def over_draws(results: Sequence[dict[str, Any]], rows: Sequence[str]) -> list[dict[str, Any]]:
    """Per (env, budget, label type, selection) that ran on more than one draw of labels: each draw's count and
    the total, per row (a count of 8 cells moves by one or two between draws, docs/RESULTS.md); with several
    environments, also their counts together (env ``all``), as the few-labels targets count them."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    per_env = summarise(results, rows)
    everywhere = [{**r, "env": "all"} for r in overall(results, rows)] if len({r["env"] for r in per_env}) > 1 else []
    for r in per_env + everywhere:
        groups.setdefault((r["env"] == "all", r["env"], r["budget"] if r["budget"] is not None else 10**9,
                           r["labels"], r["select"]), []).append(r)
    out = []
    for (_, env, budget, labels, select), per_draw in sorted(groups.items()):  # every environment's rows last
        if len(per_draw) < 2:
            continue
        row = {"env": env, "budget": None if budget == 10**9 else budget, "labels": labels, "select": select,
               "draws": [r["draw"] for r in per_draw], "cells": sum(r["cells"] for r in per_draw)}
        for x in rows:
            row[x] = [r[x] for r in per_draw]
            row[f"{x}_keeps"] = [r[f"{x}_keeps"] for r in per_draw]
        out.append(row)
    return out


def _draws_text(draws: Sequence[int]) -> str:
    """The report's sentence on the draws of labels its cells ran on (nothing for the published draw alone)."""
    if tuple(draws) == (0,):
        return ""
    other = next(d for d in draws if d)
    return (f" Label draw{'s' if len(draws) > 1 else ''} {', '.join(str(d) for d in draws)} (`--draw`): the same "
            "wishes and episodes as the published draw 0, other simulated labels, other trajectories chosen and "
            "other training and calibration seeds; rows of a draw other than 0 say so after their selection (e.g. "
            f"\"random, draw {other}\")" + ("; \"Over the draws\" adds each row's counts up." if len(draws) > 1
                                             else "."))


def duration(seconds: float) -> str:
    """Seconds under a minute and a half (a rerun that read its cells from the cache said "0 min"), minutes under
    an hour and a half, else hours: for the report's wall times and the CLI's estimate of what is left."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _runs_of(results: Sequence[dict[str, Any]], spec: BenchmarkSpec, command: str, machine: str, elapsed_s: float,
             jobs: int, backend: str, cached: dict[str, int]) -> list[dict[str, Any]]:
    """One record per environment of this invocation: the command that made its cells, what they cost
    (``jobs``: worker processes, or with the Ray backend the cluster's CPUs) and how many it found cached."""
    return [{"env": env, "command": command, "machine": machine, "elapsed_s": float(elapsed_s), "jobs": int(jobs),
             **({"backend": backend} if backend != "local" else {}),
             **({"cached": int(cached[env])} if env in cached else {}),
             **({"task": spec.tasks[env]} if env in spec.tasks else {}),
             **({"data": spec.data[env]} if env in spec.data else {}),
             "cells": sum(c["env"] == env for c in results),
             "cell_s": sum(float(c.get("wall_s", 0.0)) for c in results if c["env"] == env)} for env in spec.envs]


def _baseline_text(results: Sequence[dict[str, Any]]) -> str:
    """How many held-out episodes the task agent's figures (the claim's baseline) come from, per environment."""
    sizes: dict[str, set] = {}
    for c in results:
        sizes.setdefault(c["env"], set()).add(c.get("baseline_episodes"))
    parts = [f"{env} " + (", ".join(f"{n}" for n in sorted(n for n in ns if n)) + " episodes" if all(ns) else
                          "the rows' own episodes") for env, ns in sorted(sizes.items())]
    return ("The task agent's figures, the claim's baseline, are from held-out episodes that begin with the rows' "
            "own and go on (`--baseline`): " + "; ".join(parts) + ".") if parts else ""


def _cache_text(runs: Sequence[dict[str, Any]]) -> str:
    """What the invocation's wall time covers: cells computed, or read back from the cache (older reports did not
    record it)."""
    if any("cached" not in r for r in runs):
        return ""
    cached, cells = sum(r["cached"] for r in runs), sum(r["cells"] for r in runs)
    if cached == 0:
        return ", computing every cell"
    if cached >= cells:
        return ", reading every cell back from the cache"
    return f", reading {cached} of them back from the cache"


def _workers_text(run: dict[str, Any]) -> str:
    return f"as Ray tasks on {run['jobs']} CPUs" if run.get("backend") == "ray" else f"with `--jobs {run['jobs']}`"


def _out_of_reach(cell: dict[str, Any]) -> str:
    """What the claim cannot tell about a wish a person wrote (generated wishes are never so): an avoided region
    the task agent never entered (met before anything is learnt) or every stored successful run enters as often
    (halved only by dithering), a preferred one it is in so often that the claim asks for more than all of it."""
    task = cell.get("rows", {}).get("task", {})
    notes = [f"every stored run that succeeds enters {k[6:]} about as often: no agent halves it but by dithering"
             for k, v in cell["wish"].get("coverage", {}).items() if v.get("no_way_round")]
    if cell["wish"]["avoid"] and task.get("avoid_fraction", {}).get("mean", 1) == 0:
        notes.append("the task agent never entered the avoided region on the held-out episodes, so the claim asks "
                     "only that the fused agent does not either")
    share = task.get("prefer_fraction", {}).get("mean", 0)
    if cell["wish"]["prefer"] and prefer_target(share) > 1:
        notes.append(f"the task agent is in the preferred region {share:.2f} of the time already, so the claim asks "
                     f"for {prefer_target(share):.2f} of it, which no agent can reach")
    return "".join(f"; {n}" for n in notes)


def kept_from_previous(out_md: Path, spec: BenchmarkSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The cells and run records of the previous report (``results/benchmark.json`` next to ``out_md``) for the
    environments this run leaves out; a damaged file is refused before any cell runs."""
    from dpf_gui.errors import UserError

    path = out_md.parent / "results" / "benchmark.json"
    if not path.is_file():
        return [], []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in old["cells"] if c["env"] not in spec.envs]
        runs = [r for r in old.get("runs", []) if r["env"] not in spec.envs]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a benchmark report's JSON ({e}); "
                        "move it away or run without --keep-other-envs") from e
    if spec.split != old.get("spec", {}).get("split", spec.split) and cells:
        raise UserError(f"{path} holds the {old['spec']['split']!r} split and this run the {spec.split!r} split; "
                        "a report mixes no splits")
    return cells, runs


def write_report(results: Sequence[dict[str, Any]], spec: BenchmarkSpec, out_md: Path, command: str, machine: str,
                 elapsed_s: float, jobs: int, keep_other_envs: bool = False, backend: str = "local",
                 cached: dict[str, int] | None = None) -> Path:
    """The benchmark's section of ``out_md`` (between its markers; the rest of the file is kept) and its plot.

    ``keep_other_envs``: the cells of environments this run does not cover are kept from the previous report's
    ``results/benchmark.json``, so one environment can be (re)run on its own, with its own grid, and the section
    still shows them all, each with the command that made it.
    """
    from dpf_gui.fileio import write_text_atomic

    rows = list(spec.rows)
    figdir = out_md.parent / "results"
    figdir.mkdir(parents=True, exist_ok=True)
    runs = _runs_of(results, spec, command, machine, elapsed_s, jobs, backend, cached or {})
    if keep_other_envs:
        kept_cells, kept_runs = kept_from_previous(out_md, spec)
        results, runs = list(results) + kept_cells, runs + kept_runs
        # environments in name order, whichever run made them (stable: each keeps its grid order)
        results, runs = sorted(results, key=lambda c: c["env"]), sorted(runs, key=lambda r: r["env"])
    lines = [START, "", "## Unseen-wish benchmark", ""]
    commands: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        commands.setdefault(r["command"], []).append(r)
    for cmd, rs in commands.items():
        lines.append(f"Regenerate {', '.join(r['env'] for r in rs)}: `{cmd}` ({sum(r['cells'] for r in rs)} cells, "
                     f"{sum(r['cell_s'] for r in rs) / 60:.0f} min of cell time summed over the cells "
                     f"on {rs[0]['machine']}; "
                     f"the invocation that wrote it took {duration(rs[0]['elapsed_s'])} wall "
                     f"{_workers_text(rs[0])}{_cache_text(rs)}).")
        lines.append("")
    lines += own_agents_lines([(r["env"], r["task"]) for r in runs if r.get("task")])
    data = [f"{r['env']}'s from `{r['data']}`" for r in runs if r.get("data")]
    if data:
        lines += ["Trajectories other than the task agent's own (`--data`), labelled and trained on in every cell: "
                  + "; ".join(data) + ".", ""]
    given = any(c["wish"]["name"].startswith("u") for c in results)  # --wish: named u00-..., generated w00-...
    if given:
        lines += ["Wishes `u..` were written by a person and given with `--wish`: nobody tuned on them, and nothing "
                  "checked that the environment can satisfy them; the split sets their label draws and episodes.", ""]
    lines += ["Cells are cached in the `--work` folder (default `runs/benchmark/`), keyed by every input and the code "
              "that computes them.", "",
             f"Split **{spec.split}**: " + ("wishes, label draws and episodes nobody looked at while tuning (the "
                                             "defaults were tuned on the `dev` split)." if spec.split == "report" else
                                             "the tuning split; quote the `report` split.")
             + _draws_text(spec.draws),
             "",
             "Each cell: a generated wish (not a preset; `dpf_gui/wishgen.py`)" + (" or one given with `--wish`"
                                                                                   if given else "")
             + ", a simulated user labels the chosen "
             "stored trajectories (exact graded scores; binary with 10 % flipped, the sign of the score or, "
             "`binary-relative`, of its difference from a typical stored trajectory's; `binary-stochastic`, signs "
             f"wrong on close calls instead (temperature {STOCHASTIC_T:g}); marked segments; or, `myopic`, "
             f"graded scores that weigh a decision t steps before the end by {MYOPIC_GAMMA:g}^t; or, `pairs`, as many "
             f"comparisons of two of the chosen trajectories as there are chosen ones, answered by their scores and "
             f"{PAIRS_FLIP * 100:g} % turned round; or, `ranks`, the chosen trajectories in groups of about "
             f"{RANK_GROUP}, each group ranked by their scores with neighbours swapped at {RANK_SWAP * 100:g} %, "
             "every pair within a group a comparison; or, `steps`, every decision of the chosen trajectories marked "
             "with its true mark, a perfect annotator no person is, the most the marks can teach), intent models "
             "are trained on those labels only, and every row plays the same held-out episodes as the task agent. "
             "Rows: `static`/`dynamic` (our additive intent, the fusion stored with the task agent), `calibrated` "
             "(dynamic with the intent's strength chosen in simulation, `dpf_gui/calibrate.py`), `paper` (the "
             "paper's configuration: LSTM intent, signed advantage sum, raw units, the authors' temperatures)."
             + "".join(f" {what} set by this run{rows}: " + ", ".join(f"{k} {v}" for k, v in sets.items()) + "."
                       for what, rows, sets in (("Fusion", " for every row but `paper`", spec.fusion),
                                                ("The additive intent", "", spec.intent)) if sets), "",
             "The claim, strict: keeps >= 90 % of the task agent's success; avoided share <= half the task "
             "agent's, and avoided decisions per episode too (cells measured since 2026-12-07; a share also halves "
             "when episodes merely get longer); preferred share >= max(2x, +0.10) of the task agent's, or +0.30. "
             + _baseline_text(results),
             "",
             "### All environments", "",
             "| budget | labels | selection | cells | " + " | ".join(f"{r} meets (keeps task)" for r in rows) + " |",
             "|---" * (4 + len(rows)) + "|"]
    for r in overall(results, rows):
        lines.append(f"| {_budget_text(r['budget'])} | {r['labels']} | {selection_text(r)} | {r['cells']} | "
                     + " | ".join(f"{r[x]} ({r[x + '_keeps']})" for x in rows) + " |")
    lines += ["", "### Per environment", "",
              "| env | budget | labels | selection | cells | " + " | ".join(rows) + " |",
              "|---" * (5 + len(rows)) + "|"]
    for r in summarise(results, rows):
        lines.append(f"| {r['env']} | {_budget_text(r['budget'])} | {r['labels']} | {selection_text(r)} | "
                     f"{r['cells']} | " + " | ".join(f"{r[x]} ({r[x + '_keeps']})" for x in rows) + " |")
    lines += ["", "Counts are cells meeting the claim, with cells keeping >= 90 % of the task agent's success in "
              "brackets. Every cell, its figures against the claim's bars and what the calibration chose: "
              "[results/benchmark_cells.md](results/benchmark_cells.md).", ""]
    pooled = over_draws(results, rows)
    if pooled:
        lines += ["### Over the draws", "",
                  "| env | budget | labels | selection | draws | cells | " + " | ".join(rows) + " |",
                  "|---" * (6 + len(rows)) + "|"]
        for r in pooled:
            lines.append(f"| {r['env']} | {_budget_text(r['budget'])} | {r['labels']} | {r['select']} | "
                         f"{', '.join(str(d) for d in r['draws'])} | {r['cells']} | "
                         + " | ".join(f"{' + '.join(map(str, r[x]))} = {sum(r[x])} ({sum(r[x + '_keeps'])})"
                                      for x in rows) + " |")
        lines += ["", "Each draw's cells meeting the claim, added up; cells keeping the task in brackets.", ""]
    lines += ["### The wishes", ""]
    seen = set()
    for c in results:
        key = (c["env"], c["wish"]["name"])
        if key in seen:
            continue
        seen.add(key)
        cov = "; ".join(f"{k}: {v['trajectories']} of {v['of_trajectories']} stored trajectories enter, "
                        f"{v['decisions']} decisions" for k, v in c["wish"]["coverage"].items())
        lines.append(f"- {c['env']} {c['wish']['name']}: {wish_text(c['wish'])} ({cov}){_out_of_reach(c)}")
    _plot(results, rows, figdir / "benchmark.png")
    lines += ["", "![claim met against label budget](results/benchmark.png)", "", END]
    section = "\n".join(lines) + "\n"
    text = out_md.read_text(encoding="utf-8") if out_md.is_file() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")  # the notes below keep their blank line
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    write_text_atomic(out_md, text)
    write_json_atomic(figdir / "benchmark.json", {"spec": asdict(spec), "runs": runs, "cells": list(results)})
    write_text_atomic(figdir / "benchmark_cells.md", cells_page(results, rows))
    return out_md


# ---------------------------------------------------------------------------
# every cell on one page
# ---------------------------------------------------------------------------
#: what the cells page says a cell row did against the claim
VERDICTS = {"met": "**meets**", "missed": "misses", "against": "misses, **against the wish**",
            "traded": "misses, gives up the {wrong} region for the {right} one", "lost": "loses the task",
            "longer": "misses: its avoided share halved by longer episodes, not by fewer decisions there"}
#: the wish's shares, each with the way it should move from the task agent's (+1 up, -1 down)
WISH_SHARES = (("prefer_fraction", "preferred", 1), ("avoid_fraction", "avoided", -1))


def _mean(row: dict[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    return None if value is None else float(value["mean"] if isinstance(value, dict) else value)


def wish_moves(task: dict[str, Any], row: dict[str, Any]) -> dict[str, list[str]]:
    """The regions (``preferred``, ``avoided``) whose share ``row`` moved the ``right`` and the ``wrong`` way from
    the task agent's, beyond both rows' 95 % intervals (rows without intervals: neither). Missing a bar by moving
    too little, trading one half of a mixed wish for the other, and moving against the whole wish (an intent that
    learnt something else) all read "misses" on the claim alone."""
    moves: dict[str, list[str]] = {"right": [], "wrong": []}
    for metric, region, way in WISH_SHARES:
        t, r = task.get(metric), row.get(metric)
        if not (isinstance(t, dict) and isinstance(r, dict) and t.get("ci95") and r.get("ci95")):
            continue
        fell, rose = r["ci95"][1] < t["ci95"][0], r["ci95"][0] > t["ci95"][1]
        if fell or rose:
            moves["right" if (rose if way > 0 else fell) else "wrong"].append(region)
    return moves


def against_wish(task: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """The regions ``row`` moved the wrong way where it moved none the right way: against the whole wish."""
    moves = wish_moves(task, row)
    return [] if moves["right"] else moves["wrong"]


def verdict(claim: dict[str, bool] | None, moves: dict[str, list[str]] | None = None) -> str:
    """One cell row's outcome: it meets the claim, it keeps the task and misses the wish (against it, or giving
    up one region of it for the other, as ``moves`` (:func:`wish_moves`) says), or it loses the task."""
    if claim is None:
        return "-"
    if claim.get("met"):
        return VERDICTS["met"]
    if not claim.get("keeps_task", True):
        return VERDICTS["lost"]
    if moves and moves["wrong"]:
        if moves["right"]:
            return VERDICTS["traded"].format(wrong=" and ".join(moves["wrong"]), right=" and ".join(moves["right"]))
        return VERDICTS["against"]
    if halved_by_longer(claim):
        return VERDICTS["longer"]
    return VERDICTS["missed"]


def bars_text(task: dict[str, Any]) -> str:
    """The task agent's figures and the bars the claim sets from them."""
    success = _mean(task, "task_success") or 0.0
    parts = [f"{success:.3f} (bar {CLAIM_KEEP * success:.3f})"]
    prefer, avoid = _mean(task, "prefer_fraction"), _mean(task, "avoid_fraction")
    if prefer is not None:
        parts.append(f"prefer {prefer:.3f} (needs {prefer_target(prefer):.3f})")
    if avoid is not None:
        parts.append(f"avoid {avoid:.3f} (needs <= {0.5 * avoid:.3f})")
    steps = _mean(task, "avoid_steps")
    if steps is not None:  # cells measured since 2026-12-07
        parts.append(f"{steps:.2f} avoided decisions per episode{_of_length(task)} (needs <= {0.5 * steps:.2f})")
    return ", ".join(parts)


def _of_length(row: dict[str, Any]) -> str:
    """" of N": the mean episode length beside the avoided decisions (an agent that dithers shows as such)."""
    return "" if (length := _mean(row, "length")) is None else f" of {length:.1f}"


def row_text(row: dict[str, Any] | None, claim: dict[str, bool] | None, task: dict[str, Any] | None = None) -> str:
    """One strategy row of a cell: its success and the wish's shares, then the verdict (against the task
    agent's ``task`` row where given)."""
    if row is None:
        return verdict(claim)
    parts = [f"{_mean(row, 'task_success'):.3f}"]
    for metric, word in (("prefer_fraction", "prefer"), ("avoid_fraction", "avoid")):
        value = _mean(row, metric)
        if value is not None:
            parts.append(f"{word} {value:.3f}")
    if (steps := _mean(row, "avoid_steps")) is not None:
        parts[-1] += f" ({steps:.2f} decisions{_of_length(row)})"
    return ", ".join(parts) + f": {verdict(claim, wish_moves(task, row) if task else None)}"


def no_intent(cell: dict[str, Any], row: str) -> bool:
    """Whether ``row`` played the task agent because the trainer refused the cell's labels (e.g. every label one
    score). Told by the cell's own note (``_compute_cell`` writes it): comparisons and rankings carry no scores,
    so one distinct score says nothing there."""
    return no_intent_note(row) in cell.get("notes", ())


def calibration_text(cell: dict[str, Any]) -> str:
    """What the calibration chose for the cell's intent (``-`` where no calibrated row ran)."""
    cal = cell.get("calibration") or {}
    if "strength" not in cal:
        if not no_intent(cell, "calibrated"):
            return "-"
        one_score = cell.get("distinct_scores") == 1 and cell.get("labels") not in COMPARED
        return "no intent model: every label the same score" if one_score else "no intent model: labels refused"
    if not cal["strength"]:
        return "strength 0: left to the task agent"
    gate = f", gate {cal['confidence']:g}" if cal.get("confidence") is not None else ""
    return f"strength {cal['strength']:g}, c {cal['c']:g}{gate}"


def _order(cell: dict[str, Any]) -> tuple:
    budget = cell["budget"] if cell["budget"] is not None else 10**9  # "every label" last
    return cell["env"], budget, cell["labels"], cell["select"], cell.get("draw") or 0, cell["wish"]["name"]


def _against_in(cell: dict[str, Any], row: str) -> list[str]:
    """:func:`against_wish` for one row of a cell, where it kept the task and missed the claim."""
    played, claim = cell.get("rows", {}), cell.get("claim", {}).get(row)
    if row not in played or "task" not in played or not claim or claim.get("met") or not claim.get("keeps_task"):
        return []
    return against_wish(played["task"], played[row])


#: why a row's cell missed the claim, in the order :func:`miss_cause` asks (each asks for other work: labels that
#: teach something, a louder intent that keeps the task or a quieter candidate, more pull, another intent)
CAUSES = ("no intent model", "loses the task", "loses the task, bar inside its interval", "left to the task agent",
          "left to the task agent, stored strength met", "against the wish", "avoided share halved by longer episodes",
          "short", "short, bar inside its interval")


def _inside(share: dict[str, Any], need: float, way: int) -> bool:
    """Whether a bar ``need`` a share missed lies inside the share's 95 % interval (``way`` +1: a floor)."""
    ci = share.get("ci95")
    return bool(ci) and (ci[1] >= need if way > 0 else ci[0] <= need)


def miss_cause(cell: dict[str, Any], row: str) -> str | None:
    """Why ``row`` missed the claim in ``cell`` (one of :data:`CAUSES`; None where it met it or did not run):
    every label one score, so no intent model; below the success bar; the calibration's strength 0 (with, where
    the ``dynamic`` row met the claim, the stored strength, or the run's fusion parameters, meeting it); only
    wrong-way moves; the avoided share halved while the decisions in the region per episode were not (the
    episodes got longer); else short of a share's bar. "Bar inside its interval": the row's own 95 % interval reaches
    the bar it missed."""
    claim, played = cell.get("claim", {}).get(row), cell.get("rows", {})
    if not claim or claim.get("met") or row not in played or "task" not in played:
        return None
    task, mine = played["task"], played[row]
    if no_intent(cell, row):
        return "no intent model"
    if not claim.get("keeps_task", True):
        bar = CLAIM_KEEP * (_mean(task, "task_success") or 0.0)
        return "loses the task, bar inside its interval" if _inside(mine["task_success"], bar, 1) else "loses the task"
    if row == "calibrated" and not (cell.get("calibration") or {}).get("strength"):
        stored = cell.get("claim", {}).get("dynamic") or {}
        return "left to the task agent, stored strength met" if stored.get("met") else "left to the task agent"
    if against_wish(task, mine):
        return "against the wish"
    if halved_by_longer(claim) and claim.get("prefer", True):
        return "avoided share halved by longer episodes"  # as many decisions in the region, spread thinner
    missed = []
    for metric, _region, way in WISH_SHARES:
        t, r = _mean(task, metric), _mean(mine, metric)
        if t is None or r is None:
            continue
        need = prefer_target(t) if way > 0 else 0.5 * t
        if (r - need) * way < 0:
            missed.append(_inside(mine[metric], need, way) if isinstance(mine[metric], dict) else False)
    return "short, bar inside its interval" if missed and all(missed) else "short"


def explained_row(rows: Sequence[str]) -> str:
    """The row whose misses are explained: ``calibrated`` where it ran (the project's default), else the first."""
    return "calibrated" if "calibrated" in rows else rows[0]


def misses_line(results: Sequence[dict[str, Any]], rows: Sequence[str]) -> str:
    """One line counting why :func:`explained_row` missed (``dpf benchmark`` prints it; empty where none missed)."""
    row = explained_row(rows)
    counts = Counter(miss_cause(c, row) for c in results)
    used = [f"{what} {counts[what]}" for what in CAUSES if counts[what]]
    return f"why the {row} row missed: " + ", ".join(used) if used else ""


def causes_lines(results: Sequence[dict[str, Any]], row: str) -> list[str]:
    """A table of :func:`miss_cause` counts per environment for ``row`` (no lines where nothing missed)."""
    envs = sorted({c["env"] for c in results})
    counts = Counter((c["env"], miss_cause(c, row)) for c in results)
    used = [what for what in CAUSES if any(counts[env, what] for env in envs)]
    if not used:
        return []
    return ([f"Why the {row} row missed, cells per environment (*left to the task agent*: the calibration "
             "chose strength 0, no candidate keeping the task in its search or on fresh episodes; *stored strength "
             "met*: the dynamic row (the run's fusion parameters, by default those stored with the task agent) met "
             "the claim in that cell; *bar inside its interval*: the row's own 95 % interval reaches the bar it "
             "missed):", "", "| cause | " + " | ".join(envs) + " |",
             "|---" * (len(envs) + 1) + "|"]
            + [f"| {what} | " + " | ".join(str(counts[env, what]) for env in envs) + " |" for what in used] + [""])


def cells_page(results: Sequence[dict[str, Any]], rows: Sequence[str]) -> str:
    """Every cell on one page (``results/benchmark_cells.md``): the report's tables count the cells that meet
    the claim, and a reader next asks which wishes missed, by how much and why (silenced by the calibration,
    short of a bar, losing the task). One table per environment, a line per cell, a column per row."""
    lines = ["# Every cell of the unseen-wish benchmark", "",
             "Written by `dpf benchmark` beside its section of the report (the same cells; "
             "`results/benchmark.json` holds them whole). The task agent's column gives its figures on the "
             "claim's held-out episodes and the bars the claim sets from them: keep "
             f"{CLAIM_KEEP:.0%} of its success, at most halve an avoided share, reach the preferred share "
             "given. A row *misses* when it keeps the task and falls short of a wish's bar (*against the wish* "
             "when it moved the wish's regions the wrong way and none the right way, beyond both rows' 95 % "
             "intervals: the intent learnt something other than the wish; *gives up* one region for the other "
             "when a mixed wish's halves moved apart), and *loses the task* when it falls below the success bar. "
             "The calibration's column is what it chose for the `calibrated` row.", ""]
    against = {r: sum(bool(_against_in(cell, r)) for cell in results) for r in rows}
    if results:
        lines += ["Cells where a row kept the task and moved the agent against the wish: "
                  + ", ".join(f"{r} {n}" for r, n in against.items()) + f" (of {len(results)}).", ""]
        lines += causes_lines(results, explained_row(rows))
    by_env: dict[str, list[dict[str, Any]]] = {}
    for cell in sorted(results, key=_order):
        by_env.setdefault(cell["env"], []).append(cell)
    for env, cells in by_env.items():
        lines += [f"## {env}", "",
                  "| budget | labels | selection | wish | task agent (bars) | " + " | ".join(rows) + " | calibration |",
                  "|---" * (6 + len(rows)) + "|"]
        for cell in cells:
            claims, played = cell.get("claim", {}), cell.get("rows", {})
            lines.append(f"| {_budget_text(cell['budget'])} | {cell['labels']} | {selection_text(cell)} | "
                         f"{cell['wish']['name']}: " + wish_text(cell["wish"]).replace("|", "\\|") + " | "
                         f"{bars_text(played['task']) if 'task' in played else '-'} | "
                         + " | ".join(row_text(played.get(r), claims.get(r), played.get("task")) for r in rows)
                         + f" | {calibration_text(cell)} |")
        lines.append("")
    if not by_env:
        lines += ["No cells.", ""]
    return "\n".join(lines)


def _plot(results: Sequence[dict[str, Any]], rows: Sequence[str], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from dpf_gui.fileio import write_atomic

    summary = overall(results, rows)
    kinds = sorted({(r["labels"], r["select"], r["draw"]) for r in summary})
    fig = Figure(figsize=(3.2 * max(len(kinds), 1), 3.2))
    FigureCanvasAgg(fig)
    for k, (labels, select, draw) in enumerate(kinds):
        ax = fig.add_subplot(1, max(len(kinds), 1), k + 1)
        pts = [r for r in summary if (r["labels"], r["select"], r["draw"]) == (labels, select, draw)]
        xs = [r["budget"] or 3000 for r in pts]
        for row in rows:
            ax.plot(xs, [r[row] / max(r["cells"], 1) for r in pts], marker="o", label=row)
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("labelled trajectories (rightmost: all)")
        ax.set_ylabel("share of cells meeting the claim")
        ax.set_title(f"{labels} labels, {select} selection" + (f", draw {draw}" if draw else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))

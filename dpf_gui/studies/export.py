"""A study's data as CSV files an analyst can open, with a README of every column.

``export_study`` writes a folder, or a ``.zip`` bundle, holding:

* ``results.csv``: one row per participant x condition: the order position, the condition, the marks (or
  rankings) given,
  the outcomes of that participant's agent on the protocol's fixed episodes (scored by the protocol's wish),
  what the watched episodes showed, and every questionnaire answer (and NASA-TLX rating) as its own column;
* ``participants.csv``, ``sessions.csv``, ``conditions.csv`` (order), ``events.csv`` (every event of every session),
  ``marks.csv`` (every stored mark, undone ones included), ``answers.csv`` (final answers, long form),
  ``study_events.csv`` (the study log);
* ``protocol.toml``, ``study.json``, the intent models (``intent_models/ID/CONDITION/``) and ``README.md``.

The export only reads: it can run while participants are in a session. Withdrawn participants are not in it
(their folders are gone; the study log keeps only their withdrawal, which is exported without their id's
other events).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError
from dpf_gui.fileio import write_atomic
from dpf_gui.studies.events import EventLog
from dpf_gui.studies.folder import INFO_FILE, LOG_FILE, PARTICIPANTS_DIR, PROTOCOL_FILE, Study
from dpf_gui.studies.session import (
    CONDITIONS_DIR,
    EVENTS_FILE,
    INTENT_DIR,
    LABELS_FILE,
    OUTCOMES_FILE,
    TLX_IDS,
    TLX_SCALES,
    step_duration,
    study_steps,
)

OUTCOME_METRICS = ("task_success", "task_return", "length", "prefer_fraction", "avoid_fraction")
#: what makes ``--out x.txt`` name a file: a suffix that starts with a letter (``.05`` is part of a date)
FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]*")
WATCH_METRICS = ("task_success", "prefer_fraction", "avoid_fraction")

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "results.csv": [
        ("participant", "pseudonymous participant id"),
        ("number", "participant number: the order participants were added in (fixes the condition order)"),
        ("simulated", "1: a pilot's simulated participant, 0: a person"),
        ("condition", "condition name (protocol [[conditions]] name)"),
        ("position", "1-based position of the condition in this participant's order"),
        ("strategy", "fusion strategy of the condition: task, intent, static or dynamic"),
        ("feedback", "what the participant gave in the condition: marks (P / A / N) or ranks (rankings of the "
                     "trips watched last, learned as comparisons)"),
        ("budget", "trajectories the participant could mark (or rank) in the condition"),
        ("labelled", "trajectories the participant marked or ranked (labels the intent model learned from)"),
        ("annotate_s", "seconds the condition's annotate step was under way (from its start to Done; the breaks "
                       "between sessions, e.g. after the operator left, not counted): the time the feedback took"),
        ("intent_trained", "1: an intent model was trained from the marks; 0: the agent played as the task agent"),
        ("train_note", "why no intent model was trained, or why its calibration failed (empty when all went well)"),
        ("strength", "the intent's strength the agent played at (empty: no intent model)"),
        ("c", "dynamic fusion's budget c the agent played at (empty: no intent model)"),
        ("calibrated", "1: strength and c were calibrated in simulation after training (the condition's "
                       "calibrate); 0: the task agent's stored ones, or the condition's fusion"),
        ("outcome_episodes", "episodes of the fixed outcome evaluation ([outcomes] episodes, same seeds for all)"),
        ("task_success", "outcome: share of evaluation episodes in which the task succeeded (0..1)"),
        ("task_return", "outcome: mean task return per evaluation episode"),
        ("length", "outcome: mean decisions per evaluation episode"),
        ("prefer_fraction", "outcome: mean share of decisions leading into the protocol wish's preferred "
                            "region (empty: the protocol gave no prefer expression)"),
        ("avoid_fraction", "outcome: mean share of decisions leading into the protocol wish's avoided region "
                           "(empty: the protocol gave no avoid expression)"),
        ("watch_episodes", "episodes the participant watched in the condition"),
        ("watch_task_success", "share of the watched episodes in which the task succeeded"),
        ("watch_prefer_fraction", "mean preferred-region share of the watched episodes"),
        ("watch_avoid_fraction", "mean avoided-region share of the watched episodes"),
        ("q_ITEM", "answer to questionnaire item ITEM: 1..7 for Likert items, text for free-text items"),
        ("tlx_SCALE", "NASA-TLX rating 0..100 (mental, physical, temporal, performance, effort, frustration)"),
        ("tlx_raw", "raw TLX: mean of the six ratings"),
        ("completed", "1: the participant finished this condition's questionnaire(s)"),
    ],
    "participants.csv": [
        ("participant", "pseudonymous participant id"), ("number", "participant number"),
        ("simulated", "1: simulated (pilot), 0: a person"), ("added_utc", "when the participant was added"),
        ("order", "conditions in the order met, separated by ';'"),
        ("status", "finished, or the step the participant is at (e.g. dynamic/watch)"),
        ("steps_done", "steps finished of steps_total"), ("steps_total", "steps of the protocol for this participant"),
        ("sessions", "sessions (a resumed run after an interruption is a new session)"),
        ("consent", "1: consent given"),
    ],
    "sessions.csv": [
        ("participant", "participant id"), ("simulated", "1: simulated"),
        ("session", "session number: 1, then 2 after a resume (a crash, the operator leaving), ..."),
        ("started_utc", "the session's first event"), ("last_event_utc", "its last event"),
        ("duration_s", "seconds from its first to its last event (monotonic clock)"),
        ("started_at", "the step it started at"), ("events", "events logged in it"),
    ],
    "conditions.csv": [
        ("participant", "participant id"), ("number", "participant number"), ("simulated", "1: simulated"),
        ("position", "1-based position in the order"), ("condition", "condition name"),
        ("strategy", "fusion strategy"), ("feedback", "marks or ranks"), ("budget", "label budget"),
        ("suggestions", "1: 'label this next' shown"),
    ],
    "events.csv": [
        ("participant", "participant id"), ("simulated", "1: simulated"),
        ("event", "event id within the participant's log (the order events happened in)"),
        ("session", "session number (1, 2 after a resume, ...)"), ("time_utc", "wall-clock time, ISO 8601 UTC"),
        ("t_wall", "wall-clock time, seconds since 1970 (UTC)"),
        ("t_session_s", "monotonic seconds since the session started (immune to clock changes)"),
        ("phase", "phase the event happened in"), ("condition", "condition (empty outside a condition)"),
        ("kind", "what happened: session_start, phase_start, phase_end, consent, mark, rank, undo, simulated_marks, "
                 "simulated_rankings, trained, episode_start, episode_end, answer, ..."),
        ("data", "details as JSON"),
    ],
    "marks.csv": [
        ("participant", "participant id"), ("simulated", "1: simulated"), ("condition", "condition"),
        ("mark", "mark id in the condition's label store"), ("action", "the action (undo unit) it belongs to"),
        ("action_kind", "mark, segment, rank, import (a simulated participant's batch of marks), clear"),
        ("source", "person, or simulated-participant"), ("time_utc", "when it was stored"),
        ("state", "active, undone or discarded (undone, then replaced)"), ("trajectory", "trajectory index"),
        ("kind", "whole, segment, score, rank (one trajectory's place in a ranking) or clear"),
        ("t0", "first decision of a segment; rank: the trajectory's level, 0 the best (equal levels: equally good)"),
        ("t1", "last decision of a segment; rank: the ranking's number (rows of one ranking share it)"),
        ("value", "+1 preferred, -1 avoided, 0 neutral (score: the label; rank: 0)"),
    ],
    "answers.csv": [
        ("participant", "participant id"), ("simulated", "1: simulated"), ("condition", "condition"),
        ("phase", "questionnaire or nasa_tlx"), ("item", "item id"), ("type", "likert, text or tlx"),
        ("value", "the final answer (earlier ones are in events.csv)"), ("time_utc", "when it was given"),
    ],
    "study_events.csv": [
        ("event", "event id in the study log"), ("time_utc", "wall-clock time, ISO 8601 UTC"),
        ("kind", "study_created, participant_added, participant_withdrawn, pilot"),
        ("participant", "participant id (withdrawn participants: only their withdrawal)"), ("data", "details as JSON"),
    ],
}


def _iso(t: float | None) -> str:
    return "" if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return "" if not np.isfinite(v) else repr(round(v, 6))
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return v


def _csv(header: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_cell(row.get(h)) for h in header])
    return buf.getvalue()


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def collect(study: Study) -> dict[str, Any]:
    """Every table of the export, as (header, rows), plus the files to copy."""
    from dpf_gui.data.study import LabelStore

    protocol = study.protocol
    items = [i.id for i in protocol.items]
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    results, participants, sessions, conditions, events, marks, answers = [], [], [], [], [], [], []
    copies: list[tuple[Path, str]] = []
    wish_cols = [m for m in ("prefer_fraction", "avoid_fraction")
                 if (protocol.prefer if m == "prefer_fraction" else protocol.avoid)]
    for p in study.participants():
        pid, sim = p["id"], int(bool(p.get("simulated")))
        folder = study.participant_dir(pid)
        log_path = folder / EVENTS_FILE
        evs, ends = [], {}  # the log's events, and each session's last logged time
        if log_path.is_file():
            with EventLog(log_path, read_only=True) as log:
                evs, ends = log.events(), log.session_ends()
        steps = study_steps(protocol, p["order"])
        done = {e["data"].get("step") for e in evs if e["kind"] == "phase_end"}
        current = next((s.key for s in steps if s.key not in done), None)
        consent = [e for e in evs if e["kind"] == "consent"]
        participants.append({"participant": pid, "number": p["number"], "simulated": sim,
                             "added_utc": _iso(p.get("added")), "order": ";".join(p["order"]),
                             "status": current or "finished", "steps_done": len(done & {s.key for s in steps}),
                             "steps_total": len(steps), "sessions": len({e["session"] for e in evs}),
                             "consent": int(bool(consent and consent[-1]["data"].get("given")))})
        for k in sorted({e["session"] for e in evs}):
            mine = [e for e in evs if e["session"] == k]
            sessions.append({"participant": pid, "simulated": sim, "session": k, "started_utc": _iso(mine[0]["t_wall"]),
                             "last_event_utc": _iso(mine[-1]["t_wall"]),
                             "duration_s": mine[-1]["t_session"] - mine[0]["t_session"],
                             "started_at": mine[0]["data"].get("resumed_at") if mine[0]["kind"] == "session_start"
                             else None, "events": len(mine)})
        for e in evs:
            events.append({"participant": pid, "simulated": sim, "event": e["id"], "session": e["session"],
                           "time_utc": _iso(e["t_wall"]), "t_wall": e["t_wall"], "t_session_s": e["t_session"],
                           "phase": e["phase"], "condition": e["condition"], "kind": e["kind"], "data": e["data"]})
        final: dict[tuple[str, str, str], dict[str, Any]] = {}
        for e in evs:
            if e["kind"] == "answer":
                final[(e["condition"], e["phase"], e["data"]["item"])] = {
                    "participant": pid, "simulated": sim, "condition": e["condition"], "phase": e["phase"],
                    "item": e["data"]["item"], "type": e["data"].get("type"), "value": e["data"].get("value"),
                    "time_utc": _iso(e["t_wall"])}
        answers += list(final.values())
        for pos, name in enumerate(p["order"], 1):
            cond = protocol.condition(name)
            conditions.append({"participant": pid, "number": p["number"], "simulated": sim, "position": pos,
                               "condition": name, "strategy": cond.strategy, "feedback": cond.feedback,
                               "budget": cond.budget, "suggestions": int(cond.suggestions)})
            cdir = folder / CONDITIONS_DIR / name
            row: dict[str, Any] = {"participant": pid, "number": p["number"], "simulated": sim, "condition": name,
                                   "position": pos, "strategy": cond.strategy, "feedback": cond.feedback,
                                   "budget": cond.budget, "annotate_s": step_duration(evs, f"{name}/annotate", ends)}
            store_path = cdir / LABELS_FILE
            if store_path.is_file():
                with LabelStore(store_path, read_only=True) as store:
                    fp = study.info.get("data_fingerprint")
                    for m in store.mark_log(fp):
                        marks.append({"participant": pid, "simulated": sim, "condition": name, "mark": m["mark"],
                                      "action": m["action"], "action_kind": m["action_kind"], "source": m["source"],
                                      "time_utc": _iso(m["created"]), "state": m["state"], "trajectory": m["traj"],
                                      "kind": m["kind"], "t0": m["t0"], "t1": m["t1"], "value": m["value"]})
            outcome_path = cdir / OUTCOMES_FILE
            if outcome_path.is_file():
                out = json.loads(outcome_path.read_text(encoding="utf-8"))
                fusion = out.get("fusion") or {}
                row.update({"labelled": out.get("labelled"), "intent_trained": int(bool(out.get("intent"))),
                            "train_note": out.get("note") or out.get("calibration_note"),
                            "strength": fusion.get("strength"), "c": fusion.get("c"),
                            "calibrated": int(bool(out.get("calibrated"))), "outcome_episodes": out.get("episodes")})
                for m in OUTCOME_METRICS:
                    row[m] = out.get("means", {}).get(m)
            if is_checkpoint(cdir / INTENT_DIR):
                copies.append((cdir / INTENT_DIR, f"intent_models/{pid}/{name}"))
            watched = [e["data"] for e in evs if e["kind"] == "episode_end" and e["condition"] == name]
            row["watch_episodes"] = len(watched)
            for m in WATCH_METRICS:
                row[f"watch_{m}"] = _mean([w[m] for w in watched if m in w])
            for (c, phase, item), a in final.items():
                if c == name:
                    row[f"q_{item}" if phase == "questionnaire" else item] = a["value"]
            tlx = [row[t] for t in TLX_IDS if isinstance(row.get(t), int)]
            row["tlx_raw"] = _mean(tlx) if len(tlx) == len(TLX_IDS) else None
            row["completed"] = int(f"{name}/{'nasa_tlx' if protocol.nasa_tlx else 'questionnaire'}" in done)
            results.append(row)
    header = ["participant", "number", "simulated", "condition", "position", "strategy", "feedback", "budget",
              "labelled", "annotate_s", "intent_trained", "train_note", "strength", "c", "calibrated",
              "outcome_episodes", "task_success", "task_return", "length", *wish_cols,
              "watch_episodes", "watch_task_success", *[f"watch_{m}" for m in wish_cols],
              *[f"q_{i}" for i in items], *([*TLX_IDS, "tlx_raw"] if protocol.nasa_tlx else []), "completed"]
    tables["results.csv"] = (header, results)
    for name, rows in (("participants.csv", participants), ("sessions.csv", sessions),
                       ("conditions.csv", conditions), ("events.csv", events),
                       ("marks.csv", marks), ("answers.csv", answers)):
        tables[name] = ([c for c, _ in COLUMNS[name]], rows)
    withdrawn = {p["id"] for p in study.withdrawn()}
    with study.log(read_only=True) as log:
        study_rows = []
        for e in log.events():
            pid = e["data"].get("participant")
            if pid in withdrawn and e["kind"] != "participant_withdrawn":
                continue
            if e["kind"] == "pilot":  # ids of participants who may have been withdrawn since
                e["data"] = {k: v for k, v in e["data"].items() if k != "resuming"}
            study_rows.append({"event": e["id"], "time_utc": _iso(e["t_wall"]), "kind": e["kind"],
                               "participant": pid, "data": e["data"]})
    tables["study_events.csv"] = ([c for c, _ in COLUMNS["study_events.csv"]], study_rows)
    return {"tables": tables, "copies": copies}


def readme(study: Study, header: Sequence[str]) -> str:
    lines = [f"# Export of the study: {study.protocol.title}", "",
             f"Exported {_iso(time.time())} by dpf-gui from {study.folder}. Pilot (simulated) participants have "
             "simulated = 1 in every table. Empty cells: no value (not measured, not answered).", "",
             "Outcomes are scored only against the wish the protocol states as region expressions "
             f"(prefer: {', '.join(study.protocol.prefer) or 'none'}; "
             f"avoid: {', '.join(study.protocol.avoid) or 'none'}).",
             ""]
    for name, cols in COLUMNS.items():
        lines += [f"## {name}", "", "| column | meaning |", "|---|---|"]
        shown = cols
        if name == "results.csv":
            known = {c for c, _ in cols}
            shown = [(c, m) for c, m in cols if c in header or c in ("q_ITEM", "tlx_SCALE")]
            shown += [(c, "") for c in header if c not in known and not c.startswith(("q_", "tlx_"))]
        lines += [f"| {c} | {m} |" for c, m in shown]
        if name == "results.csv":
            for item in study.protocol.items:
                anchors = f" (1 = {item.anchors[0]}, 7 = {item.anchors[1]})" if item.anchors else " (free text)"
                lines.append(f"| q_{item.id} | {item.text}{anchors} |")
            if study.protocol.nasa_tlx:
                for (_scale, question, low, high), column in zip(TLX_SCALES, TLX_IDS, strict=True):
                    lines.append(f"| {column} | NASA-TLX: {question} (0 = {low}, 100 = {high}) |")
        lines.append("")
    lines += ["## Other files", "", "- protocol.toml: the protocol, verbatim; study.json: the task agent and data it "
              "resolved to, with their fingerprints.",
              "- intent_models/ID/CONDITION/: each participant's intent model per condition (safetensors + JSON).", ""]
    return "\n".join(lines)


def export_study(study: Study, out: str | Path, force: bool = False) -> Path:
    """Write the export to ``out``: a ``.zip`` bundle, or a folder (new or empty; ``force``: replaced)."""
    out = Path(out)
    data = collect(study)
    header = data["tables"]["results.csv"][0]
    files: dict[str, bytes] = {name: _csv(h, rows).encode("utf-8") for name, (h, rows) in data["tables"].items()}
    files["README.md"] = readme(study, header).encode("utf-8")
    files["protocol.toml"] = (study.folder / PROTOCOL_FILE).read_bytes()
    files["study.json"] = (study.folder / INFO_FILE).read_bytes()
    for src, dest in data["copies"]:
        for f in sorted(src.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                files[f"{dest}/{f.name}"] = f.read_bytes()
    if out.suffix.lower() == ".zip":
        def write(tmp: str) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for name, blob in files.items():
                    z.writestr(name, blob)

        return write_atomic(out, write)
    parent = out.absolute().parent
    tmp = parent / f".{out.name}.{time.time_ns()}.tmp"
    try:
        for name, blob in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
        if out.exists():
            _check_replaceable(out, force)
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_export_out(out: str | Path, force: bool) -> Path:
    """Refuse (before any work) an output that is neither a folder nor a ``.zip`` file name, or that exists and is
    not replaceable. A name with another suffix (``x.txt``, ``x.csv``) names a file the export would not be: it is
    refused unless it ends in ``/`` or is a folder already; a dot followed by digits (``export_2026.12.05``) is no
    suffix."""
    given = str(out)
    out = Path(out)
    as_folder = given.endswith(("/", os.sep)) or out.is_dir()
    if out.suffix.lower() == ".zip":
        if out.is_dir():
            raise UserError(f"{out} is a folder; give the name of a .zip file, or a folder without .zip")
        if as_folder:
            raise UserError(f"--out {given} ends in / (a folder), but a .zip bundle is a file: give {out.name} "
                            "without the /, or a folder name without .zip")
        if out.exists() and not force:
            raise UserError(f"{out} already exists; pass --force to overwrite it")
        return out
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give a folder (new or empty) or a .zip file name")
    if FILE_SUFFIX.fullmatch(out.suffix) and not as_folder:
        raise UserError(f"--out {given}: an export is a folder or a .zip bundle, not a {out.suffix} file; give a "
                        f"folder ({out.stem}, or {out.name}/ for a folder with a dot in its name) or "
                        f"{out.stem}.zip")
    if out.exists():
        _check_replaceable(out, force)
    return out


def _check_replaceable(out: Path, force: bool) -> None:
    """A folder an export may replace: an empty one, or with ``force`` an earlier export. Never a study folder or
    anything else: ``--force`` deletes what is there, and a study's participants' records live nowhere else."""
    names = {p.name for p in out.iterdir()}
    if not names:
        return
    if LOG_FILE in names or PARTICIPANTS_DIR in names:
        raise UserError(f"{out} is a study folder; an export there would delete its participants' records: "
                        "give --out a new folder or a .zip file name")
    if "results.csv" not in names or INFO_FILE not in names:
        raise UserError(f"{out} is not empty and holds no earlier export (no results.csv); give --out a new or "
                        "empty folder, or a .zip file name")
    if not force:
        raise UserError(f"{out} holds an earlier export; pass --force to replace it")


__all__ = ["COLUMNS", "check_export_out", "collect", "export_study"]

"""The study folder: the protocol, the participants, their numbers and order, withdrawal.

Layout (docs/STUDY.md)::

    STUDY_DIR/
      protocol.toml           the protocol, verbatim as given to `dpf study init`
      study.json              what it resolved to: task agent, data and their fingerprints, the trip order
      study_events.sqlite     the study's own event log: created, participant added / withdrawn, pilots
      participants/ID/
        participant.json      number, condition order, simulated or not
        events.sqlite         every event of the participant's sessions (dpf_gui.studies.events)
        conditions/NAME/
          labels.sqlite       the participant's marks in this condition (dpf_gui.data.study.LabelStore)
          intent/             the intent model trained on them
          outcomes.json       that agent evaluated on the protocol's fixed seeds, scored by the protocol's wish

Participants are pseudonymous ids (no names). The study log is the authority on
who takes part: a participant's number is the order it was added in (counted
from the log, never reused after a withdrawal), and it fixes the condition
order (:mod:`dpf_gui.studies.order`). Withdrawing a participant logs the
withdrawal (id and number only) and deletes their folder.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from dpf_gui.errors import UserError
from dpf_gui.fileio import hold_lock, write_json_atomic, write_text_atomic
from dpf_gui.studies.events import EventLog
from dpf_gui.studies.order import condition_order
from dpf_gui.studies.protocol import (
    Protocol,
    check_resources,
    parse_protocol,
    read_protocol,
)

PROTOCOL_FILE = "protocol.toml"
INFO_FILE = "study.json"
LOG_FILE = "study_events.sqlite"
PARTICIPANTS_DIR = "participants"
PARTICIPANT_FILE = "participant.json"
LOCK_FILE = "session.lock"  # in a participant's folder: held by the one process in their session
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
ID_RULE = "1-32 letters, digits, '_' or '-' (a pseudonym, not a name)"


#: when the annotate list's ``trip_order`` came (shuffled by default); a study made before it showed the data's
#: stored order, and keeps it, so that a returning participant finds their trips where they left them
TRIP_ORDER_SINCE = "2026-12-06T18:54:56Z"


def _older_trip_order(info: dict[str, Any], given: str) -> str:
    """The trip order of a study folder whose study.json does not record one (made before it did)."""
    created = info.get("created")
    return "stored" if isinstance(created, str) and created < TRIP_ORDER_SINCE else given


def is_study_folder(folder: str | Path) -> bool:
    """A folder made by :func:`init_study` (the app's ``--study`` then opens study mode)."""
    return (Path(folder) / INFO_FILE).is_file() and (Path(folder) / PROTOCOL_FILE).is_file()


def init_study(protocol_path: str | Path, out: str | Path) -> Study:
    """Make a study folder from a protocol file (checked first; ``out`` must not exist or be empty)."""
    protocol_path, out = Path(protocol_path), Path(out)
    protocol = read_protocol(protocol_path)
    task, data, _ = check_resources(protocol, protocol_path.name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder; give a new folder for the study")
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{out.name}.{time.time_ns()}.tmp"
    try:
        tmp.mkdir()
        write_text_atomic(tmp / PROTOCOL_FILE, protocol.source)
        write_json_atomic(tmp / INFO_FILE, {
            "format": "dpf-study", "version": 1, "title": protocol.title, "env": protocol.env,
            "task": str(Path(task.directory).resolve()), "task_weights_sha256": task.sidecar.get("weights_sha256"),
            "data": str(Path(protocol.data or task.dataset_path).resolve()), "data_fingerprint": data.fingerprint(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trip_order": protocol.trip_order,
        })
        with EventLog(tmp / LOG_FILE) as log:
            log.append("study_created", protocol=protocol_path.name, title=protocol.title)
        (tmp / PARTICIPANTS_DIR).mkdir()
        if out.exists():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"cannot make the study folder {out} ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Study(out)


class Study:
    """An existing study folder (opening it reads and checks its protocol and files)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        info_path = self.folder / INFO_FILE
        if not self.folder.exists():
            raise UserError(f"{self.folder}: no such study folder; make one with `dpf study init PROTOCOL.toml --out "
                            "DIR`")
        if not self.folder.is_dir() or not info_path.is_file() or not (self.folder / PROTOCOL_FILE).is_file():
            raise UserError(f"{self.folder} is not a study folder (no {INFO_FILE} and {PROTOCOL_FILE}); "
                            "make one with `dpf study init PROTOCOL.toml --out DIR`")
        import json

        try:
            self.info = json.loads(info_path.read_text(encoding="utf-8"))
            if self.info.get("format") != "dpf-study":
                raise ValueError("not a study")
            source = (self.folder / PROTOCOL_FILE).read_text(encoding="utf-8")
        except (OSError, ValueError, AttributeError) as exc:
            raise UserError(f"{info_path}: not a readable study description ({exc})") from None
        protocol = parse_protocol(source, f"{self.folder / PROTOCOL_FILE}")
        self.protocol: Protocol = dataclasses.replace(protocol, task=self.info.get("task"), data=self.info.get("data"),
                                                      trip_order=self.info.get("trip_order", _older_trip_order(
                                                          self.info, protocol.trip_order)))

    # --- what the protocol names, loaded once -----------------------------------------------------------
    @cached_property
    def _resources(self):
        task, data, wish = check_resources(self.protocol, str(self.folder / PROTOCOL_FILE))
        if data.fingerprint() != self.info.get("data_fingerprint"):
            raise UserError(f"{self.protocol.data} is not the data this study was made with (its trajectories "
                            "changed); put the original file back")
        return task, data, wish

    @property
    def task(self):
        return self._resources[0]

    @property
    def data(self):
        return self._resources[1]

    @property
    def wish(self):
        """The protocol's wish as region expressions (None when it gave only the instruction): the only
        wish outcomes are ever scored against."""
        return self._resources[2]

    # --- the study log ------------------------------------------------------------------------------------
    def log(self, read_only: bool = False) -> EventLog:
        return EventLog(self.folder / LOG_FILE, read_only=read_only)

    def _roster(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """(current participants, withdrawn ones) by id, from the study log."""
        with self.log(read_only=True) as log:
            events = log.events()
        current, withdrawn, number = {}, {}, 0
        for e in events:
            pid = e["data"].get("participant")
            if e["kind"] == "participant_added":
                number += 1
                current[pid] = {"id": pid, "number": number, "added": e["t_wall"],
                                "simulated": e["data"].get("simulated")}
            elif e["kind"] == "participant_withdrawn" and pid in current:
                withdrawn[pid] = current.pop(pid)
        return current, withdrawn

    # --- participants -----------------------------------------------------------------------------------
    def participant_dir(self, pid: str) -> Path:
        return self.folder / PARTICIPANTS_DIR / pid

    def participants(self) -> list[dict[str, Any]]:
        """Current participants (withdrawn ones left out), by number: id, number, order, simulated."""
        current, _ = self._roster()
        return [self._with_order(p) for p in sorted(current.values(), key=lambda p: p["number"])]

    def withdrawn(self) -> list[dict[str, Any]]:
        return sorted(self._roster()[1].values(), key=lambda p: p["number"])

    def participant(self, pid: str) -> dict[str, Any]:
        current, withdrawn = self._roster()
        if pid in withdrawn:
            raise UserError(f"participant {pid!r} was withdrawn from this study; their data was deleted")
        if pid not in current:
            known = ", ".join(sorted(current)) or "none yet"
            raise UserError(f"no participant {pid!r} in {self.folder}; participants: {known}")
        return self._with_order(current[pid])

    def _with_order(self, p: dict[str, Any]) -> dict[str, Any]:
        names = [c.name for c in self.protocol.conditions]
        order = condition_order(self.protocol.order, names, p["number"], self.protocol.order_seed)
        out = {**p, "order": order}
        folder = self.participant_dir(p["id"])
        if not (folder / PARTICIPANT_FILE).is_file():  # added, then interrupted before its folder was made
            try:
                folder.mkdir(parents=True, exist_ok=True)
                write_json_atomic(folder / PARTICIPANT_FILE, out)
            except OSError:  # a read-only (archived) study: the log says all there is to say
                pass
        return out

    def add_participant(self, pid: str, simulated: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add a participant under a pseudonymous id; ``simulated``: a pilot's simulated user (its seed, noise)."""
        if not isinstance(pid, str) or not ID_RE.match(pid):
            raise UserError(f"participant id {pid!r} is not allowed; use {ID_RULE}")
        current, withdrawn = self._roster()
        if pid in current or pid in withdrawn:
            raise UserError(f"participant id {pid!r} is already used in this study"
                            + (" (withdrawn)" if pid in withdrawn else "") + "; choose another")
        with self.log() as log:
            log.append("participant_added", participant=pid, simulated=simulated)
        return self.participant(pid)

    def withdraw(self, pid: str, reason: str = "") -> dict[str, Any]:
        """Delete a participant's data; the study log keeps that (and when) they were withdrawn. Refused while
        their session is open (in this process or another): it would go on logging into deleted files."""
        current, withdrawn = self._roster()
        if pid not in current and pid not in withdrawn:
            raise UserError(f"no participant {pid!r} in {self.folder}")
        p = current.get(pid) or withdrawn[pid]
        folder = self.participant_dir(pid)
        if pid in current:
            lock, owner = hold_lock(folder / LOCK_FILE) if folder.is_dir() else (None, None)
            if lock is None and folder.is_dir():
                raise UserError(f"participant {pid!r} is in a session" + (f" (process {owner})" if owner else "")
                                + "; close their screen first (Ctrl+Shift+Q), then withdraw")
            try:  # once logged, no session can start: the lock may go before the deletion
                with self.log() as log:
                    log.append("participant_withdrawn", participant=pid, number=p["number"], reason=reason)
            finally:
                if lock is not None:
                    lock.close()
        if folder.exists():  # also finishes a withdrawal interrupted before the deletion
            shutil.rmtree(folder)
        return p


__all__ = ["ID_RULE", "INFO_FILE", "LOG_FILE", "PARTICIPANTS_DIR", "PROTOCOL_FILE", "Study", "init_study",
           "is_study_folder"]

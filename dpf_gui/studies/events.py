"""The event log: everything that happened in a study, timestamped, append-only, crash-safe.

One SQLite file (WAL journal, ``synchronous=FULL``, as the label store in
:mod:`dpf_gui.data.study`); every event is its own committed transaction, so a
kill -9 or a power cut loses nothing that was logged. Triggers refuse any
UPDATE or DELETE of a logged event: the log only grows.

Each event has an id (the order things happened in), the session it belongs to
(each opening of the log for writing starts a new session: a participant's run
resumed after a crash is session 2), the wall-clock time (seconds since the
epoch, UTC), a monotonic time in seconds since the session started (immune to
clock changes), the phase and condition it happened in, a kind, and a JSON
object of details.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from dpf_gui.errors import UserError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    t_wall REAL NOT NULL,
    t_session REAL NOT NULL,
    phase TEXT,
    condition TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
"""

COLUMNS = ("id", "session", "t_wall", "t_session", "phase", "condition", "kind", "data")


class EventLog:
    """An append-only log in one SQLite file; ``read_only`` opens an existing log for reading (export)."""

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.read_only = read_only
        try:
            if read_only:
                if not self.path.is_file():
                    raise UserError(f"{self.path}: no event log here")
                self._db = _reader(self.path)
                self.session = None
                self._t0 = time.monotonic()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT MAX(session) FROM events").fetchone()
            self.session = int(row[0] or 0) + 1
            self._t0 = time.monotonic()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path}: not a usable event log ({exc})") from None

    def append(self, kind: str, phase: str | None = None, condition: str | None = None, **data: Any) -> int:
        """Log one event (committed before this returns); returns its id."""
        if self.read_only or self.session is None:
            raise UserError(f"{self.path}: opened read-only; nothing can be logged")
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO events (session, t_wall, t_session, phase, condition, kind, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.session, time.time(), time.monotonic() - self._t0, phase, condition, kind,
                     json.dumps(data, sort_keys=True, default=_plain)))
            except sqlite3.Error as exc:
                raise UserError(f"{self.path}: the event could not be logged ({exc})") from None
            return int(cur.lastrowid)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every event (of ``kind``), in the order they happened, ``data`` decoded."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM events"
        args: tuple = ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        with self._lock:
            try:
                rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
            except sqlite3.Error as exc:
                raise UserError(f"{self.path}: the event log cannot be read ({exc})") from None
        out = []
        for row in rows:
            event = dict(zip(COLUMNS, row, strict=True))
            try:
                event["data"] = json.loads(event["data"])
            except (TypeError, ValueError):
                event["data"] = {"unreadable": str(event["data"])}
            out.append(event)
        return out

    def elapsed(self) -> float:
        """Seconds since this session began (the clock of ``t_session``)."""
        return time.monotonic() - self._t0

    def session_ends(self) -> dict[int, float]:
        """Each session's last ``t_session``: how long it ran until the last thing it logged."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT session, MAX(t_session) FROM events GROUP BY session").fetchall()
            except sqlite3.Error as exc:
                raise UserError(f"{self.path}: the event log cannot be read ({exc})") from None
        return {int(session): float(end) for session, end in rows}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads. Where the folder can be written it is an ordinary one with
    ``query_only``, so that closing it (the last one) removes the WAL's side files as a writer's close does and
    reading leaves the folder as it was; elsewhere (an archived, read-only study) SQLite's read-only mode."""
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA query_only=ON")
        return db
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)


def _plain(value: Any) -> Any:
    """numpy numbers and arrays (and paths) as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


__all__ = ["COLUMNS", "EventLog"]

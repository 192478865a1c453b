"""The study store: a person's marks, kept safe the moment they are given.
Long because: one SQLite store (LabelStore) whose marking, undo/redo, import and read-out all go through the
same connection, lock and transaction rules; the format it keeps is described here once, next to them.

A person's labels are the one thing in dpf-gui that cannot be recomputed, so
they live in SQLite (WAL journal, ``synchronous=FULL``) and every mark is its
own committed transaction: killing the app, or the machine losing power, loses
nothing already shown as marked.

What is stored is an append-only log, never an overwritten label:

* ``actions``: one row per thing the user did (a mark, a simulated-user batch, the
  marks carried over to a merged dataset),
  with its state: 0 active, 1 undone (redoable), 2 discarded (undone, then a
  new action was taken, so it can no longer be redone). Undo and redo flip
  that state, so they work across restarts and an undone mark stays visible
  to whoever audits the study.
* ``marks``: the rows an action wrote, keyed by dataset fingerprint and
  trajectory index. Kinds:

  - ``whole``: the whole trajectory preferred (+1), avoided (-1) or neutral (0);
  - ``segment``: decisions ``t0..t1`` (inclusive) preferred / avoided / neutral;
  - ``score``: a simulated user's label (its per-step marks and its possibly
    noisy score), imported as one undoable batch;
  - ``clear``: forget everything said about the trajectory (and take it out of
    the rankings it was in);
  - ``rank``: the trajectory's place in a ranking of a few trajectories a
    person watched together, ``t0`` its level (0 the best; equal levels
    "equally good"), ``t1`` the ranking's number (one per ranking in the
    store, kept when marks are carried over to a merged dataset).

Marks of a trajectory are applied oldest first, later ones overriding earlier
ones where they overlap. A trajectory's training score is in the simulated
user's units, decisions in a preferred region minus decisions in an avoided
one (:func:`dpf_gui.data.labels.whole_mark_step`): a decision marked by a
segment counts ±1, as a simulated user's per-step mark; a whole mark is one
judgement of the trajectory worth ±sqrt(T), spread evenly over its T
decisions (a later segment overrides its share on the decisions it covers).
Right after a ``score`` import, the imported (possibly noisy) score is kept.
While any ranking is in force the store's labels are comparisons
(:meth:`LabelStore.to_labels`): every pair within a ranking, and the pairs
the marks imply (a trajectory marked preferred better than one marked
neutral, better than one avoided; a segment-marked or imported trajectory
by the sign of its score).
``to_labels`` says which decisions a segment marked (``known``), so a
learner can read them per step.

The store also keeps small JSON values (the app's resume state: environment,
dataset, trajectory, frame) and a list of the datasets labelled in it.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.data.labels import Labels, whole_mark_step
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.fileio import hold_lock

DB_FILE = "labels.sqlite"
SCHEMA_VERSION = 1

# Label states of a trajectory, as shown in the app's trajectory list.
UNLABELLED, PREFERRED, AVOIDED, NEUTRAL, SEGMENTS, SIMULATED, RANKED = range(7)
STATE_NAMES: tuple[str, ...] = ("unlabelled", "preferred", "avoided", "neutral", "segments", "simulated", "ranked")

ACTIVE, UNDONE, DISCARDED = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    fingerprint TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    path TEXT,
    count INTEGER NOT NULL,
    first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    note TEXT
);
CREATE INDEX IF NOT EXISTS actions_by_dataset ON actions (dataset, state, id);
CREATE TABLE IF NOT EXISTS marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action INTEGER NOT NULL REFERENCES actions (id),
    dataset TEXT NOT NULL,
    traj INTEGER NOT NULL,
    kind TEXT NOT NULL,
    t0 INTEGER,
    t1 INTEGER,
    value REAL NOT NULL,
    step_marks BLOB,
    true_score REAL
);
CREATE INDEX IF NOT EXISTS marks_by_traj ON marks (dataset, traj, id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def default_dir() -> Path:
    """Where the app keeps its data: ``DPF_GUI_DATA`` if set, else the user data dir."""
    env = os.environ.get("DPF_GUI_DATA")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("dpf-gui"))


@dataclass
class TrajectoryMarks:
    """What the store says about one trajectory after applying its marks in order."""

    marks: np.ndarray  # (T,) int8 per-decision marks
    score: float  # the score used for training (nan when unlabelled)
    state: int  # one of UNLABELLED .. RANKED
    true_score: float = float("nan")  # known only for an unmodified simulated label

    @property
    def labelled(self) -> bool:
        return self.state != UNLABELLED

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


class LabelStore:
    """A person's marks for any number of datasets, in one SQLite file.

    Safe to call from several threads of one process (calls are serialised by
    a lock; a worker may build training labels while the UI marks); other
    processes may read the same file at the same time (WAL).

    One writer per study folder: a store opened for marking holds a lock on
    ``labels.sqlite.lock`` (released on close, or when the process dies), so two
    app windows can never undo each other's marks. A store that cannot be
    written (a read-only file or folder, such as an archived study, or one that
    another dpf-gui is marking in) opens read-only: everything reads as usual,
    and marking, undo and redo raise a :class:`UserError` saying why
    (``read_only_reason``). A file of 0 bytes is refused, never replaced. A
    stored mark that makes no sense (a damaged file) is skipped and listed in
    :attr:`damaged_marks`; the other marks still count.
    """

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._folder_lock = None  # the open lock file while this store is its folder's one writer
        self._damaged: set[int] = set()
        #: why marks cannot be stored here (None: they can): a read-only file or folder, another dpf-gui
        self.read_only_reason: str | None = "opened read-only" if read_only else None
        try:
            if self.path.is_file() and self.path.stat().st_size == 0:
                raise UserError(f"{self.path} is empty (0 bytes), so it is not a label store; it was left as it is: "
                                "remove it to start a new store there, or choose another study folder")
            if self.read_only_reason is None:
                self.read_only_reason = self._open_writable()
            if self.read_only_reason is not None:
                self._open_read_only()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise UserError(f"{self.path}: not a usable label store ({exc})") from None
        except OSError as exc:
            self.close()
            raise UserError(f"{self.path}: cannot create the label store ({exc.strerror or exc})") from None
        except UserError:
            self.close()
            raise

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def _open_writable(self) -> str | None:
        """Open for marking, holding the folder's lock; returns why that is impossible (then nothing is open)."""
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return "the file is read-only"
        if self.path.exists() and not os.access(self.path.parent, os.W_OK):
            return "its folder is read-only"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            self._folder_lock, owner = hold_lock(lock)
        except OSError as exc:
            if not self.path.exists():
                raise
            return f"its lock file {lock.name} cannot be written ({exc.strerror or exc})"
        if self._folder_lock is None:
            return f"another dpf-gui{f' (process {owner})' if owner else ''} is labelling in this study folder"
        try:
            # isolation_level=None: autocommit; multi-row changes use explicit transactions.
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(stmt)
                row = self._db.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                else:
                    self._check_schema(row[0])
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc):
                raise
            return "the file cannot be written"
        return None

    def _open_read_only(self) -> None:
        """Open an existing store for reading only (an archived study, or another dpf-gui is marking in it)."""
        self.close()
        if not self.path.is_file():
            raise UserError(f"{self.path}: cannot create the label store ({self.read_only_reason})")
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0, check_same_thread=False)
            self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A read-only folder: SQLite cannot make its WAL index there, so read the file as it is,
            # unless marks still wait in its WAL journal (they would be missed).
            self.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                raise UserError(f"{self.path}: the store and its folder are read-only and some marks are still in "
                                f"{wal.name}: copy the study folder somewhere writable to open it") from None
            self._db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA query_only=ON")
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = {"info", "datasets", "actions", "marks", "state"} - tables
        if missing:
            raise UserError(f"{self.path}: not a label store (no {', '.join(sorted(missing))} table)")
        row = self._db.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
        self._check_schema(row[0] if row is not None else SCHEMA_VERSION)

    def _check_schema(self, version) -> None:
        try:
            newer = int(version) > SCHEMA_VERSION
        except (TypeError, ValueError):
            raise UserError(f"{self.path}: not a label store (schema version {version!r})") from None
        if newer:
            raise UserError(f"{self.path}: label store was written by a newer dpf-gui (schema {version})")

    def _check_writable(self) -> None:
        if self.read_only_reason is not None:
            raise UserError(f"{self.path} is read-only ({self.read_only_reason}): marks cannot be saved; "
                            "choose another study folder (File menu) to label")

    @property
    def damaged_marks(self) -> list[int]:
        """Ids of stored marks that made no sense (a damaged file) and were skipped; every other mark counts."""
        with self._lock:
            return sorted(self._damaged)

    @classmethod
    def in_dir(cls, directory: str | os.PathLike | None = None) -> LabelStore:
        """The store of a study folder (default: :func:`default_dir`)."""
        return cls(Path(directory if directory is not None else default_dir()) / DB_FILE)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._folder_lock is not None:
                self._folder_lock.close()  # releases the folder's lock
                self._folder_lock = None

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self._db, self._lock)

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run one statement and fetch all its rows, holding the lock."""
        with self._lock:
            if self._db is None:
                raise UserError(f"{self.path}: the label store is closed")
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:  # a damaged file, a full disk, a file gone
                raise UserError(f"{self.path}: the label store failed ({exc})") from None

    def _write(self, change):
        """Run ``change(db)`` as one transaction; a database error is a UserError and nothing is changed."""
        self._check_writable()
        try:
            with self._transaction() as db:
                return change(db)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: the change could not be saved ({exc}); nothing was changed") from None

    # --- datasets ---------------------------------------------------------
    def register_dataset(self, dataset: TrajectoryDataset, path: str | os.PathLike | None = None,
                         fingerprint: str | None = None) -> str:
        """Remember a dataset (so a study operator can find the data the labels refer to); returns its fingerprint."""
        fp = fingerprint or dataset.fingerprint()
        if self.read_only:
            return fp  # nothing can be recorded in a read-only store; reading needs no record
        self._q(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET path=excluded.path",
            (fp, dataset.env_name, None if path is None else str(path), len(dataset), time.time()),
        )
        return fp

    def datasets(self) -> list[dict[str, Any]]:
        rows = self._q("SELECT fingerprint, env, path, count, first_seen FROM datasets ORDER BY first_seen")
        return [dict(zip(("fingerprint", "env", "path", "count", "first_seen"), r, strict=True)) for r in rows]

    # --- marking ----------------------------------------------------------
    def mark_trajectory(self, fingerprint: str, traj: int, value: int, source: str = "person") -> int:
        """Mark a whole trajectory +1 preferred, -1 avoided or 0 neutral; returns the action id."""
        value = _check_value(value)
        return self._add_action(fingerprint, "whole", source, [(int(traj), "whole", None, None, value, None, None)])

    def mark_segment(self, fingerprint: str, traj: int, t0: int, t1: int, value: int, source: str = "person") -> int:
        """Mark decisions ``t0..t1`` (inclusive, either order) of a trajectory; returns the action id."""
        value = _check_value(value)
        t0, t1 = sorted((int(t0), int(t1)))
        if t0 < 0:
            raise UserError(f"segment [{t0}, {t1}]: decision indices start at 0")
        return self._add_action(fingerprint, "segment", source, [(int(traj), "segment", t0, t1, value, None, None)])

    def rank(self, fingerprint: str, levels: Iterable[tuple[int, int]], source: str = "person") -> int:
        """Store a ranking of a few trajectories watched together: (trajectory, level) pairs, level 0 the best and
        equal levels "equally good"; returns the action id (undoable, like any mark)."""
        return self.rank_many(fingerprint, [levels], source)

    def rank_many(self, fingerprint: str, rankings: Iterable[Iterable[tuple[int, int]]], source: str = "person",
                  note: Any = None) -> int:
        """Store several rankings as one undoable action (a simulated user's batch); each as in :meth:`rank`."""
        rankings = [[(int(t), int(v)) for t, v in levels] for levels in rankings]
        if not rankings:
            raise UserError("nothing to rank: no group of trajectories was given")
        for levels in rankings:
            trajs = [t for t, _ in levels]
            if len(set(trajs)) != len(trajs) or len(trajs) < 2:
                raise UserError(f"a ranking orders at least two different trajectories; got {sorted(trajs)}")
            if min(trajs) < 0 or min(v for _, v in levels) < 0:
                raise UserError("a ranking's trajectories and levels are numbers from 0")

        def rows(db) -> list[tuple]:
            first = int(db.execute("SELECT COALESCE(MAX(t1), 0) + 1 FROM marks WHERE kind='rank'").fetchone()[0])
            return [(t, "rank", v, first + k, 0, None, None) for k, levels in enumerate(rankings) for t, v in levels]

        return self._add_action(fingerprint, "rank", source, rows, note=note)

    def rankings(self, fingerprint: str, count: int | None = None) -> list[list[tuple[int, int]]]:
        """The rankings in force, oldest first: each a list of (trajectory, level), best first; a trajectory
        cleared after a ranking is out of it, and a ranking left with fewer than two is none. ``count``: keep
        only trajectories below it (the dataset's)."""
        rows = self._q("SELECT m.traj, m.kind, m.t0, m.t1 FROM marks m JOIN actions a ON a.id = m.action"
                       " WHERE m.dataset=? AND a.state=? AND m.kind IN ('rank', 'clear') ORDER BY m.id",
                       (fingerprint, ACTIVE))
        found: dict[int, dict[int, int]] = {}
        for traj, kind, level, number in rows:
            if not isinstance(traj, int) or (count is not None and not 0 <= traj < count):
                continue
            if kind == "clear":
                for ranking in found.values():
                    ranking.pop(traj, None)
            elif isinstance(level, int) and isinstance(number, int) and level >= 0:
                found.setdefault(number, {})[traj] = level
        return [sorted(r.items(), key=lambda tl: (tl[1], tl[0])) for r in found.values() if len(r) >= 2]

    def clear(self, fingerprint: str, traj: int, source: str = "person") -> int:
        """Forget what was said about a trajectory (undoable, like any mark)."""
        return self._add_action(fingerprint, "clear", source, [(int(traj), "clear", None, None, 0, None, None)])

    def import_labels(self, labels: Labels, fingerprint: str, only: Iterable[int] | None = None) -> int | None:
        """Store a simulated user's (or a label file's) labels as one undoable batch.

        Each labelled trajectory gets a ``score`` mark holding its per-step
        marks and its given score; a file of marked segments (``known``:
        ``dpf label --feedback segments``) gives its stretches as segment marks
        instead, after a ``clear`` of what was there, so training reads which
        decisions were marked as it does in the file (as a score its whole
        trajectory would be fitted to the stretches' sum). ``only`` restricts the
        batch to some trajectories (e.g. the ones the person has not labelled).
        Returns the action id, or None when nothing was imported.
        """
        if labels.meta.get("data_fingerprint") != fingerprint:
            raise UserError("these labels were given to a different trajectory dataset")
        check_storable(labels, "these labels")
        keep = set(range(len(labels))) if only is None else {int(i) for i in only}
        if labels.pairs is not None:
            return self._import_comparisons(labels, fingerprint, keep)
        offsets = np.concatenate([[0], np.cumsum(labels.lengths)]).astype(np.int64)
        known = None if labels.known is None else np.asarray(labels.known, dtype=bool)
        rows = []
        for i in range(len(labels)):
            if not labels.labelled[i] or i not in keep:
                continue
            step = np.asarray(labels.marks[offsets[i]:offsets[i + 1]], dtype=np.int8)
            if known is not None and known[offsets[i]:offsets[i + 1]].any():
                rows.append((i, "clear", None, None, 0, None, None))
                rows += [(i, "segment", t0, t1, value, None, None)
                         for t0, t1, value in _marked_stretches(step, known[offsets[i]:offsets[i + 1]])]
                continue
            true = float(labels.true_scores[i])
            rows.append((i, "score", None, None, float(labels.scores[i]), step.tobytes(),
                         None if np.isnan(true) else true))
        if not rows:
            return None
        note = {k: labels.meta.get(k) for k in ("wish", "mode", "noise", "seed", "data_path") if k in labels.meta}
        source = str(labels.meta.get("source", "label-file"))
        return self._add_action(fingerprint, "import", source, rows, note=note)

    def _import_comparisons(self, labels: Labels, fingerprint: str, keep: set[int]) -> int | None:
        """A comparison file (``dpf label --feedback pairs`` or ``ranks``, or an export of rankings): each comparison
        of two kept trajectories stored as a ranking of the two (the better first; equally good at one level), so
        training reads the file's comparisons; one undoable batch, or None when none was kept."""
        rankings = []
        for (a, b), prefer in zip(np.asarray(labels.pairs).tolist(), np.asarray(labels.prefer).tolist(), strict=True):
            if a in keep and b in keep:
                first, second = (a, b) if prefer >= 0.5 else (b, a)
                rankings.append([(first, 0), (second, 0 if prefer == 0.5 else 1)])
        if not rankings:
            return None
        note = {k: labels.meta.get(k) for k in ("wish", "mode", "noise", "seed", "data_path") if k in labels.meta}
        return self.rank_many(fingerprint, rankings, source=str(labels.meta.get("source", "label-file")), note=note)

    def carry_marks(self, old_fingerprint: str, new_fingerprint: str, offset: int = 0) -> int | None:
        """Copy every active mark of one dataset to another that holds its trajectories from ``offset`` on.

        For a merged dataset (:func:`dpf_gui.data.merge.merge_datasets`): the person's marks, segments and
        imported labels keep their kind and order, so every trajectory reads as before; the old dataset's
        marks stay as they were. One undoable action on the new dataset; None when there was nothing to copy.
        """
        rows = [(traj + int(offset), kind, t0, t1, value, step_marks, true_score)
                for _, traj, kind, t0, t1, value, step_marks, true_score in self._active_marks(old_fingerprint)
                if isinstance(traj, int)]
        if not rows:
            return None
        note = {"from": old_fingerprint, "offset": int(offset)}
        return self._add_action(new_fingerprint, "carry", "merge", rows, note=note)

    def _add_action(self, fingerprint: str, kind: str, source: str, rows, note: Any = None) -> int:
        """One undoable action and its mark rows (a list, or a function of the open database that makes them)."""

        def change(db) -> int:
            # A new action ends the redo history, as in every editor.
            db.execute("UPDATE actions SET state=? WHERE dataset=? AND state=?", (DISCARDED, fingerprint, UNDONE))
            cur = db.execute(
                "INSERT INTO actions (dataset, kind, source, created, state, note) VALUES (?, ?, ?, ?, ?, ?)",
                (fingerprint, kind, source, time.time(), ACTIVE, None if note is None else json.dumps(note)),
            )
            action = int(cur.lastrowid)
            db.executemany(
                "INSERT INTO marks (action, dataset, traj, kind, t0, t1, value, step_marks, true_score)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(action, fingerprint, *r) for r in (rows(db) if callable(rows) else rows)],
            )
            return action

        return self._write(change)

    # --- undo / redo ------------------------------------------------------
    def can_undo(self, fingerprint: str) -> bool:
        return not self.read_only and self._edge(fingerprint, ACTIVE, "DESC") is not None

    def can_redo(self, fingerprint: str) -> bool:
        return not self.read_only and self._edge(fingerprint, UNDONE, "ASC") is not None

    def undo(self, fingerprint: str) -> list[int]:
        """Undo the latest action on this dataset; returns the trajectories it touched ([] if none)."""
        return self._flip(fingerprint, ACTIVE, UNDONE, "DESC")

    def redo(self, fingerprint: str) -> list[int]:
        """Redo the most recently undone action; returns the trajectories it touched ([] if none)."""
        return self._flip(fingerprint, UNDONE, ACTIVE, "ASC")

    def _edge(self, fingerprint: str, state: int, order: str) -> int | None:
        # Undone actions are always newer than active ones (a new action discards
        # the undone ones), so undo takes the newest active, redo the oldest undone.
        rows = self._q(
            f"SELECT id FROM actions WHERE dataset=? AND state=? ORDER BY id {order} LIMIT 1", (fingerprint, state)
        )
        return int(rows[0][0]) if rows else None

    def _flip(self, fingerprint: str, old: int, new: int, order: str) -> list[int]:
        def change(db) -> list[int]:
            action = self._edge(fingerprint, old, order)
            if action is None:
                return []
            db.execute("UPDATE actions SET state=? WHERE id=?", (new, action))
            rows = db.execute("SELECT DISTINCT traj FROM marks WHERE action=? ORDER BY traj", (action,))
            return [int(r[0]) for r in rows if isinstance(r[0], int)]

        return self._write(change)

    # --- reading ----------------------------------------------------------
    def _active_marks(self, fingerprint: str, traj: int | None = None):
        sql = ("SELECT m.id, m.traj, m.kind, m.t0, m.t1, m.value, m.step_marks, m.true_score FROM marks m"
               " JOIN actions a ON a.id = m.action WHERE m.dataset=? AND a.state=?")
        args: tuple = (fingerprint, ACTIVE)
        if traj is not None:
            sql += " AND m.traj=?"
            args += (int(traj),)
        return self._q(sql + " ORDER BY m.id", args)

    def _apply(self, acc: _Accumulator, rows, first: int = 0) -> None:
        """Apply marks (trajectory ``traj - first``), skipping and remembering the damaged ones."""
        n = len(acc.lengths)
        for mark_id, traj, *rest in rows:
            if isinstance(traj, int) and not 0 <= traj - first < n:
                continue  # a trajectory this dataset does not have
            if not (isinstance(traj, int) and acc.apply(traj - first, *rest)):
                with self._lock:
                    self._damaged.add(int(mark_id))

    def trajectory(self, fingerprint: str, traj: int, length: int) -> TrajectoryMarks:
        """The marks, score and label state of one trajectory of ``length`` decisions."""
        acc = _Accumulator(np.array([length], dtype=np.int64))
        self._apply(acc, self._active_marks(fingerprint, traj), first=int(traj))
        return acc.result(0)

    def summary(self, fingerprint: str, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Label state (int8) and score (float32, nan if unlabelled) of every trajectory."""
        acc = _Accumulator(np.asarray(lengths, dtype=np.int64))
        self._apply(acc, self._active_marks(fingerprint))
        return acc.states.copy(), acc.scores().astype(np.float32)

    def labelled_count(self, fingerprint: str, lengths: np.ndarray) -> int:
        states, _ = self.summary(fingerprint, lengths)
        return int((states != UNLABELLED).sum())

    def to_labels(self, dataset: TrajectoryDataset, fingerprint: str | None = None) -> Labels:
        """The person's marks as training labels (``dpf-labels``) for ``dataset``.

        Per-decision marks m_t come from applying the marks in order (a whole
        mark sets every step, a segment its steps, later overriding earlier);
        the score weighs each m_t by what marked it (see the module docstring:
        a segment's decisions 1 each, a whole mark's 1/sqrt(T) each; an
        imported simulated label keeps its given score). ``known`` is True on
        the decisions a segment marked (None when no segment is in force).
        ``true_scores`` are NaN except where an imported simulated label is
        still in force. While a ranking is in force the labels are comparisons
        (:func:`ranked_pairs`): the rankings' and the marks'.
        """
        fp = fingerprint or dataset.fingerprint()
        acc = _Accumulator(dataset.lengths)
        self._apply(acc, self._active_marks(fp))
        labelled = acc.states != UNLABELLED
        given = acc.scores()
        scores = np.where(np.isfinite(given), given, 0.0).astype(np.float32)
        rankings = self.rankings(fp, count=len(dataset))
        ranked_by = {r[0] for r in self._q("SELECT DISTINCT source FROM actions WHERE dataset=? AND state=? AND "
                                           "kind='rank'", (fp, ACTIVE))} if rankings else set()
        by_simulated = (acc.states == SIMULATED).any() or "simulated-user" in ranked_by
        by_person = np.isin(acc.states, (PREFERRED, AVOIDED, NEUTRAL, SEGMENTS)).any() or bool(ranked_by
                                                                                             - {"simulated-user"})
        source = ("person+simulated-user" if by_person and by_simulated else
                  "simulated-user" if by_simulated else "person")
        known = np.concatenate(acc.segment) if acc.segment else np.zeros(0, bool)
        return Labels(
            scores=scores,
            labelled=labelled,
            true_scores=acc.true_scores.astype(np.float32),
            marks=np.concatenate(acc.marks) if acc.marks else np.zeros(0, np.int8),
            lengths=dataset.lengths.copy(),
            known=known if known.any() else None,
            meta={
                "env": dataset.env_name,
                "data_fingerprint": fp,
                "source": source,
                "count": int(labelled.sum()),
                "states": {name: int((acc.states == k).sum()) for k, name in enumerate(STATE_NAMES)},
                "store": str(self.path),
                **({"feedback": "pairs", "rankings": len(rankings)} if rankings else {}),
            },
            **(dict(zip(("pairs", "prefer"), ranked_pairs(rankings, given), strict=True)) if rankings else {}),
        )

    def history(self, fingerprint: str) -> list[dict[str, Any]]:
        """Every action on a dataset, oldest first (for audits and the study report)."""
        rows = self._q(
            "SELECT id, kind, source, created, state, note FROM actions WHERE dataset=? ORDER BY id", (fingerprint,)
        )
        return [
            {"id": r[0], "kind": r[1], "source": r[2], "created": r[3],
             "state": {ACTIVE: "active", UNDONE: "undone", DISCARDED: "discarded"}.get(r[4], f"unknown ({r[4]!r})"),
             "note": _json_or_text(r[5])}
            for r in rows
        ]

    def mark_log(self, fingerprint: str) -> list[dict[str, Any]]:
        """Every stored mark of a dataset with its action (kind, source, time, state), oldest first: the
        audit trail a study exports (undone marks included, with their state)."""
        rows = self._q(
            "SELECT m.id, m.action, a.kind, a.source, a.created, a.state, m.traj, m.kind, m.t0, m.t1, m.value"
            " FROM marks m JOIN actions a ON a.id = m.action WHERE m.dataset=? ORDER BY m.id", (fingerprint,))
        names = {ACTIVE: "active", UNDONE: "undone", DISCARDED: "discarded"}
        return [{"mark": r[0], "action": r[1], "action_kind": r[2], "source": r[3], "created": r[4],
                 "state": names.get(r[5], f"unknown ({r[5]!r})"), "traj": r[6], "kind": r[7], "t0": r[8], "t1": r[9],
                 "value": r[10]} for r in rows]

    # --- small JSON values (resume state) ---------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        rows = self._q("SELECT value FROM state WHERE key=?", (key,))
        if not rows:
            return default
        try:
            return json.loads(rows[0][0])
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        """Store a small JSON value (ignored by a read-only store: these are conveniences, not marks)."""
        if self.read_only:
            return
        self._q("INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection, holding the store's lock."""

    def __init__(self, db: sqlite3.Connection, lock):
        self.db, self.lock = db, lock

    def __enter__(self):
        self.lock.acquire()
        try:
            if self.db is None:
                raise UserError("the label store is closed")
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, exc_type, exc, tb):
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
        return False


class _Accumulator:
    """Applies marks in order to per-trajectory step arrays: each decision's mark, what it counts in the score
    (1 from a segment, :func:`whole_mark_step` from a whole mark) and whether a segment marked it."""

    def __init__(self, lengths: np.ndarray):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        n = len(self.lengths)
        self.marks = [np.zeros(int(t), np.int8) for t in self.lengths]
        self.weights = [np.zeros(int(t)) for t in self.lengths]
        self.segment = [np.zeros(int(t), bool) for t in self.lengths]
        self.states = np.zeros(n, np.int8)
        self.given = np.full(n, np.nan)  # an imported score that overrides sum(marks)
        self.true_scores = np.full(n, np.nan)

    def apply(self, i, kind, t0, t1, value, step_marks, true_score) -> bool:
        """Apply one mark to trajectory ``i``; False (nothing changed) for a mark that makes no sense."""
        if not _usable_mark(kind, t0, t1, value, step_marks, true_score):
            return False
        if kind == "rank":  # a place in a ranking leaves the marks as they are (LabelStore.rankings reads it)
            if self.states[i] == UNLABELLED:
                self.states[i] = RANKED
            return True
        m, w, seg = self.marks[i], self.weights[i], self.segment[i]
        v = round(value) if kind != "score" else 0
        self.given[i] = np.nan
        self.true_scores[i] = np.nan
        if kind == "whole":
            m[:] = v
            w[:] = whole_mark_step(len(m))
            seg[:] = False
            self.states[i] = {1: PREFERRED, -1: AVOIDED}.get(v, NEUTRAL)
        elif kind == "segment":
            lo, hi = max(int(t0), 0), min(int(t1), len(m) - 1)
            if lo <= hi:
                m[lo:hi + 1] = v
                w[lo:hi + 1] = 1.0
                seg[lo:hi + 1] = True
            self.states[i] = SEGMENTS
        elif kind == "score":
            step = np.frombuffer(step_marks, np.int8) if step_marks is not None else np.zeros(0, np.int8)
            m[:] = 0
            k = min(len(step), len(m))
            m[:k] = step[:k]
            w[:], seg[:] = 1.0, False
            self.given[i] = float(value)
            self.true_scores[i] = np.nan if true_score is None else float(true_score)
            self.states[i] = SIMULATED
        elif kind == "clear":
            m[:], w[:], seg[:] = 0, 0.0, False
            self.states[i] = UNLABELLED
        return True

    def scores(self) -> np.ndarray:
        sums = np.array([float(m @ w) for m, w in zip(self.marks, self.weights, strict=True)])
        out = np.where(np.isnan(self.given), sums, self.given)
        return np.where((self.states == UNLABELLED) | (self.states == RANKED), np.nan, out)

    def result(self, i: int) -> TrajectoryMarks:
        return TrajectoryMarks(self.marks[i], float(self.scores()[i]), int(self.states[i]), float(self.true_scores[i]))


def ranked_pairs(rankings: list[list[tuple[int, int]]], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The comparisons a store's rankings and marks make: every pair within a ranking (the better first; equal
    levels 0.5), then every pair of marked trajectories whose scores differ in sign (a preferred run better than
    a neutral one, better than an avoided one; ``scores`` NaN where a trajectory has no mark)."""
    pairs = [(i, j, 1.0 if li < lj else 0.5)
             for ranking in rankings for a, (i, li) in enumerate(ranking) for j, lj in ranking[a + 1:]]
    marked = np.flatnonzero(np.isfinite(scores))
    sign = np.sign(scores[marked])
    better, worse = np.nonzero(sign[:, None] > sign[None, :])
    rows = np.array([(i, j) for i, j, _ in pairs] + list(zip(marked[better], marked[worse], strict=True)),
                    dtype=np.int64).reshape(-1, 2)
    prefer = np.array([p for _, _, p in pairs] + [1.0] * len(better), dtype=np.float32)
    return rows, prefer


def _marked_stretches(marks: np.ndarray, known: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal stretches (t0, t1 inclusive, value) of known decisions with one mark."""
    at = np.flatnonzero(known)
    if not len(at):
        return []
    cut = np.flatnonzero((np.diff(at) != 1) | (np.diff(marks[at]) != 0)) + 1  # a gap, or another mark
    first, last = np.concatenate([[0], cut]), np.concatenate([cut, [len(at)]]) - 1
    return [(int(at[a]), int(at[b]), int(marks[at[a]])) for a, b in zip(first, last, strict=True)]


def check_storable(labels: Labels, where: str) -> None:
    """Refuse comparisons the store cannot keep as rankings of two: a comparison of a trajectory with itself, or
    one stated other than "the first better" (1), "the second better" (0) or "equally good" (0.5)."""
    if labels.pairs is None:
        return
    pairs, prefer = np.asarray(labels.pairs), np.asarray(labels.prefer, dtype=np.float64)
    odd = (pairs[:, 0] == pairs[:, 1]) | ~np.isin(prefer, (0.0, 0.5, 1.0))
    if odd.any():
        k = int(np.flatnonzero(odd)[0])
        raise UserError(f"{where}: comparison {k} ({int(pairs[k, 0])} vs {int(pairs[k, 1])}, preference "
                        f"{float(prefer[k]):g}) cannot be stored as a ranking (allowed: two different trajectories, "
                        "preference 1, 0 or 0.5), so nothing was imported: train on the comparisons with "
                        "`dpf train-intent --labels FILE --out DIR` and load DIR in the Train tab (Load intent model…)")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _usable_mark(kind, t0, t1, value, step_marks, true_score) -> bool:
    """Whether a stored mark row makes sense (rows of a damaged file may not)."""
    if kind not in ("whole", "segment", "score", "clear", "rank") or not _is_number(value):
        return False
    if kind == "rank":
        return isinstance(t0, int) and t0 >= 0 and isinstance(t1, int)
    if kind in ("whole", "segment") and round(value) not in (-1, 0, 1):
        return False
    if kind == "segment":
        return isinstance(t0, int) and isinstance(t1, int)
    if kind == "score":
        return (step_marks is None or isinstance(step_marks, bytes)) and (true_score is None or _is_number(true_score))
    return True


def _json_or_text(value):
    try:
        return None if value is None else json.loads(value)
    except (TypeError, ValueError):
        return value


def _check_value(value: int) -> int:
    v = int(value)
    if v not in (-1, 0, 1):
        raise UserError(f"a mark is +1 (preferred), -1 (avoided) or 0 (neutral); got {value!r}")
    return v


__all__ = [
    "AVOIDED",
    "DB_FILE",
    "NEUTRAL",
    "PREFERRED",
    "RANKED",
    "SEGMENTS",
    "SIMULATED",
    "STATE_NAMES",
    "UNLABELLED",
    "LabelStore",
    "TrajectoryMarks",
    "check_storable",
    "default_dir",
]

"""The Annotate view's trajectory list: a table model over the workspace's summary (label state, score,
suggestion rank, length, return, success, origin, and a hidden shuffled place) and the filter-and-sort proxy
in front of it.

Rows are refreshed in place when marks change; the proxy filters and sorts only when the person asks, so
rows never move under the cursor while they label.

The cells live in Qt's own item store (:class:`QStandardItemModel`), written when the summary changes, so
painting and sorting the list never call into Python. A Python model was asked thousands of times per
repaint (rowCount, columnCount, data), each call taking the GIL: beside any thread running Python (the
player's replay, a suggestion ranking, a training) one repaint of the list took 0.1-2 s.

Making the items for 2000 trajectories takes 60-100 ms; items are no QObjects, so :func:`table_rows` may
make them in the thread that opens the workspace (:mod:`dpf_gui.app.opening`), and the UI thread only puts
them in the model.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel

from dpf_gui.data.study import (
    AVOIDED,
    NEUTRAL,
    PREFERRED,
    RANKED,
    SEGMENTS,
    SIMULATED,
    STATE_NAMES,
    UNLABELLED,
)
from dpf_gui.selection import random_order
from dpf_gui.threads import UI_PAUSE_EVERY, UI_PAUSE_S

#: what a person labelling needs first comes first (a narrow list still shows it): label state, score, rank
COLUMNS = ("#", "label", "score", "next", "length", "return", "success", "from", "shuffled")
COL_LABEL, COL_SCORE, COL_NEXT, COL_LENGTH, COL_RETURN, COL_SUCCESS, COL_FROM, COL_SHUFFLED = range(1, 9)
COLUMN_TIPS = {COL_NEXT: "rank among the suggestions: label these first (Enter goes through them in this order)",
               COL_FROM: "stored: the task agent's own trajectories; collected: played with exploration noise "
                         "(Collect more…)"}
UNRANKED = 10**9  # sorts after every suggestion
COLLECTED_COLOUR = QColor(255, 243, 205)
STATE_COLOURS = {
    PREFERRED: QColor(200, 236, 200),
    AVOIDED: QColor(248, 205, 205),
    NEUTRAL: QColor(225, 225, 225),
    SEGMENTS: QColor(205, 220, 248),
    SIMULATED: QColor(230, 215, 245),
    RANKED: QColor(205, 238, 235),
}
SORT_ROLE = Qt.ItemDataRole.UserRole
_DISPLAY, _BACKGROUND = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT_ALIGNED = (COL_LABEL, COL_FROM)


def score_text(score: float) -> str:
    """A score as the list and the title show it: at most two decimals (a whole mark's ±sqrt(T) is seldom a
    whole number)."""
    text = f"{score:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class TableRows:
    """A workspace's list, made before it is shown (:func:`table_rows`): its arrays and each row's items."""

    def __init__(self, ws, pause: bool = False):
        self.ws = ws
        self.lengths = ws.dataset.lengths
        self.returns = ws.task_returns
        self.success = ws.dataset.success
        self.states, self.scores = ws.summary()
        self.collected = ws.collected()
        self.shuffled = np.empty(len(self.lengths), np.int64)  # each row's place in the shuffled order
        self.shuffled[random_order(len(self.lengths))] = np.arange(len(self.lengths))
        self.items = []
        for r in range(len(self.lengths)):
            if pause and r % UI_PAUSE_EVERY == 0:
                time.sleep(UI_PAUSE_S)  # let the UI thread have the GIL (dpf_gui.threads.pausing)
            self.items.append(_row(self, r))


def table_rows(ws) -> TableRows:
    """The list of ``ws`` made on any thread (pausing now and then so the UI thread is not kept waiting)."""
    return TableRows(ws, pause=True)


def _row(rows, r: int) -> list[QStandardItem]:
    """Row ``r``'s items (its mark and rank as :func:`_write_mark` and :func:`_write_rank` rewrite them)."""
    items = []
    for c in range(len(COLUMNS)):
        item = QStandardItem()
        item.setEditable(False)
        if c not in _LEFT_ALIGNED:
            item.setData(_RIGHT, Qt.ItemDataRole.TextAlignmentRole)
        items.append(item)
    collected = bool(rows.collected[r])
    fixed = ((0, str(r), r), (COL_LENGTH, str(int(rows.lengths[r])), int(rows.lengths[r])),
             (COL_RETURN, f"{float(rows.returns[r]):.2f}", float(rows.returns[r])),
             (COL_SUCCESS, "yes" if rows.success[r] else "no", int(rows.success[r])),
             (COL_FROM, "collected" if collected else "stored", int(collected)),
             (COL_SHUFFLED, str(int(rows.shuffled[r])), int(rows.shuffled[r])))
    for c, text, key in fixed:
        items[c].setData(text, _DISPLAY)
        items[c].setData(key, SORT_ROLE)
    if collected:
        for c in (0, COL_FROM):
            items[c].setData(QBrush(COLLECTED_COLOUR), _BACKGROUND)
    _write_mark(items[COL_LABEL], items[COL_SCORE], int(rows.states[r]), float(rows.scores[r]))
    _write_rank(items[COL_NEXT], 0)
    return items


def _write_mark(label: QStandardItem, score: QStandardItem, state: int, s: float) -> None:
    colour = STATE_COLOURS.get(state)
    brush = QBrush(colour) if colour is not None else None
    label.setData(STATE_NAMES[state], _DISPLAY)
    label.setData(state, SORT_ROLE)
    score.setData("" if np.isnan(s) else score_text(s), _DISPLAY)
    score.setData(-1e18 if np.isnan(s) else s, SORT_ROLE)  # NaN (no score) sorts first
    for item in (label, score):
        item.setData(brush, _BACKGROUND)


def _write_rank(item: QStandardItem, rank: int) -> None:
    item.setData(str(rank) if rank else "", _DISPLAY)
    item.setData(rank or UNRANKED, SORT_ROLE)


class TrajectoryTableModel(QStandardItemModel):
    """One row per trajectory: index, suggestion rank, length, task return, success, label state, score, origin.

    The arrays (``states``, ``scores``, ``ranks``, ...) are what the view reads; the items are what Qt paints."""

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        for c, name in enumerate(COLUMNS):
            header = QStandardItem(name)
            if c in COLUMN_TIPS:
                header.setToolTip(COLUMN_TIPS[c])
            self.setHorizontalHeaderItem(c, header)
        self.ws = None
        self._empty()

    def _empty(self) -> None:
        self.lengths = np.zeros(0, np.int64)
        self.returns = np.zeros(0, np.float32)
        self.success = np.zeros(0, bool)
        self.states = np.zeros(0, np.int8)
        self.scores = np.zeros(0, np.float32)
        self.ranks = np.zeros(0, np.int64)  # 1-based suggestion rank, 0: not suggested
        self.collected = np.zeros(0, bool)

    def set_workspace(self, ws, rows: TableRows | None = None) -> None:
        """Show ``ws``'s trajectories, with the ``rows`` made for it beforehand (:func:`table_rows`) or made now."""
        old, self.ws = self.ws, ws
        if ws is None:
            self._empty()
            items = []
        else:
            made = rows is not None and rows.ws is ws
            rows = rows if made else TableRows(ws)
            self.lengths, self.returns, self.success = rows.lengths, rows.returns, rows.success
            self.states, self.scores, self.collected = rows.states, rows.scores, rows.collected
            self.ranks = np.zeros(len(ws), np.int64)
            items = rows.items
            rows.items = []  # the model owns them now
        self.beginResetModel()
        self.blockSignals(True)  # one reset instead of a signal per row and cell
        try:
            self.setRowCount(0)
            for row in items:
                self.appendRow(row)
        finally:
            self.blockSignals(False)
        self.endResetModel()
        if made and old is not None and old.fingerprint == ws.fingerprint:
            self._refresh_changed()  # the same data was open, and marked, while the rows were made

    def _refresh_changed(self) -> None:
        """Rewrite the rows whose mark in the store differs from the one they show."""
        states, scores = self.ws.summary()
        differ = (states != self.states) | ~((scores == self.scores) | (np.isnan(scores) & np.isnan(self.scores)))
        changed = np.flatnonzero(differ)
        if len(changed):
            self.states, self.scores = states, scores
            self.blockSignals(True)
            try:
                for r in changed:
                    self._write_mark(self.item(int(r), COL_LABEL), self.item(int(r), COL_SCORE), int(r))
            finally:
                self.blockSignals(False)
            self._changed(int(changed[0]), int(changed[-1]), (COL_LABEL, COL_SCORE))

    def _write_mark(self, label: QStandardItem, score: QStandardItem, r: int) -> None:
        _write_mark(label, score, int(self.states[r]), float(self.scores[r]))

    def _write_rank(self, item: QStandardItem, r: int) -> None:
        _write_rank(item, int(self.ranks[r]))

    def _changed(self, first: int, last: int, columns: tuple[int, int]) -> None:
        """One signal for rows first..last (their items were written with signals blocked)."""
        if last >= first:
            self.dataChanged.emit(self.index(first, columns[0]), self.index(last, columns[1]))

    def refresh(self, rows=None) -> None:
        """Re-read label states from the store (all rows, or some)."""
        if self.ws is None:
            return
        if rows is None:
            self.states, self.scores = self.ws.summary()
            rows = range(len(self.states))
        else:
            rows = [int(r) for r in rows]
            for r in rows:
                m = self.ws.marks(r)
                self.states[r], self.scores[r] = m.state, m.score
        if not len(rows):
            return
        self.blockSignals(True)
        try:
            for r in rows:
                self._write_mark(self.item(r, COL_LABEL), self.item(r, COL_SCORE), r)
        finally:
            self.blockSignals(False)
        self._changed(min(rows), max(rows), (COL_LABEL, COL_SCORE))

    def set_ranks(self, suggestions) -> None:
        """Show each suggested trajectory's place (``suggestions``: best first)."""
        old = self.ranks
        self.ranks = np.zeros(len(self.lengths), np.int64)
        for k, s in enumerate(suggestions):
            if 0 <= s.index < len(self.ranks):
                self.ranks[s.index] = k + 1
        moved = np.flatnonzero(old != self.ranks) if len(old) == len(self.ranks) else np.arange(len(self.ranks))
        if not len(moved):
            return
        self.blockSignals(True)
        try:
            for r in moved:
                self._write_rank(self.item(int(r), COL_NEXT), int(r))
        finally:
            self.blockSignals(False)
        self._changed(int(moved[0]), int(moved[-1]), (COL_NEXT, COL_NEXT))

    @property
    def labelled_count(self) -> int:
        return int((self.states != UNLABELLED).sum())


class TrajectoryFilter(QSortFilterProxyModel):
    """Filters by label state and task success; sorts numerically."""

    STATE_CHOICES = (("all", None), ("unlabelled", "unlabelled"), ("labelled", "labelled"),
                     *((STATE_NAMES[k], k) for k in (PREFERRED, AVOIDED, NEUTRAL, SEGMENTS, SIMULATED, RANKED)))
    SUCCESS_CHOICES = (("all", None), ("success", True), ("failure", False))

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = None
        self.success = None
        self.setSortRole(SORT_ROLE)
        # Rows must not vanish or move while the person marks them: filters and
        # sorting apply when the person changes them, not on every mark.
        self.setDynamicSortFilter(False)

    def set_filters(self, state=None, success=None) -> None:
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self.state, self.success = state, success
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.state, self.success = state, success
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:
        m = self.sourceModel()
        if self.success is not None and bool(m.success[row]) != self.success:
            return False
        s = int(m.states[row])
        if self.state == "unlabelled":
            return s == UNLABELLED
        if self.state == "labelled":
            return s != UNLABELLED
        return self.state is None or s == self.state


__all__ = ["COLUMNS", "TableRows", "TrajectoryFilter", "TrajectoryTableModel", "score_text", "table_rows"]

"""The Annotate view's trajectory list: a table model over the workspace's summary (label state, score,
suggestion rank, length, return, success, origin) and the filter-and-sort proxy in front of it.

Rows are refreshed in place when marks change; the proxy filters and sorts only when the person asks, so
rows never move under the cursor while they label.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from dpf_gui.data.study import (
    AVOIDED,
    NEUTRAL,
    PREFERRED,
    SEGMENTS,
    SIMULATED,
    STATE_NAMES,
    UNLABELLED,
)

#: what a person labelling needs first comes first (a narrow list still shows it): label state, score, rank
COLUMNS = ("#", "label", "score", "next", "length", "return", "success", "from")
COL_LABEL, COL_SCORE, COL_NEXT, COL_LENGTH, COL_RETURN, COL_SUCCESS, COL_FROM = range(1, 8)
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
}
SORT_ROLE = Qt.ItemDataRole.UserRole


def score_text(score: float) -> str:
    """A score as the list and the title show it: at most two decimals (a whole mark's ±sqrt(T) is seldom a
    whole number)."""
    text = f"{score:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class TrajectoryTableModel(QAbstractTableModel):
    """One row per trajectory: index, suggestion rank, length, task return, success, label state, score, origin."""

    def __init__(self, parent=None):
        super().__init__(parent)
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

    def set_workspace(self, ws) -> None:
        self.beginResetModel()
        self.ws = ws
        if ws is None:
            self._empty()
        else:
            self.lengths = ws.dataset.lengths
            self.returns = ws.task_returns
            self.success = ws.dataset.success
            self.states, self.scores = ws.summary()
            self.ranks = np.zeros(len(ws), np.int64)
            self.collected = ws.collected()
        self.endResetModel()

    def refresh(self, rows=None) -> None:
        """Re-read label states from the store (all rows, or some)."""
        if self.ws is None:
            return
        if rows is None:
            self.states, self.scores = self.ws.summary()
            if len(self.states):
                self.dataChanged.emit(self.index(0, COL_LABEL), self.index(len(self.states) - 1, COL_SCORE))
            return
        for r in rows:
            m = self.ws.marks(r)
            self.states[r], self.scores[r] = m.state, m.score
            self.dataChanged.emit(self.index(r, COL_LABEL), self.index(r, COL_SCORE))

    def set_ranks(self, suggestions) -> None:
        """Show each suggested trajectory's place (``suggestions``: best first)."""
        self.ranks = np.zeros(len(self.lengths), np.int64)
        for k, s in enumerate(suggestions):
            if 0 <= s.index < len(self.ranks):
                self.ranks[s.index] = k + 1
        if len(self.ranks):
            self.dataChanged.emit(self.index(0, COL_NEXT), self.index(len(self.ranks) - 1, COL_NEXT))

    @property
    def labelled_count(self) -> int:
        return int((self.states != UNLABELLED).sum())

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's model API: an invalid, immutable index)
        return 0 if parent.isValid() else len(self.lengths)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's model API: an invalid, immutable index)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMN_TIPS.get(section)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return str(r)
            if c == COL_NEXT:
                return str(int(self.ranks[r])) if self.ranks[r] else ""
            if c == COL_LENGTH:
                return str(int(self.lengths[r]))
            if c == COL_RETURN:
                return f"{float(self.returns[r]):.2f}"
            if c == COL_SUCCESS:
                return "yes" if self.success[r] else "no"
            if c == COL_LABEL:
                return STATE_NAMES[int(self.states[r])]
            if c == COL_SCORE:
                s = float(self.scores[r])
                return "" if np.isnan(s) else score_text(s)
            if c == COL_FROM:
                return "collected" if self.collected[r] else "stored"
        if role == SORT_ROLE:  # only column c's key: sorting 1500 rows asks ~20 000 times
            if c == 0:
                return r
            if c == COL_SCORE:
                s = float(self.scores[r])
                return -1e18 if s != s else s  # NaN (no score) sorts first
            if c == COL_NEXT:
                return int(self.ranks[r]) or UNRANKED
            if c == COL_RETURN:
                return float(self.returns[r])
            column = {COL_LABEL: self.states, COL_LENGTH: self.lengths, COL_SUCCESS: self.success,
                      COL_FROM: self.collected}[c]
            return int(column[r])
        if role == Qt.ItemDataRole.BackgroundRole:
            if c in (COL_LABEL, COL_SCORE):
                colour = STATE_COLOURS.get(int(self.states[r]))
                return QBrush(colour) if colour is not None else None
            if c in (0, COL_FROM) and self.collected[r]:
                return QBrush(COLLECTED_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and c not in (COL_LABEL, COL_FROM):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class TrajectoryFilter(QSortFilterProxyModel):
    """Filters by label state and task success; sorts numerically."""

    STATE_CHOICES = (("all", None), ("unlabelled", "unlabelled"), ("labelled", "labelled"),
                     *((STATE_NAMES[k], k) for k in (PREFERRED, AVOIDED, NEUTRAL, SEGMENTS, SIMULATED)))
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


__all__ = ["COLUMNS", "TrajectoryFilter", "TrajectoryTableModel", "score_text"]

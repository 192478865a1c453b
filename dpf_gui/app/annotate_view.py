"""The Annotate view: watch the stored trajectories and mark them, from the keyboard.

Thin over the core: the trajectory list reads :meth:`Workspace.summary`, every
mark goes straight to the :class:`~dpf_gui.data.study.LabelStore` (committed
at once), the simulated user is :func:`dpf_gui.oracles.label_dataset`. The
view keeps only what is on screen: which trajectory, which frame, the segment
being set.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QSplitter, QTableView,
                               QVBoxLayout, QWidget)

from dpf_gui.app.player import Player
from dpf_gui.app.shortcuts import SHORTCUTS, cheatsheet_rows
from dpf_gui.data.study import (AVOIDED, NEUTRAL, PREFERRED, SEGMENTS, SIMULATED, STATE_NAMES, UNLABELLED)
from dpf_gui.errors import UserError


COLUMNS = ("#", "length", "return", "success", "label", "score")
STATE_COLOURS = {
    PREFERRED: QColor(200, 236, 200),
    AVOIDED: QColor(248, 205, 205),
    NEUTRAL: QColor(225, 225, 225),
    SEGMENTS: QColor(205, 220, 248),
    SIMULATED: QColor(230, 215, 245),
}
SORT_ROLE = Qt.ItemDataRole.UserRole


class TrajectoryTableModel(QAbstractTableModel):
    """One row per trajectory: index, length, task return, success, label state, score."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ws = None
        self.lengths = np.zeros(0, np.int64)
        self.returns = np.zeros(0, np.float32)
        self.success = np.zeros(0, bool)
        self.states = np.zeros(0, np.int8)
        self.scores = np.zeros(0, np.float32)

    def set_workspace(self, ws) -> None:
        self.beginResetModel()
        self.ws = ws
        if ws is None:
            self.lengths = np.zeros(0, np.int64)
            self.returns = np.zeros(0, np.float32)
            self.success = np.zeros(0, bool)
            self.states = np.zeros(0, np.int8)
            self.scores = np.zeros(0, np.float32)
        else:
            self.lengths = ws.dataset.lengths
            self.returns = ws.task_returns
            self.success = ws.dataset.success
            self.states, self.scores = ws.summary()
        self.endResetModel()

    def refresh(self, rows=None) -> None:
        """Re-read label states from the store (all rows, or some)."""
        if self.ws is None:
            return
        if rows is None:
            self.states, self.scores = self.ws.summary()
            if len(self.states):
                self.dataChanged.emit(self.index(0, 4), self.index(len(self.states) - 1, 5))
            return
        for r in rows:
            m = self.ws.marks(r)
            self.states[r], self.scores[r] = m.state, m.score
            self.dataChanged.emit(self.index(r, 4), self.index(r, 5))

    @property
    def labelled_count(self) -> int:
        return int((self.states != UNLABELLED).sum())

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.lengths)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return str(r)
            if c == 1:
                return str(int(self.lengths[r]))
            if c == 2:
                return f"{float(self.returns[r]):.2f}"
            if c == 3:
                return "yes" if self.success[r] else "no"
            if c == 4:
                return STATE_NAMES[int(self.states[r])]
            if c == 5:
                s = float(self.scores[r])
                return "" if np.isnan(s) else f"{s:g}"
        if role == SORT_ROLE:
            return (r, int(self.lengths[r]), float(self.returns[r]), int(self.success[r]), int(self.states[r]),
                    float(np.nan_to_num(self.scores[r], nan=-1e18)))[c]
        if role == Qt.ItemDataRole.BackgroundRole and c >= 4:
            colour = STATE_COLOURS.get(int(self.states[r]))
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and c != 4:
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


class SimulatedUserDialog(QDialog):
    """Label every trajectory as a simulated user with a wish and noise would (one undoable batch)."""

    def __init__(self, parent, ws, apply: Callable[[object, object, int, bool], None]):
        super().__init__(parent)
        self.setObjectName("simulatedUserDialog")
        self.setWindowTitle("Label with a simulated user")
        self.ws, self._apply = ws, apply
        spec = ws.spec
        self.preset = QComboBox(self)
        self.preset.setObjectName("simPresetCombo")
        self.preset.addItem("(none)", "")
        for p in spec.presets:
            self.preset.addItem(f"{p.name}: {p.description}", p.name)
        self.preset.setCurrentIndex(self.preset.findData("mixed"))
        self.prefer = QLineEdit(self)
        self.prefer.setObjectName("simPreferEdit")
        self.avoid = QLineEdit(self)
        self.avoid.setObjectName("simAvoidEdit")
        names = ", ".join(f"{rf.name} ({rf.describe_range()})" for rf in ws.dataset.region_features)
        for edit in (self.prefer, self.avoid):
            edit.setPlaceholderText("e.g. " + "; ".join(spec.presets[-1].prefer + spec.presets[-1].avoid))
            edit.setToolTip(f"region expressions, several separated by ';' (OR-ed), terms joined by '&'.\nFeatures: {names}")
        self.binary = QCheckBox("binary (only the sign of the score)", self)
        self.binary.setObjectName("simBinaryCheck")
        self.flip = _spin(self, "simFlipSpin", 0.0, 1.0, 0.05, "probability of flipping the sign")
        self.skip = _spin(self, "simSkipSpin", 0.0, 1.0, 0.05, "probability of leaving a trajectory unlabelled")
        self.sigma = _spin(self, "simSigmaSpin", 0.0, 1000.0, 0.5, "Gaussian noise on the score (std)")
        self.seed = QSpinBox(self)
        self.seed.setObjectName("simSeedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.only_unlabelled = QCheckBox("keep my own marks (label only unlabelled trajectories)", self)
        self.only_unlabelled.setObjectName("simOnlyUnlabelledCheck")
        self.only_unlabelled.setChecked(True)
        self.preview = QLabel(self)
        self.preview.setObjectName("simWishPreview")
        self.preview.setWordWrap(True)
        self.error = QLabel(self)
        self.error.setObjectName("simErrorLabel")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.setVisible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Label")
        self.ok_button.setObjectName("simOkButton")
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("preset", self.preset)
        form.addRow("prefer", self.prefer)
        form.addRow("avoid", self.avoid)
        form.addRow("", self.binary)
        form.addRow("flip", self.flip)
        form.addRow("skip", self.skip)
        form.addRow("sigma", self.sigma)
        form.addRow("seed", self.seed)
        form.addRow("", self.only_unlabelled)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        for sig in (self.preset.currentIndexChanged, self.prefer.textChanged, self.avoid.textChanged):
            sig.connect(self._validate)
        self._validate()

    def build(self):
        """(wish, noise, seed, only_unlabelled); a mistake is a :class:`UserError`."""
        from dpf_gui.oracles import FeedbackNoise

        split = lambda text: [t.strip() for t in text.replace("\n", ";").split(";") if t.strip()]  # noqa: E731
        wish = self.ws.wish(self.preset.currentData() or "", split(self.prefer.text()), split(self.avoid.text()))
        noise = FeedbackNoise(binary=self.binary.isChecked(), flip=self.flip.value(), skip=self.skip.value(),
                              sigma=self.sigma.value())
        return wish, noise, int(self.seed.value()), self.only_unlabelled.isChecked()

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _validate(self) -> None:
        try:
            wish = self.build()[0]
        except UserError as exc:
            self.preview.setText("")
            self._show_error(str(exc))
            return
        d = wish.describe()
        self.preview.setText(f"prefer: {' or '.join(d['prefer']) or '-'}   avoid: {' or '.join(d['avoid']) or '-'}")
        self._show_error("")

    def _on_ok(self) -> None:
        try:
            self._apply(*self.build())
        except UserError as exc:
            self._show_error(str(exc))
            return
        self.accept()


def _spin(parent, name: str, lo: float, hi: float, step: float, tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox(parent)
    s.setObjectName(name)
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(3)
    s.setToolTip(tip)
    return s


class AnnotateView(QWidget):
    """Trajectory list + player + marking controls + cheat sheet.

    Plug-in points for other views: signals ``trajectoryChanged(int)``,
    ``positionChanged(int)``, ``labelsChanged()``, ``statusMessage(str)``,
    ``errorOccurred(title, message)``; :meth:`set_step_values_provider`
    (a callable ``index -> values per decision or None``, called whenever a
    trajectory is shown), :meth:`set_step_values`, :meth:`set_overlay_wish`.
    """

    trajectoryChanged = Signal(int)
    positionChanged = Signal(int)
    labelsChanged = Signal()
    statusMessage = Signal(str)
    errorOccurred = Signal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("annotateView")
        self.ws = None
        self.current: int | None = None
        self.seg_start: int | None = None
        self.seg_end: int | None = None
        self.sim_dialog: SimulatedUserDialog | None = None
        self._step_values_provider: Callable[[int], np.ndarray | None] | None = None
        self._navigating = False
        self._wishes: dict[str, object] = {}

        # --- trajectory list ---------------------------------------------------
        self.model = TrajectoryTableModel(self)
        self.proxy = TrajectoryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setObjectName("trajectoryTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        # Fixed widths: ResizeToContents would measure all rows on every mark (seconds for 1500 rows).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fm = self.table.fontMetrics()
        for col, sample in enumerate(("00000", "length", "-000.00", "success", "unlabelled", "-0000")):
            header.resizeSection(col, fm.horizontalAdvance(sample) + 18)
        header.setStretchLastSection(True)
        self._table_width = sum(header.sectionSize(c) for c in range(len(COLUMNS))) + 24
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.state_filter = QComboBox(self)
        self.state_filter.setObjectName("stateFilter")
        for text, data in TrajectoryFilter.STATE_CHOICES:
            self.state_filter.addItem(text, data)
        self.success_filter = QComboBox(self)
        self.success_filter.setObjectName("successFilter")
        for text, data in TrajectoryFilter.SUCCESS_CHOICES:
            self.success_filter.addItem(text, data)
        for combo in (self.state_filter, self.success_filter):
            combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            combo.currentIndexChanged.connect(self._apply_filters)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("labelProgress")
        self.progress.setFormat("%v of %m labelled")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

        left = QWidget(self)
        left.setMinimumWidth(240)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("label"))
        filters.addWidget(self.state_filter, 1)
        filters.addWidget(QLabel("task"))
        filters.addWidget(self.success_filter, 1)
        lv.addLayout(filters)
        lv.addWidget(self.table, 1)
        lv.addWidget(self.progress)

        # --- player and marking controls ----------------------------------------
        self.player = Player(self)
        self.player.positionChanged.connect(self._on_position)
        self.title = QLabel(self)
        self.title.setObjectName("trajectoryTitle")
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long text must not widen the window

        def button(name: str, text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text, self)
            b.setObjectName(name)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            return b

        self.prefer_button = button("preferButton", "Prefer (P)", "mark the trajectory (or the segment) preferred", self.prefer)
        self.avoid_button = button("avoidButton", "Avoid (A)", "mark the trajectory (or the segment) avoided", self.avoid)
        self.neutral_button = button("neutralButton", "Neutral (N)", "mark the trajectory (or the segment) neutral", self.neutral)
        self.prefer_button.setStyleSheet("QPushButton { color: #1d6b2a; font-weight: bold; }")
        self.avoid_button.setStyleSheet("QPushButton { color: #a11d1d; font-weight: bold; }")
        self.seg_start_button = button("segmentStartButton", "[ start", "a segment starts at the decision shown", self.segment_start)
        self.seg_end_button = button("segmentEndButton", "end ]", "a segment ends at the decision shown", self.segment_end)
        self.seg_label = QLabel("", self)
        self.seg_label.setObjectName("segmentLabel")
        self.clear_button = button("clearButton", "Clear", "forget every mark on this trajectory (undoable)", self.clear_marks)
        self.undo_button = button("undoButton", "Undo", "undo the last mark (Ctrl+Z)", self.undo)
        self.redo_button = button("redoButton", "Redo", "redo (Ctrl+Shift+Z / Ctrl+Y)", self.redo)
        self.next_button = button("nextUnlabelledButton", "Next unlabelled ⏎", "next unlabelled trajectory (Enter)", self.next_unlabelled)
        self.sim_button = button("simulatedUserButton", "Simulated user…", "label with a simulated user (a wish plus noise)", self.open_simulated_user_dialog)
        self.wish_combo = QComboBox(self)
        self.wish_combo.setObjectName("overlayWishCombo")
        self.wish_combo.setToolTip("which wish the region overlay shows")
        self.wish_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wish_combo.currentIndexChanged.connect(self._on_wish_combo)
        self.help_button = button("cheatSheetButton", "?", "keyboard shortcuts (? or F1)", self.toggle_cheatsheet)
        self.help_button.setMaximumWidth(32)

        marks_row = QHBoxLayout()
        for w in (self.prefer_button, self.avoid_button, self.neutral_button):
            marks_row.addWidget(w)
        marks_row.addSpacing(12)
        for w in (self.seg_start_button, self.seg_end_button):
            marks_row.addWidget(w)
        marks_row.addStretch(1)
        marks_row.addWidget(self.next_button)
        tools_row = QHBoxLayout()
        for w in (self.clear_button, self.undo_button, self.redo_button):
            tools_row.addWidget(w)
        tools_row.addStretch(1)
        tools_row.addWidget(self.sim_button)
        tools_row.addWidget(QLabel("regions of wish"))
        tools_row.addWidget(self.wish_combo)
        tools_row.addWidget(self.help_button)

        centre = QWidget(self)
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title, 1)
        title_row.addWidget(self.seg_label)
        self.seg_label.setStyleSheet("color: #2848c8; font-weight: bold;")
        self.seg_label.setMinimumWidth(self.seg_label.fontMetrics().horizontalAdvance("segment 0000..0000 …: P / A / N") + 12)
        cv.addLayout(title_row)
        cv.addWidget(self.player, 1)
        cv.addLayout(marks_row)
        cv.addLayout(tools_row)

        # --- cheat sheet ------------------------------------------------------------
        self.cheatsheet = QFrame(self)
        self.cheatsheet.setObjectName("cheatSheet")
        self.cheatsheet.setFrameShape(QFrame.Shape.StyledPanel)
        sv = QVBoxLayout(self.cheatsheet)
        sv.setContentsMargins(0, 0, 0, 0)
        body = QWidget(self.cheatsheet)
        grid = QGridLayout(body)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("<b>Keys</b>", body), 0, 0, 1, 2)
        for row, (keys, text) in enumerate(cheatsheet_rows(), start=1):
            grid.addWidget(QLabel(f"<b>{keys}</b>", body), row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(QLabel(text, body), row, 1, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(len(SHORTCUTS) + 1, 1)
        scroll = QScrollArea(self.cheatsheet)
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cheatsheet.setMinimumWidth(160)
        sv.addWidget(scroll)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("annotateSplitter")
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(self.cheatsheet)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([self._table_width, 700, 300])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        # --- keyboard ---------------------------------------------------------------
        # Window-wide while this view is visible (a hidden widget's shortcuts never fire),
        # so the keys work wherever the focus is in the Annotate tab.
        self.shortcuts: dict[str, QShortcut] = {}
        for s in SHORTCUTS:
            sc = QShortcut(self)
            sc.setKeys([QKeySequence(k) for k in s.keys])
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(getattr(self, s.action))
            self.shortcuts[s.action] = sc
        self._set_enabled(False)

    # --- workspace --------------------------------------------------------------------
    def set_workspace(self, ws, trajectory: int | None = None, frame: int = 0) -> None:
        """Show a workspace's trajectories (None: show nothing), at a trajectory and frame."""
        self.player.clear()
        self.ws = ws
        self.current = None
        self.cancel_segment()
        self._navigating = True
        try:
            self.model.set_workspace(ws)
            self.proxy.set_filters(self.state_filter.currentData(), self.success_filter.currentData())
        finally:
            self._navigating = False
        self._fill_wish_combo()
        self._set_enabled(ws is not None)
        if ws is None:
            self.player.clear()
            self.title.setText("")
            self._update_progress()
            return
        start = trajectory if trajectory is not None and 0 <= trajectory < len(ws) else None
        if start is None:
            start = self._proxy_source(0) if self.proxy.rowCount() else 0
        self.go_to(start, frame)
        self._update_progress()

    def _set_enabled(self, on: bool) -> None:
        for w in (self.prefer_button, self.avoid_button, self.neutral_button, self.seg_start_button,
                  self.seg_end_button, self.clear_button, self.next_button, self.sim_button, self.player):
            w.setEnabled(on)
        for sc in self.shortcuts.values():
            sc.setEnabled(on or sc is self.shortcuts.get("toggle_cheatsheet"))
        self._update_undo()

    # --- navigation ---------------------------------------------------------------------
    def go_to(self, index: int, frame: int = 0) -> None:
        """Show trajectory ``index`` (dataset order) at ``frame``, selecting its row if it is listed."""
        if self.ws is None or not 0 <= index < len(self.ws):
            return
        changed = index != self.current
        self.current = int(index)
        if changed:
            self.cancel_segment()
        row = self._proxy_row(index)
        self._navigating = True
        try:
            if row is None:
                self.table.clearSelection()
            else:
                idx = self.proxy.index(row, 0)
                self.table.selectionModel().setCurrentIndex(
                    idx, self.table.selectionModel().SelectionFlag.ClearAndSelect | self.table.selectionModel().SelectionFlag.Rows)
                self.table.scrollTo(idx)
        finally:
            self._navigating = False
        nxt = None
        if row is not None and row + 1 < self.proxy.rowCount():
            nxt = self._proxy_source(row + 1)
        self.player.load(self.ws, index, frame, prefetch=nxt)
        self._refresh_current()
        if self._step_values_provider is not None:
            try:
                self.player.set_step_values(self._step_values_provider(index))
            except Exception as exc:  # a model view's problem must not stop labelling
                self.player.set_step_values(None)
                self.statusMessage.emit(f"per-step values unavailable: {exc}")
        else:
            self.player.set_step_values(None)
        self.trajectoryChanged.emit(self.current)

    def _proxy_row(self, index: int) -> int | None:
        idx = self.proxy.mapFromSource(self.model.index(index, 0))
        return idx.row() if idx.isValid() else None

    def _proxy_source(self, row: int) -> int:
        return self.proxy.mapToSource(self.proxy.index(row, 0)).row()

    def _on_row_changed(self, current, previous) -> None:
        if self._navigating or not current.isValid():
            return
        index = self.proxy.mapToSource(current).row()
        if index != self.current:
            self.go_to(index)

    def next_unlabelled(self) -> None:
        """The next unlabelled trajectory in the list's order (then in dataset order)."""
        if self.ws is None:
            return
        states = self.model.states
        rows = self.proxy.rowCount()
        here = self._proxy_row(self.current) if self.current is not None else None
        order = [self._proxy_source(r) for r in range(rows)]
        if here is not None:
            order = order[here + 1:] + order[:here]
        n = len(self.ws)
        cur = self.current if self.current is not None else -1
        order += [(cur + 1 + k) % n for k in range(n)]
        for i in order:
            if states[i] == UNLABELLED and i != self.current:
                self.go_to(i)
                return
        self.statusMessage.emit(f"all {n} trajectories are labelled")

    def next_trajectory(self) -> None:
        self._move(+1)

    def previous_trajectory(self) -> None:
        self._move(-1)

    def _move(self, delta: int) -> None:
        if self.ws is None or self.current is None:
            return
        row = self._proxy_row(self.current)
        if row is None:
            target = min(max(self.current + delta, 0), len(self.ws) - 1)
        else:
            r = row + delta
            if not 0 <= r < self.proxy.rowCount():
                return
            target = self._proxy_source(r)
        self.go_to(target)

    def _apply_filters(self) -> None:
        self._navigating = True
        try:
            self.proxy.set_filters(self.state_filter.currentData(), self.success_filter.currentData())
        finally:
            self._navigating = False
        if self.current is not None:
            row = self._proxy_row(self.current)
            if row is not None:
                self._navigating = True
                try:
                    self.table.selectRow(row)
                finally:
                    self._navigating = False

    # --- player pass-throughs (shortcut targets) -------------------------------------
    def toggle_play(self) -> None:
        self.player.toggle_play()

    def step_back(self) -> None:
        self.player.step(-1)

    def step_forward(self) -> None:
        self.player.step(1)

    def first_frame(self) -> None:
        self.player.pause()
        self.player.seek(0)

    def last_frame(self) -> None:
        self.player.pause()
        self.player.seek(self.player.last_frame)

    def faster(self) -> None:
        self.player.faster()

    def slower(self) -> None:
        self.player.slower()

    def toggle_overlay(self) -> None:
        self.player.set_overlay_visible(not self.player.overlay_visible)

    def toggle_cheatsheet(self) -> None:
        self.cheatsheet.setVisible(not self.cheatsheet.isVisible())

    def _on_position(self, frame: int) -> None:
        if self.seg_start is not None and self.seg_end is None:
            self._show_segment()
        self.positionChanged.emit(frame)

    # --- marking ------------------------------------------------------------------------
    def prefer(self) -> None:
        self._mark(+1)

    def avoid(self) -> None:
        self._mark(-1)

    def neutral(self) -> None:
        self._mark(0)

    def _mark(self, value: int) -> None:
        if self.ws is None or self.current is None:
            return
        seg = self.segment()
        try:
            if seg is None:
                self.ws.mark(self.current, value)
                what = {1: "preferred", -1: "avoided", 0: "neutral"}[value]
                self.statusMessage.emit(f"trajectory {self.current} marked {what}")
            else:
                self.ws.mark_segment(self.current, seg[0], seg[1], value)
                what = {1: "preferred", -1: "avoided", 0: "neutral"}[value]
                self.statusMessage.emit(f"decisions {seg[0]}..{seg[1]} of trajectory {self.current} marked {what}")
                self.cancel_segment()
        except UserError as exc:
            self.errorOccurred.emit("Cannot mark", str(exc))
            return
        self._after_change([self.current])

    def clear_marks(self) -> None:
        if self.ws is None or self.current is None:
            return
        try:
            self.ws.clear(self.current)
        except UserError as exc:  # a read-only store
            self.errorOccurred.emit("Cannot clear the marks", str(exc))
            return
        self.statusMessage.emit(f"trajectory {self.current}: marks cleared")
        self._after_change([self.current])

    def segment_start(self) -> None:
        if self.ws is None:
            return
        self.seg_start = self.player.decision
        if self.seg_end is not None and self.seg_end < self.seg_start:
            self.seg_end = None
        self._show_segment()

    def segment_end(self) -> None:
        if self.ws is None:
            return
        self.seg_end = self.player.decision
        if self.seg_start is None:
            self.seg_start = self.seg_end
        self._show_segment()

    def cancel_segment(self) -> None:
        self.seg_start = self.seg_end = None
        self._show_segment()

    def segment(self) -> tuple[int, int] | None:
        """The segment being set (decision indices, inclusive), or None."""
        if self.seg_start is None:
            return None
        end = self.seg_end if self.seg_end is not None else self.player.decision
        a, b = sorted((self.seg_start, end))
        return a, b

    def _show_segment(self) -> None:
        seg = self.segment()
        self.player.set_selection(seg)
        if seg is None:
            self.seg_label.setText("")
        else:
            self.seg_label.setText(f"segment {seg[0]}..{seg[1]}" + ("" if self.seg_end is not None else " …") + ": P / A / N")
        self.seg_label.setVisible(seg is not None)

    def undo(self) -> None:
        self._undo_redo(self.ws.undo if self.ws else None, "undone")

    def redo(self) -> None:
        self._undo_redo(self.ws.redo if self.ws else None, "redone")

    def _undo_redo(self, fn, what: str) -> None:
        if fn is None:
            return
        try:
            rows = fn()
        except UserError as exc:  # a read-only store
            self.errorOccurred.emit(f"Nothing can be {what}", str(exc))
            return
        if not rows:
            self.statusMessage.emit(f"nothing to be {what}")
            return
        if len(rows) == 1 and rows[0] != self.current:
            self.go_to(rows[0])  # show what changed
        self.statusMessage.emit(f"{what}: " + (f"trajectory {rows[0]}" if len(rows) == 1 else f"{len(rows)} trajectories"))
        self._after_change(rows)

    def _after_change(self, rows) -> None:
        self.model.refresh(rows if len(rows) < 50 else None)
        self._refresh_current()
        self._update_progress()
        self.labelsChanged.emit()

    # --- simulated user ----------------------------------------------------------------
    def open_simulated_user_dialog(self) -> SimulatedUserDialog | None:
        """Open the dialog (window-modal, non-blocking); returns it (tests fill it in)."""
        if self.ws is None:
            return None
        self.sim_dialog = SimulatedUserDialog(self, self.ws, self._apply_simulated)
        self.sim_dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.sim_dialog.show()
        return self.sim_dialog

    def _apply_simulated(self, wish, noise, seed: int, only_unlabelled: bool) -> None:
        action, labels = self.ws.label_with_simulated_user(wish, noise, seed, only_unlabelled=only_unlabelled)
        self.set_overlay_wish(wish, "simulated user")
        if action is None:
            self.statusMessage.emit("the simulated user had nothing to label")
        else:
            self.statusMessage.emit(f"simulated user ({wish.mode}) labelled trajectories; Ctrl+Z undoes the batch")
        self._after_change(list(range(len(self.ws))))

    # --- overlay wish ----------------------------------------------------------------------
    def _fill_wish_combo(self) -> None:
        self.wish_combo.blockSignals(True)
        self.wish_combo.clear()
        self._wishes = {}
        if self.ws is not None:
            for p in self.ws.spec.presets:
                self._wishes[p.name] = self.ws.wish(p.name)
                self.wish_combo.addItem(p.name, p.name)
            self.wish_combo.setCurrentIndex(max(self.wish_combo.findData("mixed"), 0))
        self.wish_combo.blockSignals(False)
        self._on_wish_combo()

    def _on_wish_combo(self, *_) -> None:
        self.player.set_wish(self._wishes.get(self.wish_combo.currentData()))
        self._refresh_title()

    def set_overlay_wish(self, wish, name: str = "custom") -> None:
        """Show another wish's regions (e.g. the simulated user's, or the one the intent model learned)."""
        self._wishes[name] = wish
        i = self.wish_combo.findData(name)
        if i < 0:
            self.wish_combo.addItem(name, name)
            i = self.wish_combo.count() - 1
        if self.wish_combo.currentIndex() == i:
            self._on_wish_combo()
        else:
            self.wish_combo.setCurrentIndex(i)

    # --- step values ------------------------------------------------------------------------
    def set_step_values_provider(self, provider: Callable[[int], np.ndarray | None] | None) -> None:
        """``provider(index)`` gives one value per decision (e.g. redistributed reward) for the timeline."""
        self._step_values_provider = provider
        if self.current is not None:
            self.player.set_step_values(provider(self.current) if provider is not None else None)

    def set_step_values(self, values: np.ndarray | None) -> None:
        self.player.set_step_values(values)

    # --- display ----------------------------------------------------------------------------
    def _refresh_current(self) -> None:
        if self.ws is None or self.current is None:
            return
        m = self.ws.marks(self.current)
        self.player.set_marks(m.marks, m.labelled)
        self._refresh_title()
        self._update_undo()

    def _refresh_title(self) -> None:
        if self.ws is None or self.current is None:
            self.title.setText("")
            return
        i = self.current
        state, score = int(self.model.states[i]), float(self.model.scores[i])
        label = STATE_NAMES[state] + ("" if np.isnan(score) else f" (score {score:g})")
        self.title.setText(f"Trajectory {i} · {self.ws.length(i)} decisions · return {float(self.ws.task_returns[i]):.2f} · "
                           f"{'success' if self.ws.dataset.success[i] else 'failure'} · {label}")

    def _update_progress(self) -> None:
        n = len(self.model.states)
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(self.model.labelled_count)

    def _update_undo(self) -> None:
        self.undo_button.setEnabled(bool(self.ws and self.ws.can_undo()))
        self.redo_button.setEnabled(bool(self.ws and self.ws.can_redo()))

    def shutdown(self) -> None:
        if self.sim_dialog is not None:
            self.sim_dialog.close()
        self.player.shutdown()


__all__ = ["AnnotateView", "TrajectoryTableModel", "TrajectoryFilter", "SimulatedUserDialog"]

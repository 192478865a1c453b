"""The Annotate view: watch the stored trajectories and mark them, from the keyboard.
Long because: one view class whose navigation, marking, segment, undo and overlay methods all act on the
same on-screen state (the trajectory shown, its frame, the segment being set, the list's rows); the list's
model (trajectory_table.py), the wish dialogs (wish_dialogs.py) and the key panel (shortcuts.py) live apart.

Thin over the core: the trajectory list reads :meth:`Workspace.summary`, every
mark goes straight to the :class:`~dpf_gui.data.study.LabelStore` (committed
at once), the simulated user is :func:`dpf_gui.oracles.label_dataset`. The
view keeps only what is on screen: which trajectory, which frame, the segment
being set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.app.focus import FOCUS_FRAME
from dpf_gui.app.player import Player
from dpf_gui.app.rank_dialog import RANK_COUNT, RankDialog
from dpf_gui.app.shortcuts import SHORTCUTS, cheatsheet_panel, install
from dpf_gui.app.suggestions import Suggestions
from dpf_gui.app.trajectory_table import (
    COL_FROM,
    COL_NEXT,
    COL_RETURN,
    COL_SHUFFLED,
    TrajectoryFilter,
    TrajectoryTableModel,
    score_text,
    table_rows,
)
from dpf_gui.app.wish_dialogs import MyWishDialog, SimulatedUserDialog, coverage_html
from dpf_gui.data.study import (
    STATE_NAMES,
    UNLABELLED,
)
from dpf_gui.errors import UserError
from dpf_gui.palette import AVOID_TEXT, PREFER_TEXT, WARNING_COLOUR
from dpf_gui.session.workspace import MARK_WORDS

CHEATSHEET_MIN_WIDTH = 1150  # the Annotate view's width from which the key panel shows by itself


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
    datasetCollected = Signal(str)  # the path of a new dataset: this one with more varied trajectories appended

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("annotateView")
        self.ws = None
        self._unsubscribe = None  # from the workspace's changes
        self.current: int | None = None
        self.seg_start: int | None = None
        self.seg_end: int | None = None
        self.sim_dialog: SimulatedUserDialog | None = None
        self.wish_dialog: MyWishDialog | None = None
        self.collect_dialog = None  # dpf_gui.app.collect.CollectDialog while open
        self.rank_dialog: RankDialog | None = None
        self.watched: list[int] = []  # the trajectories shown, oldest first, each once: what a ranking offers
        self._step_values_provider: Callable[[int], np.ndarray | None] | None = None
        self._navigating = False
        self._wishes: dict[str, object] = {}
        self._reason = None  # (trajectory, Suggestion, its rank then) shown over the player
        # a fresh, unlabelled workspace moves to the first suggestion when it arrives, unless the person moved first
        self._open_on_suggestion = False
        self._cheatsheet_auto = True  # the key panel follows the window's width until the person toggles it
        self.suggestions = Suggestions(self)
        self.suggestions.changed.connect(self._on_suggestions)

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
        # the list with the keyboard focus (Up / Down move in it) is framed in the selection's colour, in C++ (a
        # style sheet: no Python on the list's paint path); the style's own frame showed no difference
        self.table.setStyleSheet(FOCUS_FRAME)
        # Fixed widths: ResizeToContents would measure all rows on every mark (seconds for 1500 rows).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._size_columns()
        header.setStretchLastSection(True)
        self.table.setColumnHidden(COL_FROM, True)  # shown once the data holds collected trajectories
        self.table.setColumnHidden(COL_SHUFFLED, True)  # a sort key only (Shuffled)
        # the list starts wide enough for what labelling needs (up to the length); the splitter gives the rest
        self._table_width = sum(header.sectionSize(c) for c in range(COL_RETURN)) + 24
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
        self.sort_button = QPushButton("Suggested", self)
        self.sort_button.setObjectName("sortSuggestedButton")
        self.sort_button.setToolTip("sort the list by the suggestions (the \"next\" column); click a column's "
                                    "header to sort by it")
        self.sort_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.sort_button.clicked.connect(self.sort_by_suggestion)
        self.shuffle_button = QPushButton("Shuffled", self)
        self.shuffle_button.setObjectName("sortShuffledButton")
        self.shuffle_button.setToolTip("the list in a random order, the same every time (the one `dpf label "
                                       "--select random --seed 0` labels in); Shift+Enter walks its unlabelled "
                                       "trajectories. Runs taken at random show what the data is like: on "
                                       "highway, whole runs scored in this order taught more than the "
                                       "suggestions (docs/SELECTION.md)")
        self.shuffle_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.shuffle_button.clicked.connect(self.sort_shuffled)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("label"))
        filters.addWidget(self.state_filter, 1)
        filters.addWidget(QLabel("task"))
        filters.addWidget(self.success_filter, 1)
        lv.addLayout(filters)
        list_tools = QHBoxLayout()  # and Rank, below
        list_tools.addWidget(self.sort_button, 1)
        list_tools.addWidget(self.shuffle_button, 1)
        lv.addLayout(list_tools)
        lv.addWidget(self.table, 1)
        lv.addWidget(self.progress)

        # --- player and marking controls ----------------------------------------
        self.player = Player(self)
        self.player.positionChanged.connect(self._on_position)
        self.title = QLabel(self)
        self.title.setObjectName("trajectoryTitle")
        self.title.setStyleSheet("font-weight: bold;")
        # long text must not widen the window
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reason_label = QLabel(self)
        self.reason_label.setObjectName("suggestionReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #5a3d8a;")
        self.reason_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reason_label.setToolTip("why this trajectory is worth labelling (docs/SELECTION.md)")

        def button(name: str, text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text, self)
            b.setObjectName(name)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            return b

        self.prefer_button = button("preferButton", "Prefer (P)", "mark the trajectory (or the segment) preferred",
                                    self.prefer)
        self.avoid_button = button("avoidButton", "Avoid (A)", "mark the trajectory (or the segment) avoided",
                                   self.avoid)
        self.neutral_button = button("neutralButton", "Neutral (N)", "mark the trajectory (or the segment) neutral",
                                     self.neutral)
        for marks, rgb in ((self.prefer_button, PREFER_TEXT), (self.avoid_button, AVOID_TEXT)):
            marks.setStyleSheet(f"QPushButton {{ color: rgb{rgb}; font-weight: bold; }}")
        self.seg_start_button = button("segmentStartButton", "[ start", "a segment starts at the decision shown",
                                       self.segment_start)
        self.seg_end_button = button("segmentEndButton", "end ]", "a segment ends at the decision shown",
                                     self.segment_end)
        self.seg_label = QLabel("", self)
        self.seg_label.setObjectName("segmentLabel")
        self.clear_button = button("clearButton", "Clear", "forget every mark on this trajectory (undoable)",
                                   self.clear_marks)
        self.undo_button = button("undoButton", "Undo", "undo the last mark (Ctrl+Z)", self.undo)
        self.redo_button = button("redoButton", "Redo", "redo (Ctrl+Shift+Z / Ctrl+Y)", self.redo)
        self.rank_button = button("rankButton", "Rank (R)…", f"put the last {RANK_COUNT} trajectories you watched "
                                  "in order, best first (one ranking teaches more than a yes/no mark per run)",
                                  self.rank_watched)
        list_tools.addWidget(self.rank_button, 1)
        self.next_button = button("nextSuggestedButton", "Next suggested ⏎",
                                  "the unlabelled trajectory most worth labelling next (Enter; Shift+Enter: the next "
                                  "unlabelled one in the list's order)", self.next_suggested)
        self.sim_button = button("simulatedUserButton", "Simulated &user…",
                                 "label with a simulated user (a wish plus noise)", self.open_simulated_user_dialog)
        self.my_wish_button = button("myWishButton", "&My wish…", "write down your wish: its regions are shown and "
                                     "the data's coverage of them is said", self.open_wish_dialog)
        self.collect_button = button("collectButton", "&Collect more…",
                                     "collect more varied trajectories: the task agent plays with exploration noise "
                                     "(gridnav: from random starts too); the new trajectories join this data as a "
                                     "new dataset, your marks are kept",
                                     self.open_collect_dialog)
        self.coverage_label = QLabel(self)
        self.coverage_label.setObjectName("coverageLabel")
        self.coverage_label.setWordWrap(True)
        self.coverage_label.setTextFormat(Qt.TextFormat.RichText)
        self.coverage_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.coverage_label.setToolTip("how many stored (and labelled) trajectories enter each region of the wish "
                                       "shown: a region they never enter cannot be learned from labels")
        self.wish_combo = QComboBox(self)
        self.wish_combo.setObjectName("overlayWishCombo")
        self.wish_combo.setToolTip("which wish the region overlay shows")
        self.wish_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wish_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # grows with new wishes
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
        wish_buttons = QVBoxLayout()
        wish_buttons.setSpacing(2)
        wish_buttons.addWidget(self.my_wish_button)
        wish_buttons.addWidget(self.collect_button)
        wish_buttons.addStretch(1)
        coverage_row = QHBoxLayout()
        coverage_row.addWidget(self.coverage_label, 1)
        coverage_row.addLayout(wish_buttons)

        centre = QWidget(self)
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title, 1)
        title_row.addWidget(self.seg_label)
        self.seg_label.setStyleSheet("color: #2848c8; font-weight: bold;")
        widest = self.seg_label.fontMetrics().horizontalAdvance("segment 0000..0000 …: P / A / N")
        self.seg_label.setMinimumWidth(widest + 12)
        cv.addLayout(title_row)
        cv.addWidget(self.reason_label)
        cv.addWidget(self.player, 1)
        cv.addLayout(marks_row)
        cv.addLayout(tools_row)
        cv.addLayout(coverage_row)

        # --- cheat sheet ------------------------------------------------------------
        self.cheatsheet = cheatsheet_panel(self)

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
        self.shortcuts: dict[str, QShortcut] = install(self, SHORTCUTS)
        # The controls without a key of their own are reached with Tab (a click still leaves the focus where it
        # was, so the keys above keep working), in the order they are seen: the list's filters, the list, then
        # the tools under the player; Space presses the one with the focus (shortcuts.install).
        self._tab_order = [self.state_filter, self.success_filter, self.sort_button, self.shuffle_button, self.table,
                           self.clear_button, self.sim_button, self.wish_combo, self.my_wish_button,
                           self.collect_button]
        for w in self._tab_order:
            if w is not self.table:
                w.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        for a, b in zip(self._tab_order, self._tab_order[1:], strict=False):
            QWidget.setTabOrder(a, b)
        self._set_enabled(False)

    # --- workspace --------------------------------------------------------------------
    @staticmethod
    def prepare(ws):
        """What :meth:`set_workspace` will need for ``ws``, made beforehand on any thread (the window's opening
        thread): the list's items."""
        return table_rows(ws)

    def set_workspace(self, ws, trajectory: int | None = None, frame: int = 0, prepared=None) -> None:
        """Show a workspace's trajectories (None: show nothing), at a trajectory and frame; the timeline shows
        its intent model's rewards, and follows the model when it changes. ``prepared``: :meth:`prepare`'s."""
        self.player.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.ws = ws
        self._unsubscribe = ws.on_change(self._on_change) if ws is not None else None
        self._step_values_provider = _intent_rewards(ws)
        self.current = None
        self.watched = []
        if self.rank_dialog is not None:  # its runs are the old data's: a ranking saved now would rank others
            self.rank_dialog.close()
            self.rank_dialog = None
        self._reason = None
        self.cancel_segment()
        self._navigating = True
        try:
            self.model.set_workspace(ws, prepared)
            self.proxy.set_filters(self.state_filter.currentData(), self.success_filter.currentData())
        finally:
            self._navigating = False
        self.table.setColumnHidden(COL_FROM, not self.model.collected.any())
        self._fill_wish_combo()
        self._set_enabled(ws is not None)
        self.suggestions.set_workspace(ws)
        if ws is None:
            self.player.clear()
            self.title.setText("")
            self._update_progress()
            return
        start = trajectory if trajectory is not None and 0 <= trajectory < len(ws) else None
        if start is None:
            start = self._proxy_source(0) if self.proxy.rowCount() else 0
        self.go_to(start, frame)
        self._open_on_suggestion = trajectory is None and self.model.labelled_count == 0
        self._update_progress()

    def _set_enabled(self, on: bool) -> None:
        for w in (self.prefer_button, self.avoid_button, self.neutral_button, self.seg_start_button,
                  self.seg_end_button, self.clear_button, self.rank_button, self.next_button, self.sim_button,
                  self.my_wish_button, self.sort_button, self.shuffle_button, self.player):
            w.setEnabled(on)
        self.collect_button.setEnabled(on and self.ws is not None and self.ws.task is not None)
        for sc in self.shortcuts.values():
            sc.setEnabled(on or sc is self.shortcuts.get("toggle_cheatsheet"))
        self._update_undo()

    # --- navigation ---------------------------------------------------------------------
    def go_to(self, index: int, frame: int = 0) -> None:
        """Show trajectory ``index`` (dataset order) at ``frame``, selecting its row if it is listed."""
        if self.ws is None or not 0 <= index < len(self.ws):
            return
        self._open_on_suggestion = False
        changed = index != self.current
        self.current = int(index)
        if changed:
            self.cancel_segment()
            self.watched = [t for t in self.watched if t != index] + [int(index)]
            hit = self.suggestions.get(index)
            self._reason = (int(index), hit, self.suggestions.rank(index)) if hit is not None else None
        row = self._proxy_row(index)
        self._navigating = True
        try:
            if row is None:
                self.table.clearSelection()
            else:
                idx = self.proxy.index(row, 0)
                self.table.selectionModel().setCurrentIndex(
                    idx, self.table.selectionModel().SelectionFlag.ClearAndSelect
                    | self.table.selectionModel().SelectionFlag.Rows)
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
            except Exception as exc:  # noqa: BLE001 (a model view's problem must not stop labelling)
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

    def next_suggested(self) -> None:
        """The unlabelled trajectory most worth labelling next (:mod:`dpf_gui.selection`), with its reason.

        Leaving a suggested trajectory unlabelled skips it (it is not suggested again). Before the first
        suggestions have arrived (they are ranked in the background), the next unlabelled one in the list.
        """
        if self.ws is None:
            return
        states = self.model.states
        if self.current is not None and states[self.current] == UNLABELLED and self.suggestions.get(self.current):
            self.suggestions.skip(self.current)
        pick = self.suggestions.next(states, self.current) if self.suggestions.ready else None
        if pick is None:
            if self.suggestions.ready and self.suggestions.items:
                self.suggestions.request(now=True)  # every suggestion seen: rank the rest
            self.next_unlabelled()
            return
        self.go_to(pick.index)

    def sort_by_suggestion(self) -> None:
        """Sort the list by the suggestions' ranks (the best first; the rest after, in dataset order)."""
        self.table.sortByColumn(COL_NEXT, Qt.SortOrder.AscendingOrder)
        self.table.scrollToTop()

    def sort_shuffled(self) -> None:
        """Sort the list in the seeded random order and open its first unlabelled trajectory: Shift+Enter then
        labels whole runs as ``--select random`` would, for a person who wants the data as it is."""
        self.table.sortByColumn(COL_SHUFFLED, Qt.SortOrder.AscendingOrder)
        self.table.scrollToTop()
        if self.ws is None:
            return
        states = self.model.states
        for r in range(self.proxy.rowCount()):
            i = self._proxy_source(r)
            if states[i] == UNLABELLED:
                self.go_to(i)
                self.statusMessage.emit("the list in a random order: Shift+Enter goes to its next unlabelled "
                                        "trajectory (Enter still goes to the suggested one)")
                return
        self.statusMessage.emit("every trajectory in the list is labelled")

    def _on_suggestions(self) -> None:
        self.model.set_ranks(self.suggestions.items)
        if self._open_on_suggestion and self.suggestions.items:  # the first thing a new labeller sees: #1
            self.go_to(self.suggestions.items[0].index)
        if self.current is not None:
            hit = self.suggestions.get(self.current)
            if hit is not None:
                self._reason = (self.current, hit, self.suggestions.rank(self.current))
        self._refresh_reason()
        if self.suggestions.note:
            self.statusMessage.emit(self.suggestions.note)

    def _on_change(self, change) -> None:
        """New marks (given here or anywhere else): the list, the player and the suggestions follow. A new intent
        model: the timeline shows its rewards, the suggestions weigh its members' disagreement."""
        if change.workspace is not self.ws:
            return
        if change.what == "labels":
            self._open_on_suggestion = False
            self._after_change(list(change.new))
        elif change.what == "intent":
            self.set_step_values_provider(_intent_rewards(self.ws))
            self.suggestions.request(now=True)

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
        self._cheatsheet_auto = False  # the person's choice sticks
        self.cheatsheet.setVisible(not self.cheatsheet.isVisible())

    def resizeEvent(self, event) -> None:
        """Until the person toggles it, the key panel shows only where it has room (it would crowd the player
        and the list in a narrow window; ? and F1 show it anyway). The list keeps the trajectory shown in sight
        (a lower window, or presentation mode's taller rows, left it below the list's last visible row)."""
        super().resizeEvent(event)
        self._auto_cheatsheet()
        QTimer.singleShot(0, self._keep_current_in_sight)

    def _keep_current_in_sight(self) -> None:
        current = self.table.currentIndex()
        if current.isValid():
            self.table.scrollTo(current)

    def _auto_cheatsheet(self) -> None:
        if self._cheatsheet_auto:  # larger text (presentation mode) needs proportionally more room
            scale = max(1.0, self.font().pointSizeF() / max(1.0, QApplication.font().pointSizeF()))
            self.cheatsheet.setVisible(self.width() >= CHEATSHEET_MIN_WIDTH * scale)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._auto_cheatsheet()
            QTimer.singleShot(0, self._size_columns)  # after the table has its new font too
            QTimer.singleShot(0, self._keep_current_in_sight)

    def _size_columns(self) -> None:
        """Column widths from the table's font (presentation mode's larger text cut "unlabelled" short)."""
        header = self.table.horizontalHeader()
        fm = self.table.fontMetrics()
        for col, sample in enumerate(("00000", "unlabelled", "-0000", "next", "length", "-000.00", "success",
                                      "collected", "00000")):
            header.resizeSection(col, fm.horizontalAdvance(sample) + 18)

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
        what = MARK_WORDS[value]
        try:
            if seg is None:
                self.ws.mark(self.current, value)
                self.statusMessage.emit(f"trajectory {self.current} marked {what}")
            else:
                self.ws.mark_segment(self.current, seg[0], seg[1], value)
                self.statusMessage.emit(f"decisions {seg[0]}..{seg[1]} of trajectory {self.current} marked {what}")
                self.cancel_segment()
        except UserError as exc:
            self.errorOccurred.emit("Cannot mark", str(exc))

    def clear_marks(self) -> None:
        if self.ws is None or self.current is None:
            return
        try:
            self.ws.clear(self.current)
        except UserError as exc:  # a read-only store
            self.errorOccurred.emit("Cannot clear the marks", str(exc))
            return
        self.statusMessage.emit(f"trajectory {self.current}: marks cleared")

    def rank_watched(self) -> RankDialog | None:
        """Rank the last :data:`RANK_COUNT` trajectories shown (a dialog beside the window: the run selected in it
        is shown in the player); returns the dialog (tests fill it in), or None with a word on what to do when
        fewer than two were shown."""
        if self.ws is None:
            return None
        runs = self.watched[-RANK_COUNT:]
        if len(runs) < 2:
            self.statusMessage.emit("watch at least two trajectories (Enter, Page Down) to rank them")
            return None
        texts = [(i, f"trajectory {i} · {self.ws.length(i)} decisions · "
                     f"{'success' if self.ws.dataset.success[i] else 'failure'} · "
                     f"{STATE_NAMES[int(self.model.states[i])]}") for i in runs]
        if self.rank_dialog is not None:
            self.rank_dialog.close()
        self.rank_dialog = RankDialog(self, texts, self._save_ranking, show=self.go_to)
        self.rank_dialog.show()
        return self.rank_dialog

    def _save_ranking(self, levels: list[tuple[int, int]]) -> None:
        self.ws.rank(levels)
        order = str(levels[0][0]) + "".join(f" {'=' if lv == above else '>'} {t}"
                                            for (t, lv), (_, above) in zip(levels[1:], levels, strict=False))
        self.statusMessage.emit(f"ranking of {len(levels)} trajectories saved ({order}); Ctrl+Z takes it back")

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
            open_end = "" if self.seg_end is not None else " …"
            self.seg_label.setText(f"segment {seg[0]}..{seg[1]}{open_end}: P / A / N")
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
        self.statusMessage.emit(f"{what}: "
                                + (f"trajectory {rows[0]}" if len(rows) == 1 else f"{len(rows)} trajectories"))

    def _after_change(self, rows) -> None:
        self.model.refresh(rows if len(rows) < 50 else None)
        self._refresh_current()
        self._update_progress()
        self._refresh_coverage()
        self.suggestions.request()
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

    def open_wish_dialog(self) -> MyWishDialog | None:
        """Write down "my wish" (window-modal, non-blocking); returns the dialog (tests fill it in)."""
        if self.ws is None:
            return None
        self.wish_dialog = MyWishDialog(self, self.ws, self._apply_wish)
        self.wish_dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.wish_dialog.show()
        return self.wish_dialog

    def _apply_wish(self, prefer: list[str], avoid: list[str]) -> None:
        wish = self.ws.set_typed_wish(prefer, avoid)
        if wish is None:
            self._forget_wish("my wish")
            self.statusMessage.emit("your wish is forgotten")
            return
        self.set_overlay_wish(wish, "my wish")
        self.statusMessage.emit("your wish is kept: its regions are shown, the Train tab checks your labels against it")

    def _forget_wish(self, name: str) -> None:
        self._wishes.pop(name, None)
        i = self.wish_combo.findData(name)
        if i >= 0:
            self.wish_combo.removeItem(i)

    def open_collect_dialog(self):
        """Collect more varied trajectories (window-modal, non-blocking); returns the dialog."""
        from dpf_gui.app.collect import CollectDialog

        if self.ws is None or self.ws.task is None:
            return None
        if self.collect_dialog is not None and self.collect_dialog.isVisible():
            return self.collect_dialog
        self.collect_dialog = CollectDialog(self, self.ws)
        self.collect_dialog.collected.connect(self.datasetCollected)
        self.collect_dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.collect_dialog.show()
        return self.collect_dialog

    def _apply_simulated(self, wish, noise, seed: int, only_unlabelled: bool, rank: bool = False, count: int = 0,
                         chosen: str = "random") -> None:
        only = self._simulated_picks(count, chosen, seed, only_unlabelled) if count else None
        if rank:
            action = self.ws.rank_with_simulated_user(wish, noise.flip, seed, only_unlabelled=only_unlabelled,
                                                      only=only)
        else:
            action, _labels = self.ws.label_with_simulated_user(wish, noise, seed, only_unlabelled=only_unlabelled,
                                                                only=only)
        self.set_overlay_wish(wish, "simulated user")
        if action is None:
            self.statusMessage.emit("the simulated user had nothing to label")
        else:
            what = f"{len(only)} trajectories chosen {'at random' if chosen == 'random' else 'by suggestion'}" \
                if only is not None else "trajectories"
            done = f"ranked {what} in groups of five" if rank else f"labelled {what}"
            self.statusMessage.emit(f"simulated user ({wish.mode}) {done}; Ctrl+Z undoes the batch")

    def _simulated_picks(self, count: int, chosen: str, seed: int, only_unlabelled: bool) -> list[int]:
        """The ``count`` trajectories a simulated user labels when it labels only some: the first of the seeded
        random order (those `dpf label --select random --seed SEED` takes), or the best suggestions now."""
        from dpf_gui.selection import random_order

        states = self.model.states
        if chosen == "suggested":
            if not self.suggestions.ready:
                raise UserError("the suggestions are still being ranked; try again in a moment")
            order = [s.index for s in self.suggestions.items]
        else:
            order = random_order(len(self.ws), seed).tolist()
        picks = [int(i) for i in order if not only_unlabelled or states[i] == UNLABELLED][:count]
        if not picks:
            raise UserError("no trajectory left to label that way: every one is labelled (untick \"keep my own "
                            "marks\" to label over them)")
        return picks

    def label_suggested(self, wish, count: int, seed: int = 0) -> int:
        """The simulated user (``wish``, exact marks) labels the ``count`` best suggestions nobody has labelled,
        as one undoable batch (the lesson's shortcut for a person's first marks); returns how many it labelled
        (0 until the suggestions are ranked)."""
        if self.ws is None or not self.suggestions.ready:
            return 0
        states = self.model.states
        picks = [s.index for s in self.suggestions.items if states[s.index] == UNLABELLED][:max(0, int(count))]
        if not picks:
            return 0
        self.ws.label_with_simulated_user(wish, seed=seed, only=picks)
        self.set_overlay_wish(wish, "simulated user")
        self.statusMessage.emit(f"the simulated user ({wish.mode}) labelled the {len(picks)} best suggestions; "
                                "Ctrl+Z undoes the batch")
        return len(picks)

    # --- overlay wish ----------------------------------------------------------------------
    def _fill_wish_combo(self) -> None:
        self.wish_combo.blockSignals(True)
        self.wish_combo.clear()
        self._wishes = {}
        if self.ws is not None:
            for p in self.ws.spec.presets:
                self._wishes[p.name] = self.ws.wish(p.name)
                self.wish_combo.addItem(p.name, p.name)
            mine = self.ws.typed_wish()
            if mine is not None:
                self._wishes["my wish"] = mine
                self.wish_combo.addItem("my wish", "my wish")
            self.wish_combo.setCurrentIndex(max(self.wish_combo.findData("my wish" if mine else "mixed"), 0))
        self.wish_combo.blockSignals(False)
        self._on_wish_combo()

    def _on_wish_combo(self, *_) -> None:
        self.player.set_wish(self._wishes.get(self.wish_combo.currentData()))
        self._refresh_title()
        self._refresh_coverage()

    def overlay_wish(self):
        """The wish whose regions are shown (and whose coverage is said), or None."""
        return self._wishes.get(self.wish_combo.currentData())

    def _refresh_coverage(self) -> None:
        """Say how the stored and the labelled trajectories enter the shown wish's regions."""
        wish = self.overlay_wish()
        if self.ws is None or wish is None:
            self.coverage_label.setText("")
            return
        name = self.wish_combo.currentText()
        body, thin = coverage_html(self.ws, wish, self.model.states != UNLABELLED)
        self.coverage_label.setText(f"<b>{name}</b> in the data: " + body)
        remedy = f"QPushButton {{ color: {WARNING_COLOUR}; font-weight: bold; }}"  # the remedy stands out
        self.collect_button.setStyleSheet(remedy if thin else "")

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

    def _refresh_reason(self) -> None:
        reason = self._reason if self._reason is not None and self._reason[0] == self.current else None
        if reason is None:
            self.reason_label.setText("")
            self.reason_label.setVisible(False)
            return
        _, s, rank = reason
        self.reason_label.setText(f"Suggested #{rank} ({s.kind}): {s.reason}")
        self.reason_label.setVisible(True)

    def _refresh_title(self) -> None:
        self._refresh_reason()
        if self.ws is None or self.current is None:
            self.title.setText("")
            return
        i = self.current
        state, score = int(self.model.states[i]), float(self.model.scores[i])
        label = STATE_NAMES[state] + ("" if np.isnan(score) else f" (score {score_text(score)})")
        self.title.setText(f"Trajectory {i} · {self.ws.length(i)} decisions · "
                           f"return {float(self.ws.task_returns[i]):.2f} · "
                           f"{'success' if self.ws.dataset.success[i] else 'failure'} · {label}")

    def _update_progress(self) -> None:
        n = len(self.model.states)
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(self.model.labelled_count)

    def _update_undo(self) -> None:
        self.undo_button.setEnabled(bool(self.ws and self.ws.can_undo()))
        self.redo_button.setEnabled(bool(self.ws and self.ws.can_redo()))

    def shutdown(self) -> None:
        for dialog in (self.sim_dialog, self.wish_dialog, self.rank_dialog):
            if dialog is not None:
                dialog.close()
        if self.collect_dialog is not None:
            self.collect_dialog.shutdown()
        self.suggestions.shutdown()
        self.player.shutdown()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _intent_rewards(ws) -> Callable[[int], np.ndarray | None] | None:
    """The timeline's values: the intent model's reward per decision (None: no model, no strip)."""
    return ws.step_rewards if ws is not None and ws.intent is not None else None


__all__ = ["AnnotateView"]

"""Rank the runs just watched: a few trajectories put in order, best first.

One yes/no mark says little about a run that is neither good nor bad, and on
Pong nearly every run enters the same places, so 25 yes/no marks teach next to
nothing there; the same 25 runs ranked in groups of five taught as much as 25
exact scores on the benchmark's development wishes (docs/EXPERIMENTS.md,
"Rankings of five runs watched together"). A ranking is stored as one
undoable action (:meth:`dpf_gui.data.study.LabelStore.rank`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from dpf_gui.app.button_box import ok_cancel
from dpf_gui.errors import UserError
from dpf_gui.palette import WARNING_COLOUR

#: how many of the runs watched last a ranking offers (the benchmark's rankings are of five)
RANK_COUNT = 5

#: what the dialog says above the runs (a study's participant screen says it in its own words)
INTRO = ("Put them in order, the one closest to your wish first. The selected trajectory is shown in the player "
         "(watch it again there); Alt+Up / Alt+Down (or drag) moves it, = makes it as good as the one above (again: "
         "not). Enter saves the ranking (undoable), Esc leaves it.")

_TRAJ = Qt.ItemDataRole.UserRole
_TIED = Qt.ItemDataRole.UserRole + 1  # as good as the run above it
_TEXT = Qt.ItemDataRole.UserRole + 2  # what the run is, without its place


class RankDialog(QDialog):
    """The runs offered, in the order they were watched; the person moves them into order (Alt+Up / Alt+Down,
    or drag), makes one as good as the one above (=), and saves (Enter). The run selected is shown in the player
    (``show``), so it can be watched again before it is placed."""

    def __init__(self, parent, runs: Sequence[tuple[int, str]], save: Callable[[list[tuple[int, int]]], None],
                 show: Callable[[int], None] | None = None, title: str = "Rank the trajectories you watched",
                 intro: str = INTRO):
        super().__init__(parent)
        self.setObjectName("rankDialog")
        self.setWindowTitle(title)
        self._save = save
        intro = QLabel(intro, self)
        intro.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setObjectName("rankList")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        for traj, text in runs:
            item = QListWidgetItem(text)
            item.setData(_TEXT, text)
            item.setData(_TRAJ, int(traj))
            item.setData(_TIED, False)
            self.list.addItem(item)
        self.list.model().rowsMoved.connect(self._refresh)
        self.error = QLabel(self)
        self.error.setObjectName("rankError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.error.hide()
        buttons, self.save_button = ok_cancel(self, "Save ranking", "saveRankingButton", self._on_save)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.list.installEventFilter(self)  # the list has the focus: its keys, before it moves the selection
        self.list.setCurrentRow(0)
        if show is not None:
            self.list.currentItemChanged.connect(lambda item, _: item is not None and show(int(item.data(_TRAJ))))
        self._refresh()
        self.resize(520, 120 + 24 * max(len(runs), 3))

    def eventFilter(self, watched, event) -> bool:
        """Alt+Up / Alt+Down move the selected run, = ties it with the one above, Enter saves, Esc leaves: before
        the Annotate tab's own keys (= is faster playback there, Enter the next suggestion, Esc drops a segment),
        since the window stays usable beside the dialog."""
        if watched is not self.list or event.type() not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            return super().eventFilter(watched, event)
        key, alt = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if alt and key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            act = lambda: self.move_selected(-1 if key == Qt.Key.Key_Up else +1)  # noqa: E731
        elif key == Qt.Key.Key_Equal:
            act = self.toggle_tie
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            act = self._on_save
        elif key == Qt.Key.Key_Escape:
            act = self.reject
        else:
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # the key press comes to the list, not to a shortcut of the window
        else:
            act()
        return True

    def move_selected(self, delta: int) -> None:
        """Move the selected run up (-1) or down (+1), keeping it selected."""
        row = self.list.currentRow()
        to = row + delta
        if row < 0 or not 0 <= to < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(to, item)
        self.list.setCurrentRow(to)
        self._refresh()

    def toggle_tie(self) -> None:
        """Make the selected run as good as the one above it, or not (the first has none above)."""
        item = self.list.currentItem()
        if item is None or self.list.row(item) == 0:
            return
        item.setData(_TIED, not item.data(_TIED))
        self._refresh()

    def levels(self) -> list[tuple[int, int]]:
        """(trajectory, level) in the order shown: level 0 the best, a run as good as the one above at its level."""
        out: list[tuple[int, int]] = []
        level = -1
        for row in range(self.list.count()):
            item = self.list.item(row)
            if row == 0 or not item.data(_TIED):
                level += 1
            out.append((int(item.data(_TRAJ)), level))
        return out

    def _refresh(self, *_) -> None:
        """Number the places (a run as good as the one above shows "=" and shares its place)."""
        for (_, level), row in zip(self.levels(), range(self.list.count()), strict=True):
            item = self.list.item(row)
            if row == 0:
                item.setData(_TIED, False)
            item.setText(f"{'=' if item.data(_TIED) else f'{level + 1}.'}  {item.data(_TEXT)}")

    def _on_save(self) -> None:
        try:
            self._save(self.levels())
        except UserError as exc:  # a read-only store
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()


__all__ = ["RANK_COUNT", "RankDialog"]

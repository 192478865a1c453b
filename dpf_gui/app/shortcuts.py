"""The keyboard shortcuts: one table per view for binding, cheat sheet and docs.

Labelling hundreds of trajectories is fast only from the keyboard, and a
person learns the keys only if they are shown; keeping the keys, their
actions and their descriptions in one list keeps the three in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    action: str  # name of the AnnotateView method slot it triggers (see AnnotateView.ACTIONS)
    keys: tuple[str, ...]  # QKeySequence strings
    text: str  # what the cheat sheet says


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("toggle_play", ("Space",), "play / pause"),
    Shortcut("step_back", ("Left",), "one frame back"),
    Shortcut("step_forward", ("Right",), "one frame forward"),
    Shortcut("first_frame", ("Home",), "first frame"),
    Shortcut("last_frame", ("End",), "last frame"),
    Shortcut("faster", ("+", "="), "faster playback"),
    Shortcut("slower", ("-",), "slower playback"),
    Shortcut("prefer", ("P",), "preferred (trajectory, or the segment)"),
    Shortcut("avoid", ("A",), "avoided (trajectory, or the segment)"),
    Shortcut("neutral", ("N",), "neutral (trajectory, or the segment)"),
    Shortcut("segment_start", ("[",), "segment starts here"),
    Shortcut("segment_end", ("]",), "segment ends here"),
    Shortcut("cancel_segment", ("Esc",), "drop the segment"),
    Shortcut("rank_watched", ("R",), "rank the trajectories watched last (up to 5)"),
    Shortcut("undo", ("Ctrl+Z",), "undo the last mark"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
    Shortcut("next_suggested", ("Return", "Enter"), "next suggested trajectory (worth labelling next)"),
    Shortcut("next_unlabelled", ("Shift+Return", "Shift+Enter"), "next unlabelled in the list's order"),
    Shortcut("previous_trajectory", ("PgUp",), "previous trajectory"),
    Shortcut("next_trajectory", ("PgDown",), "next trajectory"),
    Shortcut("toggle_overlay", ("O",), "region overlay on / off"),
    Shortcut("toggle_cheatsheet", ("?", "F1"), "show / hide these keys"),
)


#: Play and Compare (a presenter's keys): the action is the name of the view's method it calls
PLAY_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("toggle_play", ("Space",), "play / pause"),
    Shortcut("key_restart", ("R",), "restart the episode (the seed shown)"),
    Shortcut("key_step", ("S",), "one decision (pauses)"),
)


#: the guided lesson (``dpf-gui --lesson``), window-wide in every tab: keys no tab uses, so a teacher can drive
#: the lesson from the keyboard (or a remote sending them) while students watch
LESSON_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("next_step", ("Alt+Right",), "next step of the lesson"),
    Shortcut("previous_step", ("Alt+Left",), "previous step of the lesson"),
    Shortcut("replay_step", ("F5",), "replay this step (its episode from the start)"),
    Shortcut("run_action", ("Alt+Enter", "Alt+Return"), "press the step's own button (e.g. train the intent model)"),
)


#: the main window's tabs, in every tab and wherever the focus is (Qt's own Ctrl+Tab works only while the focus
#: is on a widget that lets it through: a list or a table keeps it); the action is the window's method
TAB_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("next_tab", ("Ctrl+Tab", "Ctrl+PgDown"), "next tab"),
    Shortcut("previous_tab", ("Ctrl+Shift+Tab", "Ctrl+Shift+Backtab", "Ctrl+PgUp"), "previous tab"),
    Shortcut("show_annotate", ("Alt+1",), "the Annotate tab"),
    Shortcut("show_train", ("Alt+2",), "the Train tab"),
    Shortcut("show_play", ("Alt+3",), "the Play tab"),
    Shortcut("show_compare", ("Alt+4",), "the Compare tab"),
    Shortcut("choose_environment", ("Alt+E",), "choose the environment (its list opens)"),
)


class PlayKeys:
    """What Play's and Compare's keys do (the views have ``play_button``, ``restart_button``, ``step_button``,
    ``pause``, ``restart`` and ``step_once``); a key does nothing while its button is disabled."""

    def toggle_play(self) -> None:
        if self.play_button.isEnabled():
            self.play_button.toggle()

    def key_restart(self) -> None:
        if self.restart_button.isEnabled():
            self.restart()

    def key_step(self) -> None:
        if self.step_button.isEnabled():
            self.pause()
            self.step_once()


def install(view, shortcuts: tuple[Shortcut, ...]) -> dict:
    """Bind ``shortcuts`` to ``view``'s methods, window-wide while ``view`` is visible (a hidden widget's
    shortcuts never fire, so each tab's keys work only in that tab, wherever the focus is)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence, QShortcut

    made = {}
    for s in shortcuts:
        sc = QShortcut(view)
        sc.setKeys([QKeySequence(k) for k in s.keys])
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        method = getattr(view, s.action)
        sc.activated.connect(lambda m=method: m())
        made[s.action] = sc
    if any("Space" in s.keys for s in shortcuts):
        controls_keep_space(view)
    return made


def controls_keep_space(view) -> None:
    """Space presses the button, ticks the box or opens the list that Tab moved the keyboard focus to, as
    everywhere else, instead of playing or pausing. Those controls take the focus from Tab only (a mouse click
    leaves it where it was), and one that got it any other way (the window activated, a dialog closed) leaves
    Space to the view: a person who clicks a checkbox or closes a dialog and then presses Space still plays or
    pauses. Plots take no focus (Tab would stop on them for nothing)."""
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QGraphicsView

    tabbed = (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason)

    class KeepSpace(QObject):
        def eventFilter(self, obj, event) -> bool:
            kind = event.type()
            if kind == QEvent.Type.FocusIn:
                obj.setProperty("focusFromTab", event.reason() in tabbed)
            elif (kind == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Space
                  and event.modifiers() == Qt.KeyboardModifier.NoModifier and obj.hasFocus()
                  and obj.isEnabled() and obj.property("focusFromTab")):
                # a key press reaches the focus widget first as a ShortcutOverride: accepted, the key goes to the
                # widget as a key press and the shortcut does not fire
                event.accept()
                return True
            return False

    view._keep_space = keep = KeepSpace(view)
    for kind in (QAbstractButton, QComboBox):
        for w in view.findChildren(kind):
            if isinstance(w, QComboBox) and w.isEditable():
                continue
            if w.focusPolicy() == Qt.FocusPolicy.StrongFocus:
                w.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            w.installEventFilter(keep)
    for w in view.findChildren(QGraphicsView):
        w.setFocusPolicy(Qt.FocusPolicy.NoFocus)


def tab_leaves_lists(widget) -> None:
    """Tab and Shift+Tab move the focus out of every list and table in ``widget`` (Qt's default moves between
    their cells, so the keyboard never gets out of the trajectory list or the Train tab's fit table)."""
    from PySide6.QtWidgets import QAbstractItemView

    for w in widget.findChildren(QAbstractItemView):
        w.setTabKeyNavigation(False)


def cheatsheet_rows(shortcuts: tuple[Shortcut, ...] = SHORTCUTS) -> list[tuple[str, str]]:
    """(keys, what they do) per shortcut, as the cheat sheet shows them."""
    hidden = ("=", "Enter", "Shift+Enter", "Ctrl+Shift+Backtab")  # another name of a key already shown
    return [(" / ".join(_pretty(k) for k in s.keys if k not in hidden), s.text) for s in shortcuts]


def cheatsheet_panel(parent):
    """The Annotate view's key panel: every shortcut and what it does, scrolling when the window is short and
    wrapping when it is narrow (``cheatSheet``)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import (
        QFrame,
        QGridLayout,
        QLabel,
        QScrollArea,
        QVBoxLayout,
        QWidget,
    )

    panel = QFrame(parent)
    panel.setObjectName("cheatSheet")
    panel.setFrameShape(QFrame.Shape.StyledPanel)
    sv = QVBoxLayout(panel)
    sv.setContentsMargins(0, 0, 0, 0)
    body = QWidget(panel)
    grid = QGridLayout(body)
    grid.setHorizontalSpacing(10)
    grid.setVerticalSpacing(2)
    row = 0
    for title, rows in (("Keys", cheatsheet_rows()), ("In every tab", cheatsheet_rows(TAB_SHORTCUTS))):
        if row:
            grid.setRowMinimumHeight(row, 2 * grid.verticalSpacing() + body.fontMetrics().height())  # a gap above
        grid.addWidget(QLabel(f"<b>{title}</b>", body), row, 0, 1, 2, Qt.AlignmentFlag.AlignBottom)
        for keys, text in rows:
            row += 1
            # a key may break after each "+" (a zero-width space): at 1024 px the panel is about 170 px wide, and
            # "Ctrl+Shift+Tab" whole beside "trajectory" cut the descriptions at the right edge
            key = QLabel(f"<b>{keys.replace('+', '+' + chr(0x200B))}</b>", body)
            key.setWordWrap(True)
            grid.addWidget(key, row, 0, Qt.AlignmentFlag.AlignTop)
            what = QLabel(text, body)
            what.setWordWrap(True)  # a narrow panel wraps the descriptions instead of cutting them
            grid.addWidget(what, row, 1, Qt.AlignmentFlag.AlignTop)
        row += 1
    grid.setColumnStretch(1, 1)
    grid.setRowStretch(row, 1)
    scroll = QScrollArea(panel)
    scroll.setWidget(body)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    # what does not fit even so (a larger font, presentation mode) scrolls instead of being cut at the right edge
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    panel.setMinimumWidth(160)
    sv.addWidget(scroll)
    return panel


def _pretty(key: str) -> str:
    return key.replace("Return", "Enter").replace("PgUp", "Page Up").replace("PgDown", "Page Down")


__all__ = [
    "LESSON_SHORTCUTS",
    "PLAY_SHORTCUTS",
    "SHORTCUTS",
    "TAB_SHORTCUTS",
    "PlayKeys",
    "Shortcut",
    "cheatsheet_panel",
    "cheatsheet_rows",
    "controls_keep_space",
    "install",
    "tab_leaves_lists",
]

"""Study mode: the operator screen and the participant's locked-down walk through the protocol's phases.
Long because: one page per phase of the protocol, all acting through the participant window's session and
event log (which also locks the keys down), plus the operator screen; read together when a phase changes.

Thin views over :mod:`dpf_gui.studies` (no study logic here): the
:class:`~dpf_gui.studies.session.Session` decides where the participant is,
stores marks and answers and logs every event; these widgets only show the
phase the session is in and pass on what the participant does.

The participant screen shows only what the phase allows: the protocol's texts
and the wish's instruction, the trajectories to mark with the mark keys, the
agent built from the participant's own marks, the questionnaire. No menus, no
sliders of fusion parameters, no simulated user, no file dialogs, no region
overlays and no preset: outcomes are never shown to the participant. The
window cannot be closed by the participant; the operator leaves it with
Ctrl+Shift+Q (``OPERATOR_EXIT``), which is logged. Every key pressed is
logged with the phase it was pressed in.
"""

from __future__ import annotations

import html
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSlider,
    QStackedWidget,
    QStyle,
    QStyleOptionSlider,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.app.focus import FOCUS_FRAME
from dpf_gui.errors import UserError

OPERATOR_EXIT = "Ctrl+Shift+Q"
PHASE_TITLES = {"consent": "Consent", "instructions": "Instructions", "annotate": "Mark the trips", "train": "Learning",
                "watch": "Watch the agent", "questionnaire": "Questions", "nasa_tlx": "Workload", "end": "Thank you"}
RANK_TITLE = "Rank the trips"  # the annotate step's title where the condition collects rankings
STATE_WORDS = {1: "preferred", 2: "avoided", 3: "neutral", 4: "parts marked", 6: "ranked"}
#: above the trips in a condition whose feedback is rankings: how to give it (the protocol's annotate text is the
#: study's, written for every condition)
RANK_HELP = ("Watch a few trips (Up / Down choose one, Space plays it), then press R to put the last five you "
             "watched in order, the one closest to what you were asked for first. Each trip counts once toward "
             "the number shown.")
#: the ranking dialog's own words on the participant screen
RANK_INTRO = ("Put these trips in order, the one closest to what you were asked for first. The selected trip is "
              "shown in the player. Alt+Up / Alt+Down (or drag) moves it; = makes it as good as the one above "
              "(press again to undo that). Enter saves the ranking, Esc goes back without saving.")
#: the NASA-TLX page's lead-in: its items ask about the participant's own workload, not about the agent (the
#: protocol's questionnaire text is about the agent, and the protocol has no text of its own for this page)
TLX_LEAD = ("These questions are about you: how demanding the task you just did was for you. Click each scale "
            "where your answer lies (or use the arrow keys); drag the handle or click again to change it.")
#: beside Watch's Next while it is disabled: why
WATCH_TO_THE_END = "Watch the episode to its end to go on."
#: beside a NASA-TLX scale until it is answered (the scale shows no handle until then)
NOT_ANSWERED = "not answered"
#: why a trip is suggested, in a participant's words (the log keeps the full reason, in the researcher's)
SUGGESTION_WORDS = {"typical": "a typical trip, to start with",
                    "diversity": "it is unlike the trips marked so far",
                    "disagreement": "your marks so far do not tell how you would mark this trip"}


class _Worker(QThread):
    """Runs ``fn()`` off the UI thread; ``done(result)`` or ``failed(message)``."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], parent=None):
        super().__init__(parent)
        self.fn = fn

    def run(self) -> None:
        try:
            self.done.emit(self.fn())
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 (a bug: say it, keep the window)
            traceback.print_exc()
            self.failed.emit(f"{exc.__class__.__name__}: {exc}")


@dataclass
class _Episodes:
    """What the player needs of a workspace, for the watch episodes (no label store behind them)."""

    env_name: str
    env_config: dict
    dataset: Any
    fingerprint: str

    def __len__(self) -> int:
        return len(self.dataset)

    def length(self, index: int) -> int:
        return int(self.dataset.lengths[index])


#: the widest a phase text runs, in average characters: longer lines are hard to read on a full-screen window
TEXT_COLUMNS = 90


def reflow(text: str) -> str:
    """A protocol text as the participant reads it: lines broken in the TOML file join (the label wraps them to
    the window), a blank line starts a new paragraph."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines() if line.strip())
                  for block in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


def _text_label(text: str, name: str, parent: QWidget) -> QLabel:
    label = QLabel(reflow(text), parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setMaximumWidth(label.fontMetrics().averageCharWidth() * TEXT_COLUMNS)  # lines a reader's eye can follow
    return label


def _button(text: str, name: str, parent: QWidget, slot: Callable) -> QPushButton:
    b = QPushButton(text, parent)
    b.setObjectName(name)
    b.clicked.connect(slot)
    return b


def _keyboard_only(page: QWidget) -> None:
    """A participant without a mouse (docs/STUDY.md, "From the keyboard"): Tab goes through the page's controls
    only (a scroll area takes no Tab stop, and Tab leaves a text box instead of typing a tab: the questionnaire's
    Continue was out of reach), and Enter or Space presses the button Tab reached (Space did not press Watch's Next
    but played the episode again: shortcuts.controls_keep_space; Enter did nothing). A click still leaves the focus
    where it was, so the page's keys keep working for a person with a mouse."""
    from dpf_gui.app.shortcuts import controls_keep_space

    controls_keep_space(page)
    for b in page.findChildren(QPushButton):
        b.setAutoDefault(True)  # Enter presses the focused button (outside a dialog Qt leaves that off)
    for area in page.findChildren(QScrollArea):
        area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # it still scrolls the control Tab reaches into view
    for edit in page.findChildren(QPlainTextEdit):
        edit.setTabChangesFocus(True)


def _player(parent: QWidget, log: Callable[..., None], marks: bool):
    """The app's player without its region overlay (a study shows no wish regions), its controls logged; its
    timeline legend names only what is shown: the participant's ``marks``, or nothing (watching draws none)."""
    from dpf_gui.app.player import Player

    player = Player(parent, regions=False)
    player.overlay_check.setVisible(False)
    player.set_overlay_visible(False)
    player.timeline_legend.setVisible(marks)
    player.play_button.clicked.connect(lambda: log("play" if player.is_playing else "pause", frame=player.position))
    # what the person does to the position (the slider, the timeline, the step buttons), not the playback's ticks
    player.slider.valueChanged.connect(lambda f: log("seek", frame=int(f)))
    player.timeline.seekRequested.connect(lambda f: log("seek", frame=int(f)))
    for b in (player.first_button, player.back_button, player.forward_button, player.last_button):
        b.clicked.connect(lambda: log("seek", frame=player.position))
    return player


class RatingSlider(QSlider):
    """A NASA-TLX scale, 0..100 in steps of 5, that shows no handle until answered: a handle waiting mid-scale
    would look like an answer of 50. A click anywhere on the groove answers there (a plain slider steps a page
    towards the click); the arrow, Page and Home / End keys move from the middle, Space answers the middle. The
    mouse wheel is left to the page's scrolling, which must never answer. With the keyboard focus it is framed
    as the app's lists are (:data:`~dpf_gui.app.focus.FOCUS_FRAME`), answered or not: the style's own mark, a
    faint outline of the handle, did not show which scale the arrow keys would answer. ``rated(value)``: the
    participant set a value (also one it already had)."""

    rated = Signal(int)

    def __init__(self, value: int | None, parent: QWidget):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, 20)
        self.setPageStep(2)
        self.setTickPosition(QSlider.TickPosition.TicksBelow)  # the paper form's 21 marks
        self.setTickInterval(1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet(FOCUS_FRAME)  # the style draws it with the groove: in QSlider's paint, and in ours below
        self.answered = value is not None
        self.setValue(10 if value is None else int(value) // 5)
        self.valueChanged.connect(lambda v: self._set(int(v)))  # keys, a drag

    def _set(self, v: int) -> None:
        self.answered = True
        self.update()
        self.rated.emit(v * 5)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            opt = QStyleOptionSlider()
            self.initStyleOption(opt)
            groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                                 QStyle.SubControl.SC_SliderGroove, self)
            handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                                 QStyle.SubControl.SC_SliderHandle, self)
            if not (self.answered and handle.contains(event.position().toPoint())):  # not a drag of the handle
                span = groove.width() - handle.width()
                x = int(event.position().x()) - groove.x() - handle.width() // 2
                v = QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), x, span)
                if v == self.value():
                    self._set(v)
                else:
                    self.setValue(v)  # answers through valueChanged
        super().mousePressEvent(event)  # the handle is under the pointer now: a drag may follow

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._set(self.value())
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:
        event.ignore()  # to the scroll area: scrolling past a scale must not answer it

    def paintEvent(self, event) -> None:
        if self.answered:
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        opt.subControls = QStyle.SubControl.SC_SliderGroove | QStyle.SubControl.SC_SliderTickmarks
        opt.sliderPosition = opt.minimum  # no filled part: nothing chosen yet
        opt.state &= ~QStyle.StateFlag.State_Enabled  # greyed, as the "not answered" beside it
        painter.drawComplexControl(QStyle.ComplexControl.CC_Slider, opt)  # with the focus frame, as answered


class StudyWindow(QMainWindow):
    """One participant's screen: a page per phase, in the order the session gives."""

    closedByOperator = Signal()

    def __init__(self, study_dir: str | Path, participant: str, parent: QWidget | None = None):
        super().__init__(parent)
        from dpf_gui.studies.folder import Study
        from dpf_gui.studies.session import Session

        self.setObjectName("studyWindow")
        self.study = Study(study_dir)
        self.session = Session(self.study, participant)
        self.setWindowTitle(f"{self.study.protocol.title}")
        self._may_close = False
        self._worker: _Worker | None = None
        self.step = None
        self.header = QLabel(self)
        self.header.setObjectName("studyHeader")
        self.pages = QStackedWidget(self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.addWidget(self.header)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.page: QWidget | None = None
        QShortcut(QKeySequence(OPERATOR_EXIT), self, self.operator_exit,
                  context=Qt.ShortcutContext.ApplicationShortcut)
        QApplication.instance().installEventFilter(self)
        self.enter_current()

    # --- the walk through the phases ------------------------------------------------------------------------
    def log(self, kind: str, **data: Any) -> None:
        if self.session is not None and self.step is not None:
            self.session.event(kind, self.step, **data)

    def enter_current(self) -> None:
        step = self.session.current()
        self.step = None if step is None else self.session.begin()
        if self.page is not None:
            self.pages.removeWidget(self.page)
            if hasattr(self.page, "shutdown"):
                self.page.shutdown()
            self.page.setParent(None)  # gone from the window at once (deleteLater waits for the event loop)
            self.page.deleteLater()
        if step is None or step.phase == "end":
            if step is not None:
                self.session.end(step)
            self.page = TextPage(self, "end")
        else:
            cls = {"consent": TextPage, "instructions": TextPage, "annotate": AnnotatePage, "train": TrainPage,
                   "watch": WatchPage, "questionnaire": QuestionnairePage, "nasa_tlx": QuestionnairePage}[step.phase]
            self.page = cls(self, step.phase)
        steps = self.session.steps
        k = len(steps) if step is None else steps.index(step) + 1
        agent = self.agent_round()
        title = PHASE_TITLES.get(step.phase if step else "end", "")
        if step is not None and step.phase == "annotate" and self.session.condition(step.condition).feedback == "ranks":
            title = RANK_TITLE
        self.header.setText(f"{title}  ·  step {k} of {len(steps)}"
                            + (f"  ·  agent {agent[0]} of {agent[1]}" if agent and agent[1] > 1 else ""))
        self.pages.addWidget(self.page)
        self.pages.setCurrentWidget(self.page)
        _keyboard_only(self.page)
        # the page itself has the keyboard focus when it opens: no key presses a button before Tab has shown which
        # (the consent page opened with an unmarked focus on "I do not agree", so a first Space declined)
        self.page.setFocus(Qt.FocusReason.OtherFocusReason)

    def agent_round(self) -> tuple[int, int] | None:
        """(k, n): the step shown belongs to the k-th of the n conditions (agents) this participant teaches; None
        outside them. The participant sees "agent k", never the condition's name."""
        if self.step is None or self.step.condition is None:
            return None
        order = list(dict.fromkeys(s.condition for s in self.session.steps if s.condition is not None))
        return order.index(self.step.condition) + 1, len(order)

    def advance(self, **data: Any) -> None:
        """End the current step and show the next."""
        self.session.end(self.step, **data)
        self.enter_current()

    def run_in_background(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self._worker = _Worker(fn, self)
        self._worker.done.connect(done)
        self._worker.failed.connect(self.show_failure)
        self._worker.start()

    def show_failure(self, message: str) -> None:
        self.log("error", message=message)
        if self.page is not None and hasattr(self.page, "show_failure"):
            self.page.show_failure(message)

    # --- the kiosk ---------------------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Every key press reaches its receiver (the focus widget, else the window) first as a ShortcutOverride,
        # also when a shortcut then takes it: logging there, at the receiver only, logs each press once.
        if event.type() == QEvent.Type.ShortcutOverride and obj is self._key_receiver():
            key = QKeySequence(event.keyCombination()).toString()
            if key and not event.isAutoRepeat():
                self.log("key", key=key)
        return False

    def _key_receiver(self) -> QObject:
        """Where this window's key presses go: its focus widget, or that of a dialog of its own (the ranking) while
        the dialog has the keys; not another window's (the operator screen's)."""
        focus = QApplication.focusWidget()
        widget = focus
        while widget is not None and widget is not self:
            widget = widget.parentWidget()
        return focus if widget is self else (self.focusWidget() or self)

    def operator_exit(self) -> None:
        """The operator leaves the participant's screen (the session resumes where it was when opened again)."""
        if self.session is not None:
            self.session.event("operator_exit", self.session.current())
        self._may_close = True
        self.close()

    def closeEvent(self, event) -> None:
        if not self._may_close:
            self.log("close_refused")
            event.ignore()
            return
        if self._worker is not None and self._worker.isRunning():
            self._worker.wait(60_000)
        QApplication.instance().removeEventFilter(self)
        if self.page is not None and hasattr(self.page, "shutdown"):
            self.page.shutdown()
        if self.session is not None:
            self.session.close()
            self.session = None
        self.closedByOperator.emit()
        event.accept()


class TextPage(QWidget):
    """Consent (agree / do not agree), instructions (with the wish's instruction), end."""

    def __init__(self, window: StudyWindow, phase: str):
        super().__init__(window)
        self.window_ = window
        protocol = window.study.protocol
        layout = QVBoxLayout(self)
        layout.addWidget(_text_label(protocol.texts[phase], "phaseText", self))
        if phase == "instructions":
            layout.addWidget(_text_label("What you are asked to teach the agent:", "wishTitle", self))
            layout.addWidget(_text_label(protocol.instruction, "wishInstruction", self))
        layout.addStretch(1)
        self.message = _text_label("", "phaseMessage", self)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        row.addStretch(1)
        if phase == "consent":
            self.decline = _button("I do not agree", "consentDecline", self, self._decline)
            self.agree = _button("I agree", "consentAgree", self, self._agree)
            row.addWidget(self.decline)
            row.addWidget(self.agree)
        elif phase == "instructions":
            row.addWidget(_button("Continue", "continueButton", self, window.advance))
        layout.addLayout(row)

    def _agree(self) -> None:
        self.window_.session.consent(True)
        self.window_.advance()

    def _decline(self) -> None:
        self.window_.session.consent(False)
        self.agree.setEnabled(False)
        self.decline.setEnabled(False)
        self.message.setText("Thank you. Please tell the experimenter that you do not wish to take part.")


class AnnotatePage(QWidget):
    """The trajectories to mark, the player (no overlays), the mark keys, the budget and the time left; in a
    condition whose feedback is rankings, R (rank the trips watched last) instead of the mark keys."""

    def __init__(self, window: StudyWindow, phase: str):
        super().__init__(window)
        self.window_ = window
        session, step = window.session, window.step
        self.condition = session.condition(step.condition)
        self.ws = session.workspace(step.condition)
        self.segment_start: int | None = None
        self.selection: tuple[int, int] | None = None
        self.ranks = self.condition.feedback == "ranks"
        self.watched: list[int] = []  # trips shown, each once, the latest last: a ranking offers the last five
        self.rank_dialog = None
        # "label this next" as the pilot's simulated participants do it: after every ROUND_MARKS marks an intent
        # model is trained on the marks so far (in the background) and ranks the next suggestions
        self.suggestion_round = 0  # rounds of marks the current suggestion model was trained on (0: none yet)
        self.suggestion_model = None
        self._training: _Worker | None = None
        self._stop_training = False
        # the next suggestion, ranked off the UI thread as soon as the marks or the model change: (its inputs, it)
        self._next: tuple[tuple, list] | None = None
        self._ranking: tuple[_Worker, tuple, dict] | None = None  # the ranking under way: for which inputs, its box
        self._rank_again = False
        layout = QVBoxLayout(self)
        k, n = window.agent_round()
        if k > 1:  # the same trips, none marked: say why, or the marks given before look lost
            round_label = _text_label(f"Agent {k} of {n}: a new agent, which learns only from the "
                                      f"{'rankings' if self.ranks else 'marks'} you give now. What you gave agent "
                                      f"{k - 1} is kept.", "agentRound", self)
            round_label.setStyleSheet("font-weight: bold")
            layout.addWidget(round_label)
        layout.addWidget(_text_label(session.text(step), "phaseText", self))
        layout.addWidget(_text_label(window.study.protocol.instruction, "wishInstruction", self))
        if self.ranks:
            layout.addWidget(_text_label(RANK_HELP, "rankHelp", self))
        body = QHBoxLayout()
        self.list = QListWidget(self)
        self.list.setObjectName("trajList")
        self.list.setStyleSheet(FOCUS_FRAME)  # framed while Tab has it there, as the main window's trajectory list
        # rows are trips in the protocol's trip order (a participant going down the list meets varied trips, not
        # the stored order's first ones); everything logged and stored names the trajectory, not the row
        self.order = session.trip_order(step.condition)
        self.row_of = np.argsort(self.order)
        for r in range(len(self.ws)):
            self.list.addItem(QListWidgetItem(f"Trip {r + 1}"))
        self.list.currentRowChanged.connect(self._show)
        body.addWidget(self.list, 1)
        self.player = _player(self, window.log, marks=not self.ranks)
        body.addWidget(self.player, 3)
        layout.addLayout(body, 1)
        row = QHBoxLayout()
        if self.ranks:
            self.buttons = [_button("Rank (R)…", "rankButton", self, self.open_ranking)]
        else:
            self.buttons = [_button("Preferred (P)", "preferButton", self, lambda: self.mark(1)),
                            _button("Avoided (A)", "avoidButton", self, lambda: self.mark(-1)),
                            _button("Neutral (N)", "neutralButton", self, lambda: self.mark(0))]
        self.buttons.append(_button("Undo (Ctrl+Z)", "undoButton", self, self.undo))
        for b in self.buttons:
            row.addWidget(b)
        self.count = QLabel(self)
        self.count.setObjectName("budgetLabel")
        self.clock = QLabel(self)
        self.clock.setObjectName("timeLabel")
        self.message = QLabel(self)
        self.message.setObjectName("phaseMessage")
        self._done_asked: int | None = None  # Done pressed once with this many trips marked, below the budget
        if self.condition.suggestions:  # "label this next" (docs/SELECTION.md), when the condition shows it
            suggest_button = _button("Label this next (Enter)", "suggestNext", self, self.next_suggested)
            self.buttons.append(suggest_button)
            row.addWidget(suggest_button)
            QShortcut(QKeySequence("Return"), self, self.next_suggested,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        row.addWidget(self.count)
        row.addWidget(self.clock)
        row.addStretch(1)
        row.addWidget(_button("Done", "annotateDone", self, self.done))
        layout.addWidget(self.message)
        layout.addLayout(row)
        keys = ([("R", self.open_ranking)] if self.ranks else
                [("P", lambda: self.mark(1)), ("A", lambda: self.mark(-1)), ("N", lambda: self.mark(0)),
                 ("[", self.start_segment), ("]", self.end_segment)])
        for key, slot in (*keys, ("Ctrl+Z", self.undo), ("Space", self.player.toggle_play),
                          ("Left", lambda: self.player.step(-1)), ("Right", lambda: self.player.step(1)),
                          ("Down", lambda: self._move(1)), ("Up", lambda: self._move(-1))):
            QShortcut(QKeySequence(key), self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(1000)
        self._refresh()
        self._tick()
        self.list.setCurrentRow(0)

    @property
    def current(self) -> int:
        """The trajectory shown (the list's current row, in the trip order)."""
        return int(self.order[max(self.list.currentRow(), 0)])

    def show_trajectory(self, t: int) -> None:
        self.list.setCurrentRow(int(self.row_of[t]))

    def trip_name(self, t: int) -> str:
        return f"Trip {int(self.row_of[t]) + 1}"

    def _show(self, row: int) -> None:
        if row >= 0:
            t = int(self.order[row])
            self._clear_selection()
            self.player.load(self.ws, t)
            self._show_marks(t)
            self.watched = [*(w for w in self.watched if w != t), t]
            self.window_.log("trajectory", trajectory=t)

    def _show_marks(self, t: int) -> None:
        """The participant's own marks on trajectory ``t`` under the timeline (a ranking marks no decisions:
        nothing is drawn)."""
        if not self.ranks:
            marks = self.ws.marks(t)
            self.player.set_marks(marks.marks, marks.labelled)

    def _move(self, delta: int) -> None:
        self.list.setCurrentRow(min(max(self.list.currentRow() + delta, 0), self.list.count() - 1))

    def mark(self, value: int) -> None:
        """Mark the trip shown, or the part selected with [ and ] (then the selection is gone)."""
        t0, t1 = self.selection if self.selection is not None else (None, None)
        self._clear_selection()
        try:
            self.window_.session.mark(self.current, value, t0, t1)
            self.message.setText("")
        except UserError as exc:
            self.message.setText(str(exc))
        self._refresh()

    def open_ranking(self) -> None:
        """Rank the last five trips shown (a dialog over the list of trips; the trip selected in it is shown in
        the player), or say what to do when fewer than two were shown."""
        from dpf_gui.app.rank_dialog import RANK_COUNT, RankDialog

        runs = self.watched[-RANK_COUNT:]
        if len(runs) < 2:
            self.message.setText("Watch two or more trips first (Up / Down choose one), then press R to rank them.")
            return
        if self.rank_dialog is not None:
            self.rank_dialog.close()
        texts = [(t, self.trip_name(t) + ("  (ranked before)" if self._states[t] else "")) for t in runs]
        self.rank_dialog = RankDialog(self, texts, self._save_ranking, show=self.show_trajectory,
                                      title="Rank the trips you watched", intro=RANK_INTRO)
        self.rank_dialog.rejected.connect(lambda: self.window_.log("ranking_left"))
        self.rank_dialog.finished.connect(self._ranking_closed)
        self.rank_dialog.resize(max(self.list.width(), 380), self.rank_dialog.height())
        self.rank_dialog.move(self.list.mapToGlobal(self.list.rect().topLeft()))
        self.window_.log("ranking_opened", trajectories=runs)
        self.rank_dialog.show()

    def _ranking_closed(self) -> None:
        """The page has the keys again (R, Up / Down, Space) once the dialog is gone, saved or left."""
        if self.isVisible():
            self.window().activateWindow()
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _save_ranking(self, levels: list[tuple[int, int]]) -> None:
        """Store the ranking through the session (refused past the budget or the time: said in the dialog)."""
        self.window_.session.rank(levels)
        self.message.setText(f"Ranking of {len(levels)} trips saved. Ctrl+Z takes it back.")
        self._refresh()

    def next_suggested(self) -> None:
        """Go to the unlabelled trip most worth marking next: varied trips first, then (once a round of marks is
        in) the trips the intent model trained on the marks so far is least sure about. Usually ranked already
        (:meth:`_prepare_suggestion`; waited for when Enter comes while it ranks), else ranked here: the same
        answer either way."""
        from dpf_gui.selection import suggest

        labels = self.ws.labels()
        key = self._suggestion_inputs(labels)
        if self._next is not None and self._next[0] == key:
            found = self._next[1]
        elif (self._ranking is not None and self._ranking[1] == key and self._ranking[0].wait(30_000)
              and "found" in self._ranking[2]):
            found = self._ranking[2]["found"]  # these marks' ranking was under way: its answer, not a second one
        else:
            found = suggest(self.ws.dataset, labels, self.suggestion_model, count=1, seed=self.suggestion_round)
        if not found:
            self.message.setText("no more suggestions")
            return
        self.window_.log("suggestion", trajectory=int(found[0].index), reason=found[0].reason,
                         model_round=self.suggestion_round)
        self.show_trajectory(int(found[0].index))
        self.message.setText(f"Suggested: {SUGGESTION_WORDS.get(found[0].kind, found[0].reason)}")

    def _suggestion_inputs(self, labels) -> tuple:
        """What the next suggestion depends on: the trips marked, the model and the round that seeds the ranking."""
        return (np.packbits(np.asarray(labels.labelled, dtype=bool)).tobytes(), id(self.suggestion_model),
                self.suggestion_round)

    def _prepare_suggestion(self) -> None:
        """Rank the next suggestion in the background whenever the marks or the model change, so that Enter does
        not wait on the participant's window (a new model's first ranking takes up to half a second on Pong,
        docs/PERFORMANCE.md); one ranking at a time, the latest marks ranked after it."""
        if not self.condition.suggestions or self._stop_training:
            return
        if self._ranking is not None:
            self._rank_again = True
            return
        from dpf_gui.selection import suggest

        try:
            labels = self.ws.labels()
        except UserError:  # the store failed: Enter ranks (and says so) when pressed
            return
        key = self._suggestion_inputs(labels)
        if self._next is not None and self._next[0] == key:
            return
        dataset, model, seed = self.ws.dataset, self.suggestion_model, self.suggestion_round
        self._rank_again = False
        box: dict = {}  # the answer, also for an Enter that waits on this ranking
        worker = _Worker(lambda: box.setdefault("found", suggest(dataset, labels, model, count=1, seed=seed)), self)
        worker.done.connect(self._ranked)
        worker.failed.connect(lambda message: self._ranked(None))  # Enter ranks it then, and says why
        worker.finished.connect(worker.deleteLater)
        self._ranking = (worker, key, box)
        worker.start()

    def _ranked(self, found) -> None:
        _, key, _ = self._ranking
        self._ranking = None
        if found is not None:
            self._next = (key, found)
        if self._rank_again:
            self._prepare_suggestion()

    def _train_if_due(self) -> None:
        """Start training the suggestion model when a new round of marks is complete (one training at a time; a
        round completed meanwhile is trained for when it ends)."""
        from dpf_gui.selection import ROUND_MARKS, suggestion_model

        due = self.marked // ROUND_MARKS
        if not self.condition.suggestions or due <= self.suggestion_round or self._training is not None:
            return
        dataset, labels = self.ws.dataset, self.ws.labels()

        def train():
            return (due, *suggestion_model(dataset, labels, due, should_stop=lambda: self._stop_training))

        self._training = _Worker(train, self)
        self._training.done.connect(self._model_trained)
        self._training.failed.connect(lambda message: self._model_trained((due, None, f"not trained: {message}")))
        self._training.finished.connect(self._training.deleteLater)  # one thread object per round, not kept
        self._training.start()

    def _model_trained(self, result) -> None:
        if self._stop_training:
            return
        due, model, note = result
        self._training = None
        self.window_.log("suggestion_model", model_round=due, note=note)
        if model is not None:
            self.suggestion_model, self.suggestion_round = model, due
        else:  # training refused (e.g. every mark alike): suggest by variety, try again after the next round
            self.suggestion_round = due
        self._train_if_due()
        self._prepare_suggestion()

    def start_segment(self) -> None:
        self._clear_selection()
        self.segment_start = self.player.decision
        self.message.setText(f"a part starts at step {self.segment_start + 1}: press ] where it ends")

    def end_segment(self) -> None:
        if self.segment_start is None:
            self.message.setText("press [ where the part starts first")
            return
        self.selection = tuple(sorted((self.segment_start, self.player.decision)))
        self.segment_start = None
        self.player.set_selection(self.selection)
        self.message.setText(f"part selected (steps {self.selection[0] + 1} to {self.selection[1] + 1}): "
                             "press P, A or N to mark it")

    def _clear_selection(self) -> None:
        self.segment_start = self.selection = None
        self.player.set_selection(None)

    def undo(self) -> None:
        try:
            self.window_.session.undo()
        except UserError as exc:
            self.message.setText(str(exc))
        self._refresh()

    def _refresh(self) -> None:
        states, _ = self.ws.summary()
        for i in [*np.flatnonzero(states != 0).tolist(), self.current]:
            word = STATE_WORDS.get(int(states[i]), "marked" if states[i] else "")
            self.list.item(int(self.row_of[i])).setText(self.trip_name(i) + (f"  ({word})" if word else ""))
        self._states = states
        self.marked = int((states != 0).sum())  # trips marked, against the budget
        self._show_marks(self.current)
        self.count.setText(f"{self.marked} of {self.condition.budget} trips {self._given}")
        self._train_if_due()
        self._prepare_suggestion()

    def _tick(self) -> None:
        left = self.window_.session.time_left(self.window_.step) if self.window_.step is not None else None
        if left is None:
            self.clock.setText("")
            return
        left = max(0.0, left)
        self.clock.setText(f"time left {int(left) // 60}:{int(left) % 60:02d}")
        if left <= 0:
            for b in self.buttons:
                b.setEnabled(False)
            if self.rank_dialog is not None:
                self.rank_dialog.close()
            self.message.setText("The time is up. Press Done.")

    def done(self) -> None:
        """Finish marking; below the budget with time left, only at a second press (a stray click or Enter
        must not end the step with the marks half given: each agent learns from its step's marks alone)."""
        left = self.window_.session.time_left(self.window_.step)
        if self.marked < self.condition.budget and (left is None or left > 0) and self._done_asked != self.marked:
            self._done_asked = self.marked
            verb = "rank" if self.ranks else "mark"
            self.message.setText(f"You have {self._given} {self.marked} of {self.condition.budget} trips. Press Done "
                                 f"again to finish {verb}ing, or {verb} more trips first.")
            return
        self._timer.stop()
        self.player.pause()
        if self.rank_dialog is not None:
            self.rank_dialog.close()
        self.window_.advance(marked=self.marked)

    @property
    def _given(self) -> str:
        return "ranked" if self.ranks else "marked"

    def shutdown(self) -> None:
        self._timer.stop()
        if self.rank_dialog is not None:
            self.rank_dialog.close()
        self._stop_training = True  # a suggestion model still training stops at its next step, unused
        for worker in (self._training, self._ranking[0] if self._ranking is not None else None):
            if worker is not None:
                worker.wait(10_000)
        self.player.shutdown()


class TrainPage(QWidget):
    """Automatic: the intent model learns from the participant's marks, then the page moves on."""

    def __init__(self, window: StudyWindow, phase: str):
        super().__init__(window)
        self.window_ = window
        layout = QVBoxLayout(self)
        layout.addWidget(_text_label(window.study.protocol.texts["train"], "phaseText", self))
        bar = QProgressBar(self)
        bar.setObjectName("trainProgress")
        bar.setRange(0, 0)  # busy
        layout.addWidget(bar)
        self.message = _text_label("", "phaseMessage", self)
        layout.addWidget(self.message)
        layout.addStretch(1)
        name = window.step.condition
        window.run_in_background(lambda: window.session.train(name), lambda _: window.advance())

    def show_failure(self, message: str) -> None:
        self.message.setText("Something went wrong. Please call the experimenter.")


class WatchPage(QWidget):
    """The agent built from the participant's marks plays the watch episodes, one after the other."""

    def __init__(self, window: StudyWindow, phase: str):
        super().__init__(window)
        self.window_ = window
        self.episodes: _Episodes | None = None
        self.index = 0
        self.seen: set[int] = set()
        layout = QVBoxLayout(self)
        layout.addWidget(_text_label(window.study.protocol.texts["watch"], "phaseText", self))
        self.label = QLabel("preparing the agent…", self)
        self.label.setObjectName("episodeLabel")
        layout.addWidget(self.label)
        self.player = _player(self, window.log, marks=False)
        self.player.positionChanged.connect(self._position)
        layout.addWidget(self.player, 1)
        row = QHBoxLayout()
        self.hint = QLabel(self)
        self.hint.setObjectName("watchHint")
        row.addWidget(self.hint)
        row.addStretch(1)
        self.next = _button("Next", "watchNext", self, self._next)
        self.next.setEnabled(False)
        row.addWidget(self.next)
        layout.addLayout(row)
        QShortcut(QKeySequence("Space"), self, self.player.toggle_play,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        session, name = window.session, window.step.condition
        window.run_in_background(lambda: session.watch_dataset(name), self._ready)

    def _ready(self, dataset) -> None:
        study = self.window_.study
        self.episodes = _Episodes(study.protocol.env, study.task.env_config, dataset, dataset.fingerprint())
        self._load(0)

    def _load(self, i: int) -> None:
        self.index = i
        self.label.setText(f"Episode {i + 1} of {len(self.episodes)}")
        self.next.setEnabled(i in self.seen)
        self.hint.setText(self._ended_words(i) if i in self.seen else WATCH_TO_THE_END)
        self.window_.log("episode_start", episode=i, seed=int(self.episodes.dataset.seeds[i]))
        self.player.load(self.episodes, i)
        self.player.play()

    def _position(self, frame: int) -> None:
        if self.episodes is not None and frame >= self.player.last_frame and self.index not in self.seen:
            self.seen.add(self.index)
            self.window_.session.watched(self.index, self.episodes.dataset[self.index])
            self.next.setEnabled(True)
            self.hint.setText(self._ended_words(self.index))

    def _ended_words(self, i: int) -> str:
        """How episode ``i`` ended, in a participant's words: one stopped by the step limit (not ended by the
        environment) says that its time ran out, or it looks like a finish."""
        how = "The episode is over." if self.episodes.dataset.terminated[i] else "The episode's time ran out."
        return f"{how} Press Next to go on."

    def _next(self) -> None:
        if self.index + 1 < len(self.episodes):
            self._load(self.index + 1)
        else:
            self.player.pause()
            self.window_.advance()

    def show_failure(self, message: str) -> None:
        self.label.setText("Something went wrong. Please call the experimenter.")

    def shutdown(self) -> None:
        self.player.shutdown()


class QuestionnairePage(QWidget):
    """The protocol's items (Likert 1-7 with anchors, free text) or the NASA-TLX ratings; each answer logged."""

    def __init__(self, window: StudyWindow, phase: str):
        super().__init__(window)
        self.window_ = window
        session, step = window.session, window.step
        self.texts: dict[str, QPlainTextEdit] = {}
        self.groups: dict[str, QButtonGroup] = {}
        self.sliders: dict[str, RatingSlider] = {}
        self.values: dict[str, QLabel] = {}  # beside each NASA-TLX slider: its answer, or that there is none yet
        self.given = given = session.answers(step)
        self.questions = {item_id: text for item_id, _kind, text, _anchors, _required in session.items(step)}
        layout = QVBoxLayout(self)
        lead = TLX_LEAD if phase == "nasa_tlx" else window.study.protocol.texts["questionnaire"]
        layout.addWidget(_text_label(lead, "phaseText", self))
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        inner = QWidget(scroll)
        grid = QGridLayout(inner)
        row = 0
        for item_id, kind, text, anchors, required in session.items(step):
            grid.addWidget(_text_label(text + ("" if required else "  (optional)"), f"itemText_{item_id}", inner),
                           row, 0, 1, 9)
            row += 1
            if kind == "likert":
                group = QButtonGroup(inner)
                grid.addWidget(_text_label(anchors[0], f"anchorLow_{item_id}", inner), row, 0)
                for v in range(1, 8):
                    b = QRadioButton(str(v), inner)
                    b.setObjectName(f"item_{item_id}_{v}")
                    group.addButton(b, v)
                    grid.addWidget(b, row, v)
                    if given.get(item_id) == v:
                        b.setChecked(True)
                grid.addWidget(_text_label(anchors[1], f"anchorHigh_{item_id}", inner), row, 8)
                group.idClicked.connect(lambda v, i=item_id: self._answer(i, int(v)))
                self.groups[item_id] = group
            elif kind == "tlx":
                grid.addWidget(_text_label(anchors[0], f"anchorLow_{item_id}", inner), row, 0)
                slider = RatingSlider(given.get(item_id), inner)
                slider.setObjectName(f"item_{item_id}")
                value = QLabel(str(given[item_id]) if item_id in given else NOT_ANSWERED, inner)
                value.setObjectName(f"value_{item_id}")
                value.setEnabled(item_id in given)  # greyed until answered
                value.setMinimumWidth(value.fontMetrics().horizontalAdvance(NOT_ANSWERED))
                slider.rated.connect(lambda v, i=item_id: self._rate(i, v))
                grid.addWidget(slider, row, 1, 1, 7)
                grid.addWidget(_text_label(anchors[1], f"anchorHigh_{item_id}", inner), row, 8)
                grid.addWidget(value, row, 9)
                self.sliders[item_id], self.values[item_id] = slider, value
            else:
                edit = QPlainTextEdit(inner)
                edit.setObjectName(f"item_{item_id}")
                edit.setPlainText(str(given.get(item_id, "")))
                edit.setMaximumHeight(90)
                grid.addWidget(edit, row, 0, 1, 9)
                self.texts[item_id] = edit
            row += 1
        grid.setRowStretch(row, 1)  # the items at the top, the space below
        # Qt decides the scroll bars from the size the area has when its items arrive, and takes them away only at
        # the event loop's next turn: at a new widget's 100 x 30 pixels both were shown, and the page opened with
        # them although its items fit (a grab, or anything else that looked before that turn, saw both). The
        # window's size is the most the area gets; then it gets its real size, and the bar it needs there follows.
        scroll.resize(window.size())
        scroll.setWidget(inner)
        layout.addWidget(scroll, 1)
        self.message = _text_label("", "phaseMessage", self)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(_button("Continue", "questionnaireDone", self, self.done))
        layout.addLayout(buttons)

    def _answer(self, item_id: str, value) -> None:
        try:
            self.window_.session.answer(item_id, value)
            self.given[item_id] = value
        except UserError as exc:
            self.message.setText(str(exc))
            return
        if self.message.text():  # a refusal shown: it names only what is still open
            self.message.setText(self._still_open())

    def _still_open(self) -> str:
        missing = self.window_.session.missing_answers(self.window_.step)
        return ("Please answer every question before you continue. Not answered yet: "
                + " · ".join(f"\u201c{self.questions[i]}\u201d" for i in missing)) if missing else ""

    def _rate(self, item_id: str, value: int) -> None:
        """A NASA-TLX rating: shown beside its scale; logged once per value (a click where the handle already is
        repeats it)."""
        if self.given.get(item_id) != value:
            self._answer(item_id, value)
        self.values[item_id].setText(str(value))
        self.values[item_id].setEnabled(True)

    def done(self) -> None:
        given = self.window_.session.answers(self.window_.step)
        for item_id, edit in self.texts.items():
            text = edit.toPlainText().strip()
            if text and text != given.get(item_id):
                self._answer(item_id, text)
        try:
            self.window_.advance()
        except UserError as exc:
            self.message.setText(self._still_open() or str(exc))


class OperatorWindow(QMainWindow):
    """The operator's screen: participants so far, add one (a pseudonymous id), start or resume a session."""

    def __init__(self, study_dir: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        from dpf_gui.studies.folder import ID_RULE, Study

        self.setObjectName("operatorWindow")
        self.study_dir = Path(study_dir)
        self.study = Study(study_dir)
        self.setWindowTitle(f"Study: {self.study.protocol.title}")
        self.participant_window: StudyWindow | None = None
        central = QWidget(self)
        layout = QVBoxLayout(central)
        protocol = self.study.protocol
        title = QLabel(f"<b>{html.escape(protocol.title)}</b> &nbsp;·&nbsp; {html.escape(protocol.env)} &nbsp;·&nbsp; "
                       f"conditions {html.escape(', '.join(c.name for c in protocol.conditions))} &nbsp;·&nbsp; "
                       f"order {html.escape(str(protocol.order))}", central)
        title.setObjectName("studyTitle")
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setWordWrap(True)  # the window's width: a short line of its own, not the participant texts' column
        layout.addWidget(title)
        self.list = QListWidget(central)
        self.list.setObjectName("participantList")
        self.list.setStyleSheet(FOCUS_FRAME)  # framed while Up / Down move in it (the style's frame looks the same)
        layout.addWidget(self.list, 1)
        self.empty_hint = QLabel("No participants yet: type an id below and press Add.", central)
        self.empty_hint.setObjectName("participantHint")
        layout.addWidget(self.empty_hint)
        row = QHBoxLayout()
        self.new_id = QLineEdit(central)
        self.new_id.setObjectName("newParticipant")
        self.new_id.setPlaceholderText(f"new participant id: {ID_RULE}")
        row.addWidget(self.new_id, 1)
        self.new_id.returnPressed.connect(self.add)  # Enter adds, as the Add beside it
        row.addWidget(_button("Add", "addParticipant", central, self.add))
        self.start_button = _button("Start / resume", "startSession", central, self.start)
        self.withdraw_button = _button("Withdraw…", "withdrawParticipant", central, self.withdraw)
        for b in (self.start_button, self.withdraw_button):
            b.setToolTip("choose a participant in the list first")
            row.addWidget(b)
        layout.addLayout(row)
        self.list.currentItemChanged.connect(lambda *_: self._chosen())
        self._withdrawing: str | None = None  # armed by a first click: the second deletes
        self.message = _text_label(f"The participant's screen is left with {OPERATOR_EXIT}.", "operatorMessage",
                                   central)
        layout.addWidget(self.message)
        self.setCentralWidget(central)
        for b in central.findChildren(QPushButton):
            b.setAutoDefault(True)  # Enter presses the button Tab reached, as Space does
        self.refresh()

    def _chosen(self) -> None:
        """Start / resume and Withdraw act on the participant chosen: enabled only while one is."""
        chosen = self.list.currentItem() is not None
        for b in (self.start_button, self.withdraw_button):
            b.setEnabled(chosen)

    def refresh(self) -> None:
        """The participants and their status again; the one chosen stays chosen (the operator's next action is
        usually about them: resume, withdraw)."""
        from dpf_gui.studies.export import collect

        chosen = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        rows = collect(self.study)["tables"]["participants.csv"][1]
        self.statuses = {r["participant"]: r["status"] for r in rows}
        self.list.clear()
        for r in rows:
            item = QListWidgetItem(f"{r['number']:>3}  {r['participant']}  {'(simulated) ' if r['simulated'] else ''}"
                                   f"order {r['order'].replace(';', ', ')}  ·  {r['status']}")
            item.setData(Qt.ItemDataRole.UserRole, r["participant"])
            self.list.addItem(item)
            if r["participant"] == chosen:
                self.list.setCurrentItem(item)
        self.empty_hint.setVisible(not rows)
        self._chosen()

    def _screen_closed(self, pid: str) -> None:
        """A participant's screen was left: the list shows where they are now, and the line says so (it kept
        the message from before the session)."""
        self.refresh()
        status = self.statuses.get(pid, "")
        self.message.setText(f"{pid}'s screen was closed" + (f" ({status})" if status else "")
                             + "; Start / resume goes on where they stopped")

    def add(self) -> None:
        try:
            p = self.study.add_participant(self.new_id.text().strip())
        except UserError as exc:
            self.message.setText(str(exc))
            return
        self.new_id.clear()
        self.message.setText(f"added {p['id']}: number {p['number']}, order {', '.join(p['order'])}")
        self.refresh()
        self.list.setCurrentRow(self.list.count() - 1)

    def withdraw(self) -> None:
        """Withdraw the chosen participant: a first click says what will happen, a second one (same participant)
        deletes their data; the study log keeps the withdrawal."""
        item = self.list.currentItem()
        if item is None:
            self.message.setText("choose a participant first")
            return
        pid = item.data(Qt.ItemDataRole.UserRole)
        if self._withdrawing != pid:
            self._withdrawing = pid
            self.message.setText(f"Withdraw {pid}? Every mark, answer and event of theirs will be deleted. "
                                 "Press Withdraw again to confirm.")
            return
        self._withdrawing = None
        try:
            self.study.withdraw(pid, reason="operator screen")
        except (UserError, OSError) as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"withdrew {pid}: their data was deleted")
        self.refresh()

    def start(self) -> StudyWindow | None:
        item = self.list.currentItem()
        if item is None:
            self.message.setText("choose a participant first")
            return None
        try:
            pid = item.data(Qt.ItemDataRole.UserRole)
            window = StudyWindow(self.study_dir, pid)
        except UserError as exc:
            self.message.setText(str(exc))
            return None
        window.closedByOperator.connect(lambda: self._screen_closed(pid))
        self.participant_window = window
        if QApplication.platformName() == "offscreen":
            window.show()
        else:
            window.showFullScreen()
        return window


__all__ = ["OPERATOR_EXIT", "OperatorWindow", "StudyWindow"]

"""``dpf-gui --lesson [ENV]``: the guided lesson's panel over the app's own tabs.

A thin view: the steps, their texts and what each sets up are data in
:mod:`dpf_gui.lesson`; :class:`LessonPanel` shows the step's text above the
tabs and applies the step to the window's real views (the tab, Play's or
Compare's strategies, the fusion parameters, an episode started on the
lesson's seed), with Back / Replay step / Next (Alt+Left, F5, Alt+Right) and
the step's own button (the simulated user's marks, training, the last step's
experiments). Everything else on screen is the app as a person uses it: a
teacher runs the lesson live, students click through it.

The lesson labels into a throw-away study folder (as the demo does), so it
starts from no marks and never touches the person's own labels; it trains
the demo's small intent model (:func:`dpf_gui.app.launch.train_small`).
"""

from __future__ import annotations

import html
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from dpf_gui import lesson as plan
from dpf_gui.app.launch import (
    quit_later,
    scratch_window,
    show_small_config,
    train_small,
)
from dpf_gui.app.shortcuts import LESSON_SHORTCUTS, install
from dpf_gui.session.training import small_config


class LessonPanel(QFrame):
    """The lesson's text and buttons above the tabs of ``window`` (a :class:`~dpf_gui.app.window.MainWindow`)."""

    def __init__(self, window, env: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("lessonPanel")
        self.window_ = window
        self.lesson = plan.Lesson(env)
        self._unsubscribe = None  # from the open workspace's changes (a new intent model changes what Next needs)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        pal = self.palette()  # a tooltip's colours (the palette's own), so the lesson reads apart from the app
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.ToolTipBase))
        pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.ToolTipText))
        self.setPalette(pal)
        self.setAutoFillBackground(True)

        self.counter = QLabel()
        self.counter.setObjectName("lessonStepLabel")
        self.title = QLabel()
        self.title.setObjectName("lessonTitle")
        self.text = QLabel()
        self.text.setObjectName("lessonText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.note = ""  # what just happened, or what Next waits for: shown in the place of the step's hint
        keys = {s.action: " / ".join(s.keys) for s in LESSON_SHORTCUTS}
        self._action_key = next(s.keys[0] for s in LESSON_SHORTCUTS if s.action == "run_action")

        def button(name: str, text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text)
            b.setObjectName(name)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and the arrows stay the views' keys
            b.clicked.connect(lambda: slot())
            return b

        self.back_button = button("lessonBackButton", "Back", f"the previous step ({keys['previous_step']})",
                                  self.previous_step)
        self.replay_button = button("lessonReplayButton", "Replay step",
                                    f"set this step up again, its episode from the start ({keys['replay_step']})",
                                    self.replay_step)
        self._next_tip = f"the next step ({keys['next_step']})"
        self.next_button = button("lessonNextButton", "Next", self._next_tip, self.next_step)
        self.action_button = button("lessonActionButton", "", "", self.run_action)

        top = QHBoxLayout()  # the buttons beside the title, so that the text has the whole width
        top.addWidget(self.counter)
        top.addWidget(self.title, 1)
        for b in (self.action_button, self.back_button, self.replay_button, self.next_button):
            top.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.text)
        self.shortcuts = install(self, LESSON_SHORTCUTS)

        w = window
        w.annotate.labelsChanged.connect(self.refresh)
        w.annotate.suggestions.changed.connect(self.refresh)
        w.train.trainingFinished.connect(self._trained)
        w.workspaceChanged.connect(self._follow)
        self._follow(w.workspace)

    def _follow(self, ws) -> None:
        """Refresh now and whenever ``ws`` (what the window has open) changes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = ws.on_change(lambda _change: self.refresh()) if ws is not None else None
        self.refresh()

    # --- navigation ----------------------------------------------------------------------------------
    @property
    def index(self) -> int:
        return self.lesson.index

    def next_step(self) -> None:
        """The next step, once what this one needs is there (else the note says what is missing)."""
        why = self._blocker()
        if why:
            self._say(why)
        elif not self.lesson.at_end():
            self.show_step(self.index + 1)

    def previous_step(self) -> None:
        if not self.lesson.at_start():
            self.show_step(self.index - 1)

    def replay_step(self) -> None:
        self.show_step(self.index, replay=True)

    def show_step(self, index: int, replay: bool = False) -> None:
        """Enter step ``index`` (or set the current one up again): its text, its tab, what it plays."""
        step = self.lesson.go(index)
        self._say("")
        self._pause_all()
        view = self._view(step.tab)
        self.window_.tabs.setCurrentWidget(view)
        if step.key == "mark":
            self._show_marking()
        elif step.key == "train":
            if not self.window_.train.is_training():
                show_small_config(self.window_.train)
        elif step.plays:
            self._play(view, step, replay)
        self.refresh()

    def refresh(self) -> None:
        """Texts and buttons for the step shown and what the app holds now."""
        step = self.lesson.step
        self.counter.setText(self.lesson.counter() + " ·")
        self.title.setText(f"<b>{html.escape(step.title)}</b>")
        self._show_text()
        self.back_button.setEnabled(not self.lesson.at_start())
        why = self._blocker()
        self.next_button.setEnabled(not self.lesson.at_end() and not why)
        self.next_button.setToolTip(why or ("the last step" if self.lesson.at_end() else self._next_tip))
        label = self.lesson.action_label(self._defaults())
        self.action_button.setVisible(bool(label))
        self.action_button.setText(label)
        self.action_button.setEnabled(self._action_possible(step))
        ranking = step.key == "mark" and not self._suggestions_ready()
        self.action_button.setToolTip(plan.NOTES["ranking"] if ranking else f"{step.action_tip} ({self._action_key})")

    # --- the step's button -------------------------------------------------------------------------------
    def run_action(self) -> None:
        step = self.lesson.step
        w = self.window_
        if not self._action_possible(step):
            return
        if step.key == "mark":
            n = w.annotate.label_suggested(w.workspace.wish(plan.PRESET), plan.SIMULATED_MARKS, plan.LABEL_SEED)
            self._say(plan.NOTES["marked"].format(n=n) if n else plan.NOTES["nothing to mark"])
        elif step.key == "train":
            self._say(plan.NOTES["training"] if train_small(w.train) else
                      plan.NOTES["training failed"].format(message=w.train.last_error or "it could not start"))
        elif step.key == "why":
            defaults = self._defaults()
            attempt = self.lesson.next_try(defaults)
            w.play.set_params(attempt.params(defaults))
            self._start(w.play)
            self._say(attempt.see)
        self.refresh()

    def _say(self, note: str) -> None:
        """After the step's text, in the place of its hint: what just happened, or what Next waits for."""
        self.note = note
        self._show_text()

    def _show_text(self) -> None:
        step = self.lesson.step
        tail = f"<i>{html.escape(self.note)}</i>" if self.note else html.escape(step.hint)
        self.text.setText(html.escape(step.text) + (" " + tail if tail else ""))

    def _action_possible(self, step) -> bool:
        w = self.window_
        if w.workspace is None:
            return False
        if step.key == "mark":
            return self._suggestions_ready()
        if step.key == "train":
            return not w.train.is_training()
        if step.key == "why":
            return w.play.runner is not None and w.play.runner.intent is not None
        return False

    def _trained(self, ok: bool, message: str) -> None:
        if self.lesson.step.key == "train":
            self._say(plan.NOTES["trained"] if ok else plan.NOTES["training failed"].format(message=message))
        self.refresh()

    # --- setting the views up ---------------------------------------------------------------------------
    def _view(self, tab: str) -> QWidget:
        return getattr(self.window_, tab.lower())

    def _pause_all(self) -> None:
        w = self.window_
        w.play.pause()
        w.compare.pause()
        w.annotate.player.pause()

    def _show_marking(self) -> None:
        """Annotate with the lesson's wish shown, on the best suggestion still unlabelled, playing it."""
        a, ws = self.window_.annotate, self.window_.workspace
        if ws is None:
            return
        a.set_overlay_wish(ws.wish(plan.PRESET), plan.PRESET)
        if a.suggestions.ready:
            pick = a.suggestions.next(a.model.states, None)
            if pick is not None and pick.index != a.current:
                a.go_to(pick.index)
        a.player.seek(0)  # (a replay: the same trajectory from its start)
        a.player.play()

    def _play(self, view, step, replay: bool) -> None:
        """Play (one strategy) or Compare (two) on the lesson's seed, from the agent's default parameters (the
        last step's replay keeps what the person set)."""
        w = self.window_
        view.sync()
        if w.workspace is None or w.workspace.task is None:
            return
        if view is w.compare:
            view.set_strategies(*step.strategies)
        else:
            view.set_strategy(step.strategies[0])
            if view.runner is not None and view.runner.strategy != step.strategies[0]:
                self._say(plan.NOTES["needs intent"].format(strategy=step.strategies[0]))
        if not (replay and step.tune):
            view.params_panel.reset()
        if w.presenting:  # large text at 1024x768 leaves no room for them under the lesson; Parameters shows them
            view.params_toggle.setChecked(False)
        self._start(view)

    def _start(self, view) -> None:
        """The step's episode from its start, played once: the text is about this episode, so "loop" (on by
        default) is turned off, lest the next seed replace it (the person may turn it on again)."""
        view.loop_check.setChecked(False)
        view.set_speed(plan.SPEED.get(self.lesson.env, 10))
        view.restart(plan.SEED)
        view.play()

    # --- what the app holds ------------------------------------------------------------------------------
    def _blocker(self) -> str:
        w = self.window_
        ws = w.workspace
        if ws is None:
            return "Nothing is open."
        labelled = int((ws.summary()[0] != 0).sum())
        return plan.blocker(self.lesson.step, labelled, ws.intent is not None, w.train.is_training(),
                            small_config().min_labelled)

    def _suggestions_ready(self) -> bool:
        return bool(self.window_.annotate.suggestions.ready)

    def _defaults(self):
        """The task agent's stored fusion parameters (what Reset goes back to), or None without an agent."""
        ws = self.window_.workspace
        if ws is None or ws.task is None:
            return None
        from dpf_gui.pipeline import fusion_params

        return fusion_params(ws.task)


def add_lesson(window, env: str) -> LessonPanel:
    """Put the lesson's panel above ``window``'s tabs (the tabs stay the app's own; the environment chooser is
    hidden: the lesson keeps to one environment) and show its first step once the event loop runs."""
    panel = LessonPanel(window, env)
    window.calibrate_new_intents = False  # each step plays from the parameters it sets (the agent's, or a try)
    chooser = window.findChild(QToolBar, "envToolBar")
    if chooser is not None:  # the lesson keeps to its environment; its room goes to the text
        chooser.hide()
    tabs = window.takeCentralWidget()
    area = QWidget()
    area.setObjectName("lessonArea")
    lay = QVBoxLayout(area)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    lay.addWidget(panel)
    lay.addWidget(tabs, 1)
    window.setCentralWidget(area)
    QTimer.singleShot(0, lambda: panel.show_step(0))
    return panel


def run_lesson(app, args) -> int:
    """``dpf-gui --lesson ENV``: the lesson in a window labelling into a throw-away study folder; the exit code."""
    env = args.lesson
    try:
        study = Path(tempfile.mkdtemp(prefix="dpf-gui-lesson-"))
    except OSError as exc:
        print(f"dpf-gui: error: the lesson cannot make its scratch folder ({exc.strerror or exc}); set TMPDIR to a "
              "folder you can write in", file=sys.stderr, flush=True)
        return 2
    with scratch_window(study, args, env, quiet_errors=False) as window:
        ws = window.workspace
        if ws is None or ws.env_name != env or ws.task is None:
            why = window.last_error if ws is None or ws.env_name != env else "no task agent to play: pass --task DIR"
            print(f"dpf-gui: error: the lesson cannot open {env}: {why}", file=sys.stderr, flush=True)
            return 2  # what was given cannot be opened: a user's mistake, as the options' errors
        add_lesson(window, env)
        if args.quit_after is not None:
            quit_later(app, window, args.quit_after, args.screenshot)
        return app.exec()


__all__ = ["LessonPanel", "add_lesson", "run_lesson"]

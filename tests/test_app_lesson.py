"""``dpf-gui --lesson``: the guided lesson runs through its six steps in the real window, each step setting up
its view (tab, strategy, parameters, episode), and back, and a step replayed; its arguments are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from dpf_gui import lesson as plan
from dpf_gui.app.lesson import LessonPanel, add_lesson
from dpf_gui.app.main import parse_args
from dpf_gui.pipeline import fusion_params
from dpf_gui.session import training
from tests.qt_helpers import WAIT_MS, open_window

#: the lesson trains the demo's small model; tinier still here, where only the steps are checked (not its fit)
TINY = {"members": 2, "hidden": 8, "utility_steps": 20, "value_steps": 30}


@pytest.fixture()
def lesson_window(qtbot, tmp_path, messages, monkeypatch):
    monkeypatch.setattr(training, "DEMO_TRAINING", TINY)
    window = open_window(qtbot, tmp_path, env="gridnav")
    panel = add_lesson(window, "gridnav")
    qtbot.waitUntil(lambda: panel.counter.text().startswith("Step 1 of 6"), timeout=WAIT_MS)
    return window, panel


def _key(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, modifier)


def test_the_lesson_runs_through_every_step_and_back(qtbot, lesson_window):
    window, panel = lesson_window
    play, compare, annotate, train = window.play, window.compare, window.annotate, window.train
    ws = window.workspace
    defaults = fusion_params(ws.task)
    assert window.findChild(LessonPanel, "lessonPanel") is panel

    # 1: the task agent alone, playing in Play on the lesson's seed
    assert window.tabs.currentWidget() is play and play.runner.strategy == "task" and play.is_playing()
    assert play.seed_spin.value() == plan.SEED and not panel.back_button.isEnabled()
    # the text is about this episode: it stays on screen when it ends ("loop" would go on to the next seed)
    play.set_speed(0)
    qtbot.waitUntil(lambda: not play.is_playing(), timeout=WAIT_MS)
    assert play.snapshot().done and play.seed_spin.value() == plan.SEED and not play.loop_check.isChecked()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # 2: Annotate, the lesson's wish shown; Next waits for marks, the simulated user gives 20
    assert panel.index == 1 and window.tabs.currentWidget() is annotate and not play.is_playing()
    assert annotate.overlay_wish() == ws.wish(plan.PRESET)
    assert not panel.next_button.isEnabled()
    _key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # the key cannot skip it either ...
    assert panel.index == 1 and "at least 4" in panel.note  # ... and says why
    qtbot.waitUntil(lambda: panel.action_button.isEnabled(), timeout=WAIT_MS)  # the suggestions are ranked
    assert panel.action_button.text() == f"Simulated user: mark {plan.SIMULATED_MARKS}"
    qtbot.mouseClick(panel.action_button, Qt.MouseButton.LeftButton)
    states, _ = ws.summary()
    assert int((states != 0).sum()) == plan.SIMULATED_MARKS and panel.next_button.isEnabled()
    _key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)

    # 3: Train, the form showing the demo's small settings; Next waits for the model
    assert panel.index == 2 and window.tabs.currentWidget() is train
    assert train.members_spin.value() == TINY["members"] and train.kind() == "additive"
    assert ws.intent is None and not panel.next_button.isEnabled()
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(panel.action_button, Qt.MouseButton.LeftButton)
    assert done.args[0], done.args
    assert ws.intent is not None and ws.intent.kind == "additive" and panel.next_button.isEnabled()
    # where the note says the fit is: the table on the left, the plot on the right
    assert "held-out fit (left) and the plot (right)" in panel.text.text()
    assert train.fit_table.mapTo(window, QPoint(0, 0)).x() < train.fit_plot.mapTo(window, QPoint(0, 0)).x()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # 4: static fusion in Play, from the agent's defaults, playing
    assert panel.index == 3 and window.tabs.currentWidget() is play
    assert play.runner.strategy == "static" and play.runner.intent is ws.intent.model
    assert play.params() == defaults and play.is_playing()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # 5: Compare, static against dynamic on the same seed
    assert panel.index == 4 and window.tabs.currentWidget() is compare and not play.is_playing()
    assert (compare.runners["left"].strategy, compare.runners["right"].strategy) == ("static", "dynamic")
    assert compare.seed_spin.value() == plan.SEED and compare.is_playing() and not compare.loop_check.isChecked()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # 6: dynamic fusion in Play; the button tries c = 0, then c = 6, replaying the episode each time
    assert panel.index == 5 and window.tabs.currentWidget() is play and play.runner.strategy == "dynamic"
    assert not panel.next_button.isEnabled() and panel.action_button.text() == "Try c = 0"
    qtbot.mouseClick(panel.action_button, Qt.MouseButton.LeftButton)
    assert play.params().c == 0.0 and "c = 0" in panel.note and panel.action_button.text() == "Try c = 6"
    qtbot.mouseClick(panel.action_button, Qt.MouseButton.LeftButton)
    assert play.params().c == 6.0 and play.runner.params.c == 6.0
    play.pause()
    play.run_decisions(3)
    _key(window, Qt.Key.Key_F5)  # replaying the last step keeps what was tried: the episode from its start
    assert panel.index == 5 and play.params().c == 6.0 and play.snapshot().t == 0 and play.is_playing()

    # back: 5 then 4, where the parameters are the defaults again and the strategy static
    _key(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert panel.index == 4 and window.tabs.currentWidget() is compare
    qtbot.mouseClick(panel.back_button, Qt.MouseButton.LeftButton)
    assert panel.index == 3 and play.runner.strategy == "static" and play.params() == defaults
    play.pause()
    assert play.run_decisions(4) == 4 and play.snapshot().t == 4
    qtbot.mouseClick(panel.replay_button, Qt.MouseButton.LeftButton)  # replay: the episode on its seed, again
    assert play.snapshot().t == 0 and play.seed_spin.value() == plan.SEED and play.is_playing()
    assert panel.counter.text().startswith("Step 4 of 6") and "Static fusion" in panel.title.text()
    # back to the marks: Annotate again, the marks kept
    panel.show_step(1)
    assert window.tabs.currentWidget() is annotate and int((ws.summary()[0] != 0).sum()) == plan.SIMULATED_MARKS


def test_the_lesson_panel_names_are_unique(lesson_window):
    from collections import Counter

    from PySide6.QtWidgets import QWidget

    window, _ = lesson_window
    names = Counter(w.objectName() for w in window.findChildren(QWidget)
                    if w.objectName() and not w.objectName().startswith("qt_"))
    assert [n for n, k in names.items() if k > 1] == []
    lesson_names = [n for n in names if n.startswith("lesson")]
    assert sorted(lesson_names) == sorted(["lessonPanel", "lessonArea", "lessonStepLabel", "lessonTitle", "lessonText",
                                           "lessonBackButton", "lessonReplayButton", "lessonNextButton",
                                           "lessonActionButton"])
    gui_md = (Path(__file__).resolve().parents[1] / "docs" / "GUI.md").read_text()
    assert [n for n in lesson_names if f"`{n}`" not in gui_md] == []  # every one documented for scripting


def test_lesson_arguments_are_checked(capsys, tmp_path):
    intent = tmp_path / "intent"  # what --task reads first: the sidecar
    intent.mkdir()
    (intent / "model.json").write_text('{"kind": "intent", "env": "gridnav"}')
    assert parse_args(["--lesson"]).lesson == "gridnav"
    assert parse_args(["--lesson", "pong"]).lesson == "pong"
    assert parse_args(["--env", "highway", "--lesson"]).lesson == "highway"
    assert parse_args(["--lesson", "--present"]).present
    for argv, says in ((["--lesson", "chess"], "unknown environment 'chess' for the lesson; allowed: gridnav, "
                                                "highway, pong"),
                       (["--lesson", "--demo", "gridnav"], "not with --demo"),
                       (["--lesson", "pong", "--env", "gridnav"], "--env and --lesson name different environments"),
                       # the UX review (s55): these two exited 1 once the window had tried
                       (["--lesson", "pong", "--task", "gridnav"], "--task gridnav: a task agent trained for "
                                                                   "'gridnav', not 'pong'"),
                       (["--demo", "gridnav", "--task", str(intent)], "an intent model, not a task agent")):
        with pytest.raises(SystemExit) as exc:
            parse_args(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and says in err and err.count("\n") == 1, err

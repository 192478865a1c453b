"""The whole app, as a person uses it: label, restart, train, watch the timeline, play, compare, record.

The details of each view are tested beside it (test_app_annotate.py,
test_app_play.py); here the views are driven together through the main
window, so what one tab makes (labels, an intent model) is what the next one
uses.
"""

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from dpf_gui.app.calibrating import AUTO_LEAD, CALIBRATING_IN_PLAY
from dpf_gui.intent.redistribute import redistributed_rewards
from dpf_gui.pipeline import fusion_params
from tests.helpers import HANG_S
from tests.qt_helpers import WAIT_MS, open_window


def press(qtbot, window, *keys):
    for k in keys:
        qtbot.keyClick(window, k)


def child(window, cls, name):
    w = window.findChild(cls, name)
    assert w is not None, name
    return w


def test_label_train_play_compare_record(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path)
    chooser = window.env_combo
    chooser.setCurrentIndex(chooser.findData("gridnav"))
    ws = window.workspace
    assert ws.env_name == "gridnav" and ws.intent is None

    # --- ten marks from the keyboard, kept across a restart ---------------------------------
    # (Shift+Enter: the next unlabelled in list order; these arbitrary marks must not land on the suggested
    # outliers, or the simulated user's wish below would be drowned; Enter is tested in test_app_suggestions.py)
    for k in [Qt.Key.Key_P, Qt.Key.Key_A, Qt.Key.Key_N, Qt.Key.Key_A, Qt.Key.Key_P] * 2:
        press(qtbot, window, k)
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert ws.labels().count == 10
    window.close()
    window = open_window(qtbot, tmp_path)
    ws = window.workspace
    assert ws.env_name == "gridnav" and ws.labels().count == 10 and ws.labels().meta["source"] == "person"

    # --- the rest from a simulated user who avoids the toll road ----------------------------------
    view = window.annotate
    qtbot.mouseClick(child(window, QWidget, "simulatedUserButton"), Qt.MouseButton.LeftButton)
    dialog = view.sim_dialog
    dialog.preset.setCurrentIndex(dialog.preset.findData("avoid"))
    assert dialog.only_unlabelled.isChecked()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    labels = ws.labels()
    assert labels.count == len(ws) and labels.meta["source"] == "person+simulated-user"
    window.activateWindow()  # the offscreen platform leaves the closed dialog active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)

    # --- Train tab, the paper's LSTM: Cancel stops a long run and leaves nothing behind ------------------
    window.tabs.setCurrentWidget(window.train)
    train = window.train
    assert train is child(window, QWidget, "trainView")
    kinds = child(window, QWidget, "intentKindCombo")
    assert kinds.currentData() == "additive"  # the default
    assert child(window, QWidget, "membersSpin").isVisible() and not child(window, QWidget, "epochsSpin").isVisible()
    time_cost = child(window, QWidget, "timeCostSpin")  # off by default; the form's value reaches the config
    assert time_cost.isVisible() and train.config().time_cost == 0 and time_cost.text() == "off"
    time_cost.setValue(0.5)
    assert train.config().time_cost == 0.5
    time_cost.setValue(0)
    kinds.setCurrentIndex(kinds.findData("lstm"))
    assert child(window, QWidget, "epochsSpin").isVisible() and not child(window, QWidget, "membersSpin").isVisible()
    assert train.loss_plot.isVisible()
    assert f"<b>{len(ws)}</b> of {len(ws)} trajectories labelled (10 by you" in train.labels_label.text()
    child(window, QWidget, "epochsSpin").setValue(500)
    child(window, QWidget, "timeLimitSpin").setValue(0)  # no limit
    qtbot.mouseClick(child(window, QWidget, "trainButton"), Qt.MouseButton.LeftButton)
    assert train.is_training() and not train.train_button.isEnabled()
    qtbot.waitUntil(lambda: train.loss_plot.count() >= 1, timeout=WAIT_MS)
    partial = train._out_dir
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(child(window, QWidget, "cancelTrainButton"), Qt.MouseButton.LeftButton)
    assert done.args == [False, "cancelled"]
    assert ws.intent is None and not partial.exists() and train.train_button.isEnabled()

    # --- a small model, for real -------------------------------------------------------------------
    child(window, QWidget, "epochsSpin").setValue(10)
    child(window, QWidget, "hiddenSpin").setValue(32)
    child(window, QWidget, "subsampleSpin").setValue(0)  # all
    child(window, QWidget, "timeLimitSpin").setValue(20)
    t0 = time.perf_counter()
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(child(window, QWidget, "trainButton"), Qt.MouseButton.LeftButton)
    print(f"\nTrain tab, gridnav, {len(ws)} labels, 10 epochs, hidden 32: {time.perf_counter() - t0:.1f} s, "
          f"held-out correlation {train.result.metrics['held_out']['corr']:.2f}")
    assert done.args == [True, ""], done.args
    res = train.result
    assert ws.intent.model is res.model and ws.intent.sidecar == res.sidecar
    assert ws.intent.directory.parent == tmp_path / "intent" and (ws.intent.directory / "model.json").is_file()
    assert child(window, QWidget, "trainProgress").value() == res.epochs
    assert train.loss_plot.count() == res.epochs
    x, y = train.loss_plot.curves["held-out"].getData()
    assert len(x) == res.epochs and np.isfinite(y).all()
    fit = res.metrics["held_out"]
    assert "correlation" in child(window, QWidget, "fitLabel").text()
    assert train.fit_table.item(0, 0).text() == str(fit["n"])
    assert fit["corr"] is not None and fit["corr"] > 0.5
    assert res.sidecar["labels"]["wish"] == {"prefer": [], "avoid": ["terrain=toll"]}  # the simulated user's wish

    # --- the Annotate timeline shows the redistributed reward of the trajectory shown -----------------
    window.tabs.setCurrentWidget(view)
    i = view.current
    shown = view.player.timeline.step_values
    assert shown is not None and len(shown) == ws.length(i)
    t = ws.dataset[i]
    r = redistributed_rewards(ws.intent.model, t.features, t.actions)
    np.testing.assert_allclose(shown[1:], r[1:])  # the first bar leaves out the model's baseline
    baseline = float(ws.intent.model.offset.detach()) * float(ws.intent.model.score_scale)  # the average training score
    assert abs(baseline) > 0.1
    np.testing.assert_allclose(shown[0], r[0] - baseline, rtol=1e-5, atol=1e-6)
    press(qtbot, window, Qt.Key.Key_PageDown)
    assert view.current != i and len(view.player.timeline.step_values) == ws.length(view.current)

    # --- Play: dynamic fusion with the new model, plots fed ---------------------------------------------
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    assert play is child(window, QWidget, "playView")
    assert play.runner is not None and play.runner.intent is ws.intent.model
    assert play.strategy_combo.currentText() == "dynamic"
    assert play.wish is not None and [e.text for e in play.wish.avoid] == ["terrain=toll"]
    # a new intent model on gridnav: Play calibrates its strength at once (about a second), from the stored defaults
    assert play.is_calibrating() and play.params() == fusion_params(ws.task)
    qtbot.waitUntil(lambda: not play.is_calibrating(), timeout=WAIT_MS)
    assert play.status_label.text().startswith(f"{AUTO_LEAD}: ")
    assert play.calibrated_from.before == fusion_params(ws.task)
    assert play.params() == play.calibrated_from.after == play.runner.params
    with qtbot.waitSignal(play.episodeFinished, timeout=WAIT_MS):
        play.run_decisions(200)
    for p in (play.weight_plot, play.temp_plot, play.collected_plot):
        assert p.count() > 0
    # a slider acts on the next decision
    play.restart(1)
    play.params_panel.controls["T_min"].spin.setValue(0.01)
    play.run_decisions(2)
    before = play.snapshot().decision.T_psi
    tmax = child(play, QWidget, "tmaxSlider")
    tmax.setValue(tmax.value() + 250)
    play.run_decisions(1)
    assert play.snapshot().decision.T_psi > 3 * before
    # another strategy
    child(play, QWidget, "strategyCombo").setCurrentText("static")
    play.run_decisions(1)
    assert play.runner.strategy == "static"
    assert play.snapshot().decision.T_psi == pytest.approx(play.params().T_static)

    # --- record a GIF of what Play shows ---------------------------------------------------------------
    gif = tmp_path / "episode.gif"
    play.start_recording(gif, fps=10)
    play.run_decisions(5, restart_on_end=True)
    with qtbot.waitSignal(play.recordingFinished, timeout=WAIT_MS) as rec:
        play.stop_recording(wait=True)
    assert rec.args == [str(gif), ""] and gif.stat().st_size > 0

    # --- Compare: static vs dynamic in lockstep -----------------------------------------------------------
    window.tabs.setCurrentWidget(window.compare)
    compare = window.compare
    assert compare is child(window, QWidget, "compareView")
    assert {r.strategy for r in compare.runners.values()} == {"static", "dynamic"}
    assert compare.run_decisions(4) == 4
    left, right = compare.snapshots()
    assert left.t == right.t == 4 and compare.weight_plot.count() == 5

    # loading a model (here: the same one again) reloads Play, keeping the person's slider settings
    tuned = play.params()
    assert window.train.load_intent_dir(ws.intent.directory)
    window.tabs.setCurrentWidget(play)
    assert play.params() == tuned and play.snapshot().t == 0 and play.runner.intent is ws.intent.model
    assert "calibrated for this intent model earlier in this session" in play.status_label.text()
    assert messages == []

    # --- the model comes back with the data after a restart -------------------------------------------------
    kept = ws.intent.directory
    window.close()
    window = open_window(qtbot, tmp_path)
    assert window.workspace.intent is not None and window.workspace.intent.directory == kept
    assert window.annotate.player.timeline.step_values is not None
    assert "correlation" in window.train.fit_label.text()
    # closing the window while training stops the run and leaves no half-written model
    window.train.set_config(kind="lstm", max_epochs=500, max_time_s=0)
    assert window.train.train()
    partial = window.train._out_dir
    qtbot.waitUntil(lambda: window.train.loss_plot.count() >= 1, timeout=WAIT_MS)
    window.close()
    assert not window.train.is_training() and not partial.exists()


def test_opening_another_environment_while_training_stops_it_and_says_so(qtbot, tmp_path, messages, monkeypatch):
    """The run on the old data is stopped (its result would not apply), leaves no half-written model, and the
    person is told where it went, on the status bar and in the Train tab. The window does not wait for the run
    to end: its partial checkpoint goes when its thread ends (the UI thread used to wait up to 30 s)."""
    from dpf_gui.intent import registry

    started, release, asked_to_stop = threading.Event(), threading.Event(), []

    def long_training(dataset, labels, seed, out_dir, should_stop, **kw):
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "partial.bin").write_bytes(b"half a model")
        started.set()
        release.wait(HANG_S)  # a long optimisation step: cancel cannot stop it before it ends
        asked_to_stop.append(should_stop())

    monkeypatch.setattr(registry, "train_intent", long_training)
    window = open_window(qtbot, tmp_path, env="gridnav")
    dialog = window.annotate.open_simulated_user_dialog()
    dialog.preset.setCurrentIndex(dialog.preset.findData("avoid"))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert train.train()
    assert started.wait(HANG_S)
    running, partial = train.worker, train._out_dir
    combo = child(window, QWidget, "envChooser")
    combo.setCurrentIndex(combo.findData("pong"))  # read in a worker thread: the window answers meanwhile
    qtbot.waitUntil(lambda: window.env_name == "pong", timeout=WAIT_MS)
    assert not train.is_training() and train.train_button.isEnabled()
    assert running.isRunning() and partial.is_dir()  # the window went on without waiting for the run
    assert "Training on gridnav" in train.status.text() and "stopped" in train.status.text()
    assert "Training on gridnav" in window.statusBar().currentMessage()
    release.set()
    qtbot.waitUntil(lambda: not partial.exists() and not train._retiring, timeout=WAIT_MS)
    assert asked_to_stop == [True] and messages == []
    window.close()


def test_training_refuses_too_few_or_identical_marks_and_wrong_models(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, train = window.workspace, window.train
    window.tabs.setCurrentWidget(train)
    press(qtbot, window, Qt.Key.Key_P)  # shortcuts belong to the Annotate tab: nothing happens here
    window.tabs.setCurrentWidget(window.annotate)
    press(qtbot, window, Qt.Key.Key_P, Qt.Key.Key_Return, Qt.Key.Key_A)
    window.tabs.setCurrentWidget(train)
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(child(window, QWidget, "trainButton"), Qt.MouseButton.LeftButton)
    assert done.args[0] is False and "only 2 trajectories are labelled" in done.args[1]
    assert messages[-1][0] == "Cannot train the intent model" and "label more" in messages[-1][1]
    assert not (tmp_path / "intent").exists() or not any((tmp_path / "intent").iterdir())

    # five neutral marks: nothing to tell apart
    for _ in range(2):
        window.annotate.undo()
    window.tabs.setCurrentWidget(window.annotate)
    for _ in range(5):
        press(qtbot, window, Qt.Key.Key_N, Qt.Key.Key_Return)
    window.tabs.setCurrentWidget(train)
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        train.train()
    assert done.args[0] is False and "same score" in done.args[1]
    assert len(messages) == 2 and ws.intent is None and train.train_button.isEnabled()

    # an intent model of another environment is refused with a message
    from dpf_gui.checkpoints import save_checkpoint
    from dpf_gui.intent.model import IntentArch, IntentModel

    pong = IntentModel(IntentArch(n_features=6, n_actions=3))
    save_checkpoint(tmp_path / "pong-intent", pong.state_dict(),
                    {"kind": "intent", "env": "pong", "architecture": pong.describe()})
    assert not train.load_intent_dir(tmp_path / "pong-intent")
    assert messages[-1][0] == "Cannot load the intent model" and "'pong', not 'gridnav'" in messages[-1][1]
    assert ws.intent is None
    # a folder without a checkpoint
    (tmp_path / "empty").mkdir()
    assert not train.load_intent_dir(tmp_path / "empty")
    assert len(messages) == 4 and window.isVisible()
    window.close()


def test_the_additive_kind_trains_in_steps_and_drives_the_timeline_and_play(qtbot, tmp_path, messages):
    """The default kind through the Train tab: no epochs (the bar counts steps), an out-of-bag fit, the
    Annotate timeline from its predictions, and Play with its saliency and the ensemble-only controls."""
    from dpf_gui.session.training import fit_verdict

    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, view, train = window.workspace, window.annotate, window.train
    dialog = view.open_simulated_user_dialog()
    dialog.preset.setCurrentIndex(dialog.preset.findData("avoid"))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    window.activateWindow()
    window.tabs.setCurrentWidget(train)
    assert train.kind() == "additive" and not train.loss_plot.isVisible()
    assert not train.fit_plot.note.isHidden() and "no intent model yet" in train.fit_plot.note.text()
    train.set_config(members=4, hidden=32, utility_steps=100, value_steps=100)
    steps = []
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        assert train.train()
        train.worker.stepDone.connect(steps.append)
        assert train.progress.maximum() == 200 and train.progress.format() == "step %v of %m"
    assert done.args == [True, ""], done.args
    res = train.result
    assert res.sidecar["intent_kind"] == "additive" and ws.intent.model is res.model
    assert steps and max(steps) <= 200 and train.progress.value() == 200
    fit = res.metrics["held_out"]
    assert fit["n"] >= 8 and fit["corr"] > 0.5  # out-of-bag, measured 0.9+ on this data
    assert "out-of-bag" in train.fit_label.text() and fit_verdict(fit) in train.fit_label.text()
    pred, given = train.fit_plot.dots["val"].getData()[1], train.fit_plot.dots["val"].getData()[0]
    assert len(pred) == min(fit["n"], 400) and np.isfinite(pred).all() and np.isfinite(given).all()
    assert train.fit_plot.note.isHidden()  # the dots speak for themselves
    assert "additive ensemble of 4" in train.intent_label.text()
    # the Annotate timeline: the model's per-step rewards, adding up to its predicted score
    window.tabs.setCurrentWidget(view)
    i = view.current
    shown = view.player.timeline.step_values
    traj = ws.dataset[i]
    g = res.model.predict(traj.features, traj.actions)
    np.testing.assert_allclose(shown, np.diff(g, prepend=0.0), rtol=1e-5, atol=1e-6)
    assert abs(shown.sum() - g[-1]) < 1e-4 * max(1.0, abs(g[-1]))
    # Compare shows the same agents and has Play calibrate the new model at once (gridnav: about a second), saying
    # so meanwhile; Compare then plays at that strength too
    window.tabs.setCurrentWidget(window.compare)
    compare = window.compare
    assert window.play.is_calibrating() and compare.status_label.text() == CALIBRATING_IN_PLAY
    with qtbot.waitSignal(window.play.calibrated, timeout=WAIT_MS) as done:
        window.tabs.setCurrentWidget(window.play)
    play = window.play
    cal = done.args[0]
    assert cal is not None and compare.params() == play.params() == cal.params(compare.params())
    assert "calibrated for this intent on this machine" in compare.status_label.text()
    # Play: rewards, saliency and the value map from the ensemble; confidence is its control
    assert play.runner.intent is res.model and play.runner.intent_unit == res.sidecar["reward_unit"]
    play.run_decisions(2)
    snap = play.snapshot()
    assert np.isfinite(snap.decision.intent_rewards[snap.decision.legal]).all()
    assert np.abs(play.saliency_bars.values).sum() > 0 and snap.value_map.shape == (10, 10)
    assert play.params_panel.controls["confidence"].isEnabled()
    assert messages == []


def _chance_of_correlation(r: float, n: int) -> float:
    """P(corr >= r) over n pairs of independent normal values: the density of the sample correlation under no
    relation is proportional to (1 - x^2)^((n - 4) / 2) on (-1, 1), integrated numerically."""
    x = np.linspace(-1.0, 1.0, 400_001)[1:-1]
    density = (1.0 - x ** 2) ** ((n - 4) / 2)
    return float(density[x >= r].sum() / density.sum())


def test_a_fit_verdict_needs_enough_held_out_trajectories():
    """After 11 hand marks the Train tab once called a fit on 2 held-out trajectories "good" (issue 15): below
    MIN_HELD_OUT it says there are too few, with n and the minimum, and the minimum is where the lowest
    positive verdict ("fair") stops being what unrelated scores reach by chance 1 time in 20."""
    from dpf_gui.session.training import FAIR_CORR, GOOD_CORR, MIN_HELD_OUT, fit_verdict

    few = fit_verdict({"corr": 0.99, "n": 2})
    assert "too few held-out trajectories to judge" in few and f"needs n ≥ {MIN_HELD_OUT}" in few
    assert "good" not in few
    assert "too few" in fit_verdict({"corr": 0.99, "n": MIN_HELD_OUT - 1})
    assert fit_verdict({"corr": 0.99, "n": MIN_HELD_OUT}) == " · good"
    assert fit_verdict({"corr": 0.6, "n": MIN_HELD_OUT}) == " · fair"
    assert "weak" in fit_verdict({"corr": 0.1, "n": 50}) and fit_verdict({"corr": None, "n": 50}) == ""
    # the minimum, justified: at MIN_HELD_OUT a fair correlation is chance less than 5 % of the time, one fewer not
    assert _chance_of_correlation(FAIR_CORR, MIN_HELD_OUT) < 0.05 <= _chance_of_correlation(FAIR_CORR, MIN_HELD_OUT - 1)
    assert _chance_of_correlation(GOOD_CORR, MIN_HELD_OUT) < 0.001
    assert abs(_chance_of_correlation(FAIR_CORR, 8) - 0.10) < 0.01  # the numbers train_view's comment quotes


def test_the_fit_plot_says_what_it_lacks_with_a_model_in_use_and_while_training(qtbot, tmp_path, messages,
                                                                                monkeypatch):
    """A loaded model (its per-trajectory predictions are not stored), one training and one kept after a cancelled
    run each have their own note: "no intent model yet" beside "In use" told a person the opposite of the truth.
    The marks of this data and those the model was trained on are told apart."""
    from dpf_gui.app.train_view import FIT_EMPTY_NOTE, FIT_IN_USE_NOTE, FIT_TRAINING_NOTE
    from dpf_gui.intent import registry
    from tests.test_saliency import train_tiny_additive_avoid_toll_intent

    intent_dir = tmp_path / "model" / "gridnav"
    train_tiny_additive_avoid_toll_intent(intent_dir)
    window = open_window(qtbot, tmp_path, env="gridnav")
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert train.fit_plot.note.text() == FIT_EMPTY_NOTE
    assert train.load_intent_dir(intent_dir)
    assert not train.fit_plot.note.isHidden() and train.fit_plot.note.text() == FIT_IN_USE_NOTE
    assert train.labels_label.text().startswith("Marks in this data: <b>0</b> of")
    assert "trained on 1495 labelled trajectories" in train.intent_label.text()

    started, release = threading.Event(), threading.Event()

    def long_training(dataset, labels, seed, out_dir, should_stop, **kw):
        started.set()
        release.wait(HANG_S)

    monkeypatch.setattr(registry, "train_intent", long_training)
    window.workspace.label_with_simulated_user(window.workspace.wish("mixed"), seed=0)
    assert train.labels_label.text().startswith("Marks in this data: <b>1495</b> of")  # marked with the tab shown
    assert train.train() and started.wait(HANG_S)
    assert train.fit_plot.note.text() == FIT_TRAINING_NOTE
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS):
        train.cancel()
        release.set()
    assert train.fit_plot.note.text() == FIT_IN_USE_NOTE and window.workspace.intent is not None
    assert messages == []
    window.close()


def _loads_done(window):
    return window._opener.pending is None and not any(t.is_alive() for t in window._opener._threads)


def test_quick_switches_end_on_the_last_environment_chosen_with_its_own_marks(qtbot, tmp_path, messages):
    """The chooser's environment is read in a worker thread: a second choice before the first is read wins, and
    choosing the open one again keeps it (the answer for the one chosen in between is dropped)."""
    from dpf_gui.data.study import AVOIDED, PREFERRED, UNLABELLED

    window = open_window(qtbot, tmp_path, env="gridnav")
    combo, annotate = window.env_combo, window.annotate
    window.workspace.mark(3, -1)
    combo.setCurrentIndex(combo.findData("highway"))
    assert window.env_name == "gridnav" and window.source_label.text() == "loading highway…"  # (still open)
    qtbot.waitUntil(lambda: window.env_name == "highway", timeout=WAIT_MS)
    highway = window.workspace
    highway.mark(5, 1)
    combo.setCurrentIndex(combo.findData("gridnav"))
    qtbot.waitUntil(lambda: window.env_name == "gridnav", timeout=WAIT_MS)

    combo.setCurrentIndex(combo.findData("pong"))
    combo.setCurrentIndex(combo.findData("highway"))  # before pong is read
    qtbot.waitUntil(lambda: window.env_name == "highway" and _loads_done(window), timeout=WAIT_MS)
    qtbot.wait(100)  # pong's answer, had it been used, would be shown by now
    ws = window.workspace
    assert ws.env_name == "highway" and ws.fingerprint == highway.fingerprint and combo.currentData() == "highway"
    assert annotate.ws is ws and annotate.model.ws is ws and window.train.ws is ws
    assert annotate.model.rowCount() == len(ws) and window.windowTitle().endswith(": highway")
    assert annotate.model.states[5] == PREFERRED and annotate.model.states[3] == UNLABELLED
    assert annotate.model.item(5, 1).text() == "preferred"
    assert window.source_label.text().startswith("shipped agent · ")

    combo.setCurrentIndex(combo.findData("gridnav"))
    combo.setCurrentIndex(combo.findData("highway"))  # back to what is open before gridnav is read
    qtbot.waitUntil(lambda: _loads_done(window), timeout=WAIT_MS)
    qtbot.wait(100)
    assert window.workspace is ws and combo.currentData() == "highway"
    assert window.source_label.text().startswith("shipped agent · ")
    combo.setCurrentIndex(combo.findData("gridnav"))
    qtbot.waitUntil(lambda: window.env_name == "gridnav", timeout=WAIT_MS)
    assert annotate.model.states[3] == AVOIDED and annotate.model.item(3, 1).text() == "avoided"
    # the Train tab's lines about the marks are worked out when it is shown, not on every switch behind it
    assert not window.train.isVisible() and window.train.labels_label.text() == ""
    window.tabs.setCurrentWidget(window.train)
    assert window.train.labels_label.text().startswith("Marks in this data: <b>1</b> of")
    assert messages == []
    window.close()


def test_a_damaged_dataset_chosen_again_falls_back_with_one_message(qtbot, tmp_path, messages):
    """What the chooser reopens (the files last used with an environment) is read in the worker too: when it is
    damaged, the shipped agent opens, quietly, as before; a damaged file opened from the File menu is said once
    and what was open stays open."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a dataset")
    assert window.open_dataset(bad, later=True)
    qtbot.waitUntil(lambda: _loads_done(window) and bool(messages), timeout=WAIT_MS)
    assert len(messages) == 1 and messages[0][0] == "Cannot open gridnav" and "bad.npz" in messages[0][1]
    assert window.env_name == "gridnav" and window.workspace.dataset_path.name == "trajectories.npz"
    assert window.source_label.text().startswith("shipped agent · ")
    window.store.set("resume/highway", {"task_dir": None, "dataset_path": str(bad)})
    window.env_combo.setCurrentIndex(window.env_combo.findData("highway"))
    qtbot.waitUntil(lambda: window.env_name == "highway" and _loads_done(window), timeout=WAIT_MS)
    assert len(messages) == 1 and window.workspace.dataset_path.name == "trajectories.npz"
    window.close()

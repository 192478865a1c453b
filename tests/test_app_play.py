"""The play and compare views, driven through their real widgets (offscreen)."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget, QWidget

from dpf_gui.app.calibrating import (
    AUTO_LEAD,
    CALIBRATED_SHORT,
    NOT_CALIBRATED,
    NOT_CALIBRATED_SHORT,
    RECALLED_SHORT,
    SET_NOT_CALIBRATED,
)
from dpf_gui.app.compare_view import CompareView
from dpf_gui.app.play_view import PlayView
from dpf_gui.app.plot_bars import FeatureBars
from dpf_gui.app.plots import LivePlot, RingBuffer, nice_ceil
from dpf_gui.episode import NEEDS_INTENT_TIP
from dpf_gui.pipeline import load_task_agent
from dpf_gui.strategies import dynamic_temperature
from tests.qt_helpers import WAIT_MS
from tests.test_saliency import (
    train_tiny_additive_avoid_toll_intent,
    train_tiny_avoid_toll_intent,
)

PLAY_NAMES = ("strategyCombo", "tphiSlider", "tminSlider", "tmaxSlider", "kSlider", "cSlider", "tstaticSlider",
              "tphiSpin", "tmaxSpin", "sampleCheck", "playPauseButton", "stepButton", "restartButton", "seedSpin",
              "speedSpin", "loopCheck", "overlayCheck", "recordButton", "recordWholeCheck", "paramsPanel", "weightPlot",
              "tempPlot", "collectedPlot", "probBars", "saliencyBars", "frameView", "episodeMetrics", "playStatus",
              "strengthSlider", "strengthSpin", "confidenceSlider", "confidenceSpin", "collectCombo", "normaliseCheck",
              "fusionPresetCombo", "guardCombo", "guardSpin",
              "calibrateButton", "calibrateProgress")
COMPARE_NAMES = ("compareLeftStrategy", "compareRightStrategy", "comparePlayButton", "compareStepButton",
                 "compareRestartButton", "compareSeedSpin", "compareSpeedSpin", "compareLoopCheck",
                 "compareOverlayCheck", "compareLeftFrame", "compareRightFrame", "compareLeftMetrics",
                 "compareRightMetrics", "compareWeightPlot", "compareTempPlot", "compareCollectedPlot",
                 "compareTmaxSlider", "compareParamsPanel", "compareStatus", "compareStrengthSlider",
                 "compareConfidenceSlider", "compareCollectCombo", "compareFusionPresetCombo", "compareRecordButton",
                 "compareGuardCombo", "compareGuardSpin")


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    task = load_task_agent("gridnav")
    model, sidecar = train_tiny_avoid_toll_intent(tmp_path_factory.mktemp("intent") / "gridnav")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single decisions on tiny networks: one thread is fastest
    yield task, model, sidecar
    torch.set_num_threads(threads)


def shown(qtbot, view_class, agents, seed: int, size: tuple[int, int]):
    """A Play or Compare view, on screen, playing the gridnav ``agents`` from ``seed``."""
    task, model, sidecar = agents
    v = view_class()
    qtbot.addWidget(v)
    v.resize(*size)
    v.show()
    v.set_agents("gridnav", None, task, model, sidecar, seed=seed)
    return v


@pytest.fixture()
def view(qtbot, agents):
    v = shown(qtbot, PlayView, agents, seed=3, size=(1300, 800))
    yield v
    v.shutdown()


def test_ring_buffer_keeps_the_last_values_contiguous():
    rb = RingBuffer(4)
    assert len(rb.view()) == 0
    for i in range(10):
        rb.push(i)
    assert rb.count == 10 and len(rb) == 4
    np.testing.assert_array_equal(rb.view(), [6, 7, 8, 9])
    assert rb.view().base is not None  # a view, not a copy
    assert rb.last() == 9
    rb.clear()
    assert len(rb.view()) == 0
    assert [nice_ceil(v) for v in (0.3, 1.0, 1.1, 4.0, 7.0)] == [0.5, 1.0, 2.0, 5.0, 10.0]


def test_every_documented_control_has_its_object_name(view, qtbot):
    for name in PLAY_NAMES:
        assert view.findChild(QWidget, name) is not None, name
    c = CompareView()
    qtbot.addWidget(c)
    for name in COMPARE_NAMES:
        assert c.findChild(QWidget, name) is not None, name


def test_dynamic_episode_feeds_every_plot(view, qtbot):
    assert view.strategy_combo.currentText() == "dynamic"
    assert view.wish is not None and view.wish.avoid  # read from the intent model's sidecar
    with qtbot.waitSignal(view.episodeFinished, timeout=WAIT_MS) as finished:
        taken = view.run_decisions(200)
    assert 0 < taken <= 100
    assert finished.args[0]["steps"] == taken
    for plot in (view.weight_plot, view.temp_plot, view.collected_plot):
        assert plot.count() > 0
        for curve in plot.curves.values():
            x, y = curve.getData()
            assert x is not None and len(x) > 0 and np.isfinite(y).any()
    m = view.metrics()
    assert m["steps"] == taken and m["avoid_fraction"] is not None and m["fusion_weight"] is not None
    assert "return" in view.metrics_label.text()
    # bars and saliency of the last decision
    view.restart(3)
    view.run_decisions(2)
    d = view.snapshot().decision
    for name, p in (("task", d.p_task), ("intent", d.p_intent), ("fused", d.p_fused)):
        np.testing.assert_allclose(view.prob_bars.values[name], p)
        assert abs(view.prob_bars.values[name].sum() - 1) < 1e-6
    assert view.saliency_bars.values.shape == (8,) and np.abs(view.saliency_bars.values).sum() > 0
    assert view.snapshot().value_map.shape == (10, 10)
    assert not view.frame_view.image().isNull()


def test_tmax_slider_acts_on_the_next_decision(view):
    view.params_panel.controls["T_min"].spin.setValue(0.01)  # keep T_psi off its floor
    view.run_decisions(3)
    p_before = view.params()
    view.tmax_slider = view.findChild(QWidget, "tmaxSlider")
    view.tmax_slider.setValue(view.tmax_slider.value() + 200)  # log scale: x 10^(0.8)
    p = view.params()
    assert p.T_max > 5 * p_before.T_max
    assert view.runner.params == p
    view.run_decisions(1)
    d = view.snapshot().decision
    assert d.T_psi == pytest.approx(dynamic_temperature(d.collected, p))
    assert d.T_psi > 5 * dynamic_temperature(d.collected, p_before)
    assert d.weight == pytest.approx(p.T_phi / (p.T_phi + d.T_psi))


def test_strategy_switch(view):
    view.run_decisions(1)
    view.strategy_combo.setCurrentText("task")
    assert view.runner.strategy == "task"
    view.run_decisions(1)
    d = view.snapshot().decision
    assert d.weight is None and d.T_psi is None and d.intent_rewards is not None  # the intent still watches
    view.strategy_combo.setCurrentText("static")
    view.run_decisions(1)
    d = view.snapshot().decision
    assert d.T_psi == pytest.approx(view.params().T_static)
    assert "changed during the episode" in view.metrics_label.text()


def test_without_intent_only_task_is_offered(qtbot, agents):
    task, _, _ = agents
    v = PlayView()
    qtbot.addWidget(v)
    v.set_agents("gridnav", None, task, None, None, seed=1)
    items = v.strategy_combo.model()
    for i in range(v.strategy_combo.count()):
        name = v.strategy_combo.itemText(i)
        assert items.item(i).isEnabled() == (name == "task")
        if name != "task":
            assert items.item(i).toolTip() == NEEDS_INTENT_TIP
    assert v.run_decisions(5) == 5
    assert v.snapshot().attribution is None
    v.shutdown()


def test_a_model_arriving_switches_from_task_only_when_task_was_forced(qtbot, agents):
    """Play and Compare show task only because there was no intent model: the model's arrival brings
    their default strategies back; a task chosen by the person with a model loaded stays."""
    task, model, sidecar = agents
    v, c = PlayView(), CompareView()
    for w in (v, c):
        qtbot.addWidget(w)
        w.set_agents("gridnav", None, task, None, None, seed=1)
    assert v.strategy_combo.currentText() == "task"
    assert [c.combos[s].currentText() for s in ("left", "right")] == ["task", "task"]
    for w in (v, c):
        w.set_agents("gridnav", None, task, model, sidecar, seed=1)
    assert v.strategy_combo.currentText() == "dynamic" and v.runner.strategy == "dynamic"
    assert [c.runners[s].strategy for s in ("left", "right")] == ["static", "dynamic"]
    v.strategy_combo.setCurrentText("task")  # the person's choice
    v.set_agents("gridnav", None, task, model, sidecar, seed=1)
    assert v.runner.strategy == "task"
    v.shutdown()
    c.shutdown()


def test_timer_loop_plays_and_measures_fps(view, qtbot):
    view.set_speed(0)
    view.driver.episode_pause_s = 0.0
    t0 = view.snapshot().t
    view.play()
    qtbot.waitUntil(lambda: view.snapshot().t != t0 or view.snapshot().seed != 3, timeout=WAIT_MS)  # it plays
    qtbot.wait(1000)  # and keeps playing for a while, so the frame rate has something to measure
    view.pause()
    print(f"\nplay view, gridnav, offscreen, all plots live: {view.fps():.1f} frames/s")


def test_compare_static_vs_dynamic_in_lockstep(qtbot, agents):
    c = shown(qtbot, CompareView, agents, seed=5, size=(1200, 800))
    assert (c.runners["left"].strategy, c.runners["right"].strategy) == ("static", "dynamic")
    assert c.run_decisions(4) == 4
    left, right = c.snapshots()
    assert left.t == right.t == 4 and left.seed == right.seed == 5
    assert c.weight_plot.count() == 5 and c.collected_plot.count() == 5
    assert not c.frames["left"].image().isNull() and not c.frames["right"].image().isNull()
    with qtbot.waitSignal(c.pairFinished, timeout=WAIT_MS) as done:
        c.run_decisions(300)
    assert c.both_done()
    out = done.args[0]
    assert out["left"]["steps"] == c.snapshots()[0].t and out["right"]["steps"] == c.snapshots()[1].t
    # changing a side restarts both on the same seed (in the pair's worker thread: shown when it is done)
    c.findChild(QWidget, "compareLeftStrategy").setCurrentText("task")
    qtbot.waitUntil(lambda: c.snapshots()[0].t == 0, timeout=WAIT_MS)
    left, right = c.snapshots()
    assert left.t == right.t == 0 and left.strategy == "task" and right.seed == 5
    c.shutdown()


def test_record_gif(view, qtbot, tmp_path):
    path = tmp_path / "episode.gif"
    view.start_recording(path, fps=10)
    view.run_decisions(8)
    with qtbot.waitSignal(view.recordingFinished, timeout=WAIT_MS):
        view.stop_recording(wait=True)
    with Image.open(path) as im:
        assert im.is_animated and im.n_frames >= 8
        assert im.size == (400, 400)
    # the asynchronous form: one episode, written in the background
    path2 = tmp_path / "whole.gif"
    view.set_speed(0)
    with qtbot.waitSignal(view.recordingFinished, timeout=WAIT_MS) as sig:
        view.record(path2, episodes=1)
    assert sig.args == [str(path2), ""]
    with Image.open(path2) as im:
        assert im.n_frames >= 2
    assert not view.is_recording() and not view.is_playing()


def _last_gif_frame(path) -> tuple[int, np.ndarray]:
    with Image.open(path) as im:
        n = im.n_frames
        im.seek(n - 1)
        return n, np.asarray(im.convert("RGB"))


def _recorded_plot(frame: np.ndarray, view, plot) -> np.ndarray:
    """The part of a whole-view frame where ``plot`` is on screen (the view scaled to the frame's width, under
    the caption bar)."""
    from PySide6.QtCore import QPoint

    from dpf_gui.app.recording import CAPTION_HEIGHT

    scale = frame.shape[1] / view.width()
    top_left = plot.mapTo(view, QPoint(0, 0))
    x0, y0 = int(top_left.x() * scale), CAPTION_HEIGHT + int(top_left.y() * scale)
    return frame[y0:y0 + int(plot.height() * scale), x0:x0 + int(plot.width() * scale)]


def _has_line_and_ink(region: np.ndarray, colour) -> tuple[int, int]:
    """(pixels of ``colour``, dark pixels): a drawn line of the series and the plot's text and axes."""
    line = (np.abs(region.astype(int) - np.array(colour)).sum(axis=2) < 60).sum()
    return int(line), int((region.mean(axis=2) < 90).sum())


def _check_whole_view_gif(path, view, decisions: int) -> np.ndarray:
    """The recording's frames are the whole view scaled to WHOLE_VIEW_WIDTH under a dark caption bar."""
    from dpf_gui.app.recording import CAPTION_HEIGHT, WHOLE_VIEW_WIDTH

    n, frame = _last_gif_frame(path)
    assert n >= decisions
    h, w = frame.shape[:2]
    assert w == WHOLE_VIEW_WIDTH and h == round(view.height() * w / view.width()) + CAPTION_HEIGHT
    assert (frame[:CAPTION_HEIGHT].mean(axis=2) < 100).mean() > 0.8  # the caption bar
    return frame


def test_whole_view_recording_has_the_plots_and_a_caption(view, qtbot, tmp_path):
    """*whole view*: each GIF frame is the Play view (picture, plots, metrics) under a caption."""
    from dpf_gui.app.plots import FUSED

    path = tmp_path / "view.gif"
    view.record_whole_check.setChecked(True)
    view.start_recording(path, fps=10)
    view.run_decisions(6)
    with qtbot.waitSignal(view.recordingFinished, timeout=WAIT_MS):
        view.stop_recording(wait=True)
    frame = _check_whole_view_gif(path, view, 6)
    # the w plot, where it is on screen: its line (FUSED green) and dark axis ink are in the recording
    line, ink = _has_line_and_ink(_recorded_plot(frame, view, view.weight_plot), FUSED)
    assert line > 20 and ink > 200, (line, ink)


def test_compare_records_the_whole_view(qtbot, agents, tmp_path):
    """Compare records the whole view, as Play's *whole view*: both pictures, the plots, under a caption."""
    from dpf_gui.app.plots import SIDE_COLOURS

    c = shown(qtbot, CompareView, agents, seed=5, size=(1200, 800))
    assert c.findChild(QWidget, "compareRecordButton") is c.record_button and c.record_whole_check is None
    path = tmp_path / "whole.gif"
    c.start_recording(path, fps=10)
    assert c.record_button.isChecked() and c.record_button.text() == "Stop recording"
    c.run_decisions(6)
    with qtbot.waitSignal(c.recordingFinished, timeout=WAIT_MS):
        c.stop_recording(wait=True)
    assert not c.record_button.isChecked()
    frame = _check_whole_view_gif(path, c, 6)
    for plot in (c.weight_plot, c.temp_plot):  # both sides' lines (blue left, orange right) and the axes' ink
        region = _recorded_plot(frame, c, plot)
        for colour in SIDE_COLOURS:
            line, ink = _has_line_and_ink(region, colour)
            assert line > 10 and ink > 100, (plot.objectName(), colour, line, ink)

    # the asynchronous form: one pair of episodes, then it stops by itself
    c.set_speed(0)
    c.driver.episode_pause_s = 0.0
    with qtbot.waitSignal(c.recordingFinished, timeout=WAIT_MS) as sig:
        c.record(tmp_path / "pair.gif", episodes=1)
    assert sig.args == [str(tmp_path / "pair.gif"), ""]
    assert not c.is_recording() and not c.is_playing() and c.both_done()
    c.shutdown()


def test_recording_refuses_unknown_formats(view, tmp_path):
    from dpf_gui.errors import UserError
    from dpf_gui.recorder import available_formats

    with pytest.raises(UserError):
        view.start_recording(tmp_path / "x.avi")
    if "mp4" not in available_formats():
        with pytest.raises(UserError, match="GIF only"):
            view.start_recording(tmp_path / "x.mp4")


def _highway_agents():
    """The shipped highway task agent and an untrained intent model (what it says does not matter here)."""
    from dpf_gui.envs import env_spec
    from dpf_gui.intent.model import IntentArch, IntentModel

    spec = env_spec("highway")
    torch.manual_seed(0)
    model = IntentModel(IntentArch(spec.n_features, spec.n_actions)).eval()
    mixed = spec.preset("mixed")
    sidecar = {"reward_scale": 1.0, "labels": {"wish": {"prefer": list(mixed.prefer), "avoid": list(mixed.avoid)}}}
    return load_task_agent("highway"), model, sidecar


def test_highway_steps_in_a_worker_process(qtbot):
    """Highway's 20-60 ms steps run in a worker process, so the event loop keeps ticking while one is in flight;
    the process is reused for the next agents and ends when another environment is opened.

    Asserted as behaviour, not as a time: a 10 ms timer fired while a step was in flight (impossible if the step
    blocked the event loop). How long the longest gap is depends on the machine's load (bench/play_fps.py).
    """
    from PySide6.QtCore import QTimer

    from dpf_gui.episode_worker import RemoteRunner
    from tests.test_episode_worker import alive

    task, model, sidecar = _highway_agents()
    v = PlayView()
    qtbot.addWidget(v)
    v.show()
    v.set_agents("highway", None, task, model, sidecar, seed=0)
    assert v.driver.threaded and isinstance(v.runner, RemoteRunner)
    shown = []
    v.snapshotShown.connect(lambda snap: shown.append(snap.t))
    v.set_strategy("static")  # while the first reset is in flight: it goes with it, and the first frame is shown
    v.set_speed(0)
    ticks_during_a_step = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks_during_a_step.append(v.driver._future is not None))
    timer.start(10)
    v.play()
    qtbot.waitUntil(lambda: v.snapshot() is not None and (v.snapshot().t >= 3 or v.snapshot().done), timeout=WAIT_MS)
    v.pause()
    timer.stop()
    snap = v.snapshot()
    drawn = {type(shape).__name__ for shape in snap.overlay.shapes}  # the wish's lanes, our lane, the cars' rings
    assert {"Rect", "Ellipse"} <= drawn and snap.frame.shape == (150, 600, 3)
    assert shown[:2] == [0, 1] and snap.strategy == "static" and snap.decision.T_psi == v.params().T_static
    assert any(ticks_during_a_step)
    pid = v.runner.process.pid
    assert pid is not None and pid != os.getpid() and alive(pid)

    v.set_agents("highway", None, task, None, None, seed=1)  # new agents: the same process
    qtbot.waitUntil(lambda: v.snapshot() is not None, timeout=WAIT_MS)
    assert v.runner.process.pid == pid and v.snapshot().seed == 1 and v.snapshot().strategy == "task"
    v.set_agents("gridnav", None, load_task_agent("gridnav"), None, None, seed=0)  # another environment: it ends
    assert not alive(pid)
    v.shutdown()


def test_dropping_the_agents_ends_the_highway_worker(qtbot):
    """The main window's Play tab drops its agents (no task agent for the new environment): the worker goes too."""
    from dpf_gui.app.tabs import make_play_view
    from tests.test_episode_worker import alive

    task, model, sidecar = _highway_agents()
    tab = make_play_view(None)
    qtbot.addWidget(tab)
    tab.set_agents("highway", None, task, model, sidecar, seed=0)
    assert tab.run_decisions(1) == 1
    pid = tab.runner.process.pid
    tab.drop_agents("Nothing is open.")
    assert tab.runner is None and not alive(pid) and tab.status_label.text() == "Nothing is open."
    tab.shutdown()


def test_leaving_highway_while_its_worker_starts(qtbot):
    """Another environment opened, or the view closed, while the worker is still starting: it is ended at once
    (the window does not wait for the start), and the other environment plays."""
    from tests.test_episode_worker import alive

    task, model, sidecar = _highway_agents()
    v = PlayView()
    qtbot.addWidget(v)
    v.set_agents("highway", None, task, model, sidecar, seed=0)
    qtbot.waitUntil(lambda: v.runner.process.pid is not None, timeout=WAIT_MS)
    pid = v.runner.process.pid
    v.set_agents("gridnav", None, load_task_agent("gridnav"), None, None, seed=0)
    assert not alive(pid) and v.run_decisions(2) == 2 and v.snapshot().t == 2
    v.set_agents("highway", None, task, model, sidecar, seed=0)
    qtbot.waitUntil(lambda: v.runner.process.pid is not None, timeout=WAIT_MS)
    pid = v.runner.process.pid
    v.shutdown()
    assert not alive(pid)


def test_highway_worker_failure_is_one_message_and_restart_recovers(qtbot):
    """The worker killed mid-episode: Play stops with one line saying so; Restart plays on in a fresh process,
    which ends with the view."""
    import signal

    from tests.test_episode_worker import alive

    task, model, sidecar = _highway_agents()
    v = PlayView()
    qtbot.addWidget(v)
    v.set_agents("highway", None, task, model, sidecar, seed=0)
    assert v.run_decisions(2) == 2
    pid = v.runner.process.pid
    os.kill(pid, signal.SIGKILL)
    v.step_once()
    assert v.status_label.text() == "stopped: the highway simulator process stopped unexpectedly (exit code -9)"
    assert v.snapshot().t == 2 and not v.is_playing()
    v.restart(5)
    assert v.run_decisions(1) == 1 and v.snapshot().seed == 5 and v.snapshot().t == 1
    fresh = v.runner.process.pid
    assert fresh not in (None, pid) and alive(fresh)
    v.close()  # closeEvent shuts the view down, and the worker with it
    assert not alive(fresh)


@pytest.fixture(scope="module")
def additive_agents(tmp_path_factory):
    model, sidecar = train_tiny_additive_avoid_toll_intent(tmp_path_factory.mktemp("additive") / "gridnav")
    return load_task_agent("gridnav"), model, sidecar


def test_strength_confidence_collect_and_named_configurations(qtbot, additive_agents, agents):
    from dpf_gui.fusion_params import paper_params
    from dpf_gui.pipeline import fusion_params

    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    task = additive_agents[0]
    panel = v.params_panel
    assert panel.controls["confidence"].isEnabled()  # an ensemble intent
    assert panel.preset.currentText() == "this agent's defaults" and v.params() == fusion_params(task)
    # strength: 0 leaves the task agent alone; the intent's rewards scale with it
    v.run_decisions(1)
    panel.controls["strength"].spin.setValue(0.0)
    v.run_decisions(1)
    d = v.snapshot().decision
    assert v.runner.params.strength == 0 and d.action == int(np.argmax(np.where(d.legal, d.q, -np.inf)))
    assert panel.preset.currentText() == "custom"
    # confidence reaches the ensemble's stepper; G_t's rule is a combo
    panel.controls["confidence"].spin.setValue(2.5)
    assert v.runner.agent.stepper.confidence == 2.5
    panel.collect.setCurrentIndex(panel.collect.findData("advantage"))
    assert v.runner.params.collect == "advantage"
    # the guard: none on gridnav, whose task agent has no risk model; near-best reaches the agent, and at margin 0
    # only the task agent's best is left
    assert panel.guard.currentText() == "any action" and not panel.guard_spin.isEnabled()
    assert not panel.guard.model().item(panel.guard.findData("no riskier")).isEnabled()
    assert "dpf train-risk" in panel.guard.toolTip()
    panel.controls["strength"].spin.setValue(8.0)
    panel.guard.setCurrentIndex(panel.guard.findData("near-best"))
    assert v.runner.params.margin == panel.MARGIN_ON and panel.guard_spin.isEnabled()
    panel.guard_spin.setValue(0.0)
    assert v.runner.agent.params.margin == 0.0

    def overrules() -> int:  # of the decisions of the episode from seed 3, how many are not the task agent's best
        v.restart(3)
        n = 0
        while (d := v.snapshot().decision) is not None:  # the decision about to be taken; None once done
            n += d.action != int(np.argmax(np.where(d.legal, d.q, -np.inf)))
            v.run_decisions(1)
        return n

    assert overrules() == 0
    panel.guard.setCurrentIndex(panel.guard.findData("any action"))
    assert v.runner.params.margin is None and overrules() > 0  # the intent at strength 8 overrules without it
    # the paper's configuration by name, and back
    panel.preset.activated.emit(panel.preset.findData("the paper's configuration"))
    assert v.runner.params == paper_params("gridnav") and not panel.normalise.isChecked()
    panel.preset.activated.emit(panel.preset.findData("this agent's defaults"))
    assert v.runner.params == fusion_params(task)
    v.shutdown()
    # an LSTM intent has no members: no confidence
    lstm = shown(qtbot, PlayView, agents, seed=3, size=(1300, 800))
    assert not lstm.params_panel.controls["confidence"].isEnabled()
    assert lstm.params_panel.params() == fusion_params(task)
    lstm.shutdown()


def test_calibrate_strength_in_a_worker_sets_the_slider(qtbot, additive_agents):
    from dpf_gui.calibrate import calibrate
    from dpf_gui.fusion import intent_scale, intent_unit

    task, model, sidecar = additive_agents
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    assert v.status_label.text() == NOT_CALIBRATED  # a new intent plays at the stored strength: said, until calibrated
    v.set_presentation(True)  # large text in a narrow column: the short form
    assert v.status_label.text() == NOT_CALIBRATED_SHORT
    v.set_presentation(False)
    assert v.status_label.text() == NOT_CALIBRATED
    base = v.params()
    told = []
    v._calibrationProgress.connect(lambda *a: told.append(a[:2]))
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as done:
        assert v.calibrate()
        assert v.is_calibrating() and v.calibrate_progress.isVisible()
        assert v.calibrate_button.text() == "Cancel calibration" and v.calibrate_button.isEnabled()
        assert not v.calibrate()  # one at a time
    cal, message = done.args
    expected = calibrate("gridnav", task, model, intent_scale(sidecar), intent_unit(sidecar), base)
    assert cal.strength == expected.strength and cal.table == expected.table
    assert v.params().strength == cal.strength and v.runner.params.strength == cal.strength
    assert v.params().c == cal.c and v.runner.params.c == cal.c
    assert f"strength {cal.strength:g}, c {cal.c:g}" in message and message == v.status_label.text()
    v.set_presentation(True)  # the short form
    assert v.status_label.text() == CALIBRATED_SHORT.format(strength=cal.strength, c=cal.c)
    v.set_presentation(False)
    assert v.status_label.text() == message
    for row in cal.table:
        assert f"strength {row['strength']:g}, c {row['c']:g}: success" in v.calibrate_button.toolTip()
    assert v.calibrate_button.isEnabled() and not v.calibrate_progress.isVisible()
    assert v.calibrate_button.text() == "Calibrate strength"
    played = sum(1 for _ in cal.table) * cal.episodes + cal.episodes  # the task agent's and each candidate's
    assert told and told[-1] == (played, played)  # the bar went by episodes and ended full
    # the same agents shown again (a later session) start calibrated: kept on this machine
    v.set_agents("gridnav", None, task, model, sidecar, seed=3)
    assert v.recalled is not None and v.recalled.table == cal.table
    assert v.params() == cal.params(base) and v.runner.params == cal.params(base)
    status = v.status_label.text()
    assert status.startswith(message) and "kept from an earlier calibration" in status, status
    v.set_presentation(True)
    assert v.status_label.text() == RECALLED_SHORT.format(strength=cal.strength, c=cal.c)
    v.set_presentation(False)
    # so does Compare
    c = shown(qtbot, CompareView, additive_agents, seed=3, size=(1200, 800))
    assert c.params() == cal.params(base) and all(r.params == cal.params(base) for r in c.runners.values())
    assert "calibrated for this intent on this machine" in c.status_label.text()
    c.shutdown()
    # another intent model is not calibrated by it
    v.set_agents("gridnav", None, task, model, {**sidecar, "weights_sha256": "0" * 64}, seed=3)
    assert v.recalled is None and v.status_label.text() == NOT_CALIBRATED
    v.shutdown()


def test_the_play_tab_calibrates_each_new_gridnav_intent_from_the_stored_strength(qtbot, tmp_path):
    """What a person sees on gridnav is what the benchmark's claim is measured with: the app's Play tab calibrates a
    new intent model when it shows it (about a second), from the stored strength and c, not from the ones chosen for
    the model before; a strength the person set stays, and is not calibrated over."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.calibrate import calibrate
    from dpf_gui.fusion import intent_scale, intent_unit
    from dpf_gui.pipeline import fusion_params
    from tests.qt_helpers import open_window

    for seed in (0, 1, 2):
        train_tiny_additive_avoid_toll_intent(tmp_path / f"intent{seed}", seed=seed)
    window = open_window(qtbot, tmp_path / "store", env="gridnav")
    ws, play = window.workspace, window.play
    window.tabs.setCurrentWidget(play)
    stored = fusion_params(ws.task)
    for seed in (0, 1):
        intent = IntentAgent.load(tmp_path / f"intent{seed}")
        with qtbot.waitSignal(play.calibrated, timeout=WAIT_MS) as done:
            ws.set_intent(intent)
            assert play.is_calibrating()
        cal = done.args[0]
        expected = calibrate("gridnav", ws.task, intent.model, intent_scale(intent.sidecar),
                             intent_unit(intent.sidecar), stored)
        # the same candidates as a calibration from the stored strength and c (the second's budgets are not
        # multiples of the c chosen for the first)
        assert (cal.strength, cal.c, cal.table) == (expected.strength, expected.c, expected.table)
        assert play.params() == cal.params(stored) == play.runner.params
        assert play.status_label.text().startswith(f"{AUTO_LEAD}: strength")
    # a person's own strength stays with the next model, and nothing calibrates over it
    play.params_panel.controls["strength"].spin.setValue(0.5)
    ws.set_intent(IntentAgent.load(tmp_path / "intent0"))
    assert not play.is_calibrating() and play.params().strength == 0.5
    assert play.status_label.text() == SET_NOT_CALIBRATED.format(strength=0.5, c=play.params().c)
    # a lesson sets the parameters itself: no calibration there
    window.calibrate_new_intents = False
    play.params_panel.reset()
    ws.set_intent(IntentAgent.load(tmp_path / "intent2"))
    assert not play.is_calibrating() and play.params() == stored and play.status_label.text() == NOT_CALIBRATED


def test_the_play_tab_calibrates_a_new_intent_by_itself_where_that_runs_in_a_process(qtbot, tmp_path, monkeypatch):
    """Highway's and Pong's calibrations (a minute or two, in a process of their own, their task agents' reference
    shipped) start by themselves too when Play shows a new intent model: the agent plays at the stored strength
    meanwhile and at the calibrated one after (gridnav stands in, its calibration sent to a process)."""
    import dpf_gui.calibration_process as process
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.pipeline import fusion_params
    from tests.qt_helpers import open_window

    spawned = []
    in_a_process = process._calibrate_in_a_process
    monkeypatch.setattr(process, "runs_in_a_process", lambda env_name: True)
    monkeypatch.setattr(process, "_calibrate_in_a_process", lambda *a: spawned.append(a[0][0]) or in_a_process(*a))
    train_tiny_additive_avoid_toll_intent(tmp_path / "intent")
    window = open_window(qtbot, tmp_path / "store", env="gridnav")
    ws, play = window.workspace, window.play
    window.tabs.setCurrentWidget(play)
    stored = fusion_params(ws.task)
    with qtbot.waitSignal(play.calibrated, timeout=WAIT_MS) as done:
        ws.set_intent(IntentAgent.load(tmp_path / "intent"))
        assert play.is_calibrating() and play.params() == stored
    cal = done.args[0]
    assert spawned == ["gridnav"] and cal is not None
    assert play.params() == cal.params(stored) and play.status_label.text().startswith(f"{AUTO_LEAD}: strength")


def test_compare_says_while_play_calibrates_in_the_background(qtbot, tmp_path, monkeypatch):
    """Compare shown first with a new intent model whose calibration takes a minute or two (highway, Pong): its
    line says Play is calibrating and both sides play at the stored strength until then; then the calibrated
    strength, or, cancelled, that it did not finish (gridnav stands in, its calibration sent to a process)."""
    import dpf_gui.calibration_process as process
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.app.calibrating import CALIBRATING_IN_PLAY, NOT_CALIBRATED_IN_PLAY
    from dpf_gui.pipeline import fusion_params
    from tests.qt_helpers import open_window

    monkeypatch.setattr(process, "runs_in_a_process", lambda env_name: True)
    for seed in (0, 1):
        train_tiny_additive_avoid_toll_intent(tmp_path / f"intent{seed}", seed=seed)
    window = open_window(qtbot, tmp_path / "store", env="gridnav")
    ws, compare = window.workspace, window.view("Compare")
    window.tabs.setCurrentWidget(compare)
    play = window.view("Play")
    with qtbot.waitSignal(play.calibrated, timeout=WAIT_MS) as done:
        ws.set_intent(IntentAgent.load(tmp_path / "intent0"))
        assert play.is_calibrating() and compare.status_label.text() == CALIBRATING_IN_PLAY
        assert compare.params() == fusion_params(ws.task)
    assert compare.params() == play.params() == done.args[0].params(fusion_params(ws.task))
    assert "calibrated for this intent on this machine" in compare.status_label.text()
    with qtbot.waitSignal(play.calibrated, timeout=WAIT_MS):
        ws.set_intent(IntentAgent.load(tmp_path / "intent1"))
        assert compare.status_label.text() == CALIBRATING_IN_PLAY
        assert play.cancel_calibration()
    assert compare.status_label.text() == NOT_CALIBRATED_IN_PLAY


def test_play_builds_again_for_an_intent_model_after_one_it_could_not_play(qtbot, tmp_path, monkeypatch):
    """Agents that could not be built for a new intent model are dropped; going back to the model they were built
    with before builds them again (it is not skipped as the model they already have)."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.errors import UserError
    from tests.qt_helpers import open_window

    for seed in (0, 1):
        train_tiny_additive_avoid_toll_intent(tmp_path / f"intent{seed}", seed=seed)
    window = open_window(qtbot, tmp_path / "store", env="gridnav")
    window.calibrate_new_intents = False
    ws, play = window.workspace, window.play
    window.tabs.setCurrentWidget(play)
    first = IntentAgent.load(tmp_path / "intent0")
    ws.set_intent(first)
    assert play.runner is not None and play.runner.intent is first.model

    def cannot_play(*_args, **_kwargs):
        raise UserError("this intent model cannot play here")

    monkeypatch.setattr(play, "set_agents", cannot_play)
    ws.set_intent(IntentAgent.load(tmp_path / "intent1"))
    assert play.runner is None and play.status_label.text() == "this intent model cannot play here"
    monkeypatch.undo()
    ws.set_intent(first)
    assert play.runner is not None and play.runner.intent is first.model
    ws.set_intent(None)  # no intent model at all: built again too (the task agent alone)
    assert play.runner is not None and play.runner.intent is None


def test_compare_shown_first_plays_a_new_gridnav_intent_at_the_strength_play_calibrates(qtbot, tmp_path):
    """A person who goes from Train straight to Compare sees both sides at the calibrated strength too: Play loads the
    new intent model behind it and calibrates it (about a second), and shares the result."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.pipeline import fusion_params
    from tests.qt_helpers import open_window

    train_tiny_additive_avoid_toll_intent(tmp_path / "intent")
    window = open_window(qtbot, tmp_path / "store", env="gridnav")
    ws = window.workspace
    window.tabs.setCurrentWidget(window.view("Compare"))
    compare = window.compare
    assert "Play" not in window.views  # not built yet
    stored = fusion_params(ws.task)
    play = window.view("Play")
    with qtbot.waitSignal(play.calibrated, timeout=WAIT_MS) as done:
        ws.set_intent(IntentAgent.load(tmp_path / "intent"))
    cal = done.args[0]
    assert window.tabs.currentWidget() is compare and play.up_to_date
    assert compare.params() == cal.params(stored) == play.params()
    assert all(r.params == cal.params(stored) for r in compare.runners.values())
    assert "calibrated for this intent on this machine" in compare.status_label.text()
    # Play, shown next, is already up to date with it and says it is calibrated
    window.tabs.setCurrentWidget(play)
    assert play.params() == cal.params(stored) and not play.is_calibrating()
    assert play.status_label.text().startswith(f"{AUTO_LEAD}: strength")


def test_a_command_line_calibration_is_found_by_play_and_compare(qtbot, tmp_path, capsys):
    """`dpf evaluate --calibrate` keeps its result under the app's key: a presenter can calibrate from the
    command line before the audience comes, and the app starts calibrated."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.cli import main

    train_tiny_additive_avoid_toll_intent(tmp_path / "intent")
    assert main(["evaluate", "--env", "gridnav", "--intent", str(tmp_path / "intent"), "--strategies", "dynamic",
                 "--preset", "avoid", "--episodes", "2", "--calibrate", "--quiet"]) == 0
    said = capsys.readouterr().out
    intent = IntentAgent.load(tmp_path / "intent")
    agents = (load_task_agent("gridnav"), intent.model, intent.sidecar)
    v = shown(qtbot, PlayView, agents, seed=3, size=(1300, 800))
    assert v.recalled is not None and "kept from an earlier calibration" in v.status_label.text()
    assert f"calibrated: strength {v.params().strength:g}, c {v.params().c:g}" in said
    c = shown(qtbot, CompareView, agents, seed=3, size=(1200, 800))
    assert c.params() == v.params() and "calibrated for this intent on this machine" in c.status_label.text()
    c.shutdown()
    v.shutdown()


def test_a_long_calibration_plays_in_a_process_of_its_own(qtbot, additive_agents, monkeypatch):
    """Highway's and Pong's calibrations (minutes) leave the app's process, so the UI thread never waits for the
    interpreter lock (gridnav stands in here): the same result, the same progress, and Cancel still cancels."""
    import dpf_gui.calibration_process as process
    from dpf_gui.app.calibrating import CANCELLED
    from dpf_gui.calibrate import calibrate
    from dpf_gui.fusion import intent_scale, intent_unit

    task, model, sidecar = additive_agents
    spawned = []
    in_a_process = process._calibrate_in_a_process
    monkeypatch.setattr(process, "runs_in_a_process", lambda env_name: env_name == "gridnav")
    monkeypatch.setattr(process, "_calibrate_in_a_process",
                        lambda *a: spawned.append(a[0][0]) or in_a_process(*a))
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    base, told = v.params(), []
    v._calibrationProgress.connect(lambda *a: told.append(a[:2]))
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as done:
        assert v.calibrate()
    cal = done.args[0]
    assert spawned == ["gridnav"]
    assert cal == calibrate("gridnav", task, model, intent_scale(sidecar), intent_unit(sidecar), base)
    assert v.params() == cal.params(base) and told[-1][0] == told[-1][1]
    v.set_params(base)
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as stopped:
        assert v.calibrate()
        assert v.cancel_calibration()
    assert stopped.args == [None, CANCELLED] and v.params() == base and len(spawned) == 2
    v.shutdown()


def test_closing_play_waits_for_its_calibration_process_to_stop(qtbot, additive_agents, monkeypatch):
    """Play closed (the app quits) while a calibration plays in its process: the process is asked to stop and
    waited for, so it ends cleanly instead of being cut off by the app's exit (which left its semaphores to the
    resource tracker's warning)."""
    import dpf_gui.calibration_process as process

    monkeypatch.setattr(process, "runs_in_a_process", lambda env_name: True)
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    assert v.calibrate()
    running = v._calibration
    qtbot.waitUntil(lambda: v.calibrate_progress.value() > 0, timeout=WAIT_MS)  # the process plays
    v.shutdown()
    assert not running.is_alive()


def test_a_failed_calibration_is_one_line_and_leaves_the_parameters(qtbot, additive_agents, monkeypatch):
    """A bug in the calibration (or its process) is said in one line under the controls, the traceback on
    stderr; multiprocessing's own errors come wrapped over many lines."""
    import dpf_gui.calibration_process as process

    def broken(*_args, **_kwargs):
        raise RuntimeError("\n        An attempt was made\n        to fail.\n")

    monkeypatch.setattr(process, "calibrate_on_this_machine", broken)
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    before = v.params()
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as done:
        assert v.calibrate()
    assert done.args == [None, "RuntimeError: An attempt was made to fail."]
    assert v.status_label.text() == "calibration failed: RuntimeError: An attempt was made to fail."
    assert v.params() == before and v.calibrate_button.isEnabled()
    v.shutdown()


def test_the_app_keeps_the_task_agents_reference_for_its_next_sessions(qtbot, additive_agents, tmp_path,
                                                                        monkeypatch):
    """On highway the reference is minutes of play: the app plays it in its first calibration and reads it back
    in a later session (gridnav stands in here, given a reference of 3 episodes)."""
    import dpf_gui.calibrate as cal_mod

    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "user-data"))
    monkeypatch.setattr(cal_mod, "REFERENCE_EPISODES", {"gridnav": 3})
    monkeypatch.setattr(cal_mod, "_references", {})
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    for session in ("first", "later"):
        told = []
        v._calibrationProgress.connect(lambda *a, told=told: told.append(a[2]))
        with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as done:
            assert v.calibrate()
        assert done.args[0] is not None and done.args[0].reference == 3
        played = any("reference" in what for what in told)
        assert played == (session == "first"), told
        assert len(list((tmp_path / "user-data" / "references").glob("reference-gridnav-*"))) == 1
        monkeypatch.setattr(cal_mod, "_references", {})  # the app closes; a later session starts
    v.shutdown()


def test_calibration_can_be_cancelled_and_leaves_the_parameters(qtbot, additive_agents):
    from dpf_gui.app.calibrating import CANCELLED

    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    before = v.params()
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as done:
        assert v.calibrate()
        qtbot.mouseClick(v.calibrate_button, Qt.LeftButton)  # the button cancels while it runs
        assert v.calibrate_button.text() == "Cancelling…" and not v.calibrate_button.isEnabled()
    assert done.args == [None, CANCELLED] and v.status_label.text() == CANCELLED
    assert v.params() == before and not v.is_calibrating()
    assert v.calibrate_button.text() == "Calibrate strength" and v.calibrate_button.isEnabled()
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS) as again:  # and it can run again, to the end
        assert v.calibrate()
    assert again.args[0] is not None
    v.shutdown()


def test_every_plot_says_what_it_shows_and_why_it_is_empty(view, qtbot):
    """Axis labels with units, a legend for the frame's colours, a note over a plot the strategy leaves empty,
    and a reset button for the fusion parameters."""
    plots = (view.weight_plot, view.temp_plot, view.collected_plot)
    for p in plots:
        item = p.getPlotItem()
        assert item.getAxis("bottom").labelText == "decision t" and item.getAxis("left").labelText
        assert p.note.isHidden()
    assert view.temp_plot.getPlotItem().getAxis("left").labelText == "T_ψ (norm.)"
    assert view.prob_bars.getPlotItem().getAxis("left").labelText == "probability"
    assert view.saliency_bars.getPlotItem().getAxis("bottom").labelText
    legend = view.findChild(QWidget, "frameLegend").text()
    for word in ("toll road", "scenic strip", "preferred", "avoided", "heat", "action about to be taken"):
        assert word in legend, word
    view.strategy_combo.setCurrentText("task")
    assert view.weight_plot.note.isVisible() and "“task”" in view.weight_plot.note.text()
    assert view.temp_plot.note.isVisible() and not view.collected_plot.note.isVisible()
    view.overlay_check.setChecked(False)
    assert "heat" not in view.findChild(QWidget, "frameLegend").text()
    view.strategy_combo.setCurrentText("dynamic")
    assert not any(not p.note.isHidden() for p in plots)
    # raw units: the axes say so
    panel = view.params_panel
    panel.normalise.setChecked(False)
    assert view.temp_plot.getPlotItem().getAxis("left").labelText == "T_ψ (raw)"
    # reset: every parameter back to the agent's defaults
    defaults = panel.presets()["this agent's defaults"]
    panel.controls["T_max"].spin.setValue(3.0)
    assert view.params() != defaults
    qtbot.mouseClick(view.findChild(QWidget, "resetParamsButton"), Qt.MouseButton.LeftButton)
    assert view.params() == defaults and view.runner.params == defaults



def test_a_note_fits_its_plot_after_a_resize_behind_another_tab(qtbot):
    """A plot resized while its tab is hidden places its note again: it kept the width of the larger window (Play
    at 1024x768 after 1280x720, every note cut off at the plot's right edge)."""
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    plot = LivePlot("fusion weight w", [("w", (0, 0, 0))])
    tabs.addTab(plot, "plot")
    tabs.addTab(QWidget(), "other")
    tabs.resize(1200, 400)
    tabs.show()
    qtbot.waitExposed(tabs)
    plot.set_note("empty under this strategy: the weight exists only when the task and intent policies are fused")
    wide = plot.note.width()
    tabs.setCurrentIndex(1)
    tabs.resize(500, 400)
    qtbot.wait(20)
    tabs.setCurrentIndex(0)
    qtbot.wait(20)
    assert plot.note.width() <= plot.width() < wide
    assert plot.note.x() >= 0 and plot.note.x() + plot.note.width() <= plot.width()


def test_a_note_leaves_the_y_axis_readable(qtbot):
    """The note sits over the data area, right of the y axis and its ticks (a short plot in Compare at 1024x768 had
    its ticks under the note)."""
    plot = LivePlot("fusion weight w", [("w", (0, 0, 0))], y_label="w (share, 0-1)")
    qtbot.addWidget(plot)
    plot.resize(330, 130)
    plot.show()
    qtbot.waitExposed(plot)
    plot.set_note("empty under \u201ctask\u201d: w exists only when the task and intent policies are fused")
    axis = plot.mapFromScene(plot.getPlotItem().getAxis("left").sceneBoundingRect()).boundingRect()
    assert axis.width() > 20  # the axis is drawn, with its ticks and label
    assert plot.note.x() >= axis.right() - 1
    assert plot.note.x() + plot.note.width() <= plot.width()


def test_saliency_bars_without_an_intent_have_a_plain_axis(qtbot):
    """No intent model, no bars: the attribution axis spans about -1..1 (it spanned 1e-6 and read "x1e-06"); the
    first real bars set their own range at once, and it stays when they are all zero for a decision."""
    bars = FeatureBars("intent saliency", [], x_label="attribution")
    qtbot.addWidget(bars)
    assert bars.getPlotItem().viewRange()[0][1] > 0.9
    bars.set_features(["x", "y"])
    assert bars.getPlotItem().viewRange()[0][1] > 0.9
    bars.set_values(np.array([1e-4, -3e-5]))
    assert bars.getPlotItem().viewRange()[0][1] == pytest.approx(1e-4 * 1.1, rel=0.05)
    bars.set_values(np.zeros(2))
    assert bars.getPlotItem().viewRange()[0][1] == pytest.approx(1e-4 * 1.1, rel=0.05)
    # one tick and the scale in the label, no SI factor: a narrow plot's ticks overlapped under "attribution (x0.001)"
    axis = bars.getPlotItem().getAxis("bottom")
    assert "attribution (±0.0001)" in axis.labelString()
    bars.set_values(np.array([350.0, -20.0]))
    assert [label for _, label in axis._tickLevels[0]] == ["0"] and "attribution (±500)" in axis.labelString()
    assert "(x" not in axis.labelString()


def test_compare_can_hide_its_parameters_for_taller_plots(qtbot):
    """Compare's Parameters button is there in the ordinary look too (not only in presentation mode): at 1024x768
    its three plots were about 90 px high under the fusion parameters."""
    c = CompareView()
    qtbot.addWidget(c)
    c.resize(1024, 690)
    c.show()
    qtbot.waitExposed(c)
    assert c.params_toggle.isVisible() and c.params_toggle.isChecked() and c.params_panel.isVisible()
    low = c.weight_plot.height()
    c.params_toggle.setChecked(False)
    qtbot.waitUntil(lambda: c.weight_plot.height() > low + 40)
    assert c.params_panel.isHidden()
    c.set_presentation(False)  # leaving presentation mode in a short window (690 px): still hidden (s56)
    assert c.params_toggle.isVisible() and c.params_panel.isHidden()
    c.params_toggle.setChecked(True)
    assert c.params_panel.isVisible()


def test_compare_notes_only_what_neither_side_draws(qtbot, agents):
    task, model, sidecar = agents
    c = CompareView()
    qtbot.addWidget(c)
    c.set_agents("gridnav", None, task, None, None, seed=1)
    assert all(not p.note.isHidden() for p in (c.weight_plot, c.temp_plot, c.collected_plot))
    assert "no intent model" in c.collected_plot.note.text()
    c.set_agents("gridnav", None, task, model, sidecar, seed=1)
    assert not any(not p.note.isHidden() for p in (c.weight_plot, c.temp_plot, c.collected_plot))
    c.set_strategies("task", "intent")
    assert c.weight_plot.note.isHidden() is False and c.temp_plot.note.isHidden() is not False
    assert c.findChild(QWidget, "compareFrameLegend").text() and c.findChild(QWidget, "compareResetParamsButton")
    c.shutdown()


def test_space_r_s_play_restart_and_step(view, qtbot):
    """A presenter's keys in Play (and Compare): Space plays / pauses, S takes one decision, R restarts."""
    view.activateWindow()
    qtbot.waitUntil(lambda: view.isActiveWindow(), timeout=WAIT_MS)
    t0 = view.snapshot().t
    qtbot.keyClick(view, Qt.Key.Key_S)
    assert view.snapshot().t == t0 + 1 and not view.is_playing()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.is_playing()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.is_playing()
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert view.snapshot().t == 0
    assert set(view.shortcuts) == {"toggle_play", "key_restart", "key_step"}


def test_export_trace_is_the_episode_shown_and_what_dpf_trace_writes(view, qtbot, agents, tmp_path):
    """Play's Export trace writes the episode on screen, row by row, as `dpf trace` plays the same seed."""
    import csv

    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import fusion_params
    from dpf_gui.trace import play_trace

    task, model, _sidecar = agents
    assert view.export_trace(tmp_path / "none.csv") is None and not (tmp_path / "none.csv").exists()
    with qtbot.waitSignal(view.episodeFinished, timeout=WAIT_MS):
        view.run_decisions(200)
    shown = view.export_trace(tmp_path / "play.csv")
    with open(shown) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == view.snapshot().t and rows[0]["strategy"] == "dynamic"
    assert all(r["w"] and r["T_psi"] and r["G_t"] for r in rows) and rows[-1]["t"] == str(len(rows) - 1)
    assert {"in_prefer", "in_avoid", "region:x", "region:terrain", "action_name"} <= set(rows[0])
    runner = view.runner
    agent = FusedAgent(task, "dynamic", fusion_params(task), intent=model, intent_scale=runner.intent_scale,
                       intent_unit=runner.intent_unit)
    again = play_trace("gridnav", agent, runner.seed, env_config=task.env_config, wish=runner.wish)
    assert again.csv_text() == shown.read_text()


def test_named_ticks_shrink_or_shorten_instead_of_overlapping(qtbot):
    """Highway's long action names and 26 features on small plots: smaller ticks, then short names, then letters."""
    from PySide6.QtGui import QFontMetrics

    from dpf_gui.app.plot_bars import ActionBars, FeatureBars
    from dpf_gui.app.plots import STYLE

    names = ["LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER"]
    bars = ActionBars("action probabilities", names, [("task", (0, 0, 0))])
    qtbot.addWidget(bars)
    bars.resize(700, 200)
    bars.show()
    assert [t for _i, t in bars._ticks[0]] == names and bars._tick_pt == STYLE["axis_pt"]
    bars.resize(300, 200)
    qtbot.wait(10)
    assert [t for _i, t in bars._ticks[0]] == ["left", "idle", "right", "faster", "slower"]
    assert "LANE_RIGHT" in bars.toolTip() and bars._tick_pt >= STYLE["names_pt"]
    bars.resize(235, 200)  # Play's at 1024x768
    qtbot.wait(10)
    assert [t for _i, t in bars._ticks[0]] == ["left", "idle", "right", "fast.", "slow."]
    bars.resize(150, 200)  # narrower than the Play tab's at 1024x768 (235)
    qtbot.wait(10)
    assert [t for _i, t in bars._ticks[0]] == ["l", "i", "r", "f", "s"] and "LANE_RIGHT" in bars.toolTip()
    font = bars.font()
    font.setPointSize(bars._tick_pt)
    assert QFontMetrics(font).horizontalAdvance("r") + 6 <= (150 - 60) / 5  # fits its group
    features = FeatureBars("intent saliency", [f"v{i}_x" for i in range(26)])
    qtbot.addWidget(features)
    features.resize(250, 800)
    features.show()
    big = features._tick_pt
    features.resize(250, 300)
    qtbot.wait(10)
    assert features._tick_pt < big


@pytest.mark.parametrize("large", [False, True], ids=["normal", "presentation"])
def test_highways_action_and_feature_names_stay_legible(qtbot, large):
    """The UX review (s56): in Play highway's action names were 7 pt (LANE_LEFT) or single letters, and its 26
    feature names 7 pt. Named ticks now stay at the style's least readable size (larger in presentation mode):
    actions get short words, and features sharing a prefix one summed bar each (v0_*: a car, as the overlay)."""
    import numpy as np

    from dpf_gui.app.plot_bars import ActionBars, FeatureBars
    from dpf_gui.app.plots import STYLE, set_plot_style
    from dpf_gui.envs import env_spec

    spec = env_spec("highway")
    set_plot_style(large)
    try:
        bars = ActionBars("action probabilities", spec.action_names, [("task", (0, 0, 0))])
        qtbot.addWidget(bars)
        bars.resize(400 if large else 360, 200)  # Play's at 1280x720
        bars.show()
        qtbot.wait(10)
        assert [t for _i, t in bars._ticks[0]] == ["left", "idle", "right", "faster", "slower"]
        assert bars._tick_pt >= STYLE["names_pt"] >= (10 if large else 8)
        features = FeatureBars("intent saliency", spec.feature_names)
        qtbot.addWidget(features)
        features.resize(280, 400)  # Play's at 1280x720
        features.show()
        qtbot.wait(10)
        ticks = [t for _i, t in features.getPlotItem().getAxis("left")._tickLevels[0]]
        assert ticks == ["v0_*", "v1_*", "v2_*", "v3_*", "v4_*", "ego_lane"]
        assert features._tick_pt >= STYLE["names_pt"] and "v0_* = v0_presence + v0_x" in features.toolTip()
        values = np.arange(26, dtype=float)
        features.set_values(values)
        assert list(features.bar.opts["width"]) == [10, 35, 60, 85, 110, 25]  # each car's five features summed
        features.resize(280, 1200)  # room for every name: one bar each again
        qtbot.wait(10)
        assert len(features.getPlotItem().getAxis("left")._tickLevels[0]) == 26 and "summed" not in features.toolTip()
    finally:
        set_plot_style(False)


def test_a_plot_note_keeps_all_its_lines_when_the_plot_narrows(qtbot):
    """The empty-plot note wraps to more lines in a narrower plot; its label grows with it instead of clipping."""
    from dpf_gui.app.plot_bars import FeatureBars

    bars = FeatureBars("intent saliency")
    qtbot.addWidget(bars)
    bars.resize(300, 400)
    bars.show()
    bars.set_features([])
    bars.set_note("no intent model: nothing to attribute (" + NEEDS_INTENT_TIP + ", Train tab)")
    wide = bars.note.height()
    bars.resize(180, 140)
    qtbot.waitUntil(lambda: bars.note.width() < 200)
    assert bars.note.height() >= bars.note.heightForWidth(bars.note.width()) > wide


def test_a_stored_margin_above_the_spin_boxs_range_is_shown_as_it_is(qtbot):
    from dpf_gui.app.params_panel import MARGIN_MAX, ParamsPanel
    from dpf_gui.fusion_params import FusionParams

    panel = ParamsPanel()
    qtbot.addWidget(panel)
    panel.set_params(FusionParams(margin=MARGIN_MAX + 2))
    assert panel.guard_spin.value() == MARGIN_MAX + 2 and panel.params().margin == MARGIN_MAX + 2
    panel.guard.setCurrentIndex(panel.guard.findData("any action"))
    panel.guard.setCurrentIndex(panel.guard.findData("near-best"))  # off and on again: the stored margin comes back
    assert panel.params().margin == MARGIN_MAX + 2


def test_the_guard_combo_switches_the_margin_and_the_risk_guard_with_one_spin_box(qtbot):
    from dpf_gui.app.params_panel import ParamsPanel
    from dpf_gui.pipeline import fusion_params, load_task_agent

    panel = ParamsPanel()
    qtbot.addWidget(panel)
    task = load_task_agent("highway")
    panel.configure("highway", task)
    assert panel.guard.model().item(panel.guard.findData("no riskier")).isEnabled()
    panel.reset()  # highway's stored defaults: the risk guard at 0.005, no margin (docs/MODELS.md)
    assert panel.params() == fusion_params(task) and panel.params().risk == 0.005 and panel.params().margin is None
    assert panel.guard.currentText() == "no riskier" and panel.guard_spin.value() == 0.005
    seen = []
    panel.paramsChanged.connect(seen.append)
    panel.guard_spin.setValue(0.02)
    assert seen[-1].risk == 0.02 and seen[-1].margin is None
    panel.guard.setCurrentIndex(panel.guard.findData("near-best"))  # the spin box now edits the margin
    assert (seen[-1].margin, seen[-1].risk) == (panel.MARGIN_ON, None) and panel.guard_spin.value() == panel.MARGIN_ON
    panel.guard_spin.setValue(1.5)
    panel.guard.setCurrentIndex(panel.guard.findData("both"))  # both at their last values; the spin box: the risk
    assert (seen[-1].margin, seen[-1].risk) == (1.5, 0.02) and panel.guard_spin.value() == 0.02
    assert "margin 1.5" in panel.guard_spin.toolTip()
    panel.guard.setCurrentIndex(panel.guard.findData("any action"))
    assert (seen[-1].margin, seen[-1].risk) == (None, None) and not panel.guard_spin.isEnabled()
    panel.preset.activated.emit(panel.preset.findData("this agent's defaults"))
    assert panel.guard.currentText() == "no riskier" and panel.params() == fusion_params(task)


def test_the_frame_legend_names_what_is_drawn_without_an_intent_model(qtbot, agents):
    # the UX review (s55): with no intent model the legend left out gridnav's action arrow and highway's lane
    from dpf_gui.app.overlays import legend_html

    task, _model, _sidecar = agents
    v = shown(qtbot, PlayView, (task, None, None), seed=0, size=(1024, 700))
    try:
        legend = v.findChild(QWidget, "frameLegend").text()
        assert "action about to be taken" in legend and "heat" not in legend, legend
        v.overlay_check.setChecked(False)  # nothing drawn over the frame: nothing of it in the legend
        assert "action about to be taken" not in v.findChild(QWidget, "frameLegend").text()
    finally:
        v.shutdown()
    highway = legend_html("highway", overlay=True, saliency=False)
    assert "our lane" in highway and "rings" not in highway
    assert "rings" in legend_html("highway", overlay=True, saliency=True)


def test_abbreviated_action_names_are_spelled_out_in_the_tooltip(qtbot):
    # the UX review (s55): "u r d l" under the bars, with nothing saying what u, r, d and l are
    from dpf_gui.app.plot_bars import ActionBars

    bars = ActionBars("action probabilities", ["up", "right", "down", "left"], [("task", (0, 114, 178))])
    qtbot.addWidget(bars)
    bars.resize(110, 200)
    bars.show()
    qtbot.waitExposed(bars)
    qtbot.waitUntil(lambda: bars._ticks[0][0][1] != "up", timeout=WAIT_MS)
    assert bars.toolTip() == "actions: u = up, r = right, d = down, l = left", bars.toolTip()
    bars.resize(600, 200)
    qtbot.waitUntil(lambda: bars._ticks[0][0][1] == "up", timeout=WAIT_MS)
    assert bars.toolTip() == ""  # the names themselves under the bars


def test_the_not_calibrated_line_follows_the_parameters_set(qtbot, additive_agents):
    """"Stored defaults" beside a c the person (or a lesson's try) changed was not true any more: the line says
    what is set, in both looks, and the stored values again after Reset."""
    from dpf_gui.app.calibrating import SET_NOT_CALIBRATED_SHORT

    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    assert v.status_label.text() == NOT_CALIBRATED
    v.set_params(dataclasses.replace(v.params(), c=0.0))
    p = v.params()
    assert v.params_panel.preset.currentText() == "custom"
    assert v.status_label.text() == SET_NOT_CALIBRATED.format(strength=p.strength, c=0.0)
    v.set_presentation(True)
    assert v.status_label.text() == SET_NOT_CALIBRATED_SHORT.format(strength=p.strength, c=0.0)
    v.set_presentation(False)
    v.params_panel.reset()
    assert v.status_label.text() == NOT_CALIBRATED
    v.shutdown()


def test_a_calibration_in_progress_tells_its_candidate_from_the_strength_play_uses(qtbot, additive_agents,
                                                                                  monkeypatch):
    """The progress line named the strength being tried ("strength 8, c 3") while the strength box (and the agent
    playing) stood at the stored one: it says which is which."""
    import threading

    import dpf_gui.calibration_process as process
    from dpf_gui.calibrate import CalibrationCancelled

    told = threading.Event()

    def slow_calibration(*args, progress, should_stop, **kw):
        progress(5, 50, "strength 8, c 3")
        told.set()
        while not should_stop():
            time.sleep(0.01)
        raise CalibrationCancelled

    monkeypatch.setattr(process, "calibrate_on_this_machine", slow_calibration)
    v = shown(qtbot, PlayView, additive_agents, seed=3, size=(1300, 800))
    p = v.params()
    assert p.strength != 8
    with qtbot.waitSignal(v.calibrated, timeout=WAIT_MS):
        assert v.calibrate()
        qtbot.waitUntil(lambda: "episode 5 of at most 50" in v.status_label.text(), timeout=WAIT_MS)
        line = v.status_label.text()
        assert "in simulation: strength 8, c 3" in line
        assert f"until it is done Play plays at strength {p.strength:g}, c {p.c:g}" in line
        assert v.runner.params.strength == p.strength
        v.cancel_calibration()
    v.shutdown()

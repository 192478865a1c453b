"""Play: the fused agent acting live, with its fusion diagnostics and the intent's saliency.

Split so that the Qt part stays a thin view:

* :class:`~dpf_gui.episode.EpisodeRunner` (no Qt, :mod:`dpf_gui.episode`)
  owns one environment and one :class:`~dpf_gui.fusion.FusedAgent` and
  advances the episode one decision at a time, returning a
  :class:`~dpf_gui.episode.Snapshot` of what to show.
* Highway's runner lives in a worker process
  (:class:`~dpf_gui.episode_worker.RemoteRunner`): started with the first
  highway agents, reused for every episode and agents after them, closed when
  the view shuts down or another environment is opened. A highway step in a
  thread of the app held the interpreter lock the UI needs and stalled the
  window under load. Gridnav and Pong decide in well under a millisecond and
  run in the UI thread.
* :class:`PlayView` (Qt) drives the runner through an
  :class:`~dpf_gui.app.driver.EpisodeDriver` (one decision per timer tick;
  highway's requested from a worker thread that waits on the process), shown
  as frame + overlay, ring-buffer plots of the fusion weight w, T_psi and the
  collected intent reward G_t, bars of the task / intent / fused action
  probabilities and of the feature attribution, and the episode metrics.

Order of events: the frame shown is state s_t; the bars and saliency explain
the decision a_t *about to be taken* in it (so what is on screen is always
consistent); the next tick takes a_t, then decides a_{t+1}. The slider values
act from the next decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.app.calibrating import CLOSE_WAIT_S, CalibratingView
from dpf_gui.app.driver import EpisodeDriver
from dpf_gui.app.frame_view import FrameView
from dpf_gui.app.overlays import compose, frame_legend_label, legend_html
from dpf_gui.app.params_panel import ParamsPanel
from dpf_gui.app.play_widgets import (
    AXIS,
    METRICS_TIP,
    PLOT_CAPACITY,
    PLOT_TIPS,
    ParamsScroll,
    axis_label,
    empty_plot_notes,
    enable_strategies,
    metrics_html,
    off_ui_thread,
    params_toggle_button,
    reserve_lines,
    strategy_combo,
    wanted_strategy,
)
from dpf_gui.app.plot_bars import ActionBars, FeatureBars
from dpf_gui.app.plots import FUSED, INTENT, TASK, LivePlot
from dpf_gui.app.recording import RecordingView
from dpf_gui.app.save_dialog import ask_save_path
from dpf_gui.app.shortcuts import PLAY_SHORTCUTS, PlayKeys, install
from dpf_gui.episode import (
    NEEDS_INTENT_TIP,
    EpisodeRunner,
    Snapshot,
)
from dpf_gui.episode_worker import EpisodeProcess, RemoteRunner
from dpf_gui.errors import UserError, WorkerError
from dpf_gui.fusion_params import FusionParams


# ---------------------------------------------------------------------------
# the play view
# ---------------------------------------------------------------------------
class PlayView(CalibratingView, RecordingView, PlayKeys, QWidget):
    """The fused agent playing live. Build with ``PlayView()`` then call :meth:`set_agents`."""

    snapshotShown = Signal(object)  # Snapshot
    episodeFinished = Signal(dict)  # EpisodeMetrics.to_dict() plus "seed"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("playView")
        self.runner: EpisodeRunner | RemoteRunner | None = None
        self._process: EpisodeProcess | None = None  # highway's worker process, kept across episodes and agents
        self._process_env = ""
        self.wish = None
        self._snap: Snapshot | None = None
        self._build()
        self.driver = EpisodeDriver(self, play_button=self.play_button, seed_spin=self.seed_spin,
                                    speed_spin=self.speed_spin, loop_check=self.loop_check,
                                    status_label=self.status_label, show=self._show, clear=self._new_episode,
                                    ended=self._episode_ended, episode_pause_s=0.8, thread_name="dpf-play")
        self._set_enabled(False)
        self.shortcuts = install(self, PLAY_SHORTCUTS)  # Space, R, S (docs/GUI.md)

    # --- construction --------------------------------------------------------
    def _build(self) -> None:
        self.frame_view = FrameView(object_name="frameView")
        self.strategy_combo = strategy_combo("strategyCombo", "dynamic")
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("playPauseButton")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("play / pause (one decision per tick)")
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("stepButton")
        self.step_button.setToolTip("take one decision")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setObjectName("restartButton")
        self.restart_button.setToolTip("start a new episode with the seed on the right")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.seed_spin.setMinimumWidth(self.seed_spin.fontMetrics().horizontalAdvance("seed 0000000") + 30)
        self.speed_spin = QSpinBox()
        self.speed_spin.setObjectName("speedSpin")
        self.speed_spin.setRange(0, 240)
        self.speed_spin.setValue(15)
        self.speed_spin.setSuffix(" /s")
        self.speed_spin.setSpecialValueText("max")
        self.speed_spin.setToolTip("decisions per second (0: as fast as possible)")
        self.loop_check = QCheckBox("loop")
        self.loop_check.setObjectName("loopCheck")
        self.loop_check.setChecked(True)
        self.loop_check.setToolTip("when an episode ends, go on with the next seed")
        self.overlay_check = QCheckBox("saliency overlay")
        self.overlay_check.setObjectName("overlayCheck")
        self.overlay_check.setChecked(True)
        self._init_recording("", "the frame view (with overlays)")
        self.trace_button = QPushButton("Export trace…")
        self.trace_button.setObjectName("exportTraceButton")
        self.trace_button.setToolTip("write the episode shown so far as CSV, one row per decision: strategy, action, "
                                     "task reward, w, T_ψ, G_t, intent reward, preferred / avoided, region values "
                                     "(as `dpf trace` writes it)")
        self._init_calibration()
        self.params_toggle = params_toggle_button("paramsToggle")
        self.status_label = QLabel("")
        self.status_label.setObjectName("playStatus")
        self.status_label.setWordWrap(True)
        self._presenting = False  # presentation mode: the status line's short forms
        self._status_forms: tuple[str, str] = ("", "")  # the line shown and its short form (see _say)
        self.metrics_label = QLabel("no episode")
        self.metrics_label.setObjectName("episodeMetrics")
        self.metrics_label.setToolTip(METRICS_TIP)
        self.metrics_label.setTextFormat(Qt.RichText)
        self.metrics_label.setWordWrap(True)
        self.legend_label = frame_legend_label("frameLegend")
        reserve_lines(self.metrics_label, 2)
        # two columns: the left column is about half the window, where three left each slider 25 px
        self.params_panel = ParamsPanel(columns=2)
        self.params_scroll = ParamsScroll(self.params_panel, "paramsScroll")

        self._control_rows = [QHBoxLayout(), QHBoxLayout(), QHBoxLayout(), QHBoxLayout()]
        self._arrange_controls(compact=False)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.frame_view, 1)
        lv.addWidget(self.legend_label)
        lv.addWidget(self.metrics_label)
        for row in self._control_rows:
            lv.addLayout(row)
        lv.addWidget(self.params_scroll)
        lv.addWidget(self.status_label)

        self.weight_plot = LivePlot("fusion weight w", [("w", FUSED)], PLOT_CAPACITY, y_range=(0.0, 1.0),
                                    object_name="weightPlot", y_label=AXIS["w"])
        self.weight_plot.setToolTip(PLOT_TIPS["w"])
        self.temp_plot = LivePlot("intent temperature T_ψ", [("T_psi", INTENT)], PLOT_CAPACITY, object_name="tempPlot",
                                  y_label=axis_label("T", True))
        self.temp_plot.setToolTip(PLOT_TIPS["T"])
        self.collected_plot = LivePlot("intent reward", [("G_t", INTENT), ("advantage", TASK)], PLOT_CAPACITY,
                                       object_name="collectedPlot", y_label=axis_label("G", True))
        self.collected_plot.setToolTip("G_t: what dynamic fusion has counted so far, by the rule chosen under "
                                       "'G_t counts' (times decay per step); advantage: r_t(a_t) minus the mean "
                                       "over the legal actions (normalised by the model's typical difference "
                                       "between actions, times the strength)")
        self.prob_bars = ActionBars("action probabilities", [], [("task", TASK), ("intent", INTENT), ("fused", FUSED)],
                                    object_name="probBars")
        self.saliency_bars = FeatureBars("intent saliency", object_name="saliencyBars",
                                         x_label="attribution")
        self.saliency_bars.setToolTip("integrated-gradients attribution of the chosen action's intent reward (the "
                                      "additive kind: its intent value) to the state features, against the "
                                      "training data's mean state, in the reward's units (green: raises it)")
        right = QWidget()
        grid = QGridLayout(right)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.weight_plot, 0, 0)
        grid.addWidget(self.temp_plot, 1, 0)
        grid.addWidget(self.collected_plot, 2, 0)
        grid.addWidget(self.prob_bars, 0, 1)
        grid.addWidget(self.saliency_bars, 1, 1, 2, 1)
        for row in range(3):
            grid.setRowStretch(row, 1)
        for col in range(2):  # the bars as wide as the time plots: room for highway's action names
            grid.setColumnStretch(col, 1)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

        self.strategy_combo.currentTextChanged.connect(self.set_strategy)
        self.step_button.clicked.connect(self.step_once)
        self.restart_button.clicked.connect(lambda: self.restart())
        self.overlay_check.toggled.connect(lambda _on: (self._redraw(), self._say_what_is_shown()))
        self.params_panel.paramsChanged.connect(self._on_params)
        self.trace_button.clicked.connect(self._ask_trace)
        self.params_toggle.toggled.connect(self.params_scroll.show_params)

    def _arrange_controls(self, compact: bool) -> None:
        """The controls under the frame in three rows, or in four (``compact``: large text in a narrow column)."""
        s, st = self.strategy_combo, None  # None: a stretch
        rows = ([[s, self.play_button, self.step_button, self.restart_button, self.seed_spin, self.speed_spin, st],
                 [self.loop_check, self.overlay_check, self.record_button, self.record_whole_check, st,
                  self.trace_button],
                 [self.params_toggle, st, self.calibrate_progress, self.calibrate_button], []] if not compact else
                [[s, self.play_button, self.step_button, self.restart_button, st],
                 [self.seed_spin, self.speed_spin, self.loop_check, self.overlay_check, st],
                 [self.record_button, self.record_whole_check, self.trace_button, st],
                 [self.params_toggle, st, self.calibrate_progress, self.calibrate_button]])
        for layout, widgets in zip(self._control_rows, rows, strict=True):
            while layout.count():
                layout.takeAt(0)
            for w in widgets:
                layout.addStretch(1) if w is None else layout.addWidget(w)

    #: the picture's least height in presentation mode: the parameters, when shown, scroll below it (they left
    #: it 80 px at 1280x720)
    PRESENT_FRAME_MIN = 200

    def set_presentation(self, on: bool) -> None:
        """Large text (presentation mode): the controls in four rows, the guard and the named sets on lines of
        their own, so the plots keep room beside the frame at 1024 pixels; the picture at least
        :attr:`PRESENT_FRAME_MIN` tall."""
        self._presenting = on
        if self.status_label.text() in self._status_forms:
            self._say(*self._status_forms)
        self._arrange_controls(compact=on)
        self.params_panel.set_columns(2, compact=on)
        self.frame_view.setMinimumHeight(self.PRESENT_FRAME_MIN if on else FrameView.MIN_HEIGHT)
        self.params_toggle.setChecked(not on)  # large text: the picture first; the parameters on demand
        for row in self._control_rows:
            row.invalidate()
        self.updateGeometry()

    def _say(self, normal: str, short: str) -> None:
        """A status line with a short form for presentation mode (switched with the mode while it is shown)."""
        self._status_forms = (normal, short)
        self.status_label.setText(short if self._presenting else normal)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.strategy_combo, self.play_button, self.step_button, self.restart_button, self.seed_spin,
                  self.speed_spin, self.record_button, self.trace_button, self.params_panel):
            w.setEnabled(on)
        self._enable_calibration(on)

    # --- public API ----------------------------------------------------------
    def set_agents(self, env_name: str, env_config: Mapping[str, Any] | None, task_agent, intent_model=None,
                   intent_sidecar: Mapping[str, Any] | None = None, wish=None, seed: int | None = None,
                   strategy: str | None = None, params: FusionParams | None = None) -> None:
        """Load what to play. ``intent_model`` None: only ``task`` is offered. ``wish`` None: the one the
        intent model was trained for (from its sidecar), if recorded. Starts a fresh episode, paused."""
        self.pause()
        if env_name != self._process_env:  # another environment: its worker process goes (first: see _close_runner)
            self._close_process()
        self._release_runner()  # the worker process of the same environment stays for the new agents
        strategy = strategy or wanted_strategy(self.strategy_combo, intent_model is not None)
        if intent_model is None:
            strategy = "task"
        runner = self._make_runner(env_name, env_config, task_agent, intent_model, intent_sidecar, strategy, params,
                                   wish)
        self.runner = runner
        self.wish = runner.wish
        self.driver.attach(runner.advance, runner.reset, lambda: runner.done, threaded=off_ui_thread(env_name))
        if isinstance(runner, RemoteRunner) and runner.process.pid is None:
            self.frame_view.set_image(None)
            self.frame_view.set_message(f"starting the {env_name} simulator…")
        self.params_panel.configure(env_name, task_agent, intent_model)
        self._drop_calibration()  # a calibration of the previous agents no longer applies
        self.prob_bars.set_actions(runner.action_names)
        self.saliency_bars.set_features(runner.feature_names if intent_model is not None else [])
        self.saliency_bars.set_note(None if intent_model is not None else
                                    "no intent model: nothing to attribute (" + NEEDS_INTENT_TIP + ", Train tab)")
        self.strategy_combo.blockSignals(True)
        enable_strategies(self.strategy_combo, intent_model is not None)
        self.strategy_combo.setCurrentText(runner.strategy)
        self.strategy_combo.blockSignals(False)
        self.params_panel.set_params(runner.params)
        self._set_enabled(True)
        if intent_model is not None:
            if not (self._recall_calibration(env_name, task_agent, intent_sidecar)
                    or self._calibrate_new_intent(task_agent)):
                self._say_not_calibrated()
        else:
            self.status_label.setText("No intent model: only the task strategy is available (" + NEEDS_INTENT_TIP
                                      + ").")
        if seed is not None:
            self.seed_spin.setValue(int(seed))
        self._say_what_is_shown()
        self.restart()

    def _make_runner(self, env_name, env_config, task, intent, sidecar, strategy, params, wish):
        """Highway's runner in the worker process (started on first use, kept for the next agents of the same
        environment); any other environment's here."""
        if not off_ui_thread(env_name):
            return EpisodeRunner(env_name, env_config, task, intent, sidecar, strategy, params, wish=wish)
        if self._process is None:
            self._process, self._process_env = EpisodeProcess(f"{env_name} simulator"), env_name
        return RemoteRunner(self._process, env_name, env_config, task, intent, sidecar, strategy, params, wish=wish)

    def _close_process(self) -> None:
        proc, self._process, self._process_env = self._process, None, ""
        if proc is not None:
            proc.close()

    def play(self) -> None:
        self.driver.play()

    def pause(self) -> None:
        self.driver.pause()

    def is_playing(self) -> bool:
        return self.driver.playing

    def set_strategy(self, name: str) -> None:
        """Switch strategy; acts from the next decision."""
        if self.runner is None or name == self.runner.strategy:
            return
        try:  # no step to wait for: gridnav and Pong step in this thread, highway's runner queues the change
            self.runner.set_strategy(name)
        except UserError as exc:
            self.status_label.setText(str(exc))
            self.strategy_combo.blockSignals(True)
            self.strategy_combo.setCurrentText(self.runner.strategy)
            self.strategy_combo.blockSignals(False)
            return
        if self.strategy_combo.currentText() != name:
            self.strategy_combo.blockSignals(True)
            self.strategy_combo.setCurrentText(name)
            self.strategy_combo.blockSignals(False)
        self._say_what_is_shown()

    def set_params(self, params: FusionParams) -> None:
        """Set the fusion parameters (as the sliders do); they act from the next decision."""
        self.params_panel.set_params(params)
        self._on_params(params)

    def params(self) -> FusionParams:
        return self.params_panel.params()

    def set_speed(self, decisions_per_s: int) -> None:
        """Decisions per second; 0 = as fast as possible."""
        self.speed_spin.setValue(int(decisions_per_s))

    def restart(self, seed: int | None = None) -> None:
        """New episode with ``seed`` (default: the seed box)."""
        self.driver.restart(seed)

    def step_once(self) -> None:
        """One decision (synchronously, also for highway: a single step is short)."""
        self.driver.run_decisions(1)

    def run_decisions(self, n: int, restart_on_end: bool = False) -> int:
        """Take up to ``n`` decisions synchronously, updating every widget; returns how many were taken.

        For tests and benchmarks: the UI is not repainted in between unless
        the caller processes events.
        """
        return self.driver.run_decisions(n, restart_on_end)

    def fps(self) -> float:
        """Frames shown per second over the last two seconds (0 if fewer than two)."""
        return self.driver.fps.fps()

    def snapshot(self) -> Snapshot | None:
        """What is on screen now."""
        return self._snap

    def metrics(self) -> dict[str, Any]:
        return dict(self._snap.metrics) if self._snap is not None else {}

    def export_trace(self, path: str | Path) -> Path | None:
        """Write the episode shown so far as CSV (:mod:`dpf_gui.trace`); None (said in the status line) when
        nothing has been played or the file cannot be written."""
        try:
            trace = None if self.runner is None else self.runner.trace
        except WorkerError as exc:
            self.status_label.setText(f"Cannot export the trace: {exc}")
            return None
        if trace is None or not trace.rows:
            self.status_label.setText("Nothing to export yet: play or step the episode first.")
            return None
        try:
            written = trace.write_csv(path)
        except OSError as exc:
            self.status_label.setText(f"Cannot write {path}: {exc.strerror or exc}")
            return None
        self.status_label.setText(f"Trace of {len(trace.rows)} decisions written to {written}")
        return written

    def _ask_trace(self) -> None:
        if self.runner is None:
            return
        name = f"{self.runner.env_name}-{self.runner.strategy}-seed{self.runner.seed}.csv"
        path = ask_save_path(self, "Export the episode's trace", name, "CSV (*.csv)")  # 'trace' -> trace.csv
        if path is not None:
            self.export_trace(path)

    # --- internals -------------------------------------------------------------
    def _say_what_is_shown(self) -> None:
        """Units on the axes (normalised or raw) and a note over every plot the strategy leaves empty."""
        if self.runner is None:
            return
        normalised = self.runner.params.normalise
        self.temp_plot.set_axis_label("left", axis_label("T", normalised))
        self.collected_plot.set_axis_label("left", axis_label("G", normalised))
        show = self.overlay_check.isChecked()
        self.legend_label.setText(legend_html(self.runner.env_name, overlay=show,
                                              saliency=self.runner.intent is not None,
                                              regions=show and self.wish is not None))
        notes = empty_plot_notes([self.runner.strategy], self.runner.intent is not None)
        for key, plot in (("w", self.weight_plot), ("T", self.temp_plot), ("G", self.collected_plot)):
            plot.set_note(notes.get(key))

    def _on_params(self, params: FusionParams) -> None:
        if self.runner is not None:
            self.runner.set_params(params)
            self._say_what_is_shown()
            self._still_not_calibrated()

    def _new_episode(self) -> None:
        """Nothing of the new episode is shown yet (highway's first frame follows): clear the plots, and a
        recording started now begins with that first frame."""
        self._snap = None
        for p in (self.weight_plot, self.temp_plot, self.collected_plot):
            p.clear_data()

    def _show(self, snap: Snapshot) -> None:
        self._snap = snap
        d = snap.decision
        if d is not None:
            adv = None
            if d.intent_rewards is not None:
                adv = float(d.intent_rewards[d.action] - d.intent_rewards[d.legal].mean())
            self.weight_plot.push(snap.t, w=d.weight)
            self.temp_plot.push(snap.t, T_psi=d.T_psi)
            self.collected_plot.push(snap.t, G_t=d.collected if d.intent_rewards is not None else None, advantage=adv)
            for p in (self.weight_plot, self.temp_plot, self.collected_plot):
                p.refresh()
            self.prob_bars.set_values("task", d.p_task)
            self.prob_bars.set_values("intent", d.p_intent)
            self.prob_bars.set_values("fused", d.p_fused)
        if snap.attribution is not None:
            self.saliency_bars.set_values(snap.attribution)
        image = compose(snap.frame, snap.overlay, self.overlay_check.isChecked())
        self.frame_view.set_message("")
        self.frame_view.set_image(image)
        self.metrics_label.setText(metrics_html(snap, self.wish, self.fps() if self.driver.playing else None))
        self._record_shown()
        self.snapshotShown.emit(snap)

    def _recording_picture(self):
        return self.frame_view.image() if self._snap is not None else None

    def _recording_caption(self) -> str:
        snap = self._snap
        if self.runner is None or snap is None:
            return "dpf-gui"
        return (f"Dynamic Policy Fusion · {self.runner.env_name} · {snap.strategy} · seed {snap.seed} · "
                f"decision {snap.t}" + (" · episode over" if snap.done else ""))

    def _recording_name(self) -> str:
        return f"dpf-{self.runner.env_name if self.runner else 'play'}.gif"

    def _episode_ended(self) -> None:
        snap = self._snap
        self.episodeFinished.emit(dict(snap.metrics, seed=snap.seed))
        self._record_episode_ended()

    def _redraw(self) -> None:
        if self._snap is not None:
            self.frame_view.set_image(compose(self._snap.frame, self._snap.overlay, self.overlay_check.isChecked()))

    def _release_runner(self) -> None:
        self.driver.detach()
        if self.runner is not None:
            self.runner.close()
        self.runner = None
        self._snap = None

    def _close_runner(self) -> None:
        """No agents any more (also the main window's drop_agents): the runner and highway's worker process go.

        The process first: a step in flight (or the process still starting) then fails at once, so the driver
        does not wait for it."""
        self._close_process()
        self._release_runner()

    def shutdown(self) -> None:
        """Stop playing, finish a recording, release the environment, the worker thread and the worker process."""
        self.pause()
        self.stop_recording(wait=True)
        self._drop_calibration(wait_s=CLOSE_WAIT_S)  # its current episode: a second or so at most
        self._close_runner()
        self.driver.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


__all__ = ["PlayView"]

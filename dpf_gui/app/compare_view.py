"""Compare: two strategies side by side on the same episode seed, stepped in lockstep.

One timer advances both :class:`~dpf_gui.episode.EpisodeRunner` s (each
with its own environment and its own copy of the intent's memory, sharing the
task agent and intent model), so the two frames always show the same decision
index. When one episode ends it keeps its last frame until the other has
ended too; then, with "loop", both start the next seed together. Changing a
strategy restarts the pair on the same seed, so what is compared is always one
whole episode each. The fusion parameters are shared by both sides.

An :class:`~dpf_gui.app.driver.EpisodeDriver` steps the pair as one source,
so highway runs both steps in one worker-thread job (as the play view does),
the other environments in the UI thread.

Record (as in Play, :class:`~dpf_gui.app.recording.RecordingView`) writes the
whole view (both pictures, the plots, the metrics) under a caption naming
both strategies: what is compared is in the plots as much as in the pictures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

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
    params_toggle_button,
    reserve_lines,
    strategy_combo,
    wanted_strategy,
)
from dpf_gui.app.plots import SIDE_COLOURS, LivePlot
from dpf_gui.app.recording import RecordingView
from dpf_gui.app.shortcuts import PLAY_SHORTCUTS, PlayKeys, install
from dpf_gui.episode import NEEDS_INTENT_TIP, EpisodeRunner, Snapshot, wish_from_sidecar
from dpf_gui.errors import UserError
from dpf_gui.fusion import FusionParams
from dpf_gui.fusion_params import AppliedCalibration

SIDES = ("left", "right")


class CompareView(RecordingView, PlayKeys, QWidget):
    """Two strategies on the same seed. Build with ``CompareView()`` then call :meth:`set_agents`."""

    stepped = Signal(object, object)  # left Snapshot, right Snapshot (what is on screen)
    pairFinished = Signal(dict)  # {"seed", "left": metrics, "right": metrics}
    #: the last calibration applied (:class:`~dpf_gui.fusion_params.AppliedCalibration`, as Play's)
    calibrated_from = None

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.runners: dict[str, EpisodeRunner] = {}
        self.snaps: dict[str, Snapshot | None] = {"left": None, "right": None}
        self.wish = None
        self._build()
        self.driver = EpisodeDriver(self, play_button=self.play_button, seed_spin=self.seed_spin,
                                    speed_spin=self.speed_spin, loop_check=self.loop_check,
                                    status_label=self.status_label, show=self._show, clear=self._clear_plots,
                                    ended=self._pair_ended, episode_pause_s=1.5, thread_name="dpf-compare")
        self._set_enabled(False)
        self.shortcuts = install(self, PLAY_SHORTCUTS)  # Space, R, S (docs/GUI.md)

    # --- construction ----------------------------------------------------------
    def _build(self) -> None:
        self.combos = {"left": strategy_combo("compareLeftStrategy", "static"),
                       "right": strategy_combo("compareRightStrategy", "dynamic")}
        # a small size hint: the frames share the height with the plots by stretch, not by their images' size
        self.frames = {s: FrameView(object_name=f"compare{s.capitalize()}Frame", size_hint=QSize(320, 160))
                       for s in SIDES}
        self.metric_labels = {}
        for s in SIDES:
            lab = QLabel("no episode")
            lab.setObjectName(f"compare{s.capitalize()}Metrics")
            lab.setToolTip(METRICS_TIP)
            lab.setTextFormat(Qt.RichText)
            lab.setWordWrap(True)
            reserve_lines(lab, 2)
            self.metric_labels[s] = lab
        self.legend_label = frame_legend_label("compareFrameLegend")
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("comparePlayButton")
        self.play_button.setCheckable(True)
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("compareStepButton")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setObjectName("compareRestartButton")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("compareSeedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self._size_seed_box()
        self.speed_spin = QSpinBox()
        self.speed_spin.setObjectName("compareSpeedSpin")
        self.speed_spin.setRange(0, 240)
        self.speed_spin.setValue(10)
        self.speed_spin.setSuffix(" /s")
        self.speed_spin.setSpecialValueText("max")
        self.speed_spin.setToolTip("decisions per second (0: as fast as possible)")
        self.loop_check = QCheckBox("loop")
        self.loop_check.setObjectName("compareLoopCheck")
        self.loop_check.setChecked(True)
        self.overlay_check = QCheckBox("saliency overlay")
        self.overlay_check.setObjectName("compareOverlayCheck")
        self.overlay_check.setChecked(True)
        self.params_toggle = params_toggle_button("compareParamsToggle")
        self._init_recording("compare", None)
        self.status_label = QLabel("")
        self.status_label.setObjectName("compareStatus")
        self.params_panel = ParamsPanel(prefix="compare")
        self.params_scroll = ParamsScroll(self.params_panel, "compareParamsScroll")

        legend = [(f"{s}", c) for s, c in zip(SIDES, SIDE_COLOURS, strict=True)]
        self.weight_plot = LivePlot("fusion weight w", legend, PLOT_CAPACITY, y_range=(0.0, 1.0),
                                    object_name="compareWeightPlot", y_label=AXIS["w"])
        self.temp_plot = LivePlot("temperature T_ψ", legend, PLOT_CAPACITY, object_name="compareTempPlot",
                                  y_label=axis_label("T", True))
        self.collected_plot = LivePlot("intent reward G_t", legend, PLOT_CAPACITY,
                                       object_name="compareCollectedPlot", y_label=axis_label("G", True))
        for key, plot in (("w", self.weight_plot), ("T", self.temp_plot), ("G", self.collected_plot)):
            plot.setToolTip(PLOT_TIPS[key])

        grid = QGridLayout()
        for col, s in enumerate(SIDES):
            head = QHBoxLayout()
            head.addWidget(QLabel(f"<b>{s}</b>"))
            head.addWidget(self.combos[s], 1)
            grid.addLayout(head, 0, col)
            grid.addWidget(self.frames[s], 1, col)
            grid.addWidget(self.metric_labels[s], 2, col)
        grid.addWidget(self.legend_label, 3, 0, 1, 2)
        grid.setRowStretch(1, 1)
        controls = QHBoxLayout()
        for w in (self.play_button, self.step_button, self.restart_button, self.seed_spin, self.speed_spin,
                  self.loop_check, self.overlay_check, self.record_button, self.params_toggle):
            controls.addWidget(w)
        controls.addStretch(1)
        plots = QHBoxLayout()
        for p in (self.weight_plot, self.temp_plot, self.collected_plot):
            p.setMinimumHeight(130)  # readable: axis labels, ticks and a note fit
            plots.addWidget(p, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(grid, 5)
        lay.addLayout(controls)
        lay.addLayout(plots, 4)
        lay.addWidget(self.params_scroll)
        lay.addWidget(self.status_label)

        for s in SIDES:
            self.combos[s].currentTextChanged.connect(lambda name, side=s: self.set_strategy(side, name))
        self.step_button.clicked.connect(self.step_once)
        self.restart_button.clicked.connect(lambda: self.restart())
        self.overlay_check.toggled.connect(lambda _on: (self._redraw(), self._say_what_is_shown()))
        self.params_panel.paramsChanged.connect(self._on_params)
        self.params_toggle.toggled.connect(self.params_scroll.show_params)

    #: the window height (pixels) from which Compare opens with its parameters shown: in a shorter window (1024x768,
    #: 1280x720) they would leave each plot about 45 pixels of data; the Parameters button shows them
    PARAMS_ROOM = 900

    def fit_params_to(self, window_height: int) -> None:
        """Where the view is first built: the parameters hidden in a window shorter than :attr:`PARAMS_ROOM`."""
        self.params_toggle.setChecked(window_height >= self.PARAMS_ROOM)

    def set_presentation(self, on: bool) -> None:
        """Large text (presentation mode): the parameters hidden until asked for, so the pictures and plots have
        room; back to normal, shown again only in a window tall enough (:meth:`fit_params_to`)."""
        self.fit_params_to(0 if on else self.window().height())
        self._size_seed_box()

    def _size_seed_box(self) -> None:
        """The seed box as wide as a 6-digit seed needs in its font, not as its 10-digit range asks (larger
        seeds scroll in it): room for Record in the one row of controls at 1024 px in presentation mode."""
        self.seed_spin.ensurePolished()  # the font of the window's style sheet, in presentation mode
        self.seed_spin.setMaximumWidth(self.seed_spin.fontMetrics().horizontalAdvance("seed 000000") + 40)

    def _set_enabled(self, on: bool) -> None:
        for w in (*self.combos.values(), self.play_button, self.step_button, self.restart_button, self.seed_spin,
                  self.speed_spin, self.record_button, self.params_panel):
            w.setEnabled(on)

    # --- public API --------------------------------------------------------------
    def set_agents(self, env_name: str, env_config: Mapping[str, Any] | None, task_agent, intent_model=None,
                   intent_sidecar: Mapping[str, Any] | None = None, wish=None, seed: int | None = None,
                   left: str | None = None, right: str | None = None, params: FusionParams | None = None) -> None:
        """Load what to compare (same signature as :meth:`PlayView.set_agents`); starts paused on ``seed``."""
        self.pause()
        self._close_runners()
        has_intent = intent_model is not None
        names = {"left": left or wanted_strategy(self.combos["left"], has_intent),
                 "right": right or wanted_strategy(self.combos["right"], has_intent)}
        if not has_intent:
            names = {"left": "task", "right": "task"}
        for s in SIDES:
            self.runners[s] = EpisodeRunner(env_name, env_config, task_agent, intent_model, intent_sidecar,
                                            names[s], params)
        first = self.runners["left"]
        self.wish = wish if wish is not None else wish_from_sidecar(first.env, intent_sidecar)
        for r in self.runners.values():
            r.wish = self.wish
        # two episodes a tick, stepped in the driver's worker thread in every environment: on the UI thread a Pong
        # pair beside any busy process (Play's background calibration) stalled the window 36-57 times over 100 ms
        # in 20 s; in the thread, none (28 ms), at the same rate (docs/PERFORMANCE.md)
        self.driver.attach(self._advance_both, self._reset_both, self.both_done, threaded=True)
        for s in SIDES:
            combo = self.combos[s]
            combo.blockSignals(True)
            enable_strategies(combo, has_intent)
            combo.setCurrentText(self.runners[s].strategy)
            combo.blockSignals(False)
        self.params_panel.configure(env_name, task_agent, intent_model)
        self.params_panel.set_params(first.params)
        self._set_enabled(True)
        self.status_label.setText("" if has_intent else
                                  "No intent model: only the task strategy is available (" + NEEDS_INTENT_TIP + ").")
        if has_intent:
            from dpf_gui.calibration_memory import recall_calibration

            recalled = recall_calibration(env_name, task_agent, intent_sidecar, first.params)
            if recalled is not None:
                self.apply_calibration(recalled)
        if seed is not None:
            self.seed_spin.setValue(int(seed))
        self._say_what_is_shown()
        self.restart()

    def set_strategy(self, side: str, name: str) -> None:
        """Change one side's strategy; both restart on the current seed."""
        r = self.runners.get(side)
        if r is None or name == r.strategy:
            return
        self.driver.wait()
        try:
            r.set_strategy(name)
        except UserError as exc:
            self.status_label.setText(str(exc))
            combo = self.combos[side]
            combo.blockSignals(True)
            combo.setCurrentText(r.strategy)
            combo.blockSignals(False)
            return
        combo = self.combos[side]
        if combo.currentText() != name:
            combo.blockSignals(True)
            combo.setCurrentText(name)
            combo.blockSignals(False)
        self._say_what_is_shown()
        self.restart()

    def set_strategies(self, left: str, right: str) -> None:
        self.set_strategy("left", left)
        self.set_strategy("right", right)

    def params(self) -> FusionParams:
        """The fusion parameters both sides play with."""
        return self.params_panel.params()

    def set_params(self, params: FusionParams) -> None:
        self.params_panel.set_params(params)
        self._on_params(params)

    def apply_calibration(self, cal) -> None:
        """Both sides play at the strength (and c, gate) of Play's *Calibrate strength* for these agents: the one
        it just chose, or one kept on this machine (:mod:`dpf_gui.calibration_memory`)."""
        self.calibrated_from = applied = AppliedCalibration.of(cal, self.params(), self.runners["left"].sidecar)
        params = applied.after
        self.set_params(params)
        self.status_label.setText(f"Strength {params.strength:g}, c {params.c:g}: calibrated for this intent on this "
                                  "machine (Play's Calibrate strength).")

    def set_speed(self, decisions_per_s: int) -> None:
        self.speed_spin.setValue(int(decisions_per_s))

    def play(self) -> None:
        self.driver.play()

    def pause(self) -> None:
        self.driver.pause()

    def is_playing(self) -> bool:
        return self.driver.playing

    def restart(self, seed: int | None = None) -> None:
        """Both sides start an episode with ``seed`` (default: the seed box)."""
        self.driver.restart(seed)

    def step_once(self) -> None:
        self.driver.run_decisions(1)

    def run_decisions(self, n: int) -> int:
        """Up to ``n`` lockstep decisions synchronously (stops when both episodes ended); returns how many."""
        return self.driver.run_decisions(n)

    def both_done(self) -> bool:
        return all(r.done for r in self.runners.values())

    def snapshots(self) -> tuple[Snapshot | None, Snapshot | None]:
        return self.snaps["left"], self.snaps["right"]

    def fps(self) -> float:
        return self.driver.fps.fps()

    def shutdown(self) -> None:
        """Stop playing, finish a recording, release the environments and the worker thread."""
        self.pause()
        self.stop_recording(wait=True)
        self._close_runners()
        self.driver.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # --- internals -------------------------------------------------------------------
    def _advance_both(self) -> dict[str, Snapshot | None]:
        """Advance every side whose episode is still running; an ended side yields None (keep its frame)."""
        return {s: (None if r.done else r.advance()) for s, r in self.runners.items()}

    def _on_params(self, params: FusionParams) -> None:
        for r in self.runners.values():
            r.set_params(params)
        self._say_what_is_shown()

    def _say_what_is_shown(self) -> None:
        """Units on the axes and a note over every plot that neither side's strategy draws (as Play)."""
        if not self.runners:
            return
        first = self.runners["left"]
        self.temp_plot.set_axis_label("left", axis_label("T", first.params.normalise))
        self.collected_plot.set_axis_label("left", axis_label("G", first.params.normalise))
        show = self.overlay_check.isChecked()
        self.legend_label.setText(legend_html(first.env_name, overlay=show, saliency=first.intent is not None,
                                              regions=show and self.wish is not None))
        notes = empty_plot_notes([r.strategy for r in self.runners.values()], first.intent is not None)
        for key, plot in (("w", self.weight_plot), ("T", self.temp_plot), ("G", self.collected_plot)):
            plot.set_note(notes.get(key))

    def _reset_both(self, seed: int) -> dict[str, Snapshot]:
        return {s: r.reset(seed) for s, r in self.runners.items()}

    def _clear_plots(self) -> None:
        for p in (self.weight_plot, self.temp_plot, self.collected_plot):
            p.clear_data()

    def _show(self, snaps: dict[str, Snapshot | None]) -> None:
        show = self.overlay_check.isChecked()
        values: dict[str, dict[str, float | None]] = {"w": {}, "T": {}, "G": {}}
        t = None
        for s in SIDES:
            snap = snaps.get(s)
            if snap is None:  # this side's episode has ended: hold its last frame
                continue
            self.snaps[s] = snap
            self.frames[s].set_image(compose(snap.frame, snap.overlay, show))
            self.metric_labels[s].setText(metrics_html(snap, self.wish))
            d = snap.decision
            t = snap.t if t is None else max(t, snap.t)
            if d is not None:
                values["w"][s], values["T"][s] = d.weight, d.T_psi
                values["G"][s] = d.collected if d.intent_rewards is not None else None
        if t is not None:
            self.weight_plot.push(t, **values["w"])
            self.temp_plot.push(t, **values["T"])
            self.collected_plot.push(t, **values["G"])
            for p in (self.weight_plot, self.temp_plot, self.collected_plot):
                p.refresh()
        self._record_shown()
        self.stepped.emit(self.snaps["left"], self.snaps["right"])

    def _recording_picture(self):
        """The left picture, None before the first frame (Compare records the whole view: this says whether
        there is anything to record)."""
        return self.frames["left"].image() if self.snaps["left"] is not None else None

    def _recording_caption(self) -> str:
        left, right = self.snaps["left"], self.snaps["right"]
        if left is None or right is None or not self.runners:
            return "dpf-gui"
        over = " · episodes over" if left.done and right.done else ""
        return (f"Dynamic Policy Fusion · {self.runners['left'].env_name} · {left.strategy} (left) vs "
                f"{right.strategy} (right) · seed {left.seed} · decision {max(left.t, right.t)}{over}")

    def _recording_name(self) -> str:
        return f"dpf-{self.runners['left'].env_name if self.runners else 'compare'}-compare.gif"

    def _pair_ended(self) -> None:
        left, right = self.snaps["left"], self.snaps["right"]
        self.pairFinished.emit({"seed": left.seed, "left": dict(left.metrics), "right": dict(right.metrics)})
        self._record_episode_ended()

    def _redraw(self) -> None:
        show = self.overlay_check.isChecked()
        for s in SIDES:
            snap = self.snaps[s]
            if snap is not None:
                self.frames[s].set_image(compose(snap.frame, snap.overlay, show))

    def _close_runners(self) -> None:
        self.driver.detach()
        for r in self.runners.values():
            r.close()
        self.runners = {}
        self.snaps = {"left": None, "right": None}


__all__ = ["CompareView"]

"""The trajectory player: frames from a deterministic replay, a timeline (:mod:`dpf_gui.app.timeline`), playback
controls.

Stored trajectories hold features, not pictures; the frames come from
replaying the reset seed and the actions (:func:`dpf_gui.rollout.replay`).
Highway frames cost tens of milliseconds each, so replays run in a worker
thread (one, so each environment instance is only ever used by one thread)
and the frames of the last few trajectories are cached; the next trajectory
in the list is prefetched while the person watches the current one.

Frame ``f`` (0..T) shows the state after decision ``f - 1``; the decision a
frame "is about" is therefore ``max(f - 1, 0)`` (a decision is judged by
where it took the agent, as the simulated users do).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QObject,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.app.frame_view import FrameView
from dpf_gui.app.frames import describe_regions, region_layer
from dpf_gui.app.overlays import frame_legend_label, frame_to_qimage, legend_html
from dpf_gui.app.timeline import Timeline, timeline_legend
from dpf_gui.envs import env_screen
from dpf_gui.threads import pausing

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
CACHE_ITEMS = 4
CACHE_BYTES = 600 * 2**20


def decision_at(frame: int) -> int:
    """The decision a frame shows the result of (frame 0, the start, counts as decision 0)."""
    return max(int(frame) - 1, 0)


def numpy_to_qimage(arr: np.ndarray) -> QImage:
    """Wrap an (H, W, 3) RGB or (H, W, 4) RGBA uint8 array (the caller keeps it alive)."""
    arr = np.ascontiguousarray(arr)
    h, w, c = arr.shape
    fmt = QImage.Format.Format_RGB888 if c == 3 else QImage.Format.Format_RGBA8888
    return QImage(arr.data, w, h, c * w, fmt)


def frame_image(frame: np.ndarray, layer: np.ndarray | None = None) -> QImage:
    """The frame with its RGBA region layer (same size) painted on: what the frame view shows."""
    image = frame_to_qimage(frame)
    if layer is not None:
        p = QPainter(image)
        p.drawImage(0, 0, numpy_to_qimage(layer))
        p.end()
    return image


# --- frames from a worker thread ------------------------------------------------
class _Bridge(QObject):
    progress = Signal(object, int, int)  # key, frames done, total
    done = Signal(object, object)  # key, list of frames
    failed = Signal(object, str)  # key, message
    cancelled = Signal(object)  # key


class _ReplayJob(QRunnable):
    def __init__(self, cache: FrameCache, key, env_name: str, env_config: dict, traj):
        super().__init__()
        self.cache, self.key, self.env_name, self.env_config, self.traj = cache, key, env_name, env_config, traj
        self.setAutoDelete(True)

    def run(self) -> None:  # runs in the cache's single worker thread
        cache, key = self.cache, self.key
        try:
            if not cache.wanted(key):
                cache._bridge.cancelled.emit(key)
                return
            from dpf_gui.rollout import replay

            env = cache._env_for(self.env_name, self.env_config)
            total = self.traj.length + 1
            frames, last = [], 0.0
            pause = pausing(lambda: None)  # the window gets the GIL now and then (dpf_gui.threads)
            for _, frame in replay(env, self.traj, frames=True):
                if not cache.wanted(key):
                    cache._bridge.cancelled.emit(key)
                    return
                frames.append(frame)
                pause()
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    cache._bridge.progress.emit(key, len(frames), total)
            cache._bridge.done.emit(key, frames)
        except Exception as exc:  # noqa: BLE001 (shown in the player, never a crash of the worker)
            cache._bridge.failed.emit(key, f"{exc.__class__.__name__}: {exc}")


class FrameCache(QObject):
    """Replays trajectories to frames in one worker thread; keeps the last few."""

    progress = Signal(object, int, int)
    ready = Signal(object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)
        self._bridge = _Bridge(self)
        self._bridge.progress.connect(self.progress)
        self._bridge.done.connect(self._store)
        self._bridge.failed.connect(self._failed)
        self._bridge.cancelled.connect(self._cancelled)
        self._frames: OrderedDict[Any, list[np.ndarray]] = OrderedDict()
        self._wanted: set = set()
        self._queued: dict[Any, tuple] = {}  # key -> (env_name, env_config, traj) of a job not yet finished
        self._lock = threading.Lock()
        self._envs: dict[tuple[str, str], Any] = {}  # touched only by the worker thread
        _init_pygame_display()

    def get(self, key) -> list[np.ndarray] | None:
        frames = self._frames.get(key)
        if frames is not None:
            self._frames.move_to_end(key)
        return frames

    def wanted(self, key) -> bool:
        with self._lock:
            return key in self._wanted

    def request(self, key, env_name: str, env_config: dict, traj, keep: tuple = ()) -> bool:
        """Ask for the frames of ``traj``; True if they are cached already. ``keep``: other keys still wanted."""
        with self._lock:
            self._wanted = {key, *keep}
        if key in self._frames:
            self._frames.move_to_end(key)
            return True
        if key not in self._queued:
            self._start(key, env_name, env_config, traj)
        return False

    def prefetch(self, key, env_name: str, env_config: dict, traj) -> None:
        """Replay in the background if idle, so the next trajectory shows at once."""
        if key in self._frames or key in self._queued:
            return
        with self._lock:
            self._wanted.add(key)
        self._start(key, env_name, env_config, traj)

    def _start(self, key, env_name: str, env_config: dict, traj) -> None:
        self._queued[key] = (env_name, env_config, traj)
        self._pool.start(_ReplayJob(self, key, env_name, env_config, traj))

    def clear(self) -> None:
        with self._lock:
            self._wanted = set()
        self._frames.clear()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Cancel pending replays and wait for the worker (call before the app quits)."""
        with self._lock:
            self._wanted = set()
        self._pool.clear()
        self._pool.waitForDone(wait_ms)
        self._queued.clear()
        envs, self._envs = self._envs, {}
        for env in envs.values():
            with contextlib.suppress(Exception):
                env.close()

    def _env_for(self, env_name: str, env_config: dict):
        from dpf_gui.envs import make_env

        k = (env_name, json.dumps(env_config, sort_keys=True, default=str))
        if k not in self._envs:
            if len(self._envs) >= 3:
                old = self._envs.pop(next(iter(self._envs)))
                old.close()
            self._envs[k] = make_env(env_name, env_config)
        return self._envs[k]

    def _store(self, key, frames: list) -> None:
        self._queued.pop(key, None)
        self._frames[key] = frames
        self._frames.move_to_end(key)
        while len(self._frames) > 1 and (len(self._frames) > CACHE_ITEMS or self._nbytes() > CACHE_BYTES):
            self._frames.popitem(last=False)
        self.ready.emit(key)

    def _failed(self, key, message: str) -> None:
        self._queued.pop(key, None)
        self.failed.emit(key, message)

    def _nbytes(self) -> int:
        return sum(f.nbytes for frames in self._frames.values() for f in frames)

    def _cancelled(self, key) -> None:
        params = self._queued.pop(key, None)
        # wanted again after the job gave up (the person came back quickly): start over
        if params is not None and self.wanted(key) and key not in self._frames:
            self._start(key, *params)


def _init_pygame_display() -> None:
    """Initialise SDL's video subsystem on the UI thread, before any worker needs it (macOS requires this)."""
    try:
        import pygame
    except ImportError:  # the player works without it
        return
    try:
        if not pygame.display.get_init():
            pygame.display.init()
    except pygame.error:  # no video device (headless): the player works without it
        pass


class Player(QWidget):
    """Frame view + controls + timeline for one trajectory of a workspace.

    Public: :meth:`load`, :meth:`seek`, :meth:`step`, :meth:`play`, :meth:`pause`,
    :meth:`toggle_play`, :meth:`faster`, :meth:`slower`, :meth:`set_wish`,
    :meth:`set_overlay_visible`, :meth:`set_marks`, :meth:`set_selection`,
    :meth:`set_step_values`; signals ``positionChanged(frame)``, ``framesReady()``.
    """

    positionChanged = Signal(int)
    framesReady = Signal()

    def __init__(self, parent: QWidget | None = None, cache: FrameCache | None = None, regions: bool = True):
        """``regions`` False: the timeline legend does not name the wish's row (a study hides the regions)."""
        super().__init__(parent)
        self.setObjectName("player")
        self.cache = cache or FrameCache(self)
        self.cache.ready.connect(self._on_ready)
        self.cache.progress.connect(self._on_progress)
        self.cache.failed.connect(self._on_failed)
        self.ws = None
        self.index: int | None = None
        self.key = None
        self.frames: list[np.ndarray] | None = None
        self.position = 0
        self.wish = None
        self.overlay_visible = True
        self._regions: np.ndarray | None = None
        self._layer_cache: dict[bytes, np.ndarray | None] = {}
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

        self.view = FrameView(self, object_name="annotateFrameView", background=QColor(32, 34, 40),
                              size_hint=QSize(560, 400))
        self.view.setMinimumSize(240, 160)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("frameProgress")
        self.progress.setFormat("replaying %v of %m frames")
        self.progress.setVisible(False)
        self.legend_label = frame_legend_label("annotateFrameLegend")  # what the frame's colours mean
        self.info = QLabel(self)
        self.info.setObjectName("frameInfo")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        def button(name: str, icon: QStyle.StandardPixmap, tip: str, slot: Callable) -> QToolButton:
            b = QToolButton(self)
            b.setObjectName(name)
            b.setIcon(self.style().standardIcon(icon))
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
            return b

        self.first_button = button("firstFrameButton", QStyle.StandardPixmap.SP_MediaSkipBackward,
                                   "first frame (Home)", lambda: self.seek(0))
        self.back_button = button("stepBackButton", QStyle.StandardPixmap.SP_MediaSeekBackward,
                                  "one frame back (Left)", lambda: self.step(-1))
        self.play_button = button("playButton", QStyle.StandardPixmap.SP_MediaPlay, "play / pause (Space)",
                                  self.toggle_play)
        self.forward_button = button("stepForwardButton", QStyle.StandardPixmap.SP_MediaSeekForward,
                                     "one frame forward (Right)", lambda: self.step(1))
        self.last_button = button("lastFrameButton", QStyle.StandardPixmap.SP_MediaSkipForward, "last frame (End)",
                                  lambda: self.seek(self.last_frame))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("frameSlider")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.seek)
        self.frame_label = QLabel("0 / 0", self)
        self.frame_label.setObjectName("frameLabel")
        self.frame_label.setMinimumWidth(70)
        self.speed_combo = QComboBox(self)
        self.speed_combo.setObjectName("speedCombo")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed_combo.setToolTip("playback speed (+ / -)")
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}x", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.currentIndexChanged.connect(self._restart_timer)
        self.overlay_check = QCheckBox("regions", self)
        self.overlay_check.setObjectName("regionOverlayCheck")
        self.overlay_check.setToolTip("tint the wish's preferred (green) and avoided (orange) regions (O)")
        self.overlay_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.overlay_check.setChecked(True)
        self.overlay_check.toggled.connect(self.set_overlay_visible)
        self.timeline = Timeline(self)
        self.timeline.seekRequested.connect(self.seek)
        self.timeline_legend = timeline_legend(regions)

        controls = QHBoxLayout()
        for w in (self.first_button, self.back_button, self.play_button, self.forward_button, self.last_button):
            controls.addWidget(w)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.frame_label)
        controls.addWidget(self.speed_combo)
        controls.addWidget(self.overlay_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.info)
        layout.addLayout(controls)
        layout.addWidget(self.timeline)
        layout.addWidget(self.timeline_legend)

    # --- loading ------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.frames is not None

    @property
    def last_frame(self) -> int:
        return 0 if self.ws is None or self.index is None else self.ws.length(self.index)

    @property
    def decision(self) -> int:
        return decision_at(self.position)

    def load(self, ws, index: int, position: int = 0, prefetch: int | None = None) -> None:
        """Show trajectory ``index`` of workspace ``ws`` at frame ``position``; replays off the UI thread."""
        self.pause()
        if ws is not self.ws:
            self._layer_cache.clear()
        self.ws, self.index = ws, int(index)
        traj = ws.dataset[self.index]
        self.key = (ws.fingerprint, self.index)
        self._regions = traj.regions
        self._traj = traj
        self.view.smooth = env_screen(ws.env_name).smooth
        n = traj.length
        self.position = min(max(int(position), 0), n)
        self.slider.blockSignals(True)
        self.slider.setRange(0, n)
        self.slider.setValue(self.position)
        self.slider.blockSignals(False)
        self.timeline.set_steps(n)
        self.timeline.set_position(self.position)
        self._update_wish_strip()
        keep = ()
        nxt = None
        if prefetch is not None and 0 <= prefetch < len(ws):
            nxt = ((ws.fingerprint, prefetch), ws.dataset[prefetch])
            keep = (nxt[0],)
        cached = self.cache.request(self.key, ws.env_name, ws.env_config, traj, keep=keep)
        self._prefetch = nxt
        if cached:
            self.frames = self.cache.get(self.key)
            self._after_ready()
        else:
            self.frames = None
            self.progress.setRange(0, n + 1)
            self.progress.setValue(0)
            self.progress.setVisible(True)
            self.view.set_image(None)
            self.view.set_message("replaying…")
            self._show()

    def clear(self) -> None:
        """Show nothing (before another workspace, whose regions and wish differ, is shown)."""
        self.pause()
        self.ws = self.index = self.key = self.frames = None
        self._regions = None
        self.wish = None
        self._layer_cache.clear()
        self.view.set_image(None)
        self.view.set_message("")
        self.timeline.set_steps(0)
        self.legend_label.setText("")
        self.info.setText("")

    def _on_progress(self, key, done: int, total: int) -> None:
        if key == self.key:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _on_ready(self, key) -> None:
        if key == self.key and self.frames is None:
            self.frames = self.cache.get(key)
            self._after_ready()

    def _after_ready(self) -> None:
        self.progress.setVisible(False)
        self.view.set_message("")
        self._show()
        self.framesReady.emit()
        if self._prefetch is not None:
            key, traj = self._prefetch
            self._prefetch = None
            self.cache.prefetch(key, self.ws.env_name, self.ws.env_config, traj)

    def _on_failed(self, key, message: str) -> None:
        if key == self.key:
            self.progress.setVisible(False)
            self.view.set_message(f"cannot replay this trajectory:\n{message}")

    # --- position -------------------------------------------------------------
    def seek(self, frame: int) -> None:
        if self.ws is None:
            return
        frame = min(max(int(frame), 0), self.last_frame)
        changed = frame != self.position
        self.position = frame
        if self.slider.value() != frame:
            self.slider.blockSignals(True)
            self.slider.setValue(frame)
            self.slider.blockSignals(False)
        self.timeline.set_position(frame)
        self._show()
        if changed:
            self.positionChanged.emit(frame)

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.position + int(delta))

    # --- playback ---------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    @property
    def speed(self) -> float:
        return float(self.speed_combo.currentData())

    def play(self) -> None:
        if self.ws is None:
            return
        if self.position >= self.last_frame:
            self.seek(0)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self._restart_timer(force=True)

    def pause(self) -> None:
        self._timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def toggle_play(self) -> None:
        self.pause() if self.is_playing else self.play()

    def faster(self) -> None:
        self.speed_combo.setCurrentIndex(min(self.speed_combo.currentIndex() + 1, len(SPEEDS) - 1))

    def slower(self) -> None:
        self.speed_combo.setCurrentIndex(max(self.speed_combo.currentIndex() - 1, 0))

    def _restart_timer(self, *_, force: bool = False) -> None:
        if not (force or self.is_playing) or self.ws is None:
            return
        fps = env_screen(self.ws.env_name).base_fps * self.speed  # decisions per second at 1x
        self._timer.start(max(int(1000 / fps), 5))

    def _tick(self) -> None:
        if self.frames is None:
            return  # still replaying: wait
        if self.position >= self.last_frame:
            self.pause()
        else:
            self.seek(self.position + 1)

    # --- overlays and strips --------------------------------------------------
    def set_wish(self, wish) -> None:
        self.wish = wish
        self._layer_cache.clear()
        self._update_wish_strip()
        self._show()

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_visible = bool(on)
        if self.overlay_check.isChecked() != self.overlay_visible:
            self.overlay_check.setChecked(self.overlay_visible)
        self._update_wish_strip()
        self._show()

    def set_marks(self, marks: np.ndarray | None, labelled: bool) -> None:
        self.timeline.set_marks(marks, labelled)

    def set_selection(self, selection: tuple[int, int] | None) -> None:
        self.timeline.set_selection(selection)

    def set_step_values(self, values: np.ndarray | None) -> None:
        """Draw one value per decision under the timeline (None clears it)."""
        self.timeline.set_step_values(values)

    def _update_wish_strip(self) -> None:
        self.legend_label.setText("" if self.ws is None else legend_html(
            self.ws.env_name, overlay=False, regions=self.overlay_visible and self.wish is not None,
            filled_regions=True))
        if self.wish is None or self._regions is None or not self.overlay_visible:
            self.timeline.set_wish_marks(None)
        else:
            self.timeline.set_wish_marks(self.wish.marks(self._regions[1:]))

    def _layer(self, frame: np.ndarray) -> np.ndarray | None:
        if not self.overlay_visible or self.wish is None or self._regions is None:
            return None
        regions = self._regions[self.position]
        # most layers depend on the wish only; highway's on the speed too
        k = regions.tobytes() if env_screen(self.ws.env_name).layer_follows_state else b""
        k += repr(frame.shape).encode()
        if k not in self._layer_cache:
            if len(self._layer_cache) > 256:
                self._layer_cache.clear()
            self._layer_cache[k] = region_layer(self.ws.env_name, self.ws.env_config, self.wish, regions, frame.shape)
        return self._layer_cache[k]

    def _show(self) -> None:
        if self.ws is None or self.index is None:
            return
        n = self.last_frame
        self.frame_label.setText(f"{self.position} / {n}")
        self.info.setText(self._describe())
        if self.frames is not None and self.position < len(self.frames):
            frame = self.frames[self.position]
            self.view.set_image(frame_image(frame, self._layer(frame)))

    def _describe(self) -> str:
        ds, traj, f = self.ws.dataset, self._traj, self.position
        names = list(ds.meta.get("region_names") or [])
        cats = {rf.name: rf.categories for rf in ds.region_features if rf.categories}
        where = describe_regions(names, cats, traj.regions[f]) if len(traj.regions) else ""
        if f == 0:
            head = "start"
        else:
            action_names = ds.meta.get("action_names") or []
            a = int(traj.actions[f - 1])
            act = action_names[a] if a < len(action_names) else str(a)
            head = f"decision {f - 1}: {act}, reward {float(traj.rewards[f - 1]):+.3g}"
        verdict = ""
        if self.wish is not None and len(traj.regions):
            m = int(self.wish.marks(traj.regions[f][None])[0])
            verdict = {1: "  (in a preferred region)", -1: "  (in an avoided region)"}.get(m, "")
        return f"{head}  ·  {where}{verdict}"

    def shutdown(self) -> None:
        self.pause()
        self.cache.shutdown()


__all__ = ["SPEEDS", "FrameCache", "Player", "decision_at", "frame_image", "numpy_to_qimage"]

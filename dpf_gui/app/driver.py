"""The play loop shared by Play and Compare: one decision per timer tick, episode after episode.

A view gives the driver its controls (play button, seed, speed, loop, status)
and, once agents are loaded, a source: ``advance()`` takes one decision and
``reset(seed)`` starts an episode, each returning what to show, and ``done()``
says whether the episode has ended. The driver hands every result to the
view's ``show`` and calls ``ended`` once per episode; with "loop" it holds the
last frame for ``episode_pause_s`` and starts the next seed, else it stops.

Highway steps take 20-60 ms, so a ``threaded`` source is advanced and reset
in one worker thread and the result comes back through a queued signal; a
generation counter drops results that a restart made stale. (In Play the
worker thread only waits: the highway episode itself runs in a worker process,
:mod:`dpf_gui.episode_worker`, and the first reset may also start that
process, which is why a threaded source is never reset in the UI thread.)
Gridnav and Pong decide in well under a millisecond and run in the UI thread,
which keeps them deterministic and simple.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from dpf_gui.errors import UserError, WorkerError


class FpsMeter:
    """Frames shown per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 2.0):
        self.times: deque[float] = deque(maxlen=600)
        self.window_s = window_s

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    def reset(self) -> None:
        self.times.clear()

    def fps(self) -> float:
        now = time.perf_counter()
        ts = [t for t in self.times if now - t <= self.window_s]
        if len(ts) < 2:
            return 0.0
        return (len(ts) - 1) / max(ts[-1] - ts[0], 1e-9)


class EpisodeDriver(QObject):
    """Steps a view's source from a timer (or a worker thread) and loops over seeds; see the module doc."""

    _workerDone = Signal(int, object)  # generation, Future: carries a worker's result to the UI thread

    def __init__(self, parent: QObject, *, play_button, seed_spin, speed_spin, loop_check, status_label,
                 show: Callable[[Any], None], clear: Callable[[], None], ended: Callable[[], None],
                 episode_pause_s: float, thread_name: str):
        super().__init__(parent)
        self.play_button, self.seed_spin, self.speed_spin = play_button, seed_spin, speed_spin
        self.loop_check, self.status_label = loop_check, status_label
        self._show, self._clear, self._ended = show, clear, ended
        self.episode_pause_s = episode_pause_s  # hold the last frame this long before looping to the next seed
        self.thread_name = thread_name
        self.threaded = False
        self.playing = False
        self.fps = FpsMeter()
        self._advance: Callable[[], Any] | None = None
        self._reset: Callable[[int], Any] | None = None
        self._done: Callable[[], bool] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None
        self._future_generation = 0  # the generation the step in flight was submitted in
        self._generation = 0
        self._done_at: float | None = None
        self._workerDone.connect(self._on_worker_done, Qt.QueuedConnection)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        play_button.toggled.connect(self._on_play_toggled)
        speed_spin.valueChanged.connect(self._apply_speed)
        self._apply_speed()

    # --- the source --------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._advance is not None

    def attach(self, advance: Callable[[], Any], reset: Callable[[int], Any], done: Callable[[], bool],
               threaded: bool) -> None:
        """Drive a new source; ``threaded``: step it in the worker thread while playing."""
        self.wait()
        self._advance, self._reset, self._done = advance, reset, done
        self.threaded = bool(threaded)
        if self.threaded and self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.thread_name)
        self._apply_speed()

    def detach(self) -> None:
        """Let a step in flight finish and forget the source, so that the view may close it."""
        self.wait()
        self._advance = self._reset = self._done = None

    def shutdown(self) -> None:
        """Stop playing and release the worker thread."""
        self.pause()
        self.detach()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # --- control (UI thread) -------------------------------------------------------
    def play(self) -> None:
        if self.active:
            self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def restart(self, seed: int | None = None) -> None:
        """New episode with ``seed`` (default: the seed box): reset at once, or in the worker thread for a threaded
        source (its first frame then follows; :meth:`wait` with ``show`` waits for it)."""
        if not self.active:
            return
        if seed is not None:
            self.seed_spin.setValue(int(seed))
        self.wait()
        self._new_episode()
        if self.threaded:
            self._submit(self._reset, self.seed_spin.value())
        else:
            self._display(self._reset(self.seed_spin.value()))

    def run_decisions(self, n: int, restart_on_end: bool = False) -> int:
        """Take up to ``n`` decisions synchronously (a threaded source's in its worker thread, as when playing);
        returns how many were taken. A failed step stops it as it stops playing (said in the status line)."""
        taken = 0
        while taken < n and self.active and self.wait(show=True):  # a reset in flight: its first frame first
            if self._done():
                if not restart_on_end:
                    break
                self.restart(self.seed_spin.value() + 1)
                continue
            if self.threaded:
                self._submit(self._advance)
                if not self.wait(show=True):
                    break
            else:
                self._display(self._advance())
            taken += 1
        return taken

    def wait(self, show: bool = False) -> bool:
        """Let a step or reset in flight finish (at most one highway step); ``show``: display its result (or say
        its error) unless a restart made it stale, else drop it. False if it failed and was said."""
        fut, self._future = self._future, None
        if fut is None:
            return True
        fut.exception()  # waits for it
        if show and self._future_generation == self._generation:
            return self._finish(fut)
        self._generation += 1
        return True

    # --- internals ---------------------------------------------------------------------
    def _on_play_toggled(self, on: bool) -> None:
        self.playing = bool(on) and self.active
        self.play_button.setText("Pause" if self.playing else "Play")
        if self.playing:
            self.fps.reset()
            self._timer.start()
        else:
            self._timer.stop()

    def _apply_speed(self) -> None:
        v = self.speed_spin.value()
        if v <= 0:  # as fast as possible; a worker thread needs no busy polling, the result signal drives it
            self._timer.setInterval(5 if self.threaded else 0)
        else:
            self._timer.setInterval(round(1000.0 / v))

    def _new_episode(self) -> None:
        self._generation += 1
        self._clear()
        self._done_at = None

    def _display(self, result: Any) -> None:
        self.fps.tick()
        self._show(result)
        if self._done() and self._done_at is None:
            self._done_at = time.perf_counter()
            self._ended()

    def _tick(self) -> None:
        if not self.active or not self.playing or self._future is not None:  # worker busy: let the UI breathe
            return
        if self._done():
            if self._done_at is None:
                self._done_at = time.perf_counter()
            if not self.loop_check.isChecked():
                self.pause()
            elif time.perf_counter() - self._done_at >= self.episode_pause_s:
                if self.threaded:  # a highway reset takes tens of ms: do it in the worker too
                    self.seed_spin.setValue(self.seed_spin.value() + 1)
                    self._new_episode()
                    self._submit(self._reset, self.seed_spin.value())
                else:
                    self.restart(self.seed_spin.value() + 1)
            return
        if self.threaded:
            self._submit(self._advance)
        else:
            self._display(self._advance())

    def _submit(self, fn: Callable[..., Any], *args) -> None:
        gen = self._generation
        fut = self._executor.submit(fn, *args)
        self._future, self._future_generation = fut, gen
        fut.add_done_callback(lambda f, g=gen: self._workerDone.emit(g, f))

    def _on_worker_done(self, generation: int, fut: Future) -> None:
        if fut is not self._future:
            return
        self._future = None
        if generation != self._generation:
            return
        if self._finish(fut) and self.playing and self.speed_spin.value() <= 0 and self.active and not self._done():
            self._tick()  # as fast as possible: chain the next step at once

    def _finish(self, fut: Future) -> bool:
        """Display a finished step's result, or stop and say its error in one line; True if displayed."""
        exc = fut.exception()
        if exc is not None:
            self.pause()
            said = str(exc) if isinstance(exc, (UserError, WorkerError)) else f"{exc.__class__.__name__}: {exc}"
            self.status_label.setText(f"stopped: {said}")
            return False
        self._display(fut.result())
        return True


__all__ = ["EpisodeDriver", "FpsMeter"]

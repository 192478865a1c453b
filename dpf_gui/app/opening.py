"""Reading what the window opens in a worker thread, so that the window keeps answering; the last request wins.

Switching environment read the task agent, a dataset (20-130 ms for Pong's 2000 trajectories) and the intent
model used last with it on the UI thread, and built the trajectory list's items there: the window stopped for
0.2-0.5 s (docs/PERFORMANCE.md, "Switching environment"). :class:`Opener` runs the reading in a thread and
hands the result to the UI thread, where the views are given it. Choosing again while a load is under way
starts another one; only the answer to the latest request is used, so two quick switches end on the last
environment chosen, never a mix.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

#: how long closing the window waits for a load under way (it reads files: seconds at the most)
JOIN_S = 10.0


class Opener(QObject):
    """Runs ``load()`` in a worker thread and ``finish(result, error)`` on the UI thread with what it returned
    (or the exception it raised), for the latest :meth:`start` only."""

    _done = Signal(int, object, object)  # generation, result, exception

    def __init__(self, parent=None):
        super().__init__(parent)
        self._generation = 0
        self._finish: Callable[[Any, Exception | None], None] | None = None
        self._threads: list[threading.Thread] = []
        #: what is being loaded (for the window's "loading …" line), None when nothing is
        self.pending: str | None = None
        self._done.connect(self._arrived)

    def start(self, what: str, load: Callable[[], Any], finish: Callable[[Any, Exception | None], None]) -> None:
        """Load ``what`` in a new thread; an answer to an earlier start is dropped from now on."""
        self._generation += 1
        self.pending, self._finish = what, finish
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._run, args=(load, self._generation), name="dpf-open", daemon=True)
        self._threads.append(thread)
        thread.start()

    def cancel(self) -> None:
        """Drop the answer to the load under way (if any): what is open stays open."""
        self._generation += 1
        self.pending, self._finish = None, None

    def _run(self, load: Callable[[], Any], generation: int) -> None:
        result, error = None, None
        try:
            result = load()
        except Exception as exc:  # noqa: BLE001 (said on the UI thread, as the synchronous open says it)
            error = exc
        with contextlib.suppress(RuntimeError):  # the window is gone
            self._done.emit(generation, result, error)

    def _arrived(self, generation: int, result: Any, error: Exception | None) -> None:
        if generation != self._generation or self._finish is None:
            return  # a later request (or a cancel) came since
        finish = self._finish
        self.pending, self._finish = None, None
        finish(result, error)

    def shutdown(self) -> None:
        """Drop every answer and wait for the loads under way (they write to the label store, about to close)."""
        self.cancel()
        for thread in self._threads:
            thread.join(timeout=JOIN_S)
        self._threads = []


__all__ = ["Opener"]

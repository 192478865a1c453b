"""How long the app's event loop does not answer, as the benches that drive a window measure it.

A 10 ms Qt timer records the time between its own ticks: a gap much over 10 ms is a click or a key left
waiting that long. Shared by ``flow_stalls.py``, ``play_fps.py`` and ``study_suggestion_stall.py``; run
from a bench script, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

TICK_MS = 10
STALL_MS = 100


class GapProbe:
    """The gaps (s) between the ticks of a 10 ms timer while it runs; ``on_long_gap(gap_s)`` is told of each
    gap over ``long_s`` as it ends (e.g. to say where the other threads are)."""

    def __init__(self, on_long_gap: Callable[[float], None] | None = None, long_s: float = 0.08):
        from PySide6.QtCore import QTimer

        self.on_long_gap, self.long_s = on_long_gap, long_s
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> GapProbe:
        """Forget the gaps so far and measure from now."""
        self.gaps, self.last = [], time.perf_counter()
        self.timer.start()
        return self

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self.last
        self.gaps.append(gap)
        if self.on_long_gap is not None and gap > self.long_s:
            self.on_long_gap(gap)
        self.last = now

    def take(self) -> tuple[float, int]:
        """The longest gap (ms) since the last take, and how many were over :data:`STALL_MS`."""
        gaps, self.gaps = self.gaps, []
        return (max(gaps) * 1000 if gaps else 0.0), sum(g * 1000 > STALL_MS for g in gaps)


def idle(app, seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Let the event loop run for ``seconds`` (or until ``until()``), as it does while a person looks."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not (until is not None and until()):
        app.processEvents()
        time.sleep(0.002)

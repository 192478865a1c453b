"""Which trajectory to label next, kept up to date off the UI thread (the core is :mod:`dpf_gui.selection`).

The Annotate view asks :class:`Suggestions` for the next suggested trajectory
(Enter), the rank of a trajectory (the list's "next" column) and why it is
suggested (the line over the player). The ranking is recomputed in a worker
thread whenever what it depends on changes: the workspace, the marks, the
intent model (with a model, the members' disagreement enters). A request while
one runs is remembered and run after it; until the first result arrives the
view falls back to the next unlabelled trajectory, so nothing ever waits.
"""

from __future__ import annotations

import contextlib
import threading
import traceback

from PySide6.QtCore import QObject, QTimer, Signal

from dpf_gui.errors import UserError

#: suggestions ranked per computation (label these first; the rest of the list keeps its order)
COUNT = 100
SEED = 0
#: marks given in quick succession are ranked once
DEBOUNCE_MS = 150


class Suggestions(QObject):
    """The latest ranked suggestions for a workspace; :attr:`changed` is emitted when new ones arrive."""

    changed = Signal()
    _computed = Signal(object, int, str)  # list[Suggestion], generation, note

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ws = None
        self.items: list = []  # list[dpf_gui.selection.Suggestion], best first
        self._by_index: dict[int, tuple[int, object]] = {}
        self.ready = False  # a ranking for the current workspace has arrived
        self.note = ""  # what limited the last ranking (e.g. the model could not be used), for the status bar
        self.skipped: set[int] = set()  # shown by Enter and left unlabelled: not suggested again
        self.computations = 0  # rankings that arrived (tests wait on it)
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._running = False  # a ranking was started and its answer has not been handled yet (UI thread only)
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)
        self._computed.connect(self._arrived)

    # --- inputs ------------------------------------------------------------------
    def set_workspace(self, ws) -> None:
        """Forget everything about the previous workspace and rank this one's trajectories."""
        self._generation += 1
        self.ws = ws
        self.items, self._by_index, self.ready, self.note = [], {}, False, ""
        self.skipped = set()
        self.changed.emit()
        if ws is not None:
            self.request(now=True)

    def request(self, now: bool = False) -> None:
        """Rank again (soon: requests in quick succession are merged)."""
        if self.ws is None:
            return
        if now:
            self._timer.stop()
            self._start()
        else:
            self._timer.start()

    def skip(self, index: int) -> None:
        """The person moved on from a suggested trajectory without labelling it: do not suggest it again."""
        self.skipped.add(int(index))

    # --- answers -------------------------------------------------------------------
    def rank(self, index: int) -> int | None:
        """1-based place of trajectory ``index`` among the suggestions (None: not suggested)."""
        hit = self._by_index.get(int(index))
        return None if hit is None else hit[0]

    def get(self, index: int):
        """The :class:`~dpf_gui.selection.Suggestion` of trajectory ``index``, or None."""
        hit = self._by_index.get(int(index))
        return None if hit is None else hit[1]

    def next(self, states, current: int | None):
        """The best suggestion still unlabelled (``states[i] == 0``), other than ``current`` and skipped ones."""
        for s in self.items:
            if s.index != current and s.index not in self.skipped and int(states[s.index]) == 0:
                return s
        return None

    # --- the worker ------------------------------------------------------------------
    def _start(self) -> None:
        ws = self.ws
        if ws is None:
            return
        if self._running:  # not the thread's liveness: it is still alive for a moment after its answer is handled
            self._again = True
            return
        self._again = False
        args = (ws, ws.intent.model if ws.intent is not None else None, sorted(self.skipped), self._generation)
        self._running = True
        self._thread = threading.Thread(target=self._compute, args=args, name="dpf-suggest", daemon=True)
        self._thread.start()

    def _compute(self, ws, model, exclude, generation) -> None:
        """Read the marks (the store is thread-safe: 33 ms of a Pong switch on the UI thread before) and rank."""
        from dpf_gui.selection import suggest

        try:
            labels = ws.labels()
        except UserError as exc:  # the store failed: keep the last ranking
            with contextlib.suppress(RuntimeError):
                self._computed.emit(None, generation, str(exc))
            return
        note = ""
        try:
            try:
                items = suggest(ws.dataset, labels, model, COUNT, seed=SEED, exclude=exclude)
            except UserError as exc:
                if model is None:
                    raise
                note = f"suggestions without the intent model ({exc})"
                items = suggest(ws.dataset, labels, None, COUNT, seed=SEED, exclude=exclude)
        except Exception as exc:  # noqa: BLE001 (never let a ranking take the app down)
            if not isinstance(exc, UserError):
                traceback.print_exc()
            items, note = None, f"no suggestions: {exc}"
        with contextlib.suppress(RuntimeError):  # the view is gone
            self._computed.emit(items, generation, note)

    def _arrived(self, items, generation: int, note: str) -> None:
        self._running = False
        if generation == self._generation and items is not None:  # else: ranked for a workspace no longer open
            self.note = note
            self.items = list(items)
            self._by_index = {s.index: (k + 1, s) for k, s in enumerate(self.items)}
            self.ready = True
            self.computations += 1
            self.changed.emit()
        elif generation == self._generation:
            self.note = note
        if self._again:
            self._start()

    def shutdown(self) -> None:
        self._timer.stop()
        self._generation += 1
        if self._thread is not None:
            self._thread.join(timeout=5.0)


__all__ = ["COUNT", "Suggestions"]

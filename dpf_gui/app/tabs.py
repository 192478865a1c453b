"""The main window's tabs: how each is built, and how Play and Compare follow the workspace.

Annotate is built with the window; the others when first shown
(:data:`BUILT_AT_START`), so the window appears sooner (docs/PERFORMANCE.md).
Every view gets what is open through ``set_workspace(ws)`` and subscribes to
the workspace's changes itself (:meth:`~dpf_gui.session.workspace.Workspace.on_change`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from dpf_gui.errors import UserError

if TYPE_CHECKING:
    from dpf_gui.app.window import MainWindow


def make_annotate_view(window: MainWindow) -> QWidget:
    from dpf_gui.app.annotate_view import AnnotateView

    view = AnnotateView(window)
    view.statusMessage.connect(lambda text: window.statusBar().showMessage(text, 5000))
    view.errorOccurred.connect(window.show_error)
    view.trajectoryChanged.connect(lambda _: window.save_resume())
    view.positionChanged.connect(lambda _: window._resume_timer.start())
    view.datasetCollected.connect(window.open_collected)
    return view


def make_train_view(window: MainWindow) -> QWidget:
    from dpf_gui.app.train_view import TrainView

    view = TrainView(window)
    view.statusMessage.connect(lambda text: window.statusBar().showMessage(text, 8000))
    view.errorOccurred.connect(window.show_error)
    return view


#: what :attr:`_FollowsWorkspace._intent` holds while no agents are built: no intent model (None included) is theirs
_NONE_BUILT = object()


class _FollowsWorkspace:
    """Mixin for the Play and Compare views: their agents follow the workspace and its intent model.

    ``set_workspace(ws)`` and a new intent model in the workspace only note
    that the agents are out of date; they are (re)built when the tab is shown
    (or at once if it is visible), so opening an environment or training a
    model never creates environments for tabs nobody looks at (a highway
    environment takes about half a second). ``sync()`` forces it.
    """

    _ws = None
    _dirty = False
    _task = None  # the task agent the agents were last built for
    _intent = _NONE_BUILT  # the workspace's intent model they were last built with (_NONE_BUILT: no agents)
    _unsubscribe = None  # from the workspace's changes

    def set_workspace(self, ws) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._ws, self._dirty = ws, True
        self._unsubscribe = ws.on_change(self._on_change) if ws is not None else None
        if self.isVisible():
            self.sync()

    def _on_change(self, change) -> None:
        if change.what == "intent" and (self._dirty or change.new is not self._intent):  # (not built with it already)
            self._dirty = True
            if self.isVisible():
                self.sync()

    def shutdown(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().shutdown()

    def sync(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        ws = self._ws
        if ws is None or ws.task is None:
            self._task, self._intent = None, _NONE_BUILT
            self.drop_agents("No task agent is open: open one with File > Open task agent." if ws is not None
                             else "Nothing is open.")
            return
        # the same task agent again (a new intent model): keep the person's slider settings, but not the strength
        # and c a calibration chose for another intent model
        params = self.params_panel.params() if self._task is ws.task else None
        intent = ws.intent
        shown = self.calibrated_from
        if params is not None and shown is not None and not shown.made_for(intent.sidecar if intent else None):
            params = shown.undone(params)
        try:
            self.set_agents(ws.env_name, ws.env_config, ws.task, intent.model if intent else None,
                            intent.sidecar if intent else None, wish=play_wish(ws), params=params)
            self._task, self._intent = ws.task, intent
        except UserError as exc:
            self._intent = _NONE_BUILT
            self.drop_agents(str(exc))
        except Exception as exc:  # noqa: BLE001 (never take the window down from showEvent)
            self._intent = _NONE_BUILT
            traceback.print_exc()
            self.drop_agents(f"Cannot play: {exc.__class__.__name__}: {exc}")

    def sync_with_intent(self) -> None:
        """Build now for the workspace's intent model, also where this tab has not heard of it yet (another tab's
        sync runs first in the same change)."""
        if self._ws is not None and self._intent is not self._ws.intent:
            self._dirty = True
        self.sync()

    @property
    def up_to_date(self) -> bool:
        """Whether the agents shown are those of the workspace and its intent model as they are now."""
        return not self._dirty

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.sync()


def play_wish(ws):
    """The wish whose regions Play and Compare show: the intent model's (from its sidecar), else the "mixed" preset."""
    from dpf_gui.episode import recorded_wish

    wish = recorded_wish(ws.dataset.region_features, ws.intent.sidecar if ws.intent else None)
    if wish is None:
        try:
            wish = ws.wish()
        except UserError:
            wish = None
    return wish


def make_play_view(window: MainWindow) -> QWidget:
    from dpf_gui.app.play_view import PlayView

    class PlayTab(_FollowsWorkspace, PlayView):
        @property
        def calibrate_new_intents(self) -> bool:  # the window's (a lesson sets the parameters itself)
            return window is not None and window.calibrate_new_intents

        def drop_agents(self, reason: str) -> None:
            self.pause()
            self._close_runner()
            self._set_enabled(False)
            self.status_label.setText(reason)

    view = PlayTab()
    view.calibrated.connect(lambda cal, _message: _share_calibration(window, cal))
    _tell_failed_recordings(window, view)
    return view


def _tell_failed_recordings(window: MainWindow | None, view) -> None:
    """A recording that fails after Stop (the disk full, the folder gone) lost what the person played: a notice
    says so, not only the view's status line, which the next message replaces."""
    if window is not None:
        view.recordingFinished.connect(
            lambda path, error: error and window.notify("Recording failed", f"Recording to {path} failed: {error}"))


def _share_calibration(window: MainWindow, cal) -> None:
    """Play calibrated its agents: Compare, showing the same ones, plays at that strength too (one not built yet,
    or out of date, finds it kept when it is built or shown: :mod:`dpf_gui.calibration_memory`); where it said
    Play was calibrating and the calibration did not finish, it says so."""
    from dpf_gui.app.calibrating import CALIBRATING_IN_PLAY, NOT_CALIBRATED_IN_PLAY

    compare = window.views.get("Compare")
    if compare is None or not compare.runners or not compare.up_to_date:
        return
    if cal is not None:
        compare.apply_calibration(cal)
    elif compare.status_label.text() == CALIBRATING_IN_PLAY:
        compare.status_label.setText(NOT_CALIBRATED_IN_PLAY)


def make_compare_view(window: MainWindow) -> QWidget:
    from dpf_gui.app.compare_view import CompareView

    class CompareTab(_FollowsWorkspace, CompareView):
        def sync(self) -> None:
            """As every tab's; and where Play calibrates a new intent model by itself, Play loads it too, so that
            Compare, shown first, also plays at that strength once it is chosen (Play shares it)."""
            fresh = not self.up_to_date
            super().sync()
            ws = self._ws
            if not (fresh and self.runners and window is not None and window.calibrate_new_intents and ws is not None
                    and ws.intent is not None):
                return
            # (one kept on this machine was found when the agents were loaded)
            if self.calibrated_from is None or not self.calibrated_from.made_for(ws.intent.sidecar):
                from dpf_gui.app.calibrating import CALIBRATING_IN_PLAY

                play = window.view("Play")
                play.sync_with_intent()  # (Play may hear of the new model after this tab)
                if play.is_calibrating():  # highway, Pong: a minute or two in the background
                    self.status_label.setText(CALIBRATING_IN_PLAY)

        def drop_agents(self, reason: str) -> None:
            self.pause()
            self._close_runners()
            self._set_enabled(False)
            self.status_label.setText(reason)

    view = CompareTab()
    if window is not None:
        view.fit_params_to(window.height())
    _tell_failed_recordings(window, view)
    return view


#: (tab title, factory(window) -> widget); a widget may offer set_workspace(ws) and shutdown()
TABS: list[tuple[str, Callable[[MainWindow], QWidget]]] = [
    ("Annotate", make_annotate_view),
    ("Train", make_train_view),
    ("Play", make_play_view),
    ("Compare", make_compare_view),
]
#: tabs built with the window (Annotate: the marks, what a person starts with); the others are built when first
#: shown or asked for (:meth:`MainWindow.view`), so the window appears sooner (docs/PERFORMANCE.md)
BUILT_AT_START = ("Annotate",)


__all__ = ["BUILT_AT_START", "TABS", "make_annotate_view", "make_compare_view", "make_play_view", "make_train_view",
           "play_wish"]

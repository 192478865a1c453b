"""The Play view's *Calibrate strength*: the search of :mod:`dpf_gui.calibrate` from a worker thread (highway's
and Pong's in a process of its own, :mod:`dpf_gui.calibration_process`), its progress counted in episodes,
cancellable, its result set on the fusion parameters and kept on this machine
(:mod:`dpf_gui.calibration_memory`), so that the same agents shown again start calibrated.

A mixin of :class:`~dpf_gui.app.play_view.PlayView`, which calls :meth:`CalibratingView._init_calibration`
while building (it makes ``calibrate_button`` and ``calibrate_progress``),
:meth:`CalibratingView._enable_calibration` where it enables its controls, and
:meth:`CalibratingView._drop_calibration` when its agents change or it closes. It provides ``runner``,
``status_label``, ``_say()`` (a status line with its presentation-mode form; ``_status_forms``: the last one
said), ``params()`` and ``set_params()``.
"""

from __future__ import annotations

import contextlib
import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton

from dpf_gui.app.params_panel import CALIBRATE_TIP, calibration_table, calibration_text
from dpf_gui.errors import UserError, WorkerError

#: seconds a closing view waits for a running calibration to stop after its current episode (a highway episode is
#: about a second; the process is ended after 3 s regardless)
CLOSE_WAIT_S = 5.0
#: the error a cancelled calibration reports through ``calibrated(None, message)``
CANCELLED = "calibration cancelled: the parameters are as they were"
#: what Play says while a new intent model plays at the agent's stored strength: the benchmark's claim is measured
#: with the strength calibrated (its ``calibrated`` row), which the stored one often falls short of
NOT_CALIBRATED = ("Strength and c are this agent's stored defaults, not chosen for this intent: Calibrate strength "
                  "chooses them in simulation (seconds on gridnav, a minute or two on highway and Pong).")
#: the same in presentation mode, where the line sits under the frame in a narrow column of large text
NOT_CALIBRATED_SHORT = "Stored strength and c, not calibrated for this intent (Calibrate strength)."
#: the same once strength or c are set otherwise (by a person, a lesson's try, a calibration for another intent):
#: "stored defaults" beside "set: custom" was not true any more (``str.format`` fields strength, c)
SET_NOT_CALIBRATED = ("Strength {strength:g} and c {c:g}, as set (the agent stores others), are not calibrated for "
                      "this intent: Calibrate strength chooses them in simulation (seconds on gridnav, a minute or "
                      "two on highway and Pong).")
#: its presentation-mode form
SET_NOT_CALIBRATED_SHORT = "Strength {strength:g}, c {c:g}: not calibrated for this intent (Calibrate strength)."
#: how the line under the controls starts when Play calibrated a new intent model by itself
AUTO_LEAD = "calibrated for this new intent model as soon as it was shown"
#: Compare's line while Play calibrates the new intent model both show (in the background, a minute or two on
#: highway and Pong): the strength changes when it is done (kept short: the line does not wrap)
CALIBRATING_IN_PLAY = "Play is calibrating the strength for this intent: both sides play at the stored one until then."
#: Compare's line when that calibration was cancelled or failed (kept short: the line does not wrap)
NOT_CALIBRATED_IN_PLAY = "Play's calibration for this intent did not finish: both sides play at the stored strength."
#: presentation mode's line for a calibration just finished (the table is in the button's tooltip)
CALIBRATED_SHORT = "Calibrated for this intent: strength {strength:g}, c {c:g}."
#: presentation mode's line for a calibration kept from an earlier session (:mod:`dpf_gui.calibration_memory`)
RECALLED_SHORT = "Calibrated earlier on this machine: strength {strength:g}, c {c:g}."


class CalibratingView:
    """Mixin: the Calibrate button (it cancels while the calibration runs) and its progress bar."""

    #: calibrate a new intent model as soon as it is shown, where the agent plays at its stored strength and c, so
    #: that what a person sees is what the benchmark's claim is measured with (about a second on gridnav; on
    #: highway and Pong a minute or two in a process of its own, the agent playing at the stored strength
    #: meanwhile); the app's Play tab turns it on (docs/GUI.md)
    calibrate_new_intents = False
    #: the last calibration set or recalled (:class:`~dpf_gui.fusion_params.AppliedCalibration`): a strength chosen
    #: for one intent model does not belong to the next (:class:`~dpf_gui.app.tabs._FollowsWorkspace` undoes it)
    calibrated_from = None

    calibrated = Signal(object, str)  # Calibration (None on failure), message
    _calibrationDone = Signal(object, str, int)  # Calibration or None, error, generation
    _calibrationProgress = Signal(int, int, str, int)  # episodes played, at most, what is played, generation

    def _init_calibration(self) -> None:
        self._calibration: threading.Thread | None = None
        self._calibration_generation = 0  # bumped when the agents change: a result for older ones is dropped
        self._calibration_stop = threading.Event()
        self._calibrating_by_itself = False  # started by Play for a new intent model, not by the button
        self._intent_sidecar: dict = {}  # of the intent shown: its weights' checksum keys the kept calibrations
        self.recalled = None  # the calibration kept from an earlier session that the agents shown started with
        self._not_calibrated_forms: tuple[str, str] | None = None  # the line of _say_not_calibrated, last said
        self._calibrationDone.connect(self._on_calibrated, Qt.QueuedConnection)
        self._calibrationProgress.connect(self._on_calibration_progress, Qt.QueuedConnection)
        self.calibrate_button = QPushButton("Calibrate strength")
        self.calibrate_button.setObjectName("calibrateButton")
        self.calibrate_button.setToolTip(CALIBRATE_TIP)
        self.calibrate_button.clicked.connect(lambda: self.cancel_calibration() if self.is_calibrating()
                                              else self.calibrate())
        self.calibrate_progress = QProgressBar()
        self.calibrate_progress.setObjectName("calibrateProgress")
        self.calibrate_progress.setRange(0, 1)  # episodes played of the most there can be (it shrinks as it goes)
        self.calibrate_progress.setMaximumWidth(120)
        self.calibrate_progress.setMaximumHeight(14)
        self.calibrate_progress.setTextVisible(False)
        self.calibrate_progress.setVisible(False)

    def _drop_calibration(self, wait_s: float = 0.0) -> None:
        """The agents changed or the view closes: a running calibration's result will be dropped, and it stops
        after its current episode; ``wait_s``: how long to wait for that (closing: a calibration process ended by
        the app's exit instead leaves its semaphores to the resource tracker, which warns about them)."""
        self._calibration_generation += 1
        self.recalled = None
        running = self._calibration
        self.cancel_calibration()
        if running is not None and wait_s > 0:
            running.join(wait_s)

    def _enable_calibration(self, on: bool) -> None:
        # while calibrating, the button cancels (until it has been pressed)
        self.calibrate_button.setEnabled(on and self.runner is not None and self.runner.intent is not None
                                         and not self._calibration_stop.is_set())

    def calibrate(self, episodes: int | None = None, seed: int = 0) -> bool:
        """Choose the intent's strength in simulation (:func:`dpf_gui.calibrate.calibrate`), from a worker thread.

        The current parameters, with the chosen strength, act from the next decision once it is done
        (``calibrated(calibration, message)``); the table of what each strength did is the button's tooltip.
        False if it cannot start (no intent model, one already running).
        """
        runner = self.runner
        if runner is None or runner.intent is None or self._calibration is not None:
            return False
        params, generation = self.params(), self._calibration_generation
        self._calibration_stop = threading.Event()
        args = (runner.env_name, runner.task, runner.intent, dict(self._intent_sidecar), runner.intent_scale,
                runner.intent_unit, params, episodes, seed, generation, self._calibration_stop)
        self._calibration = threading.Thread(target=self._calibrate, args=args, name="dpf-calibrate", daemon=True)
        self.calibrate_button.setText("Cancel calibration")
        self.calibrate_progress.setRange(0, 1)
        self.calibrate_progress.setValue(0)
        self.calibrate_progress.setVisible(True)
        self.status_label.setText("calibrating the intent's strength: the fused agent plays calibration episodes "
                                  "(training seeds) at several strengths…")
        self._calibration.start()
        return True

    def _say_not_calibrated(self) -> None:
        """Say that the intent plays at a strength and c not calibrated for it: the stored ones or others."""
        from dpf_gui.fusion_params import same_calibrated
        from dpf_gui.pipeline import fusion_params

        p = self.params()
        if same_calibrated(p, fusion_params(self.runner.task)):
            self._not_calibrated_forms = (NOT_CALIBRATED, NOT_CALIBRATED_SHORT)
        else:
            self._not_calibrated_forms = (SET_NOT_CALIBRATED.format(strength=p.strength, c=p.c),
                                          SET_NOT_CALIBRATED_SHORT.format(strength=p.strength, c=p.c))
        self._say(*self._not_calibrated_forms)

    def _still_not_calibrated(self) -> None:
        """The parameters changed: a line saying they are not calibrated says so of the new ones (a calibration's
        line stays: it tells what was chosen)."""
        if self._status_forms == self._not_calibrated_forms and self.status_label.text() in self._status_forms:
            self._say_not_calibrated()

    def _calibrate_new_intent(self, task) -> bool:
        """Start calibrating a newly shown intent model if :attr:`calibrate_new_intents` says so and the strength
        and c are the agent's stored ones; False if not started."""
        from dpf_gui.fusion_params import same_calibrated
        from dpf_gui.pipeline import fusion_params

        if not self.calibrate_new_intents or not same_calibrated(self.params(), fusion_params(task)):
            return False  # (a strength the person set stays)
        self._calibrating_by_itself = self.calibrate()
        return self._calibrating_by_itself

    def is_calibrating(self) -> bool:
        return self._calibration is not None

    def cancel_calibration(self) -> bool:
        """Stop the running calibration after its current episode; the parameters stay as they are. False if
        none is running."""
        if self._calibration is None or self._calibration_stop.is_set():
            return False
        self._calibration_stop.set()
        self.calibrate_button.setText("Cancelling…")
        self.calibrate_button.setEnabled(False)
        return True

    def _calibrate(self, env_name, task, model, sidecar, scale, unit, params, episodes, seed, generation,
                   stop) -> None:
        from dpf_gui.calibrate import CalibrationCancelled
        from dpf_gui.calibration_memory import keep_calibration
        from dpf_gui.calibration_process import calibrate_on_this_machine

        def progress(played: int, at_most: int, what: str) -> None:
            with contextlib.suppress(RuntimeError):  # the view is gone
                self._calibrationProgress.emit(played, at_most, what, generation)

        try:
            # highway's and Pong's: in a process of their own (minutes of play that would stall the UI thread),
            # their task agent's reference played once per machine
            result, error = calibrate_on_this_machine(env_name, task, model, scale, unit, params, episodes=episodes,
                                                      seed=seed, progress=progress, should_stop=stop.is_set), ""
            keep_calibration(result, env_name, task, sidecar, params, episodes, seed)  # shown calibrated next time
        except CalibrationCancelled:
            result, error = None, CANCELLED
        except (UserError, WorkerError) as exc:
            result, error = None, str(exc)
        except Exception as exc:  # noqa: BLE001 (a bug: say it, keep the app)
            import traceback

            traceback.print_exc()
            result, error = None, f"{exc.__class__.__name__}: {exc}"
        error = " ".join(error.split())  # one line under the controls, however the message was wrapped
        with contextlib.suppress(RuntimeError):  # the view is gone
            self._calibrationDone.emit(result, error, generation)

    def _recall_calibration(self, env_name: str, task, intent_sidecar) -> bool:
        """New agents: set the calibration kept for them on this machine from the parameters shown, if there is
        one (:mod:`dpf_gui.calibration_memory`), and say so, as when the strength shown is still the one calibrated
        here for the same intent model; False otherwise."""
        from dpf_gui.calibration_memory import recall_calibration

        self._intent_sidecar = dict(intent_sidecar or {})
        cal = recall_calibration(env_name, task, self._intent_sidecar, self.params())
        if cal is None:
            return self._still_calibrated()
        self.recalled, params = cal, self._set_calibration(cal)
        self.calibrate_button.setToolTip(f"{CALIBRATE_TIP}\n\nKept from an earlier calibration:\n"
                                         f"{calibration_table(cal)}")
        self._say(f"{calibration_text(cal)} (kept from an earlier calibration of these agents on this machine; "
                  "Calibrate strength runs it again)", RECALLED_SHORT.format(strength=params.strength, c=params.c))
        return True

    def _set_calibration(self, cal):
        """Set ``cal``'s strength (and c, gate) on the parameters shown and remember it; the parameters set."""
        from dpf_gui.fusion_params import AppliedCalibration

        self.calibrated_from = applied = AppliedCalibration.of(cal, self.params(), self._intent_sidecar)
        self.set_params(applied.after)
        return applied.after

    def _still_calibrated(self) -> bool:
        """The same intent model shown again, its strength and c as the last calibration here set them (a sync,
        a reload): say so; False otherwise."""
        shown = self.calibrated_from
        if shown is None or not shown.made_for(self._intent_sidecar) or not shown.still_set(self.params()):
            return False
        p = self.params()
        self._say(f"Strength {p.strength:g}, c {p.c:g}: calibrated for this intent model earlier in this session "
                  "(Calibrate strength runs it again).", RECALLED_SHORT.format(strength=p.strength, c=p.c))
        return True

    def _on_calibration_progress(self, played: int, at_most: int, what: str, generation: int) -> None:
        if generation != self._calibration_generation or self._calibration is None:
            return
        self.calibrate_progress.setRange(0, max(at_most, 1))
        self.calibrate_progress.setValue(played)
        if not self._calibration_stop.is_set():  # ``what`` is a candidate tried in simulation, not what Play uses
            p = self.params()
            self.status_label.setText(f"calibrating the intent's strength in simulation: {what} (episode {played} "
                                      f"of at most {at_most}); until it is done Play plays at strength "
                                      f"{p.strength:g}, c {p.c:g} (Cancel calibration keeps them)")

    def _on_calibrated(self, cal, error: str, generation: int) -> None:
        self._calibration = None
        by_itself, self._calibrating_by_itself = self._calibrating_by_itself, False
        self._calibration_stop = threading.Event()
        self.calibrate_button.setText("Calibrate strength")
        self.calibrate_progress.setVisible(False)
        self.calibrate_button.setEnabled(self.runner is not None and self.runner.intent is not None)
        if generation != self._calibration_generation:
            return  # calibrated for agents no longer shown
        if cal is None:
            self.status_label.setText(CANCELLED if error == CANCELLED else f"calibration failed: {error}")
            self.calibrated.emit(None, error)
            return
        params = self._set_calibration(cal)
        message = calibration_text(cal, AUTO_LEAD if by_itself else "calibrated")
        self.calibrate_button.setToolTip(f"{CALIBRATE_TIP}\n\nLast calibration:\n{calibration_table(cal)}")
        self._say(message, CALIBRATED_SHORT.format(strength=params.strength, c=params.c))
        self.calibrated.emit(cal, message)


__all__ = ["AUTO_LEAD", "CALIBRATED_SHORT", "CALIBRATING_IN_PLAY", "CANCELLED", "CLOSE_WAIT_S", "NOT_CALIBRATED",
           "NOT_CALIBRATED_IN_PLAY", "NOT_CALIBRATED_SHORT", "RECALLED_SHORT", "SET_NOT_CALIBRATED",
           "SET_NOT_CALIBRATED_SHORT", "CalibratingView"]

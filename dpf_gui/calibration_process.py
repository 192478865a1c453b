"""A calibration run on this machine: the task agent's reference kept in the data folder, and, where it takes
minutes, played in a process of its own (no Qt).

Why a process: highway's and Pong's calibration is hundreds of episodes of pure Python and small numpy. In a
thread of the app it shares the interpreter lock with the UI thread: the highway demo's background calibration
took 6.5 min in the app against about 2 min from the CLI, and the Play view's frames stuttered meanwhile
(docs/GUI.md). In a process it only competes for a core, which the operating system shares fairly. Gridnav's
(under a second) stays in the caller's thread: starting a process (importing torch) takes longer than it.

:func:`calibrate_on_this_machine` is what the app and ``dpf evaluate --calibrate`` call. The process is started
with ``spawn`` (never fork, which would copy the app's Qt state and threads), sent the agents as the episode
worker sends them (:mod:`dpf_gui.episode_worker`), reports every episode back, stops after its current episode
when asked, and ends by itself if the app goes away however that happens.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from dpf_gui.errors import UserError, WorkerError, worker_stopped

#: how often (seconds) the caller's side looks for a stop request while it waits for the process
POLL_S = 0.2


def runs_in_a_process(env_name: str) -> bool:
    """Whether the calibration of ``env_name`` runs in a process of its own: where a confirmation on fresh
    episodes follows the search (highway, Pong: minutes of play, :data:`dpf_gui.calibrate.CONFIRM_EPISODES`)."""
    from dpf_gui.calibrate import CONFIRM_EPISODES

    return bool(CONFIRM_EPISODES.get(env_name))


def _calibrate_with_reference(env_name: str, task, model, intent_scale: float, intent_unit: float, params,
                              episodes: int | None, seed: int, progress, should_stop):
    from dpf_gui.cache import code_fingerprint
    from dpf_gui.calibrate import calibrate, reference_kept_on_this_machine

    with reference_kept_on_this_machine(env_name, task, {"code": code_fingerprint()}):
        return calibrate(env_name, task, model, intent_scale, intent_unit, params, episodes=episodes, seed=seed,
                         progress=progress, should_stop=should_stop)


def _serve(conn, envs: Mapping[str, Any], args: tuple) -> None:
    """The process: one calibration, every episode reported, then its result (or what stopped it). A message
    from the caller (or its end of the pipe closing) asks it to stop. (A pipe rather than a multiprocessing
    Event: an Event is a semaphore, which the app, ending without waiting for the calibration, would leave
    behind with a warning from Python's resource tracker.)"""
    import signal

    from dpf_gui.calibrate import CalibrationCancelled
    from dpf_gui.parallel import end_with_parent, worker_setup

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the app's to handle; it stops us
    end_with_parent()
    worker_setup(dict(envs))  # one thread for torch and BLAS, and the environments the app registered

    asked = False

    def progress(played: int, at_most: int, what: str) -> None:
        nonlocal asked
        try:
            conn.send(("progress", (played, at_most, what)))
        except OSError:  # the caller is gone: nobody waits for the rest
            asked = True

    def should_stop() -> bool:
        nonlocal asked
        if not asked and conn.poll():
            asked = True  # "stop", or the caller's end closed
        return asked

    try:
        reply = ("done", _calibrate_with_reference(*args, progress=progress, should_stop=should_stop))
    except CalibrationCancelled as exc:
        reply = ("cancelled", str(exc))
    except UserError as exc:
        reply = ("user", str(exc))
    except Exception as exc:  # noqa: BLE001 (a bug: the caller shows one line, the traceback goes to stderr)
        traceback.print_exc()
        reply = ("error", f"{exc.__class__.__name__}: {exc}")
    with contextlib.suppress(OSError):  # the caller is gone
        conn.send(reply)


def _calibrate_in_a_process(args: tuple, progress, should_stop):
    from dpf_gui.calibrate import CalibrationCancelled
    from dpf_gui.envs import added_envs

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, added_envs(), args), name="dpf-calibration", daemon=True)
    proc.start()
    child.close()  # the process holds the only other end: its exit is an EOF here
    asked = False

    def ask_to_stop() -> None:
        nonlocal asked
        if not asked:
            asked = True
            with contextlib.suppress(OSError):
                parent.send("stop")  # it stops after its current episode and says so

    try:
        while True:
            if should_stop is not None and should_stop():
                ask_to_stop()
            if not parent.poll(POLL_S):
                continue
            try:
                status, value = parent.recv()
            except (EOFError, OSError):
                proc.join(1.0)
                raise WorkerError(worker_stopped("calibration", proc.exitcode)) from None
            if status == "progress":
                if progress is not None:
                    progress(*value)
                continue
            if status == "done":
                return value
            if status == "cancelled":
                raise CalibrationCancelled(value)
            if status == "user":
                raise UserError(value)
            raise WorkerError(f"the calibration process failed: {value}")
    finally:
        if proc.is_alive():  # an error here, or the caller interrupted: it must not play on
            ask_to_stop()
            proc.join(3.0)
            if proc.is_alive():
                proc.terminate()
        proc.join(3.0)
        parent.close()


def calibrate_on_this_machine(env_name: str, task, model, intent_scale: float, intent_unit: float, params,
                              episodes: int | None = None, seed: int = 0,
                              progress: Callable[[int, int, str], None] | None = None,
                              should_stop: Callable[[], bool] | None = None, in_a_process: bool | None = None):
    """:func:`dpf_gui.calibrate.calibrate` with the task agent's reference read from and kept in this machine's
    data folder, in a process of its own where ``in_a_process`` (default :func:`runs_in_a_process`).

    ``progress`` and ``should_stop`` are called in the caller's thread (in a process: ``should_stop`` every
    :data:`POLL_S` seconds, and the process stops after its current episode). Raises what ``calibrate`` raises
    (:class:`~dpf_gui.calibrate.CalibrationCancelled`, :class:`~dpf_gui.errors.UserError`); a process that
    failed or went away is one :class:`~dpf_gui.errors.WorkerError`.
    """
    args = (env_name, task, model, intent_scale, intent_unit, params, episodes, seed)
    if in_a_process is None:
        in_a_process = runs_in_a_process(env_name)
    if not in_a_process:
        return _calibrate_with_reference(*args, progress=progress, should_stop=should_stop)
    return _calibrate_in_a_process(args, progress, should_stop)


__all__ = ["POLL_S", "calibrate_on_this_machine", "runs_in_a_process"]

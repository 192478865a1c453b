"""A live episode stepped in a worker process, so the app's event loop never waits on the simulator (no Qt).

Why a process: a highway decision is 20-60 ms of pure Python (the simulator,
the fused agent, its saliency). In a thread of the app it holds the
interpreter lock the UI thread needs, and with both cores of a loaded machine
busy the Play view's event loop stalled for 300-490 ms at a time
(docs/PERFORMANCE.md). In a process of its own it only competes for a core,
which the operating system shares fairly.

* :class:`EpisodeProcess`: one long-lived worker, started on first use with
  ``spawn`` (never fork, which would copy the app's Qt state and threads; not
  the fork server either, whose first start blocks the starting thread until
  it has imported torch, so closing the view then would have to wait), reused
  for every episode and every set of agents until
  :meth:`EpisodeProcess.close`, which never waits for a request in flight. It
  also ends by itself when the app goes away however that happens: its end of
  the pipe closes.
* :class:`RemoteRunner`: the interface of
  :class:`~dpf_gui.episode.EpisodeRunner` that the views use, running one in
  the worker: the same code on the same inputs, so the same frames and
  decisions. It opens the runner with its first reset, so building the
  environment (and starting the process, the first time) happens wherever the
  caller resets, e.g. the driver's worker thread. Strategy and parameter
  changes are kept here and sent with the next reset or advance, so setting
  them never waits for a step.

Errors: a :class:`~dpf_gui.errors.UserError` in the worker comes back as the
same UserError; anything else comes back as one
:class:`~dpf_gui.errors.WorkerError` naming it (the worker prints its
traceback to stderr), and so does the worker going away. A runner whose worker
died is opened again, in a fresh process, by its next reset.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import threading
import traceback
from collections.abc import Mapping
from typing import Any

from dpf_gui.errors import UserError, WorkerError, worker_stopped


# --- the worker's side ----------------------------------------------------------------
def _serve(conn, envs: Mapping[str, Any]) -> None:
    """The worker's loop: one request in, one reply out, until "quit" or until the app's end of the pipe closes.

    ``envs``: the environments the app registered at run time (the worker starts with the built-in ones)."""
    import signal

    import torch  # noqa: F401 (loaded here, so that its threads are set now)

    from dpf_gui.envs import register_envs
    from dpf_gui.threads import limit_threads

    register_envs(dict(envs))

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the app's to handle; it closes us
    limit_threads(1)  # tiny networks: one thread is fastest, and the app's cores are shared
    state: dict[str, Any] = {"runner": None}
    try:
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                return  # the app went away
            except Exception as exc:  # noqa: BLE001 (a request that cannot be unpickled: say so, keep serving)
                traceback.print_exc()
                conn.send(("error", f"cannot read the request: {exc.__class__.__name__}: {exc}"))
                continue
            if op == "quit":
                return
            try:
                conn.send(("ok", _handle(state, op, args)))
            except UserError as exc:
                conn.send(("user", str(exc)))
            except Exception as exc:  # noqa: BLE001 (a bug: the app shows one line, the traceback goes to stderr)
                traceback.print_exc()
                conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        if state["runner"] is not None:
            state["runner"].close()


def _handle(state: dict[str, Any], op: str, args: tuple) -> Any:
    from dpf_gui.episode import EpisodeRunner

    if op == "pid":
        return os.getpid()
    if op == "open":
        if state["runner"] is not None:
            state["runner"].close()
            state["runner"] = None
        state["runner"] = EpisodeRunner(**args[0])
        return None
    runner = state["runner"]
    if runner is None:
        raise RuntimeError(f"{op!r} before any agents were opened")
    if op == "trace":
        return runner.trace
    if op in ("reset", "advance"):
        for what, value in args[0]:  # the changes made since the last call, in order
            runner.set_strategy(value) if what == "strategy" else runner.set_params(value)
        return runner.reset(*args[1:]) if op == "reset" else runner.advance()
    raise ValueError(f"unknown request {op!r}")


# --- the app's side -----------------------------------------------------------------------
class EpisodeProcess:
    """One worker process serving requests in order; thread-safe (one request at a time). See the module doc."""

    def __init__(self, name: str = "dpf-episode"):
        self.name = name
        self.opened_by: int | None = None  # the token of the runner whose episode the worker holds (None: none)
        self._lock = threading.Lock()
        self._proc = None
        self._conn = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The worker's process id, None before it starts or once it is closed."""
        return None if self._proc is None else self._proc.pid

    def call(self, op: str, *args) -> Any:
        """Send one request and wait for its reply (starts the worker if it is not running)."""
        with self._lock:
            try:
                status, value = self._request(op, args)
            finally:
                if self._closed:  # closed while this request was in flight: end the worker on the way out
                    self._end()
        if status == "ok":
            return value
        if status == "user":
            raise UserError(value)
        raise WorkerError(f"the {self.name} process failed: {value}")

    def close(self, timeout: float = 3.0) -> None:
        """End the worker: ask it to quit and wait (terminate it if it does not). With a request in flight (a
        step, or the worker still starting) it is terminated at once instead: that request fails, and its caller
        reaps it. Never waits for a request. Safe to call twice."""
        self._closed = True
        if self._lock.acquire(blocking=False):
            try:
                self._end(timeout)
            finally:
                self._lock.release()
        else:
            proc = self._proc
            if proc is not None:
                proc.terminate()

    def _request(self, op: str, args: tuple) -> tuple[str, Any]:
        if self._closed:
            raise WorkerError(f"the {self.name} process was closed")
        if self._proc is None:
            self._start()
        conn = self._conn
        try:
            conn.send((op, args))
        except (OSError, EOFError):
            raise WorkerError(self._died()) from None
        except Exception as exc:  # noqa: BLE001 (pickling failed before anything was written: the pipe is fine)
            raise WorkerError(f"cannot send {op!r} to the {self.name} process: "
                              f"{exc.__class__.__name__}: {exc}") from None
        try:
            return conn.recv()
        except (OSError, EOFError):
            raise WorkerError(self._died()) from None

    def _start(self) -> None:
        from dpf_gui.envs import added_envs

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, added_envs()), name=self.name, daemon=True)
        proc.start()
        child.close()  # the worker holds the only other end: its exit is an EOF here
        self._proc, self._conn = proc, parent
        self.opened_by = None

    def _end(self, timeout: float = 3.0) -> None:
        """Quit the worker and wait for it (the caller holds the lock)."""
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        self.opened_by = None
        if proc is None:
            return
        with contextlib.suppress(OSError, EOFError):
            conn.send(("quit", ()))
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout)
        if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
            proc.kill()
            proc.join(timeout)
        conn.close()

    def _died(self) -> str:
        """Forget a worker that went away; the message to show."""
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        self.opened_by = None  # its episode is gone with it
        proc.join(1.0)
        conn.close()
        return worker_stopped(self.name, proc.exitcode)


_tokens = itertools.count(1)


class RemoteRunner:
    """:class:`~dpf_gui.episode.EpisodeRunner` run in an :class:`EpisodeProcess` (see the module doc).

    What the views read without stepping (strategy, parameters, names, the intent's units, the wish, the agents
    for calibration) is kept here; ``t``, ``done`` and ``seed`` follow the last snapshot. One thread advances it
    at a time, as an EpisodeRunner.
    """

    def __init__(self, process: EpisodeProcess, env_name: str, env_config: Mapping[str, Any] | None, task,
                 intent=None, intent_sidecar: Mapping[str, Any] | None = None, strategy: str = "dynamic",
                 params=None, wish=None, markov: bool = False):
        from dpf_gui.envs import check_config, env_class
        from dpf_gui.episode import initial_strategy, wish_from_sidecar
        from dpf_gui.fusion import intent_scale, intent_unit
        from dpf_gui.pipeline import fusion_params

        config = dict(env_config) if env_config is not None else dict(task.env_config)
        check_config(env_name, config)  # a bad setting is refused here, as EpisodeRunner's make_env refuses it
        self.process = process
        self.env_name = env_name
        self.task, self.intent = task, intent
        sidecar = dict(intent_sidecar or {})
        self.intent_scale = intent_scale(sidecar, markov)
        self.intent_unit = intent_unit(sidecar)
        self._strategy = initial_strategy(strategy, intent is not None)
        self._params = params or fusion_params(task)
        self.wish = wish if wish is not None else wish_from_sidecar(env_class(env_name), sidecar)
        spec = env_class(env_name).spec_info
        self.feature_names = list(task.feature_names or spec.feature_names)
        self.action_names = list(task.action_names or spec.action_names)
        self.seed, self.t, self.done = 0, 0, True
        self._open_args = {"env_name": env_name, "env_config": config, "task": task, "intent": intent,
                           "intent_sidecar": sidecar, "markov": markov, "wish": self.wish}
        self._token = next(_tokens)
        self._changes: list[tuple[str, Any]] = []
        self._changes_lock = threading.Lock()

    # --- control (UI thread, between or during steps) ---------------------------
    @property
    def strategy(self) -> str:
        return self._strategy

    def set_strategy(self, name: str) -> None:
        """Switch strategy; it acts from the next decision (as EpisodeRunner.set_strategy)."""
        from dpf_gui.episode import check_strategy

        check_strategy(name, self.intent is not None)
        with self._changes_lock:
            self._strategy = name
            self._changes.append(("strategy", name))

    @property
    def params(self):
        return self._params

    def set_params(self, params) -> None:
        with self._changes_lock:
            self._params = params
            self._changes.append(("params", params))

    @property
    def trace(self):
        """The episode so far (:class:`~dpf_gui.trace.EpisodeTrace`), fetched from the worker."""
        if not self._is_open():
            from dpf_gui.trace import EpisodeTrace

            return EpisodeTrace(self.env_name, self.seed, self.action_names, [], self.wish)
        return self.process.call("trace")

    # --- the episode ---------------------------------------------------------------
    def reset(self, seed: int):
        if not self._is_open():
            with self._changes_lock:  # opened with the strategy and parameters of now; later changes go with reset
                args = dict(self._open_args, strategy=self._strategy, params=self._params)
                self._changes.clear()
            self.process.call("open", args)
            self.process.opened_by = self._token
        return self._note(self.process.call("reset", self._take_changes(), int(seed)))

    def advance(self):
        """Take the pending decision, then decide in the new state (as EpisodeRunner.advance)."""
        if not self._is_open():
            raise WorkerError(f"the {self.process.name} process lost this episode: restart it")
        return self._note(self.process.call("advance", self._take_changes()))

    def close(self) -> None:
        """Nothing to release here: the worker closes this runner's environment when it opens the next or quits."""

    def _is_open(self) -> bool:
        """The worker holds this runner's episode (not another runner's, not lost with a worker that died)."""
        return self.process.opened_by == self._token

    def _take_changes(self) -> list[tuple[str, Any]]:
        with self._changes_lock:
            changes, self._changes = self._changes, []
        return changes

    def _note(self, snap):
        self.seed, self.t, self.done = snap.seed, snap.t, snap.done
        return snap


__all__ = ["EpisodeProcess", "RemoteRunner"]

"""Independent pieces of work on a local process pool or Ray: results in input order, one torch thread per worker.

Why processes: environment stepping and the small networks are single-threaded
Python and numpy, so threads would share one interpreter. Why one torch thread
per worker: our networks are tiny, and a pool of workers that each start a
thread per core oversubscribes the machine (up to 15x slower, docs/PERFORMANCE.md).

Workers are started with ``forkserver`` (``spawn`` where there is none): never
``fork``, which would copy a parent's torch thread pools or the app's Qt state.
``fn`` and the items must be picklable (module-level functions, plain data,
agents and models). Work that is deterministic per item gives the same results
for any ``jobs``.

``backend="ray"`` runs every item as a Ray task instead (:mod:`dpf_gui.ray_jobs`), on the
Ray instance this process is connected to, so a cluster runs the same work.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TypeVar

from tqdm.auto import tqdm

from dpf_gui.threads import limit_threads

T = TypeVar("T")
R = TypeVar("R")


def end_with_parent() -> None:
    """End this worker process as soon as the process that started the pool is gone.

    Why: a pool's workers do not notice when the main process is killed from outside (``kill``, the
    out-of-memory killer, a stopped job): each goes on with the cells already queued to it, for minutes,
    sharing the cores with whatever runs next, and the fork server stays up as long as they do. The
    multiprocessing start gives every worker a pipe from the main process (``parent_process().sentinel``)
    that reaches end-of-file when it exits, however it exits; a thread waits on it.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def worker_setup(envs: dict) -> None:
    """A worker's start (a Ray task's, before each item): one thread for torch and numpy's BLAS, and the
    environments registered in the parent at run time (a plugin's; the worker knows only the built-in ones)."""
    from dpf_gui.envs import register_envs

    limit_threads(1)
    register_envs(envs)


class _Interrupt:
    """A pool worker's Ctrl-C: the item it is running stops, and every later item stops before it starts.

    Why: the pool hands each worker its next item before the current one ends, and an item is a benchmark cell
    (minutes). With Python's own handler a worker stopped its cell at Ctrl-C and then ran the queued one to the
    end, so ``dpf benchmark --jobs 2`` took a cell's time to stop. Only an item in progress is interrupted: a
    KeyboardInterrupt in a waiting worker would kill it with a traceback and break the pool."""

    requested = False
    busy = False

    @classmethod
    def on_signal(cls, _signum, _frame) -> None:
        first = not cls.requested
        cls.requested = True
        if first and cls.busy:  # a second signal must not interrupt the first one's clean-up
            raise KeyboardInterrupt


def run_item(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)`` in a pool worker, unless Ctrl-C came first (:class:`_Interrupt`)."""
    if _Interrupt.requested:
        raise KeyboardInterrupt("interrupted before this item started")
    _Interrupt.busy = True
    try:
        return fn(item)
    finally:
        _Interrupt.busy = False


def pool_worker_setup(envs: dict) -> None:
    """A local pool worker's start: :func:`worker_setup`, Ctrl-C that stops the run's items (:class:`_Interrupt`),
    and an end when the main process goes away."""
    worker_setup(envs)
    signal.signal(signal.SIGINT, _Interrupt.on_signal)
    end_with_parent()


def interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's items as Ctrl-C does (:class:`_Interrupt`): for a Ctrl-C that reached only this process
    (``kill -INT``; a terminal's reaches the workers anyway), and for an item's error, which should not wait for
    the cells still running or queued. (``_processes``: the pool's own record of its workers; Python has no public
    one before 3.14.)"""
    if os.name != "posix":
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, AttributeError):
            os.kill(process.pid, signal.SIGINT)


def pool_context(preload: Sequence[str] = ()):
    """The start method of our worker processes: forkserver where the platform has it, else spawn.

    The fork server imports ``preload`` (and torch) once, so each worker starts in milliseconds instead of
    importing torch again (seconds); it applies when this process first starts its fork server.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", "torch", *preload])
    return ctx


BACKENDS = ("local", "ray")


def map_jobs(fn: Callable[[T], R], items: Sequence[T], jobs: int = 1, progress: bool = False, desc: str = "jobs",
             unit: str = "item", sizes: Sequence[int] | None = None, backend: str = "local",
             on_result: Callable[[int, R], None] | None = None, shared: Sequence[str | os.PathLike] = ()) -> list[R]:
    """``[fn(x) for x in items]`` on ``jobs`` worker processes (``jobs`` 1: in this process, no pool), or
    each item a Ray task (``backend="ray"``; Ray decides how many run at once).

    ``sizes`` (one per item, e.g. its episode count) weight the progress bar. ``on_result(i, result)`` is
    called here as each item finishes (e.g. to keep it where this process can read it back). The first
    exception raised by ``fn`` (a :class:`~dpf_gui.errors.UserError` too) is raised here once the other items
    in progress are interrupted (Ray: cancelled); items not yet started never start. Ctrl-C stops the same way.

    ``shared``: folders this process made (finished cache entries) and files that the items read. Local workers
    read them where they are; Ray tasks get a copy where they run (:func:`dpf_gui.ray_jobs.place_shared`), so a
    cluster's nodes need not share a file system.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    items = list(items)
    sizes = [1] * len(items) if sizes is None else [int(s) for s in sizes]
    bar = tqdm(total=sum(sizes), desc=desc, unit=unit, disable=not progress)

    def finished(i: int, result: R) -> None:
        if on_result is not None:
            on_result(i, result)
        bar.update(sizes[i])

    from dpf_gui.envs import added_envs

    try:
        if backend == "ray":
            from dpf_gui.ray_jobs import map_ray, pack_shared

            return map_ray(fn, items, finished, initializer=functools.partial(worker_setup, added_envs()),
                           shared=pack_shared(shared))
        if jobs <= 1 or len(items) <= 1:
            out = []
            for i, x in enumerate(items):
                out.append(fn(x))
                finished(i, out[-1])
            return out
        results: list = [None] * len(items)
        with ProcessPoolExecutor(max_workers=min(int(jobs), len(items)), mp_context=pool_context([fn.__module__]),
                                 initializer=functools.partial(pool_worker_setup, added_envs())) as pool:
            pending = {pool.submit(run_item, fn, x): i for i, x in enumerate(items)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        i = pending.pop(future)
                        results[i] = future.result()
                        finished(i, results[i])
            except BaseException:  # Ctrl-C, or the first item's error: the run is over, its other items too
                interrupt_workers(pool)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return results
    finally:
        bar.close()


__all__ = ["BACKENDS", "end_with_parent", "interrupt_workers", "map_jobs", "pool_context",
           "run_item", "worker_setup"]

"""Work items as Ray tasks: what ``--backend ray`` of ``dpf evaluate``, ``dpf results`` and ``dpf benchmark`` runs.

Why Ray: a lab with a Ray cluster runs the benchmark there, many cells at once, with the tools it already
knows. Each item is one task asking for one CPU and using one torch thread (our networks are tiny); Ray
schedules them, :func:`map_ray` only submits them all and collects what comes back.

On a cluster every node needs dpf-gui installed, the same version (``pip install 'dpf-gui[ray]'``): the
tasks import it there and read its shipped agents and trajectories. :func:`connect` checks the address
before Ray sees it (a wrong one makes Ray retry for minutes) and then that a worker runs this version.

The nodes need not share a file system. What every task reads from the work folder and this process has
already made (the benchmark's task-agent episodes: minutes of Pong or highway) travels with the tasks
(:func:`pack_shared`, once through Ray's object store) and is put where it was on a node that lacks it
(:func:`place_shared`); without that, every worker process of every node played it again before its first
cell, all at once. A user's own file travels the same way (``dpf benchmark --data``'s trajectories).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dpf_gui import __version__
from dpf_gui.errors import UserError

INSTALL = "pip install 'dpf-gui[ray]'"
CONNECT_TIMEOUT_S = 5.0
WORKER_TIMEOUT_S = 300.0  # a cluster may first have to start a node
_ADDRESS = re.compile(r"^(ray://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
ADDRESS_FORMS = ("ray://HEAD:10001 (Ray Client, from any machine), HEAD:6379 (from a node of the cluster) "
                 "or auto (the instance `ray start` runs on this machine)")


def import_ray():
    """The ray module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--backend ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_address(address: str) -> None:
    """A one-line UserError unless ``address`` is ``auto`` or [ray://]HOST:PORT where something answers."""
    if address == "auto":
        return
    m = _ADDRESS.match(address)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UserError(f"--address {address!r} is not a Ray address; write {ADDRESS_FORMS}")
    host, port = m.group(2).strip("[]"), int(m.group(3))
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UserError(f"--address {address}: nothing answers at {host}:{port} ({exc.strerror or exc}); "
                        "is the cluster's head node running (`ray start --head`)?") from None


def connect(address: str | None = None, cpus: int | None = None) -> int:
    """Connect this process to Ray; returns the cluster's CPUs.

    ``address`` None: the instance this process is already connected to, else a new one started on this
    machine with ``cpus`` CPUs (None: all). Otherwise the cluster at ``address`` (:data:`ADDRESS_FORMS`).
    """
    if address is not None:
        check_address(address)
    ray = import_ray()
    if not ray.is_initialized():
        try:
            if address is None:
                ray.init(address="local", num_cpus=cpus, include_dashboard=False)
            else:
                ray.init(address=address)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            if address == "auto" and isinstance(exc, ConnectionError):
                raise UserError("--address auto: no Ray instance runs on this machine (start one with `ray start "
                                "--head`, or leave out --address and this command starts its own)") from None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"--address {address}: Ray could not connect: {reason} (a cluster with token "
                            "authentication, the default of `ray start` since Ray 2.59, also needs RAY_AUTH_MODE=token "
                            "here and its token: Ray's docs, token authentication)") from None
    _check_workers(ray)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _worker_version() -> str:
    return __version__


def _check_workers(ray) -> None:
    """A worker imports dpf_gui, the same version as this process (one small task)."""
    try:
        theirs = ray.get(ray.remote(num_cpus=0)(_worker_version).remote(), timeout=WORKER_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        raise UserError(f"no Ray worker started within {WORKER_TIMEOUT_S:.0f} s; has the cluster any node?") from None
    except ray.exceptions.RayError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UserError(f"the Ray workers cannot run dpf-gui ({reason}); install it on every node: "
                        f"{INSTALL}=={__version__}") from None
    if theirs != __version__:
        raise UserError(f"the Ray workers run dpf-gui {theirs} and this machine {__version__}; install the same "
                        "version on every node")


#: what travels with the tasks: a folder's path as given -> {path inside it (posix): the file's bytes}, or a
#: file's path as given -> its bytes
Shared = Mapping[str, "Mapping[str, bytes] | bytes"]


def pack_shared(paths: Sequence[str | os.PathLike]) -> dict[str, dict[str, bytes] | bytes]:
    """Every file of the folders among ``paths`` (finished cache entries of this process), by folder and path
    inside it, and the bytes of the files among them. A relative path stays relative: a task resolves it on its
    node, as it does the ``--work`` it is given. A path that is not there is left out."""
    packed: dict[str, dict[str, bytes] | bytes] = {}
    for path in map(Path, paths):
        if path.is_dir():
            packed[os.fspath(path)] = {p.relative_to(path).as_posix(): p.read_bytes()
                                       for p in sorted(path.rglob("*")) if p.is_file()}
        elif path.is_file():
            packed[os.fspath(path)] = path.read_bytes()
    return packed


def place_shared(packed: Shared) -> None:
    """Each packed folder or file where it was, unless something is there already (a shared file system, or
    another task on this node placed it first). Written beside it and renamed into place, so that no task reads
    half a folder or file; one that cannot be placed (no room, no permission) is left for the task to make or
    miss, as without it."""
    for name, content in packed.items():
        target = Path(name)
        if target.exists():
            continue
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.placing")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                for rel, data in content.items():
                    path = tmp / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            os.rename(tmp, target)  # a folder: fails where another task placed it meanwhile, and theirs stays
        except OSError:
            pass
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def _run(initializer: Callable[[], None] | None, fn: Callable[[Any], Any], item: Any,
         shared: Shared | None = None) -> Any:
    """One item in a Ray worker, after ``initializer()`` (e.g. one torch thread), with the ``shared`` folders
    and files in place."""
    if initializer is not None:
        initializer()
    if shared:
        place_shared(shared)
    return fn(item)


def map_ray(fn: Callable[[Any], Any], items: Sequence[Any], finished: Callable[[int, Any], None],
            initializer: Callable[[], None] | None = None, shared: Shared | None = None) -> list[Any]:
    """``[fn(x) for x in items]``, each a Ray task of one CPU; ``finished(i, result)`` as each comes back.

    ``initializer`` (a module-level function) runs in the worker before each item, as a process pool's does:
    :func:`dpf_gui.parallel.map_jobs` passes the one that keeps torch on one thread. ``shared``
    (:func:`pack_shared`) goes into Ray's object store once and is placed before each item
    (:func:`place_shared`).

    Connects to a Ray instance started here when this process has none (:func:`connect`). A task's
    :class:`UserError` is raised here as itself (one line on the CLI), after the other tasks are cancelled;
    so is Ctrl-C.
    """
    ray = import_ray()
    if not ray.is_initialized():
        connect()
    task = ray.remote(num_cpus=1, max_retries=0)(_run)
    shared_ref = ray.put(dict(shared)) if shared else None  # an argument's object ref reaches the task as its value
    refs = [task.remote(initializer, fn, x, shared_ref) for x in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                results[i] = ray.get(ref)
                finished(i, results[i])
    except BaseException as exc:
        for ref in pending:
            ray.cancel(ref)
        cause = getattr(exc, "cause", None)
        if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, UserError):
            raise cause from None
        raise
    return results


__all__ = ["ADDRESS_FORMS", "INSTALL", "Shared", "check_address", "connect", "import_ray", "map_ray", "pack_shared",
           "place_shared"]

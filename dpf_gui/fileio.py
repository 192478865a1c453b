"""Writing files so that a crash, a kill or a full disk never leaves half of one; and a folder's one writer.

Every file dpf-gui writes (checkpoints, datasets, labels, evaluation tables,
cache stamps, reports) goes through :func:`write_atomic`: the content is written
to a temporary file in the same folder and renamed over the target, which is
atomic on POSIX and Windows. The renamed file gets the mode a plain
``open(path, "w")`` would give (0o666 minus the umask), not the 0o600 of a
temporary file.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import fcntl

    msvcrt = None
except ImportError:  # Windows
    fcntl = None
    import msvcrt


def file_mode() -> int:
    """The mode a plain ``open(..., "w")`` would give a new file (0o666 minus the umask)."""
    umask = 0o022
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


def cannot_write_in(folder: str | os.PathLike) -> OSError | None:
    """Why no new file can be made in the existing ``folder`` (the error a temporary file, removed at once, met),
    or None: every output is probed with it before the work that would end in writing it."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc
    return None


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"))
    try:
        write(tmp)
        os.chmod(tmp, file_mode())  # some writers (safetensors, mkstemp) create files 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return write_atomic(path, write)


def write_json_atomic(path: str | os.PathLike, obj: Any, default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``obj`` as indented JSON (with a final newline) atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, default=default) + "\n")


def hold_lock(lock_path: Path):
    """(open lock file, None) once this process holds ``lock_path``'s lock, a folder's one writer (released when
    the file is closed or the process ends); (None, the holder's pid) if another process holds it."""
    fh = open(lock_path, "a+", encoding="ascii")  # noqa: SIM115 (held open: the lock lasts as long as the file)
    fh.seek(0)
    try:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # Windows: the first byte stands for the whole file
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        try:
            owner = fh.read(32).strip()
        except OSError:
            owner = ""
        fh.close()
        return None, owner
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh, None


__all__ = ["file_mode", "hold_lock", "write_atomic", "write_json_atomic", "write_text_atomic"]

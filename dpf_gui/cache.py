"""A cache of finished work that never hands back half of it.

Why: results and benchmark cells take minutes each, so a rerun must reuse what
was finished and redo what was not, whatever ended the last run (Ctrl-C, a
kill, a full disk, a second process on the same folder). The rules:

* An entry's folder is named by a readable prefix and a hash of *all* its
  inputs (the key: seeds, data and model checksums, configs), so two different
  computations (seed 0 and seed 1, ...) never share a folder.
* Work is written into a private folder. Only when the work is complete, a
  stamp (the key and a checksum of every file) is written in it, last, and the
  folder is renamed into place. An exception, Ctrl-C included, deletes it: a
  caller whose work ended early (e.g. training that returned ``interrupted``)
  raises instead of leaving the block normally.
* An entry is used only if its stamp parses, holds the same key and every file
  it lists still has its checksum; anything else (a truncated file, another
  key, an older layout) counts as missing and is redone, never read.

Two processes computing different entries touch different folders. Two
computing the same entry each publish a complete folder by one rename; the
later one finds a valid entry in place and drops its copy, or replaces a
stale one, so a complete entry is left either way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dpf_gui.checkpoints import sha256_file
from dpf_gui.fileio import write_json_atomic

STAMP = "stamp.json"
#: the modules cached numbers depend on (benchmark cells, calibrations kept on a machine); the app, the CLI and
#: the report writers do not change them
CODE_SOURCES = ("benchmark.py", "calibrate.py", "evaluate.py", "fusion.py", "oracles.py", "pipeline.py", "rollout.py",
                "reference_file.py", "rowwise.py", "selection.py", "wish.py", "wishgen.py", "intent/*.py", "envs/*.py",
                "agents/*.py", "data/*.py")


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cache key value of type {type(obj).__name__} has no stable JSON form")


def canonical(key: Any) -> str:
    """The key as one canonical JSON text: what its hash and the stamp comparison use."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_plain)


def digest(*arrays: Any) -> str:
    """sha256 over arrays' bytes (and shapes): a key value standing for data too large to list."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def read_json(path: str | os.PathLike) -> Any | None:
    """The parsed JSON file, or None when it is missing or unreadable (a damaged file counts as missing)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


class CacheEntry:
    """One computation's output folder, usable only once complete (see the module docstring).

    ``name`` is the readable part of the folder name; with ``hashed=False`` it is the whole name and a new
    key replaces the folder's old content (one current entry per place, e.g. the retrained agent of an
    intent model; two processes building *different* keys there at once replace each other's work)."""

    def __init__(self, root: str | os.PathLike, name: str, key: dict[str, Any], hashed: bool = True):
        self.key = canonical(key)
        folder = f"{name}-{hashlib.sha256(self.key.encode()).hexdigest()[:12]}" if hashed else name
        self.path = Path(root) / folder

    def done(self) -> bool:
        """True only if the folder holds a stamp for this key and every file it lists is intact."""
        stamp = read_json(self.path / STAMP)
        if not isinstance(stamp, dict) or canonical(stamp.get("key")) != self.key:
            return False
        files = stamp.get("files")
        if not isinstance(files, dict) or not files:
            return False
        for rel, sha in files.items():
            path = self.path / rel
            try:
                if sha256_file(path) != sha:
                    return False
            except OSError:
                return False
        return True

    @contextmanager
    def build(self) -> Iterator[Path]:
        """A private folder to write the entry into; stamped and published when the block ends normally."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.mkdir(parents=True)
        try:
            yield tmp
            files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
            if not files:
                raise RuntimeError(f"cache entry {self.path.name}: the work wrote no file")
            write_json_atomic(tmp / STAMP, {"key": json.loads(self.key), "files": files})
            self._publish(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone after a publish; the unfinished work otherwise

    def _publish(self, tmp: Path) -> None:
        error: OSError | None = None
        for _ in range(5):  # each round either publishes or removes one stale folder another process may recreate
            try:
                os.rename(tmp, self.path)  # fails if a non-empty folder is in place
                return
            except OSError as exc:
                error = exc
            if self.done():
                return  # another process finished the same work first; ours is dropped
            aside = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.old")
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                continue
            shutil.rmtree(aside, ignore_errors=True)
        raise error  # type: ignore[misc]


@functools.cache
def code_fingerprint() -> str:
    """sha256 of :data:`CODE_SOURCES`: a change there invalidates what was cached with the old code. Read once
    per process (the sources do not change under it): Play asks at every new agents, on the UI thread."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted({f for pattern in CODE_SOURCES for f in root.glob(pattern)}):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


__all__ = ["CODE_SOURCES", "STAMP", "CacheEntry", "canonical", "code_fingerprint", "digest", "read_json"]

"""The task agent's calibration reference kept beside its weights (``reference.json``), so that the first
calibration on a new machine does not have to play it.

On highway and Pong a calibration compares the fused agent with the task agent's success on
``REFERENCE_EPISODES`` training-range episodes (:mod:`dpf_gui.calibrate`): 1000 Pong points, about 2 minutes
on 2 cores, and 300 highway episodes, about 4. Each machine played them at its first calibration with a task
agent (the app, ``dpf evaluate --calibrate``, a study) and again after every update of the code, since its
kept copy is keyed by the code. The same weights in the same environment play the same episodes anywhere, so
``dpf reference`` plays them once and writes them beside the weights (the shipped agents carry theirs). A
calibration then replays only the first :data:`CHECK_EPISODES` and takes the file when they come out the same:
a changed environment, task agent or arithmetic would not, and then every episode is played as before.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui import __version__
from dpf_gui.cache import read_json
from dpf_gui.fileio import write_json_atomic

FILE = "reference.json"
KIND = "task-reference"
#: the kept outcomes' first episodes replayed before they are trusted (a Pong point is about 0.1 s, a highway
#: episode about 1 s)
CHECK_EPISODES = 10


def reference_path(task) -> Path | None:
    """Where ``task``'s reference is kept: its directory's ``reference.json`` (None for an agent with no folder)."""
    directory = getattr(task, "directory", None)
    return None if directory is None else Path(directory) / FILE


def task_weights(task) -> str | None:
    """The task agent's weights hash from its sidecar: what its reference is known by (None: none to go by)."""
    return (getattr(task, "sidecar", None) or {}).get("weights_sha256")


def read_reference(env_name: str, task, seed: int, episodes: int) -> np.ndarray | None:
    """The successes kept beside ``task``'s weights for these reference episodes (1.0 / 0.0 each), or None where
    there are none, or they were played by other weights, in another environment or on other episodes."""
    path = reference_path(task)
    if path is None or not path.is_file() or task_weights(task) is None:
        return None
    kept = read_json(path)  # None where unreadable: played again, as without a file
    if not isinstance(kept, dict) or kept.get("kind") != KIND:
        return None
    same = (kept.get("env") == env_name and kept.get("task_weights_sha256") == task_weights(task)
            and kept.get("env_config") == task.env_config and kept.get("seed") == seed
            and kept.get("episodes") == episodes)
    success = kept.get("success")
    if not same or not isinstance(success, list) or len(success) != episodes:
        return None
    return np.asarray(success, dtype=float)


def checks_out(kept: np.ndarray, replayed: np.ndarray) -> bool:
    """The first outcomes replayed on this machine are the kept ones (``replayed``: the first few, in order)."""
    return len(replayed) > 0 and np.array_equal(np.asarray(replayed, dtype=float), kept[:len(replayed)])


def write_reference(env_name: str, task, seed: int, success: np.ndarray, command: str, wall_time_s: float,
                    machine: str) -> Path:
    """Keep ``success`` (the task agent's outcome on each reference episode of ``seed``, in order) beside its
    weights, with how it was made (``machine``: where, in words)."""
    path = reference_path(task)
    if path is None or task_weights(task) is None:
        raise ValueError("the task agent has no folder and weights hash to keep its reference with")
    success = np.asarray(success, dtype=float)
    record: dict[str, Any] = {
        "kind": KIND, "env": env_name, "task_weights_sha256": task_weights(task), "env_config": task.env_config,
        "seed": int(seed), "episodes": len(success), "success_rate": float(success.mean()),
        "success": [int(s) for s in success], "command": command, "wall_time_s": round(float(wall_time_s), 1),
        "machine": machine,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "dpf_gui_version": __version__,
    }
    write_json_atomic(path, record)
    return path


__all__ = ["CHECK_EPISODES", "FILE", "checks_out", "read_reference", "reference_path", "task_weights",
           "write_reference"]

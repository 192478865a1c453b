"""Calibrations kept on this machine: the app shows agents it calibrated before already calibrated.

A calibration (:mod:`dpf_gui.calibrate`) is minutes of play on highway and Pong. Without a memory, every new
session, and every demo with its cached intent model, played at the task agent's stored strength until someone
pressed *Calibrate strength* again. So each finished calibration is kept in the data folder (``calibrations/``
under :func:`dpf_gui.data.study.default_dir`), keyed by everything its result depends on: the environment, the
task agent's and the intent model's weights (their checksums), the fusion parameters it started from, its
episodes and seed, and the code (:func:`dpf_gui.cache.code_fingerprint`), one per pair of agents (their next
calibration replaces it). The same agents shown again with the same starting parameters get it back; anything
else changed means no match and a new calibration. An unreadable or full folder costs a calibration, nothing
else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dpf_gui.cache import CacheEntry, code_fingerprint, read_json

FOLDER = "calibrations"
RESULT = "calibration.json"


def calibration_entry(env_name: str, task, intent_sidecar: Mapping[str, Any] | None, params,
                      episodes: int | None = None, seed: int = 0, root: str | Path | None = None) -> CacheEntry | None:
    """Where the calibration of these agents from ``params`` is kept (None where either agent has no weights
    checksum to know it by, e.g. one built in memory)."""
    task_weights = (getattr(task, "sidecar", None) or {}).get("weights_sha256")
    intent_weights = (intent_sidecar or {}).get("weights_sha256")
    if not task_weights or not intent_weights:
        return None
    if root is None:
        from dpf_gui.data.study import default_dir

        root = default_dir() / FOLDER
    key = {"env": env_name, "env_config": json.loads(json.dumps(task.env_config, sort_keys=True, default=str)),
           "task": task_weights, "intent": intent_weights, "params": params.to_dict(), "episodes": episodes,
           "seed": int(seed), "code": code_fingerprint()}
    # one entry per pair of agents, replaced by their next calibration: the folder grows with the intent models
    # calibrated, not with every code version or starting parameters tried
    return CacheEntry(Path(root), f"{env_name}-{task_weights[:12]}-{intent_weights[:12]}", key, hashed=False)


def recall_calibration(env_name: str, task, intent_sidecar, params, episodes: int | None = None, seed: int = 0,
                       root: str | Path | None = None):
    """The :class:`~dpf_gui.calibrate.Calibration` kept for these agents and starting parameters, or None."""
    entry = calibration_entry(env_name, task, intent_sidecar, params, episodes, seed, root)
    try:
        stored = read_json(entry.path / RESULT) if entry is not None and entry.done() else None
    except OSError:
        return None
    if not isinstance(stored, dict):
        return None
    from dpf_gui.calibrate import Calibration

    try:
        return Calibration(**stored)
    except TypeError:  # kept by a version whose result had other fields (the code key makes this rare)
        return None


def keep_calibration(calibration, env_name: str, task, intent_sidecar, params, episodes: int | None = None,
                     seed: int = 0, root: str | Path | None = None) -> bool:
    """Keep ``calibration`` (run from ``params``) for these agents; False where it could not be kept."""
    from dpf_gui.fileio import write_json_atomic

    entry = calibration_entry(env_name, task, intent_sidecar, params, episodes, seed, root)
    if entry is None:
        return False
    with contextlib.suppress(OSError):
        with entry.build() as tmp:
            write_json_atomic(tmp / RESULT, calibration.to_dict())
        return True
    return False


__all__ = ["FOLDER", "calibration_entry", "keep_calibration", "recall_calibration"]

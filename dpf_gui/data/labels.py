"""Trajectory-level feedback: one score per trajectory (and, where known, per-step marks).

Stored as ``.npz`` (no pickles) with a JSON metadata string; documented in
docs/DATA.md. Labels refer to one dataset through its fingerprint, so a label
file is never silently applied to other trajectories.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json

import numpy as np

from dpf_gui.data.trajectories import TrajectoryDataset, load_npz, save_npz_atomic
from dpf_gui.errors import UserError

FORMAT = "dpf-labels"
FORMAT_VERSION = 1


@dataclass
class Labels:
    """Scores given to the trajectories of one dataset."""

    scores: np.ndarray  # (N,) float32, the score as given (after any noise)
    labelled: np.ndarray  # (N,) bool, False where the user skipped the trajectory
    true_scores: np.ndarray  # (N,) float32, noise-free score (NaN when unknown, e.g. a person)
    marks: np.ndarray  # (sum T,) int8, per-step marks (0 where unknown)
    lengths: np.ndarray  # (N,) int64, decisions per trajectory (to split ``marks``)
    meta: dict[str, Any] = field(default_factory=dict)
    known: np.ndarray | None = None  # (sum T,) bool: steps whose mark was *given* (marked segments); None: scores only

    def known_steps(self) -> np.ndarray | None:
        """Per-step mask of marks given as feedback (a person's segments), or None when only scores were given.

        A simulated user's ``marks`` are the truth behind its scores, not feedback: training must not read
        them unless they are known steps.
        """
        if self.known is None:
            return None
        return np.asarray(self.known, dtype=bool)

    def __len__(self) -> int:
        return int(len(self.scores))

    @property
    def count(self) -> int:
        return int(self.labelled.sum())

    def save(self, path: str | os.PathLike) -> Path:
        meta = dict(self.meta, format=FORMAT, format_version=FORMAT_VERSION, count=self.count, total=len(self))
        arrays = {
            "scores": self.scores,
            "labelled": self.labelled,
            "true_scores": self.true_scores,
            "marks": self.marks,
            "lengths": self.lengths,
            "meta": np.array(json.dumps(meta, sort_keys=True)),
        }
        if self.known is not None:
            arrays["known"] = np.asarray(self.known, dtype=bool)
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Labels":
        arrays, meta = load_npz(path, FORMAT, "label file")
        missing = [k for k in ("scores", "labelled", "true_scores", "marks", "lengths") if k not in arrays]
        if missing:
            raise UserError(f"{path}: not a dpf label file (missing {', '.join(missing)})")
        known = arrays.get("known")
        return cls(meta=meta, known=known, **{k: arrays[k] for k in ("scores", "labelled", "true_scores", "marks", "lengths")})

    def check_matches(self, dataset: TrajectoryDataset, where: str = "labels") -> None:
        """Refuse labels that were given to other trajectories."""
        if self.meta.get("env") != dataset.env_name:
            raise UserError(f"{where} are for environment {self.meta.get('env')!r}, the data is {dataset.env_name!r}")
        if len(self) != len(dataset) or self.meta.get("data_fingerprint") != dataset.fingerprint():
            raise UserError(f"{where} were given to a different trajectory dataset ({len(self)} trajectories, data has {len(dataset)})")

"""Trajectory-level feedback: one score per trajectory (and, where known, per-step marks).

Stored as ``.npz`` (no pickles) with a JSON metadata string; documented in
docs/DATA.md. Labels refer to one dataset through its fingerprint, so a label
file is never silently applied to other trajectories.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.data.trajectories import TrajectoryDataset, load_npz, save_npz_atomic
from dpf_gui.errors import UserError

FORMAT = "dpf-labels"
FORMAT_VERSION = 1

#: dtype kind of every stored array ("f": floating, "i": whole numbers, "b": bool) and the dtype it is kept in;
#: all are one-dimensional
_KINDS = {"scores": ("f", np.float32), "labelled": ("b", np.bool_), "true_scores": ("f", np.float32),
          "marks": ("i", np.int8), "lengths": ("i", np.int64)}
_KIND_WORDS = {"f": "numbers", "i": "whole numbers", "b": "true/false values"}


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
        """Load and check a label file (keys, shapes, dtypes, values; see docs/DATA.md); anything wrong
        is a one-line :class:`UserError` naming the file and the problem."""
        arrays, meta = load_npz(path, FORMAT, "label file")
        missing = [k for k in _KINDS if k not in arrays]
        if missing:
            raise UserError(f"{path}: not a dpf label file (missing {', '.join(missing)})")
        checked = _checked_arrays(path, arrays, meta)
        return cls(meta=meta, known=_checked_known(path, arrays.get("known"), len(checked["marks"])), **checked)

    def check_matches(self, dataset: TrajectoryDataset, where: str = "labels") -> None:
        """Refuse labels that were given to other trajectories."""
        if self.meta.get("env") != dataset.env_name:
            raise UserError(f"{where} are for environment {self.meta.get('env')!r}, the data is {dataset.env_name!r}")
        if len(self) != len(dataset) or self.meta.get("data_fingerprint") != dataset.fingerprint():
            raise UserError(f"{where} were given to a different trajectory dataset ({len(self)} trajectories, data has {len(dataset)})")


def _bad(path, what: str) -> UserError:
    return UserError(f"{path}: not a usable label file ({what})")


def _checked_known(path, known: np.ndarray | None, steps: int) -> np.ndarray | None:
    """The optional per-step mask of given marks: booleans, one per stored decision."""
    if known is None:
        return None
    if known.ndim != 1 or known.dtype.kind != "b":
        raise _bad(path, f"known holds {known.dtype} with {known.ndim} dimensions, expected one boolean per decision")
    if len(known) != steps:
        raise _bad(path, f"known has {len(known)} entries, marks has {steps}")
    return known


def _checked_arrays(path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The stored arrays in their documented dtypes, after checking kinds, shapes, sizes and values."""
    for key in ("env", "data_fingerprint"):
        if key in meta and not isinstance(meta[key], str):
            raise _bad(path, f"meta {key} is {meta[key]!r}, not text")
    out = {}
    for name, (kind, dtype) in _KINDS.items():
        a = arrays[name]
        if a.ndim != 1:
            raise _bad(path, f"{name} has {a.ndim} dimensions, expected 1")
        if a.dtype.kind not in (kind if kind != "i" else "iu"):
            raise _bad(path, f"{name} holds {a.dtype}, expected {_KIND_WORDS[kind]}")
        with np.errstate(over="ignore", invalid="ignore"):
            out[name] = a.astype(dtype, copy=False)
        if kind == "i" and not np.array_equal(out[name], a):
            raise _bad(path, f"{name} holds values outside the range of {np.dtype(dtype).name}")
    n = len(out["scores"])
    for name in ("labelled", "true_scores", "lengths"):
        if len(out[name]) != n:
            raise _bad(path, f"{name} has {len(out[name])} entries, scores has {n}")
    if (out["lengths"] < 0).any() or int(out["lengths"].sum()) != len(out["marks"]):
        raise _bad(path, f"marks has {len(out['marks'])} entries, the stored lengths need {int(out['lengths'].sum())}")
    if not np.isin(out["marks"], (-1, 0, 1)).all():
        raise _bad(path, "a mark is not -1, 0 or +1")
    if not np.isfinite(out["scores"][out["labelled"]]).all():
        raise _bad(path, "a labelled trajectory has a NaN or infinite score")
    if np.isinf(out["true_scores"]).any():
        raise _bad(path, "true_scores holds infinite values (NaN marks an unknown score)")
    return out

"""Trajectory-level feedback: one score per trajectory (and, where known, per-step marks), or pairwise comparisons.

Stored as ``.npz`` (no pickles) with a JSON metadata string; documented in
docs/DATA.md. Labels refer to one dataset through its fingerprint, so a label
file is never silently applied to other trajectories.

Scores are in a simulated user's units: decisions in a preferred region minus
decisions in an avoided one. A person's whole-trajectory mark is one
judgement worth ±sqrt(T) (:func:`whole_mark_step`); format version 1 scored
it ±T, and such files are read with the current rule (:func:`_rescore_v1`).

Pairwise comparisons ("i is better than j") are optional ``pairs`` / ``prefer``
arrays; a file holding them is a comparison file (its scores are not read, its
``labelled`` marks the trajectories in some pair). Which loss learns from which
feedback is :mod:`dpf_gui.intent.objectives`' business.
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
FORMAT_VERSION = 2  # 2: a person's whole mark scores ±sqrt(T) (1: ±T)

#: dtype kind of every stored array ("f": floating, "i": whole numbers, "b": bool) and the dtype it is kept in;
#: all are one-dimensional
_KINDS = {"scores": ("f", np.float32), "labelled": ("b", np.bool_), "true_scores": ("f", np.float32),
          "marks": ("i", np.int8), "lengths": ("i", np.int64)}
_KIND_WORDS = {"f": "numbers", "i": "whole numbers", "b": "true/false values"}


def whole_mark_step(length: int) -> float:
    """What each of a trajectory's ``length`` decisions counts in its score when a whole mark covers it:
    1 / sqrt(T), so that a whole mark is worth ±sqrt(T).

    A whole mark is one judgement of the trajectory; a simulated user's score counts decisions (+1 for each in
    a preferred region, -1 in an avoided one). "Preferred" then means a score somewhere from +1 (one decision,
    net) to +T (every decision): sqrt(T) is off from either end by the same factor, sqrt(T), where +1 or +T
    can be off by a factor T. Measured on gridnav and Pong (``bench/whole_mark_scale.py``; docs/GUI.md, *How
    marks become labels*): never the worst of the three and the best on average (gridnav favours +-1, Pong +-T).
    """
    return 1.0 / float(np.sqrt(length)) if length > 0 else 0.0


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
    pairs: np.ndarray | None = None  # (P, 2) int64 trajectory indices (i, j) compared; None: no comparisons
    prefer: np.ndarray | None = None  # (P,) float32 probability that i is preferred to j (1, 0, 0.5 = equally good)

    def feedback_kind(self) -> str:
        """``pairs`` (comparisons), ``binary`` (signs only, as a simulated user's ``noise.binary`` records)
        or ``scores``."""
        if self.pairs is not None:
            return "pairs"
        noise = self.meta.get("noise")
        return "binary" if isinstance(noise, dict) and noise.get("binary") is True else "scores"

    def known_steps(self) -> np.ndarray | None:
        """Per-step mask of marks given as feedback (a person's segments), or None when only scores were given.

        A simulated user's ``marks`` are the truth behind its scores, not feedback: training must not read
        them unless they are known steps.
        """
        if self.known is None:
            return None
        return np.asarray(self.known, dtype=bool)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def has_persons_marks(self) -> bool:
        """Some labels are a person's marks (the label store's ``source`` is "person" or
        "person+simulated-user")."""
        return "person" in str(self.meta.get("source", ""))

    @property
    def only_persons_marks(self) -> bool:
        """Every label is a person's mark, none a simulated user's (a whole mark then scores +-sqrt(T))."""
        return self.meta.get("source") == "person"

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
        if self.pairs is not None:
            arrays["pairs"] = np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2)
            arrays["prefer"] = np.asarray(self.prefer, dtype=np.float32)
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Labels:
        """Load and check a label file (keys, shapes, dtypes, values; see docs/DATA.md); anything wrong
        is a one-line :class:`UserError` naming the file and the problem."""
        arrays, meta = load_npz(path, FORMAT, "label file")
        missing = [k for k in _KINDS if k not in arrays]
        if missing:
            raise UserError(f"{path}: not a dpf label file (missing {', '.join(missing)})")
        version = meta.get("format_version", 1)
        if version not in range(1, FORMAT_VERSION + 1) or isinstance(version, bool):
            raise _bad(path, f"format version {version!r}; this dpf-gui reads versions 1 to {FORMAT_VERSION}")
        checked = _checked_arrays(path, arrays, meta)
        pairs, prefer = _checked_pairs(path, arrays.get("pairs"), arrays.get("prefer"), checked["labelled"])
        labels = cls(meta=meta, known=_checked_known(path, arrays.get("known"), len(checked["marks"])),
                     pairs=pairs, prefer=prefer, **checked)
        if version == 1:
            _rescore_v1(labels)
        return labels

    def check_matches(self, dataset: TrajectoryDataset, where: str = "labels") -> None:
        """Refuse labels that were given to other trajectories."""
        if self.meta.get("env") != dataset.env_name:
            raise UserError(f"{where} are for environment {self.meta.get('env')!r}, the data is {dataset.env_name!r}")
        if len(self) != len(dataset) or self.meta.get("data_fingerprint") != dataset.fingerprint():
            raise UserError(f"{where} were given to a different trajectory dataset "
                            f"({len(self)} trajectories, data has {len(dataset)})")


def _rescore_v1(labels: Labels) -> None:
    """Version 1 scored a person's whole mark ±T. In a version-1 file made from a person's marks (meta
    ``source`` names a person), a trajectory with no true score whose every decision carries the same
    non-zero mark m and whose score is m * T was marked as a whole (or by one segment over all of it,
    which version 1 could not tell apart): it is rescored m * sqrt(T), as the app scores a whole mark now."""
    if not labels.has_persons_marks:
        return
    offsets = np.concatenate([[0], np.cumsum(labels.lengths)])
    for i in np.flatnonzero(labels.labelled & np.isnan(labels.true_scores)):
        m = labels.marks[offsets[i]:offsets[i + 1]]
        t = len(m)
        if t and m[0] != 0 and (m == m[0]).all() and labels.scores[i] == m[0] * t:
            labels.scores[i] = np.float32(m[0] * t * whole_mark_step(t))
    labels.meta["rescored_from_version"] = 1


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


def _checked_pairs(path, pairs: np.ndarray | None, prefer: np.ndarray | None,
                   labelled: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The optional comparisons: (P, 2) whole numbers naming two different labelled trajectories each, and
    one preference in [0, 1] per pair."""
    if pairs is None and prefer is None:
        return None, None
    if pairs is None or prefer is None:
        raise _bad(path, "pairs and prefer go together; the file has only one of them")
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu":
        raise _bad(path, f"pairs holds {pairs.dtype} of shape {pairs.shape}, expected two whole numbers per row")
    if prefer.ndim != 1 or len(prefer) != len(pairs) or prefer.dtype.kind != "f":
        raise _bad(path, f"prefer holds {prefer.dtype} of shape {prefer.shape}, expected one number per pair "
                         f"({len(pairs)})")
    n = len(labelled)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n):
        raise _bad(path, f"a pair names a trajectory outside 0..{n - 1}")
    if (pairs[:, 0] == pairs[:, 1]).any():
        raise _bad(path, "a pair compares a trajectory with itself")
    if not (np.isfinite(prefer) & (prefer >= 0) & (prefer <= 1)).all():
        raise _bad(path, "a preference is not a number from 0 to 1")
    if len(pairs) and not labelled[pairs].all():
        raise _bad(path, "a pair names a trajectory that labelled says has no feedback")
    return pairs.astype(np.int64), prefer.astype(np.float32)


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

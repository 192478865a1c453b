"""Grow a dataset without losing what was said about it: merge datasets, carry labels over.

New trajectories (e.g. the task agent played with exploration noise, see
``dpf rollout --explore``) join the old ones as a *new* dataset: the merged
file has its own fingerprint, the old file and its labels stay as they were,
and labels given to the old trajectories are carried over to their place in
the merged dataset (the new trajectories start unlabelled).

The merged dataset holds the parts' trajectories in the order given; its
``meta.source`` is ``{"kind": "merge", "parts": [{"fingerprint", "offset",
"count", "source"}, ...]}``, so a part's labels can be found and placed.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError

#: metadata that must agree for trajectories to live in one dataset (they are replayed with one environment)
_SAME = ("env", "env_config", "feature_names", "action_names", "region_features")


def merge_datasets(first: TrajectoryDataset, *more: TrajectoryDataset) -> TrajectoryDataset:
    """One dataset holding every part's trajectories in order (parts of one environment and config)."""
    parts = (first, *more)
    if len(parts) < 2:
        raise UserError("give at least two datasets to merge")
    fingerprints = [p.fingerprint() for p in parts]
    for k, part in enumerate(parts):
        if len(part) == 0:
            raise UserError(f"dataset {k + 1} of the merge holds no trajectories")
        if fingerprints[k] in fingerprints[:k]:
            raise UserError(f"dataset {k + 1} of the merge is the same data as "
                            f"dataset {fingerprints.index(fingerprints[k]) + 1}")
        for key in _SAME:
            if _canonical(part.meta.get(key)) != _canonical(first.meta.get(key)):
                raise UserError(f"dataset {k + 1} of the merge differs from dataset 1 in its {key.replace('_', ' ')}: "
                                "only data of one environment with one configuration can be merged")
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(int)
    source = {"kind": "merge", "parts": [{"fingerprint": fp, "offset": int(off), "count": len(p),
                                          "source": p.meta.get("source")}
                                         # offsets has one entry more than parts: the end
                                         for p, fp, off in zip(parts, fingerprints, offsets, strict=False)]}
    meta = {k: v for k, v in first.meta.items() if k not in ("format", "format_version", "count")}
    meta["source"] = source
    cat = {name: np.concatenate([getattr(p, name) for p in parts])
           for name in ("features", "actions", "rewards", "legal", "regions", "lengths", "seeds", "terminated",
                        "success", "episodes")}
    return TrajectoryDataset(meta=meta, **cat)


def part_offset(part: TrajectoryDataset, merged: TrajectoryDataset) -> int:
    """Where ``part``'s trajectories sit in ``merged`` (checked against the data, not only the metadata)."""
    fp = part.fingerprint()
    parts = (merged.meta.get("source") or {}).get("parts") or []
    for entry in parts if isinstance(parts, list) else []:
        if isinstance(entry, dict) and entry.get("fingerprint") == fp:
            off = entry.get("offset")
            if isinstance(off, int) and _holds(merged, part, off):
                return off
    raise UserError("the merged dataset does not hold these trajectories (it was not merged from this dataset)")


def carry_labels(labels: Labels, old_dataset: TrajectoryDataset, merged_dataset: TrajectoryDataset) -> Labels:
    """Labels for ``merged_dataset``: the old trajectories keep theirs, every other one is unlabelled.

    Unlabelled entries read as a person's do: score 0, true score unknown (NaN), marks 0 (and, where the
    labels have a per-step ``known`` mask, not known). Comparisons keep their pairs, renumbered.
    """
    labels.check_matches(old_dataset, where="the labels to carry over")
    off = part_offset(old_dataset, merged_dataset)
    n, steps = len(merged_dataset), int(merged_dataset.lengths.sum())
    rows = slice(off, off + len(old_dataset))
    step0 = int(merged_dataset.lengths[:off].sum())
    step_rows = slice(step0, step0 + len(labels.marks))
    scores = np.zeros(n, np.float32)
    labelled = np.zeros(n, bool)
    true_scores = np.full(n, np.nan, np.float32)
    marks = np.zeros(steps, np.int8)
    scores[rows], labelled[rows], true_scores[rows] = labels.scores, labels.labelled, labels.true_scores
    marks[step_rows] = labels.marks
    known = None
    if labels.known is not None:
        known = np.zeros(steps, bool)
        known[step_rows] = labels.known
    meta: dict[str, Any] = {k: v for k, v in labels.meta.items()
                            if k not in ("format", "format_version", "count", "total")}
    meta["data_fingerprint"] = merged_dataset.fingerprint()
    meta["carried_from"] = {"fingerprint": old_dataset.fingerprint(), "offset": off, "count": len(old_dataset)}
    selection = meta.get("selection")
    if isinstance(selection, dict) and isinstance(selection.get("chosen"), list):
        meta["selection"] = dict(selection, chosen=[int(i) + off for i in selection["chosen"]])
    pairs = None if labels.pairs is None else np.asarray(labels.pairs, np.int64) + off  # comparisons move along
    return Labels(scores=scores, labelled=labelled, true_scores=true_scores, marks=marks,
                  lengths=merged_dataset.lengths.copy(), meta=meta, known=known, pairs=pairs, prefer=labels.prefer)


def _holds(merged: TrajectoryDataset, part: TrajectoryDataset, off: int) -> bool:
    """True if ``merged``'s trajectories from ``off`` on are ``part``'s (same lengths, seeds and actions)."""
    n = len(part)
    if off < 0 or off + n > len(merged):
        return False
    if not (np.array_equal(merged.lengths[off:off + n], part.lengths)
            and np.array_equal(merged.seeds[off:off + n], part.seeds)):
        return False
    step0 = int(merged.lengths[:off].sum())
    return np.array_equal(merged.actions[step0:step0 + len(part.actions)], part.actions)


def _canonical(value: Any) -> str:
    """JSON text of a metadata value, so a config read back from a file (lists) equals one made in memory (tuples)."""
    return json.dumps(value, sort_keys=True)


__all__ = ["carry_labels", "merge_datasets", "part_offset"]

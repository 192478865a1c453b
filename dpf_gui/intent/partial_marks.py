"""What a trajectory marked only in part says, and which of its decisions its score sums.

A person who marks one or two stretches of a long Pong rally says nothing about the rest of it, where the
paddle may sit in the region just as long: the trajectory's score is the sum of the marked stretches, not of
what the trajectory did. Fitting that score as the sum over *every* decision teaches the utility that the
region is worth little (Pong's 8 dev wishes at 25 marked segments: the learnt utility's correlation with the
true marks per decision -0.09..+0.69), and dropping the sum altogether leaves per-step targets too small
against the utility's regularisers where stretches are long (dev w03-avoid: the utility collapsed to ~0).
So such a trajectory's score is fitted as the sum over its marked decisions, and where a person ends a stretch
the behaviour ended: a few decisions beyond each end are read as marked 0 (docs/EXPERIMENTS.md, "Marked
segments: the score sums the marked stretches").
"""

from __future__ import annotations

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset

EDGE_NEAR = 2  # the first decision beyond a stretch's end read as 0 (a stretch's ends are off by a decision or so)
EDGE_FAR = 4  # the last one


def marked_in_part(dataset: TrajectoryDataset, labels: Labels, idx: np.ndarray) -> np.ndarray:
    """Which trajectories ``idx`` carry marked segments and nothing else: some decisions marked, the rest left
    unmarked (no whole mark under them)."""
    known = labels.known_steps()
    if known is None:
        return np.zeros(len(idx), dtype=bool)
    marks = np.asarray(labels.marks)
    out = np.zeros(len(idx), dtype=bool)
    for k, i in enumerate(idx):
        sl = dataset.step_slice(int(i))
        kn = known[sl]
        out[k] = bool(kn.any() and not kn.all() and not marks[sl][~kn].any())
    return out


def stretch_edges(dataset: TrajectoryDataset, known: np.ndarray, idx: np.ndarray, near: int = EDGE_NEAR,
                  far: int = EDGE_FAR) -> np.ndarray:
    """Per stored decision: unmarked, ``near``..``far`` decisions beyond either end of a marked stretch of a
    trajectory in ``idx`` (trajectories marked in part: under a whole mark the decisions beside a stretch carry
    the whole mark's share)."""
    out = np.zeros(len(known), dtype=bool)
    for i in idx:
        sl = dataset.step_slice(int(i))
        kn = known[sl]
        if kn.all() or not kn.any():
            continue
        edge = np.zeros(len(kn), dtype=bool)
        d = np.diff(np.concatenate([[0], kn.astype(np.int8), [0]]))
        for t0, t1 in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1, strict=True):
            edge[max(t0 - far, 0):max(t0 - near + 1, 0)] = True
            edge[t1 + near:t1 + far + 1] = True
        out[sl] = edge & ~kn
    return out


def step_feedback(dataset: TrajectoryDataset, labels: Labels, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stored decision, for the labelled trajectories ``idx``: (marked, summed).

    ``marked``: a per-decision target is known (a marked segment, or a stretch's edge, read as 0).
    ``summed``: the trajectory's score counts the decision (every decision, unless the trajectory is marked
    in part: then its marked ones)."""
    known = labels.known_steps()
    total = int(np.sum(dataset.lengths))
    if known is None:
        return np.zeros(total, dtype=bool), np.ones(total, dtype=bool)
    idx = np.asarray(idx, dtype=np.int64)
    partial = idx[marked_in_part(dataset, labels, idx)]
    known = known | stretch_edges(dataset, known, partial)  # not under a whole mark's share
    summed = np.ones(total, dtype=bool)
    for i in partial:
        sl = dataset.step_slice(int(i))
        summed[sl] = known[sl]
    return known, summed


def summed_predictions(model, dataset: TrajectoryDataset, labels: Labels, idx: np.ndarray) -> np.ndarray:
    """Per trajectory in ``idx``: an additive model's predicted rewards summed over the decisions its score sums,
    the prediction its score is fitted to (and shown against in the Train tab's fit)."""
    summed = step_feedback(dataset, labels, idx)[1]
    out = []
    for i in idx:
        sl = dataset.step_slice(int(i))
        g = model.predict(dataset.features[dataset.state_slice(int(i))], dataset.actions[sl])
        out.append(float((np.diff(g, prepend=0.0) * summed[sl]).sum()))
    return np.asarray(out)


__all__ = ["EDGE_FAR", "EDGE_NEAR", "marked_in_part", "step_feedback", "stretch_edges", "summed_predictions"]

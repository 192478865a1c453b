"""Simulated users: turn a wish into trajectory scores, with realistic noise.

A simulated user marks every decision +1 / -1 / 0 by the region the decision
led to (see :meth:`TrajectoryDataset.next_state_regions`); a trajectory's true
score is the sum of its marks. People are coarse and make mistakes, so the
given score can be degraded, in this order, each step seeded:

1. Gaussian noise of standard deviation ``sigma`` added to the score;
2. ``binary``: only the sign is given (-1, 0, +1);
3. the sign is flipped with probability ``flip``;
4. the trajectory is skipped (left unlabelled) with probability ``skip``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.overrides import Allowed, check_fields
from dpf_gui.wish import Wish

#: largest noise a simulated user may add (scores are sums of at most a few thousand marks, kept as float32)
SIGMA_MAX = 1e6


@dataclass(frozen=True)
class FeedbackNoise:
    binary: bool = False
    flip: float = 0.0
    skip: float = 0.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self, "feedback noise", {"flip": Allowed(0, 1), "skip": Allowed(0, 1), "sigma": Allowed(0, SIGMA_MAX)})


def step_marks(dataset: TrajectoryDataset, wish: Wish) -> np.ndarray:
    """Per-decision marks (int8, aligned with ``dataset.actions``)."""
    return wish.marks(dataset.next_state_regions())


def label_dataset(dataset: TrajectoryDataset, wish: Wish, noise: FeedbackNoise, seed: int) -> Labels:
    """Label every trajectory as the simulated user would."""
    if len(dataset) == 0:
        raise UserError("the dataset holds no trajectories to label; record some with `dpf rollout`")
    marks = step_marks(dataset, wish)
    n = len(dataset)
    true_scores = np.array([marks[dataset.step_slice(i)].sum() for i in range(n)], dtype=np.float32)
    rng = np.random.default_rng(seed)
    # Draw every noise source for every trajectory, whatever is enabled, so that
    # changing one option never reshuffles the others at the same seed.
    gauss = rng.standard_normal(n)
    flip_draw = rng.random(n)
    skip_draw = rng.random(n)
    scores = true_scores.astype(np.float64) + noise.sigma * gauss
    if noise.binary:
        scores = np.sign(scores)
    scores = np.where(flip_draw < noise.flip, -scores, scores)
    labelled = skip_draw >= noise.skip
    return Labels(
        scores=scores.astype(np.float32),
        labelled=labelled,
        true_scores=true_scores,
        marks=marks,
        lengths=dataset.lengths.copy(),
        meta={
            "env": dataset.env_name,
            "data_fingerprint": dataset.fingerprint(),
            "source": "simulated-user",
            "wish": wish.describe(),
            "mode": wish.mode,
            "noise": asdict(noise),
            "seed": int(seed),
        },
    )

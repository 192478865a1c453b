"""Simulated users: turn a wish into trajectory scores, with realistic noise.

A simulated user marks every decision +1 / -1 / 0 by the region the decision
led to (see :meth:`TrajectoryDataset.next_state_regions`); a trajectory's true
score is the sum of its marks. People are coarse and make mistakes, so the
given score can be degraded, in this order, each step seeded (1 and 3 are two
of B-Pref's teachers, Lee et al. 2021: what people do most besides mistakes):

1. ``myopic`` gamma < 1: the person remembers the end of a run best, so the
   score they judge weighs a decision t steps before the end by gamma^t;
2. Gaussian noise of standard deviation ``sigma`` added to the score;
3. ``equal`` E > 0, "can't tell": a score within E of 0 (with ``relative``,
   of a typical trajectory's) is given as 0, neutral;
4. ``binary``: only the sign is given (-1, 0, +1): of the score itself, or with
   ``relative`` of its difference from a typical trajectory's (the dataset's
   median score per decision, times the trajectory's length, both as the
   person judges them). A person who
   marks "preferred" or "avoided" judges a run against the runs they have
   seen; where every stored trajectory enters a region (a Pong paddle at the
   edge) every plain sign is the same and 25 such marks say nothing but their
   flips (docs/RESULTS.md);
5. the sign is flipped with probability ``flip``, and (``stochastic`` T > 0,
   B-Pref's Boltzmann-rational teacher) besides on a close call: a score d
   whose sign is judged (the score; with ``relative`` its difference from a
   typical trajectory's) is given the wrong way round with probability
   ``1 / (1 + exp(|d| / (T u)))``, u the root mean square of the judged
   scores over the dataset (of the judged differences over the comparisons
   drawn, below): a half at d = 0, a quarter at ``|d| = 1.1 T u``
   (``flip`` F and T together: F + (1 - F) times that);
6. the trajectory is skipped (left unlabelled) with probability ``skip``.

A simulated user can compare instead of score (:func:`label_pairs`): it
prefers the trajectory whose (noisy, possibly binary) score is higher, says
"equally good" on a tie (scores within ``equal`` of each other), answers the
wrong way round with probability ``flip`` (and, ``stochastic``, on a close
call as above, d the difference of the two scores judged) and skips a
comparison with probability ``skip``.

A simulated user can rank instead (:func:`label_ranking`): it watches groups
of a few trajectories, puts each group in order of its true scores (equal
scores stay "equally good"), slips between neighbours of different scores
with probability ``swap`` (walking down the order once, so the answer stays a
ranking, never a cycle), and every pair within a group becomes a comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.overrides import Allowed, check_fields
from dpf_gui.wish import Wish

#: how many trajectories a simulated user ranks together by default: five runs watched, ten comparisons answered
RANK_GROUP = 5
#: largest noise a simulated user may add (scores are sums of at most a few thousand marks, kept as float32)
SIGMA_MAX = 1e6


#: what each field of :class:`FeedbackNoise` does, in a line for a person choosing it (the CLI's help, the
#: simulated-user dialog's tooltips); the module docstring has the order they apply in
NOISE_HELP = {
    "binary": "give only the sign of each score (-1, 0, +1)",
    "relative": "only with binary marks: the sign against a typical trajectory (the data's median score per "
                "decision), as a person marks the better and the worse of the runs they saw; for regions nearly "
                "every trajectory enters, where every plain sign is the same",
    "flip": "probability of flipping a score's sign",
    "skip": "probability of leaving a trajectory unlabelled",
    "sigma": "std. dev. of Gaussian noise added to scores",
    "myopic": "remember the end of a run best: a decision t steps before the end weighs gamma^t in the score judged, "
              "gamma the value given (B-Pref's myopic teacher; 1: every decision alike, the default)",
    "equal": "\"can't tell\": a score within this margin of 0 (with relative marks, of a typical run's) is given as "
             "0, and two scores within it of each other are equally good (B-Pref's equal teacher; 0: never, the "
             "default)",
    "stochastic": "wrong on close calls: a score d whose sign is judged (comparing: a difference) is given the wrong "
                  "way round with probability 1 / (1 + exp(|d| / (T u))), u the typical |d| (root mean square); a "
                  "quarter of the time at |d| = 1.1 T u (B-Pref's stochastic teacher; 0: never, the default)",
}


@dataclass(frozen=True)
class FeedbackNoise:
    binary: bool = False
    flip: float = 0.0
    skip: float = 0.0
    sigma: float = 0.0
    relative: bool = False  # binary signs against a typical trajectory's score, not against 0
    myopic: float = 1.0  # gamma: a decision t steps before the end weighs gamma^t in the judged score
    equal: float = 0.0  # "can't tell": a score (difference) within this of 0 is given as 0 (a tie)
    stochastic: float = 0.0  # T: wrong on a close call, P = 1 / (1 + exp(|d| / (T u))); 0: never (module doc)

    def __post_init__(self) -> None:
        check_fields(self, "feedback noise",
                     {"flip": Allowed(0, 1), "skip": Allowed(0, 1), "sigma": Allowed(0, SIGMA_MAX),
                      "myopic": Allowed(0, 1, low_open=True), "equal": Allowed(0, SIGMA_MAX),
                      "stochastic": Allowed(0, SIGMA_MAX)})
        if self.relative and not self.binary:
            raise UserError("relative marks are signs against a typical trajectory: they need binary marks too")

    def record(self) -> dict:
        """The fields as labels and study logs record them (``relative``, ``myopic``, ``equal`` and
        ``stochastic`` only when set, so that what was recorded before they existed reads the same)."""
        d = asdict(self)
        for key, default in (("relative", False), ("myopic", 1.0), ("equal", 0.0), ("stochastic", 0.0)):
            if d[key] == default:
                del d[key]
        return d


def _remembered(dataset: TrajectoryDataset, marks: np.ndarray, true_scores: np.ndarray,
                gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """What a ``myopic`` person sums per trajectory (float64): each mark weighed by gamma^(decisions to the end),
    and each trajectory's weight in all (its "length" as remembered); the true scores and lengths when gamma is 1."""
    if gamma >= 1:
        return true_scores.astype(np.float64), dataset.lengths.astype(np.float64)
    n = len(dataset)
    scores, weights = np.zeros(n), np.zeros(n)
    for i in range(n):
        m = marks[dataset.step_slice(i)].astype(np.float64)
        w = gamma ** np.arange(len(m) - 1, -1, -1, dtype=np.float64)
        scores[i], weights[i] = float(m @ w), float(w.sum())
    return scores, weights


def _judged(scores: np.ndarray, weights: np.ndarray, noise: FeedbackNoise, typical_rate: float) -> np.ndarray:
    """What the person judges the sign of: the noisy score (``binary`` and ``relative``: less a typical trajectory's
    of the same weight), 0 where within ``equal`` of 0."""
    if noise.binary and noise.relative:
        scores = scores - typical_rate * weights
    return np.where(np.abs(scores) < noise.equal, 0.0, scores) if noise.equal > 0 else scores


def _as_given(scores: np.ndarray, weights: np.ndarray, noise: FeedbackNoise, typical_rate: float) -> np.ndarray:
    """The noisy scores as given: :func:`_judged`, then, ``binary``, only its sign."""
    judged = _judged(scores, weights, noise, typical_rate)
    return np.sign(judged) if noise.binary else judged


def _wrong_chance(noise: FeedbackNoise, judged: np.ndarray) -> float | np.ndarray:
    """The chance that each answer is given the wrong way round: ``flip``, and with ``stochastic`` T the
    Boltzmann-rational teacher's mistakes on close calls besides (module doc); ``flip`` itself when T is 0."""
    if noise.stochastic <= 0:
        return noise.flip
    d = np.abs(np.asarray(judged, dtype=np.float64))
    unit = float(np.sqrt(np.mean(d ** 2))) if d.size else 0.0
    if unit == 0:  # every judged score is 0: nothing to get wrong
        return noise.flip
    close_call = 0.5 * (1.0 - np.tanh(d / (2.0 * noise.stochastic * unit)))  # 1 / (1 + exp(d / (T u))), overflow-free
    return noise.flip + (1.0 - noise.flip) * close_call


def _typical_rate(scores: np.ndarray, weights: np.ndarray) -> float:
    """The dataset's median score per decision: what a person who has watched a few runs takes as usual."""
    return float(np.median(scores / np.maximum(weights, 1e-12)))


def _trajectory_sums(dataset: TrajectoryDataset, marks: np.ndarray) -> np.ndarray:
    """Each trajectory's marks summed (float32): its score."""
    return np.array([marks[dataset.step_slice(i)].sum() for i in range(len(dataset))], dtype=np.float32)


def _meta(dataset: TrajectoryDataset, wish, noise: dict, seed: int) -> dict:
    """What a simulated user's labels record about how they were made."""
    return {"env": dataset.env_name, "data_fingerprint": dataset.fingerprint(), "source": "simulated-user",
            "wish": wish.describe(), "mode": wish.mode, "noise": noise, "seed": int(seed)}


def label_pairs(dataset: TrajectoryDataset, wish: Wish, noise: FeedbackNoise, seed: int, count: int | None = None,
                among: Sequence[int] | None = None) -> Labels:
    """``count`` comparisons of random pairs of different trajectories among ``among`` (default: all of them;
    ``count`` default: as many as there are to choose from), answered as the simulated user would.

    The noise of both trajectories' scores, the flip and the skip are drawn for every pair whatever is
    enabled (as in :func:`label_dataset`). The labels' scores are 0 (no score was given), ``labelled``
    marks the trajectories in a kept pair, and ``true_scores`` and ``marks`` keep the truth for measuring.
    """
    pool = np.arange(len(dataset)) if among is None else np.asarray(among, dtype=np.int64)
    if len(pool) < 2:
        raise UserError(f"comparisons need at least two trajectories to choose from; got {len(pool)}")
    count = len(pool) if count is None else int(count)
    if count < 1:
        raise UserError(f"the number of comparisons must be at least 1; got {count}")
    marks = step_marks(dataset, wish)
    true_scores = _trajectory_sums(dataset, marks)
    remembered, weights = _remembered(dataset, marks, true_scores, noise.myopic)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(pool), count)
    second = (first + rng.integers(1, len(pool), count)) % len(pool)  # never the same trajectory
    gauss = rng.standard_normal((count, 2))
    flip_draw = rng.random(count)
    skip_draw = rng.random(count)
    pairs = np.stack([pool[first], pool[second]], axis=1)
    seen = remembered[pairs] + noise.sigma * gauss
    if noise.binary:  # each trajectory's mark, then which mark is the better
        seen = _as_given(seen, weights[pairs], noise, _typical_rate(remembered, weights))
    diff = seen[:, 0] - seen[:, 1]
    tie = (diff == 0) | (np.abs(diff) < noise.equal) if not noise.binary else diff == 0
    prefer = np.where(tie, 0.5, np.where(diff > 0, 1.0, 0.0))
    prefer = np.where(flip_draw < _wrong_chance(noise, np.where(tie, 0.0, diff)), 1.0 - prefer, prefer)
    keep = skip_draw >= noise.skip
    labelled = np.zeros(len(dataset), dtype=bool)
    labelled[pairs[keep].ravel()] = True
    meta = dict(_meta(dataset, wish, noise.record(), seed), feedback="pairs")
    return Labels(scores=np.zeros(len(dataset), np.float32), labelled=labelled, true_scores=true_scores, marks=marks,
                  lengths=dataset.lengths.copy(), meta=meta, pairs=pairs[keep].astype(np.int64),
                  prefer=prefer[keep].astype(np.float32))


def rank_groups(among: Sequence[int], size: int, seed: int) -> list[np.ndarray]:
    """The trajectories ``among`` shuffled (seeded) into ceil(n / size) groups of about ``size``: the runs a person
    watches together and ranks."""
    among = np.asarray(among, dtype=np.int64)
    if size < 2 or len(among) < 2:
        raise UserError(f"a ranking needs groups of at least two trajectories; got {len(among)} trajectories "
                        f"in groups of {size}")
    shuffled = np.random.default_rng(seed).permutation(among)
    return np.array_split(shuffled, max(1, -(-len(among) // size)))


def ranked_orders(dataset: TrajectoryDataset, wish: Wish, groups: Sequence[Sequence[int]], swap: float,
                  seed: int) -> tuple[list[list[tuple[int, int]]], np.ndarray, np.ndarray]:
    """Each group of trajectories ranked as the simulated user would (module doc): per group, (trajectory, level)
    best first, level 0 the best, neighbours of equal true score sharing a level (two equal runs a slip put
    another run between are two levels here, as a ranking in the app would store them), with the per-step marks
    and true scores."""
    if not 0.0 <= swap <= 1.0:
        raise UserError(f"the chance of swapping neighbours must be within 0..1; got {swap}")
    groups = [np.asarray(g, dtype=np.int64) for g in groups]
    if not groups or any(len(g) < 2 for g in groups):
        raise UserError("a ranking needs groups of at least two trajectories")
    marks = step_marks(dataset, wish)
    true_scores = _trajectory_sums(dataset, marks)
    rng = np.random.default_rng(seed)
    orders = []
    for group in groups:
        order = group[np.lexsort((rng.random(len(group)), -true_scores[group]))]  # best first, ties at random
        slips = rng.random(len(order) - 1)
        for k in range(len(order) - 1):
            if slips[k] < swap and true_scores[order[k]] != true_scores[order[k + 1]]:
                order[k], order[k + 1] = order[k + 1], order[k]
        levels, level = [], 0
        for k, traj in enumerate(order):  # a new level wherever the true score changes (a slip included)
            level += int(k > 0 and true_scores[traj] != true_scores[order[k - 1]])
            levels.append((int(traj), level))
        orders.append(levels)
    return orders, marks, true_scores


def label_ranking(dataset: TrajectoryDataset, wish: Wish, groups: Sequence[Sequence[int]], swap: float,
                  seed: int) -> Labels:
    """Each group of trajectories ranked as the simulated user would (:func:`ranked_orders`), as the comparisons
    of every pair within a group: a ranking of g runs answers g (g - 1) / 2 questions for g runs watched.

    Labels as :func:`label_pairs` makes them (scores 0, ``pairs`` and ``prefer``; ``labelled`` marks the ranked
    trajectories; the truth kept for measuring)."""
    orders, marks, true_scores = ranked_orders(dataset, wish, groups, swap, seed)
    # equal true scores stay "equally good" even where a slip put another run between them in the order
    pairs = [(i, j, 0.5 if true_scores[i] == true_scores[j] else 1.0) for order in orders
             for a, (i, _) in enumerate(order) for j, _ in order[a + 1:]]
    labelled = np.zeros(len(dataset), dtype=bool)
    labelled[[t for order in orders for t, _ in order]] = True
    meta = dict(_meta(dataset, wish, {"swap": float(swap)}, seed), feedback="pairs",
                ranked=[len(order) for order in orders])
    return Labels(scores=np.zeros(len(dataset), np.float32), labelled=labelled, true_scores=true_scores, marks=marks,
                  lengths=dataset.lengths.copy(), meta=meta,
                  pairs=np.array([(i, j) for i, j, _ in pairs], dtype=np.int64).reshape(-1, 2),
                  prefer=np.array([p for _, _, p in pairs], dtype=np.float32))


def step_marks(dataset: TrajectoryDataset, wish: Wish) -> np.ndarray:
    """Per-decision marks (int8, aligned with ``dataset.actions``)."""
    return wish.marks(dataset.next_state_regions())


def label_dataset(dataset: TrajectoryDataset, wish: Wish, noise: FeedbackNoise, seed: int) -> Labels:
    """Label every trajectory as the simulated user would."""
    if len(dataset) == 0:
        raise UserError("the dataset holds no trajectories to label; record some with `dpf rollout`")
    marks = step_marks(dataset, wish)
    n = len(dataset)
    true_scores = _trajectory_sums(dataset, marks)
    rng = np.random.default_rng(seed)
    # Draw every noise source for every trajectory, whatever is enabled, so that
    # changing one option never reshuffles the others at the same seed.
    gauss = rng.standard_normal(n)
    flip_draw = rng.random(n)
    skip_draw = rng.random(n)
    remembered, weights = _remembered(dataset, marks, true_scores, noise.myopic)
    judged = _judged(remembered + noise.sigma * gauss, weights, noise, _typical_rate(remembered, weights))
    scores = np.sign(judged) if noise.binary else judged
    scores = np.where(flip_draw < _wrong_chance(noise, judged), -scores, scores)
    labelled = skip_draw >= noise.skip
    return Labels(
        scores=scores.astype(np.float32),
        labelled=labelled,
        true_scores=true_scores,
        marks=marks,
        lengths=dataset.lengths.copy(),
        meta=_meta(dataset, wish, noise.record(), seed),
    )


def label_segments(dataset: TrajectoryDataset, wish: Wish, seed: int, max_segments: int = 2,
                   jitter: int = 1) -> Labels:
    """Label every trajectory the way a person marks segments in the app, not every step.

    The person marks at most ``max_segments`` of the stretches where the agent
    was in a preferred (+1) or avoided (-1) region, chosen at random, each with
    its ends off by up to ``jitter`` decisions; stretches left unmarked count
    as neutral, as in the label store (a trajectory's score is the sum of its
    given marks). A trajectory that never enters a region is marked neutral as
    a whole. ``known`` says which steps were marked, so a learner can use the
    per-step information; ``true_scores`` keep the sum of the true marks.
    """
    if max_segments < 1 or jitter < 0:
        raise UserError(f"segments: max_segments must be >= 1 and jitter >= 0, got {max_segments}, {jitter}")
    true = step_marks(dataset, wish)
    rng = np.random.default_rng(seed)
    given = np.zeros_like(true)
    known = np.zeros(len(true), dtype=bool)
    for i in range(len(dataset)):
        sl = dataset.step_slice(i)
        m = true[sl]
        runs = _runs(m)
        if not runs:
            known[sl] = True  # "nothing here": the whole trajectory marked neutral
            continue
        for k in sorted(rng.choice(len(runs), size=min(max_segments, len(runs)), replace=False)):
            t0, t1, value = runs[int(k)]
            t0 = int(np.clip(t0 + rng.integers(-jitter, jitter + 1), 0, len(m) - 1))
            t1 = int(np.clip(t1 + rng.integers(-jitter, jitter + 1), t0, len(m) - 1))
            given[sl.start + t0:sl.start + t1 + 1] = value
            known[sl.start + t0:sl.start + t1 + 1] = True
    scores = _trajectory_sums(dataset, given)
    return Labels(
        scores=scores,
        labelled=np.ones(len(dataset), dtype=bool),
        true_scores=_trajectory_sums(dataset, true),
        marks=given.astype(np.int8),
        lengths=dataset.lengths.copy(),
        known=known,
        meta=_meta(dataset, wish, {"segments": int(max_segments), "jitter": int(jitter)}, seed),
    )


def label_steps(dataset: TrajectoryDataset, wish: Wish, seed: int) -> Labels:
    """Every decision of every trajectory marked with its true mark: a perfect annotator, who marks each step.

    No person marks that way; it is the most any marks on these trajectories can teach, so a benchmark row of it
    tells what the learning leaves unmet from what fusion and calibration do (docs/EXPERIMENTS.md, section 92)."""
    true = step_marks(dataset, wish)
    scores = _trajectory_sums(dataset, true)
    return Labels(
        scores=scores,
        labelled=np.ones(len(dataset), dtype=bool),
        true_scores=scores.copy(),
        marks=true.astype(np.int8),
        lengths=dataset.lengths.copy(),
        known=np.ones(len(true), dtype=bool),
        meta=_meta(dataset, wish, {"steps": True}, seed),
    )


def _runs(marks: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal stretches (t0, t1 inclusive, value) of equal non-zero marks."""
    runs = []
    t, n = 0, len(marks)
    while t < n:
        v = int(marks[t])
        if v == 0:
            t += 1
            continue
        t1 = t
        while t1 + 1 < n and int(marks[t1 + 1]) == v:
            t1 += 1
        runs.append((t, t1, v))
        t = t1 + 1
    return runs

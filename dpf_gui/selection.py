"""Which trajectory a person should label next, and why (docs/SELECTION.md).

A person labels what they are shown. Shown in dataset order, the shipped data
(dominated by near-identical skilled runs) gives many labels that all carry
the same score and teach the intent model nothing. So unlabelled trajectories
are ranked by what labelling them is expected to teach:

* **before any intent model**: diversity. Each trajectory is summarised by
  where it goes (share of its decisions leading into each region bin: a value
  of an int or category region feature, a tenth of a float one's range), where
  it ends, its task outcome, return and length. The first round
  (``ROUND_MARKS`` suggestions) is TypiClust's (Hacohen, Dekel and Weinshall
  2022): the stored runs split into that many k-means groups, and of each
  group, largest first, its most typical run (the densest among its
  neighbours). A few labels drawn from the data's main kinds of run, not its
  outliers: on data that holds an agent's training history (highway), the most
  different runs are early crashes unlike the trained agent. Each next
  suggestion adds most to the labelled set in two ways: how much closer it
  brings every stored trajectory to a labelled one (facility location), and
  how many region bins it puts a labelled run on the other side of (more time
  there than the typical run, or less), weighted towards bins that split the
  data evenly. Both leave outliers last: a run like no other is near nothing
  and enters bins that no wish is learnt from;
* **with an intent model** (the additive kind is an ensemble): the members'
  disagreement about the trajectory's score, mixed with the diversity above
  so that one batch does not hold ten copies of the same doubtful trajectory.

Every suggestion carries a reason in the person's terms ("spends 40 % of its
steps in terrain=scenic, which no labelled trajectory enters"). Ties are
broken by a seeded order, so suggestions are deterministic by seed.

Speed: a dataset's summaries are computed once (vectorised) and cached while
the dataset lives; a model's predicted scores once per model, from at most
:data:`SAMPLED_STATES` evenly spaced decisions per trajectory.

:func:`select_and_label` replays how a person labels in the app (a batch, the
intent model retrains, the next batch is suggested) with a simulated user.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs.base import RegionFeature
from dpf_gui.errors import UserError
from dpf_gui.intent.additive_config import (
    BINS,
    AdditiveConfig,
    region_code,
    region_code_width,
)
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.wish import Wish

#: how the trajectories a simulated user labels are chosen: at random, in dataset order (what a person walking
#: the list gets), or by the suggestions of this module
SELECT_MODES = ("random", "first", "active")
#: share of diversity (vs the intent models' disagreement) in the ranking once a model exists
DIVERSITY_WEIGHT = 0.5
#: decisions per trajectory the predicted scores are estimated from (evenly spaced; all when fewer)
SAMPLED_STATES = 16
#: intent training between rounds of :func:`select_and_label`: only the utilities rank, so the value stage is cut
SELECTION_TRAINING = AdditiveConfig(utility_steps=200, neutral_samples=1000, value_steps=1, max_transitions=1000)
#: stored trajectories the coverage gain is measured on: all of them up to this many, an even sample beyond
#: (the distances to them are kept: 2000 trajectories, 16 MB)
COVERAGE_CLIENTS = 3000
#: marks per round when a person labels with "label this next" in a study: after each round the suggestions are
#: ranked with an intent model trained on the marks so far (the study mode, and its pilot's simulated participants)
ROUND_MARKS = 5
#: neighbours a run's typicality is measured on, within its k-means group (TypiClust's choice)
TYPICAL_NEIGHBOURS = 20


def random_order(n: int, seed: int = 0) -> np.ndarray:
    """The order ``--select random`` labels ``n`` trajectories in (its first K are the K it keeps); the
    Annotate view's shuffled list walks the same order, so a person and the CLI label the same runs."""
    return np.random.default_rng(seed).permutation(n)


def active_rounds(budget: int) -> int:
    """Rounds of :func:`select_and_label` for ``budget`` labels chosen actively: one per ROUND_MARKS marks."""
    return max(1, budget // ROUND_MARKS)

# weights of the summary blocks in the distance between two trajectories
_W_OCCUPANCY, _W_END, _W_SUCCESS, _W_RETURN, _W_LENGTH = 1.0, 0.5, 1.0, 0.5, 0.5


@dataclass(frozen=True)
class Suggestion:
    """One trajectory worth labelling."""

    index: int  # the trajectory's index in the dataset
    score: float  # its value when it was picked (0..1; higher is picked earlier; comparable within one call)
    reason: str  # why, in the person's terms
    kind: str  # "typical" (the first round), "diversity" or "disagreement"


# ---------------------------------------------------------------------------
# per-dataset summaries
# ---------------------------------------------------------------------------
class TrajectorySummaries:
    """Summary vectors of a dataset's trajectories, and the states a model's predicted scores are read from."""

    def __init__(self, dataset: TrajectoryDataset):
        region_features = dataset.region_features
        lengths = np.asarray(dataset.lengths, dtype=np.int64)
        n = len(lengths)
        state_off = np.concatenate([[0], np.cumsum(lengths + 1)])
        step_off = np.concatenate([[0], np.cumsum(lengths)])
        code = region_code(dataset.regions, region_features)
        names, bins = _bin_columns(region_features, dataset.regions)
        if code.shape[1] != region_code_width(region_features):
            raise AssertionError("region code layout changed: update selection._bin_columns")
        # single bins and pairs of bins of two features ("x=6 & y=8"): a place is often a conjunction, and
        # its marginals (x=6, y=8) are visited by many trajectories that never go there
        self.columns, binned = _with_pairs(names, code[:, bins])
        is_next = dataset.next_state_mask()
        self.lengths = lengths
        self.occupancy = _per_trajectory_sums(binned[is_next], step_off) / np.maximum(lengths, 1)[:, None]
        self.end = binned[state_off[1:] - 1][:, :len(names)]  # where it ends: single bins are enough
        self.success = np.asarray(dataset.success, dtype=bool)
        self.returns = _per_trajectory_sums(np.asarray(dataset.rewards, np.float64)[:, None], step_off)[:, 0]
        ret_span = float(np.ptp(self.returns)) if n else 0.0
        ret = (self.returns - self.returns.min()) / ret_span if ret_span > 0 else np.zeros(n)
        length = lengths / max(int(lengths.max()) if n else 1, 1)
        # which bins each trajectory stays in longer than the typical one (enters at all, for a bin most
        # trajectories never enter), and how much a labelled set gains by holding both sides of that contrast:
        # 4 p (1 - p), highest for bins half the trajectories are on each side of, near 0 for bins only outliers
        # enter (a wish is learnt from runs that differ where runs usually go, docs/SELECTION.md)
        typical = np.median(self.occupancy, axis=0) if n else np.zeros(self.occupancy.shape[1])
        self.high = (self.occupancy > typical).astype(np.float32)
        share = self.high.mean(0) if n else np.zeros(self.high.shape[1])
        self.contrast = 4.0 * share * (1.0 - share)
        self.vectors = np.concatenate([_W_OCCUPANCY * self.occupancy, _W_END * self.end,
                                       _W_SUCCESS * self.success[:, None], _W_RETURN * ret[:, None],
                                       _W_LENGTH * length[:, None]], axis=1).astype(np.float64)
        self._sq = (self.vectors ** 2).sum(1)
        rows, self._owner, self._weight = _sampled_next_states(lengths, state_off, SAMPLED_STATES)
        self._features = np.asarray(dataset.features[rows], dtype=np.float32)
        self._code = code[rows]
        self._model: tuple[weakref.ref, np.ndarray | None] | None = None
        self._clients: tuple[np.ndarray, np.ndarray] | None = None
        self._first: dict[int, tuple[list[int], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.lengths)

    def distances(self, i: int) -> np.ndarray:
        """Distance of every trajectory's summary to trajectory ``i``'s: (N,)."""
        return self._distances_to(np.array([i]))[:, 0]

    def _distances_to(self, columns: np.ndarray) -> np.ndarray:
        """Distance of every trajectory to each of ``columns``: (N, len(columns))."""
        d2 = self._sq[:, None] + self._sq[columns][None] - 2.0 * (self.vectors @ self.vectors[columns].T)
        return np.sqrt(np.maximum(d2, 0.0))

    def min_distances(self, reference: np.ndarray) -> np.ndarray:
        """Distance of every trajectory to the nearest of ``reference`` (inf when there is none): (N,)."""
        out = np.full(len(self), np.inf)
        for chunk in np.array_split(reference, max(1, len(reference) // 256)) if len(reference) else []:
            out = np.minimum(out, self._distances_to(chunk).min(1))
        return out

    def client_distances(self) -> tuple[np.ndarray, np.ndarray]:
        """The trajectories the coverage gain is measured on, :data:`COVERAGE_CLIENTS` evenly spaced ones (all
        when fewer), (C,), and every trajectory's distance to each, (N, C) float32; computed once per dataset."""
        if self._clients is None:
            n = len(self)
            clients = np.unique(np.linspace(0, n - 1, COVERAGE_CLIENTS).astype(np.int64)) if n > COVERAGE_CLIENTS \
                else np.arange(n)
            self._clients = (clients, self._distances_to(clients).astype(np.float32))
        return self._clients

    def first_round(self, seed: int) -> tuple[list[int], list[int]]:
        """The first round's suggestions, best first, and the size of each one's group (TypiClust: the runs with
        decisions split into :data:`ROUND_MARKS` seeded k-means groups; of each group, largest first, the run
        nearest its :data:`TYPICAL_NEIGHBOURS` nearest neighbours in the group). Computed once per seed."""
        if seed not in self._first:
            valid = np.flatnonzero(self.lengths > 0)
            k = min(ROUND_MARKS, len(valid))
            group = _kmeans(self.vectors[valid], k, seed) if k else np.zeros(0, dtype=np.int64)
            sizes = np.bincount(group, minlength=k)
            picks, counts = [], []
            for g in sorted(range(k), key=lambda g: (-sizes[g], g)):
                members = valid[group == g]
                if not len(members):
                    continue
                near = np.sort(self._distances_to(members)[members], axis=1)[:, 1:TYPICAL_NEIGHBOURS + 1]
                spread = near.mean(1) if near.shape[1] else np.zeros(len(members))
                picks.append(int(members[int(np.argmin(spread))]))
                counts.append(int(sizes[g]))
            self._first[seed] = (picks, counts)
        return self._first[seed]

    def predicted_scores(self, model: Any) -> np.ndarray | None:
        """Each ensemble member's predicted score of every trajectory, (members, N) in score units.

        The sum of the member's utilities over the states the trajectory's decisions led to, estimated from
        at most :data:`SAMPLED_STATES` of them. None for a model without members (the LSTM kind).
        """
        if not hasattr(model, "utilities"):
            return None
        if self._model is not None and self._model[0]() is model:
            return self._model[1]
        arch = model.arch
        if arch.n_features != self._features.shape[1] or arch.n_code != self._code.shape[1]:
            raise UserError("the intent model was trained on data of another environment or configuration")
        u = model.utilities(self._features, self._code).astype(np.float64) * float(model.score_scale)
        weighted = u * self._weight
        scores = np.stack([np.bincount(self._owner, weights=w, minlength=len(self)) for w in weighted])
        self._model = (weakref.ref(model), scores)
        return scores


def _kmeans(x: np.ndarray, k: int, seed: int, iters: int = 100) -> np.ndarray:
    """Each row's group among ``k`` (seeded k-means, k-means++ start): (N,)."""
    rng = np.random.default_rng(seed)
    sq = (x ** 2).sum(1)
    first = int(rng.integers(len(x)))
    centres = [x[first]]
    d2 = np.maximum(sq + sq[first] - 2.0 * x @ x[first], 0.0)
    for _ in range(1, k):
        i = int(rng.choice(len(x), p=d2 / d2.sum())) if d2.sum() > 0 else int(rng.integers(len(x)))
        centres.append(x[i])
        d2 = np.minimum(d2, np.maximum(sq + sq[i] - 2.0 * x @ x[i], 0.0))
    c = np.array(centres)
    group = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        group = (sq[:, None] + (c ** 2).sum(1)[None] - 2.0 * x @ c.T).argmin(1)
        new = np.array([x[group == j].mean(0) if (group == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return group


class _CoverageGain:
    """What labelling each trajectory would add, as facility location counts it: ``gain_i = sum_j max(0,
    near_j - d_ij)`` over the stored trajectories j (:meth:`TrajectorySummaries.client_distances`), each counted
    once, ``near_j`` its distance to the nearest labelled or suggested one. Unlike that distance itself
    (k-centre), the gain is low for an outlier, which is near no other trajectory: a 3-step crash at a speed the
    trained agent never drives, a 100-step wander from early training. Kept up to date pick by pick."""

    def __init__(self, s: TrajectorySummaries, near: np.ndarray):
        clients, self.dist = s.client_distances()
        self.near = np.asarray(near[clients], dtype=np.float32)  # finite: something is labelled
        self.gain = np.maximum(self.near[None, :] - self.dist, 0.0).sum(1, dtype=np.float64)

    def pick(self, i: int) -> None:
        new = np.minimum(self.near, self.dist[i])
        changed = np.flatnonzero(new < self.near)
        if changed.size:
            d = self.dist[:, changed]
            self.gain -= (np.maximum(self.near[changed] - d, 0.0)
                          - np.maximum(new[changed] - d, 0.0)).sum(1, dtype=np.float64)
            self.near = new


_CACHE: dict[int, tuple[weakref.ref, TrajectorySummaries]] = {}


def summaries(dataset: TrajectoryDataset) -> TrajectorySummaries:
    """The dataset's summaries, computed on first use and kept while the dataset object lives."""
    for key in [k for k, (ref, _) in list(_CACHE.items()) if ref() is None]:
        _CACHE.pop(key, None)  # a ranking thread may be pruning too
    hit = _CACHE.get(id(dataset))
    if hit is not None and hit[0]() is dataset:
        return hit[1]
    s = TrajectorySummaries(dataset)
    _CACHE[id(dataset)] = (weakref.ref(dataset), s)
    return s


def _bin_columns(region_features: Sequence[RegionFeature], regions: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Names ("x=3", "terrain=scenic", "speed=20..24") and region-code columns of every region bin.

    Follows :func:`region_code`'s layout: per feature a one-hot block (categories, or the values of a
    narrow int feature), or ``BINS`` bins of the range followed by the scaled value (left out here).
    """
    names: list[str] = []
    cols: list[int] = []
    start = 0
    for j, rf in enumerate(region_features):
        width = region_code_width([rf])
        if rf.kind == "category":
            names += [f"{rf.name}={c}" for c in rf.categories]
            cols += range(start, start + width)
        elif rf.kind == "int" and rf.low is not None and rf.high is not None and width == int(rf.high - rf.low) + 1:
            names += [f"{rf.name}={int(rf.low) + k}" for k in range(width)]
            cols += range(start, start + width)
        else:
            v = np.asarray(regions, dtype=np.float64)[:, j]
            ok = np.isfinite(v)
            lo = float(rf.low) if rf.low is not None else float(v[ok].min()) if ok.any() else 0.0
            hi = float(rf.high) if rf.high is not None else float(v[ok].max()) if ok.any() else 1.0
            edges = lo + (hi - lo) * np.arange(BINS + 1) / BINS
            names += [f"{rf.name}={_fmt(edges[k])}..{_fmt(edges[k + 1])}" for k in range(BINS)]
            cols += range(start, start + BINS)
        start += width
    return names, np.asarray(cols, dtype=np.int64)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.3g}"


def _with_pairs(names: Sequence[str], binned: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The bins (states, B) followed by every pair of bins of two different features, with their names."""
    feature = [n.split("=", 1)[0] for n in names]
    groups = [[k for k, f in enumerate(feature) if f == name] for name in dict.fromkeys(feature)]
    out_names, blocks = list(names), [binned]
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            ga, gb = groups[a], groups[b]
            blocks.append((binned[:, ga][:, :, None] * binned[:, gb][:, None, :]).reshape(len(binned), -1))
            out_names += [f"{names[i]} & {names[j]}" for i in ga for j in gb]
    return out_names, np.concatenate(blocks, axis=1).astype(np.float32)


def _per_trajectory_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sums of ``values`` (rows, C) over each trajectory's rows ``offsets[i]:offsets[i+1]``: (N, C)."""
    out = np.zeros((len(offsets) - 1, values.shape[1]))
    some = offsets[1:] > offsets[:-1]  # reduceat would give an empty trajectory its next row
    if some.any():
        out[some] = np.add.reduceat(values, offsets[:-1][some], axis=0)  # float32 counts of 0/1 are exact
    return out


def _sampled_next_states(lengths: np.ndarray, state_off: np.ndarray, limit: int):
    """State rows of at most ``limit`` evenly spaced next states per trajectory, their trajectory, their weight."""
    take = np.minimum(lengths, limit)
    owner = np.repeat(np.arange(len(lengths)), take)
    first = np.concatenate([[0], np.cumsum(take)])[:-1]
    j = np.arange(int(take.sum())) - np.repeat(first, take)
    pos = ((j + 0.5) * lengths[owner] / np.maximum(take[owner], 1)).astype(np.int64)  # 0..T-1
    rows = state_off[:-1][owner] + 1 + pos
    weight = lengths[owner] / np.maximum(take[owner], 1)
    return rows, owner, weight.astype(np.float64)


# ---------------------------------------------------------------------------
# suggestions
# ---------------------------------------------------------------------------
def suggest(dataset: TrajectoryDataset, labels: Labels | None = None, model: Any = None, count: int = 10,
            seed: int = 0, diversity_weight: float = DIVERSITY_WEIGHT, exclude: Iterable[int] = ()) -> list[Suggestion]:
    """The ``count`` unlabelled trajectories most worth labelling next, best first.

    ``labels``: what has been labelled so far (None: nothing); ``model``: the current intent model (an
    ensemble's disagreement is used; a model without members ranks by diversity only); ``exclude``:
    trajectories not to suggest (e.g. shown and skipped), counted as covered like labelled ones.
    Trajectories without decisions are never suggested.
    """
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise UserError(f"count of suggestions must be a whole number >= 0, not {count!r}")
    if not 0.0 <= diversity_weight <= 1.0:
        raise UserError(f"diversity weight {diversity_weight!r} is out of range; allowed: 0..1")
    s = summaries(dataset)
    n = len(s)
    covered = np.zeros(n, dtype=bool)
    if labels is not None:
        if len(labels) != n or labels.meta.get("data_fingerprint", dataset.fingerprint()) != dataset.fingerprint():
            raise UserError(f"the labels were given to a different trajectory dataset ({len(labels)} trajectories, "
                            f"the data has {n})")
        covered |= np.asarray(labels.labelled, dtype=bool)
    for i in exclude:
        covered[int(i)] = True
    candidates = ~covered & (s.lengths > 0)
    labelled_any = bool(covered.any())
    scores = s.predicted_scores(model) if model is not None else None
    spread = scores.std(0) if scores is not None and len(scores) > 1 else None
    order = np.random.default_rng(seed).permutation(n)  # ties go to the earlier in this seeded order
    ref = np.flatnonzero(covered)
    near = s.min_distances(ref)
    ref_occ = s.occupancy[ref].max(0) if len(ref) else np.zeros(s.occupancy.shape[1])
    no_high = ~(s.high[ref].max(0) > 0) if len(ref) else np.ones(s.high.shape[1], dtype=bool)
    no_low = ~(s.high[ref].min(0) == 0) if len(ref) else np.ones(s.high.shape[1], dtype=bool)
    # the contrasts a candidate would complete, kept up to date as picks complete them
    gain_all = s.high @ np.where(no_high, s.contrast, 0.0) + (1.0 - s.high) @ np.where(no_low, s.contrast, 0.0)
    ref_end = s.end[ref].max(0) if len(ref) else np.zeros(s.end.shape[1])
    ref_success = set(s.success[ref].tolist())
    # the first round while only its own runs are labelled: followed one by one, the same five as in a batch
    first, sizes = s.first_round(seed) if len(ref) <= ROUND_MARKS else ([], [])  # no k-means once past it
    following = set(ref.tolist()) <= set(first)
    opening = [(i, c) for i, c in zip(first, sizes, strict=True) if candidates[i]] if following else []
    coverage: _CoverageGain | None = None
    out: list[Suggestion] = []
    for _ in range(min(int(count), int(candidates.sum()))):
        cand = order[candidates[order]]
        if opening:
            i, size = opening.pop(0)
            k, value = int(np.flatnonzero(cand == i)[0]), np.ones(len(cand))
            kind, reason = "typical", (f"the most typical of {size} stored trajectories alike ({_outcome(s, i)}); "
                                       "the first labels go to the data's main kinds of run")
        else:
            if coverage is None:
                coverage = _CoverageGain(s, near)
            d = near[cand]
            cov = np.maximum(coverage.gain[cand], 0.0)
            far = cov / cov.max() if cov.max() > 0 else np.zeros(len(cand))
            gain = np.where(gain_all[cand] > 1e-9, gain_all[cand], 0.0)  # contrasts no reference completes
            div = 0.5 * far + 0.5 * (gain / gain.max() if gain.max() > 0 else np.zeros(len(cand)))
            if spread is not None:
                sp = spread[cand]
                dis = sp / sp.max() if sp.max() > 0 else np.zeros(len(cand))
                value = diversity_weight * div + (1.0 - diversity_weight) * dis
            else:
                value = div
            k = int(np.argmax(value))
            i = int(cand[k])
            noun = _reference_noun(labelled_any, bool(out))
            novelty = _novelty(s, i, ref_occ, ref_end, ref_success, noun)
            if spread is not None and (1.0 - diversity_weight) * dis[k] >= diversity_weight * div[k]:
                kind = "disagreement"
                reason = (f"the {len(scores)} intent models disagree about its score "
                          f"({scores[:, i].mean():+.1f} ± {spread[i]:.1f})")
                if novelty:
                    reason += f"; it {novelty}"
            elif d[k] > 0:
                kind = "diversity"
                reason = f"it {novelty}" if novelty else f"it differs from every {noun} ({_outcome(s, i)})"
            else:
                kind = "diversity"
                reason = f"like a {noun} ({_outcome(s, i)}): every different trajectory is labelled or suggested"
        i = int(cand[k])
        out.append(Suggestion(index=i, score=float(value[k]), reason=reason, kind=kind))
        candidates[i] = False
        ref = np.append(ref, i)
        near = np.minimum(near, s.distances(i))
        if coverage is not None:
            coverage.pick(i)
        ref_occ = np.maximum(ref_occ, s.occupancy[i])
        hi = no_high & (s.high[i] > 0)
        lo = no_low & (s.high[i] == 0)
        if hi.any():
            gain_all -= s.high[:, hi] @ s.contrast[hi]
            no_high &= ~hi
        if lo.any():
            gain_all -= (1.0 - s.high[:, lo]) @ s.contrast[lo]
            no_low &= ~lo
        ref_end = np.maximum(ref_end, s.end[i])
        ref_success.add(bool(s.success[i]))
    return out


def _reference_noun(labelled: bool, suggested: bool) -> str:
    if labelled and suggested:
        return "labelled or earlier suggested trajectory"
    return "labelled trajectory" if labelled else "earlier suggested trajectory"


def _pct(p: float) -> str:
    return f"{100.0 * p:.0f} %"


def _outcome(s: TrajectorySummaries, i: int) -> str:
    t = int(s.lengths[i])
    steps = f"{t} step{'' if t == 1 else 's'}"
    return f"task success in {steps}" if s.success[i] else f"task failure after {steps}"


def _novelty(s: TrajectorySummaries, i: int, ref_occ: np.ndarray, ref_end: np.ndarray, ref_success: set,
             noun: str) -> str:
    """What trajectory ``i`` shows that the reference set does not, as a verb phrase ("" when nothing stands out)."""
    occ = s.occupancy[i]
    new = (occ > 0) & (ref_occ == 0)
    if new.any():
        c = int(np.argmax(np.where(new, occ, -1.0)))
        return f"spends {_pct(occ[c])} of its steps in {s.columns[c]}, which no {noun} enters"
    if bool(s.success[i]) not in ref_success:
        return f"is a {_outcome(s, i)}, unlike every {noun}"
    if ((s.end[i] > 0) & (ref_end == 0)).any():
        where = " & ".join(s.columns[c] for c in np.flatnonzero(s.end[i] > 0))
        return f"ends in {where}, where no {noun} ends"
    excess = occ - ref_occ
    c = int(np.argmax(excess))
    if excess[c] >= 0.1:
        return (f"spends {_pct(occ[c])} of its steps in {s.columns[c]}, "
                f"more than any {noun} ({_pct(ref_occ[c])} at most)")
    return ""


# ---------------------------------------------------------------------------
# a simulated user labelling what is suggested
# ---------------------------------------------------------------------------
def variety_groups(dataset: TrajectoryDataset, budget: int | None, seed: int, size: int) -> list[np.ndarray]:
    """The first ``budget`` trajectories (None: all) suggested by variety alone, in consecutive groups of about
    ``size``: what a person ranks who watches the suggestions one after another and ranks each ``size`` of them
    (the app's R ranks the last five watched). No model chooses: rankings give none of the scores it learns from."""
    count = len(dataset) if budget is None else budget
    order = np.array([s.index for s in suggest(dataset, None, None, count, seed=seed)], dtype=np.int64)
    return np.array_split(order, max(1, -(-len(order) // size)))


def select_and_label(dataset: TrajectoryDataset, wish: Wish, noise: FeedbackNoise, budget: int,
                     select: str = "random", rounds: int = 1, seed: int = 0,
                     train_config: AdditiveConfig | None = None, progress: bool = False) -> Labels:
    """A simulated user labels ``budget`` trajectories in ``rounds`` batches, chosen as ``select`` says.

    ``random``: a seeded random choice; ``first``: dataset order (walking the list); ``active``: the first
    batch by :func:`suggest` without a model, then after each batch an intent model is trained on the
    labels so far (``train_config``, default :data:`SELECTION_TRAINING`) and the next batch is suggested
    with it (diversity only when training refuses, e.g. all scores equal). Trajectories not chosen are
    unlabelled with score 0; ``true_scores`` and ``marks`` stay the simulated user's truth for every
    trajectory (for measuring, never for training). ``meta["selection"]`` records the choice. ``progress``: a
    bar over the active rounds (each trains an intent model: seconds on gridnav, about 20 s on Pong).
    """
    if select not in SELECT_MODES:
        raise UserError(f"unknown selection {select!r}; allowed: {', '.join(SELECT_MODES)}")
    n = len(dataset)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or not 1 <= budget <= n:
        raise UserError(f"label budget {budget!r} is out of range; allowed: 1..{n} (the trajectories in the data)")
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or not 1 <= rounds <= budget:
        raise UserError(f"rounds {rounds!r} is out of range; allowed: 1..{budget} (at least one label per round)")
    return keep_chosen(dataset, label_dataset(dataset, wish, noise, seed), budget, select, rounds, seed, train_config,
                       progress)


def keep_chosen(dataset: TrajectoryDataset, full: Labels, budget: int, select: str = "random", rounds: int = 1,
                seed: int = 0, train_config: AdditiveConfig | None = None, progress: bool = False) -> Labels:
    """``full`` (every trajectory labelled, any label type) with only ``budget`` of them kept, chosen as
    ``select`` says in ``rounds`` batches (see :func:`select_and_label`)."""
    if select not in SELECT_MODES:
        raise UserError(f"unknown selection {select!r}; allowed: {', '.join(SELECT_MODES)}")
    n = len(dataset)
    budget = min(int(budget), n)
    rounds = max(1, min(int(rounds), budget))
    batches = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    models: list[str] = []
    if select == "random":
        chosen = [int(i) for i in random_order(n, seed)[:budget]]
    elif select == "first":
        chosen = list(range(budget))
    else:
        from tqdm.auto import tqdm

        chosen = []
        config = train_config if train_config is not None else SELECTION_TRAINING
        for r, size in enumerate(tqdm(batches, desc="label this next", unit="round", disable=not progress)):
            model = None
            if r > 0:
                model, note = suggestion_model(dataset, _given(full, chosen), seed + r, config)
                models.append(note)
            picks = suggest(dataset, _given(full, chosen), model, size, seed=seed + r, exclude=chosen)
            chosen += [p.index for p in picks]
    labels = _given(full, chosen)
    labels.meta["selection"] = {"select": select, "budget": int(budget), "rounds": int(rounds), "batches": batches,
                                "chosen": chosen, "models": models}
    if train_config is not None and select == "active":
        labels.meta["selection"]["train_config"] = asdict(train_config)
    return labels


def _given(full: Labels, chosen: Sequence[int]) -> Labels:
    """``full`` with only the ``chosen`` trajectories labelled (a skipped one stays unlabelled)."""
    mask = np.zeros(len(full), dtype=bool)
    mask[list(chosen)] = True
    return Labels(scores=np.where(mask, full.scores, 0.0).astype(np.float32), labelled=mask & full.labelled,
                  true_scores=full.true_scores, marks=full.marks, lengths=full.lengths, meta=dict(full.meta),
                  known=full.known)


def suggestion_model(dataset: TrajectoryDataset, labels: Labels, seed: int,
                     config: AdditiveConfig = SELECTION_TRAINING, should_stop: Callable[[], bool] | None = None):
    """The intent model of the labels so far that ranks the next suggestions, and a note for the provenance;
    (None, why) when training refuses (e.g. every score alike) or is stopped. Seconds: 2-4 s on gridnav and
    highway, about 10 s on Pong (2-core AMD EPYC)."""
    from dpf_gui.intent.registry import train_intent

    try:
        result = train_intent(dataset, labels, seed, config=config, progress=False, should_stop=should_stop)
    except UserError as exc:
        return None, f"not trained: {exc}"
    if result.interrupted:
        return None, "not trained: stopped"
    return result.model, f"trained on {labels.count} labels"


__all__ = [
    "DIVERSITY_WEIGHT",
    "ROUND_MARKS",
    "SAMPLED_STATES",
    "SELECTION_TRAINING",
    "SELECT_MODES",
    "Suggestion",
    "TrajectorySummaries",
    "active_rounds",
    "random_order",
    "select_and_label",
    "suggest",
    "suggestion_model",
    "summaries",
    "variety_groups",
]

"""A trajectory marked only in part: its score sums its marked stretches, and the intent learns the marks' worth."""

from __future__ import annotations

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.intent.additive import AdditiveConfig, fit_additive, region_code
from dpf_gui.intent.partial_marks import marked_in_part, step_feedback, stretch_edges, summed_predictions
from dpf_gui.oracles import label_segments, label_steps
from dpf_gui.wish import make_wish
from tests.helpers import handmade_dataset


def _labels(data, marks: list[list[int]], known: list[list[bool]] | None) -> Labels:
    flat = np.concatenate([np.asarray(m, np.int8) for m in marks])
    scores = np.array([sum(m) for m in marks], np.float32)
    return Labels(scores=scores, labelled=np.ones(len(marks), bool), true_scores=scores, marks=flat,
                  lengths=data.lengths.copy(),
                  known=None if known is None else np.concatenate([np.asarray(k, bool) for k in known]))


def test_which_trajectories_are_marked_in_part_and_where_their_stretches_end():
    data = handmade_dataset("pong", [[[0.5]] * 13, [[0.5]] * 5, [[0.5]] * 5])
    marks = [[0] * 5 + [-1, -1] + [0] * 5, [0] * 4, [1, 1, 1, 1]]
    known = [[False] * 5 + [True, True] + [False] * 5, [True] * 4, [True, False, False, True]]
    labels = _labels(data, marks, known)
    # the second is marked neutral as a whole; the third carries a whole mark under its segments
    assert marked_in_part(data, labels, np.arange(3)).tolist() == [True, False, False]
    assert not marked_in_part(data, _labels(data, marks, None), np.arange(3)).any()
    edges = stretch_edges(data, labels.known_steps(), np.array([0]))
    assert np.flatnonzero(edges).tolist() == [1, 2, 3, 8, 9, 10]  # 2..4 decisions beyond each end
    marked, summed = step_feedback(data, labels, np.arange(3))  # per stored decision: 12, 4 and 4
    assert np.flatnonzero(marked[:12]).tolist() == [1, 2, 3, 5, 6, 8, 9, 10]
    assert summed[:12].tolist() == marked[:12].tolist() and summed[12:].all()  # the others: every decision
    assert marked[16:].tolist() == known[2]  # under a whole mark, no stretch edges
    marked, summed = step_feedback(data, _labels(data, marks, None), np.arange(3))
    assert not marked.any() and summed.all()

    class EveryDecisionWorthOne:  # g_t = t + 1: the fit's prediction counts the decisions a score sums
        def predict(self, features, actions):
            return np.arange(1, len(actions) + 1, dtype=np.float32)

    assert summed_predictions(EveryDecisionWorthOne(), data, labels, np.arange(3)).tolist() == [8.0, 4.0, 4.0]


def test_an_intent_learns_a_marked_stretch_at_its_full_worth():
    """Each rally sits at the bottom edge in several stretches and the person marks at most two of them.
    Fitting the score as the sum over every decision would spread it over all the stretches (about a third of
    the worth per decision); fitting it over the marked decisions learns the mark itself, -1 a decision."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(40):
        paddle = []
        for _ in range(int(rng.integers(4, 7))):  # stretches at the bottom (1.0) between stays in the middle
            paddle += [0.5] * int(rng.integers(6, 12)) + [1.0] * int(rng.integers(5, 9))
        rows.append([[p] for p in [*paddle, 0.5]])
    data = handmade_dataset("pong", rows)
    wish = make_wish(data.region_features, avoid=["paddle=1.."])
    labels = label_segments(data, wish, seed=1)
    idx = np.arange(25)
    fit = fit_additive(data, labels, idx, seed=0, cfg=AdditiveConfig(members=4, value_steps=1, max_transitions=500))
    code = region_code(data.regions, data.region_features)
    u = fit.model.utilities(data.features.astype(np.float32), code).mean(0) * fit.score_scale
    bottom = data.regions[:, 0] >= 1.0
    assert np.mean(labels.known_steps()[np.concatenate([np.arange(data.step_slice(i).start,
                                                                  data.step_slice(i).stop) for i in idx])]) < 0.5
    assert u[bottom].mean() < -0.7, u[bottom].mean()
    assert abs(u[~bottom].mean()) < 0.2, u[~bottom].mean()


def test_a_perfect_annotators_marks_are_a_target_at_every_decision_and_sum_to_the_exact_score():
    """``label_steps`` (the benchmark's ``steps``): every decision of a labelled run is a per-step target, and its
    score, the exact one, sums every decision (no run is marked in part)."""
    data = handmade_dataset("pong", [[[0.5]] * 6, [[1.0]] * 3 + [[0.5]] * 3, [[1.0]] * 6])
    labels = label_steps(data, make_wish(data.region_features, avoid=["paddle=1.."]), seed=0)
    assert labels.scores.tolist() == [0.0, -2.0, -5.0] and labels.known_steps().all()
    assert not marked_in_part(data, labels, np.arange(3)).any()
    marked, summed = step_feedback(data, labels, np.arange(3))
    assert marked.all() and summed.all()

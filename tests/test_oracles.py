"""Simulated users: presets on hand-made trajectories with known scores, and noise statistics."""

import numpy as np
import pytest

from dpf_gui.envs import env_spec
from dpf_gui.errors import UserError
from dpf_gui.oracles import FeedbackNoise, label_dataset, label_pairs, step_marks
from dpf_gui.wish import make_wish
from tests.helpers import handmade_dataset

TERR = env_spec("gridnav").region_features[2].categories
P, T, S, G, SC = (float(TERR.index(n)) for n in ("plain", "toll", "start", "goal", "scenic"))


def _preset_scores(env, rows, preset):
    data = handmade_dataset(env, rows)
    wish = make_wish(data.region_features, preset=env_spec(env).preset(preset))
    return label_dataset(data, wish, FeedbackNoise(), seed=0).scores.tolist()


def test_gridnav_presets_on_the_toll_road_and_the_detour():
    toll_path = [[0, 5, S]] + [[x, 5, T if 3 <= x <= 6 else (G if x == 9 else P)] for x in range(1, 10)]
    detour = [[0, 5, S], [0, 4, S], [0, 3, P], [1, 3, P]] + [[x, 3, SC] for x in range(2, 8)] + [[8, 3, P]]
    rows = [toll_path, detour]
    assert _preset_scores("gridnav", rows, "avoid") == [-4.0, 0.0]
    assert _preset_scores("gridnav", rows, "prefer") == [0.0, 6.0]
    assert _preset_scores("gridnav", rows, "mixed") == [-4.0, 6.0]


def test_highway_presets_count_lane_steps():
    # the start state's lane is not marked: a mark is for where a decision led
    rows = [[[0, 25], [0, 25], [1, 25], [2, 25], [2, 30], [2, 30], [3, 25]]]
    assert _preset_scores("highway", rows, "avoid") == [-1.0]
    assert _preset_scores("highway", rows, "prefer") == [3.0]
    assert _preset_scores("highway", rows, "mixed") == [2.0]


def test_pong_presets_edges_and_middle_band():
    rows = [[[0.5], [0.05], [0.1], [0.5], [0.6], [0.95], [0.3]]]
    assert _preset_scores("pong", rows, "avoid") == [-3.0]
    assert _preset_scores("pong", rows, "prefer") == [2.0]
    assert _preset_scores("pong", rows, "mixed") == [-1.0]


def test_marks_align_with_decisions():
    data = handmade_dataset("highway", [[[0, 20], [2, 20], [2, 20]], [[2, 20], [0, 20]]])
    wish = make_wish(data.region_features, prefer=["lane=2"], avoid=["lane=0"])
    assert step_marks(data, wish).tolist() == [1, 1, -1]
    assert len(step_marks(data, wish)) == len(data.actions)


def _big_dataset(n=2000):
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(n):
        t = int(rng.integers(5, 15))
        rows.append([[int(rng.integers(0, 4)), 25.0] for _ in range(t + 1)])
    return handmade_dataset("highway", rows)


@pytest.fixture(scope="module")
def big():
    data = _big_dataset()
    wish = make_wish(data.region_features, prefer=["lane=2"], avoid=["lane=0"])
    return data, wish


def test_noise_free_scores_are_the_true_scores(big):
    data, wish = big
    lab = label_dataset(data, wish, FeedbackNoise(), seed=1)
    assert np.array_equal(lab.scores, lab.true_scores)
    assert lab.labelled.all()
    assert lab.marks.sum() == lab.true_scores.sum()


def test_noise_statistics_at_a_fixed_seed(big):
    data, wish = big
    flip = label_dataset(data, wish, FeedbackNoise(flip=0.1), seed=1)
    nz = flip.true_scores != 0
    flipped = np.mean(flip.scores[nz] == -flip.true_scores[nz])
    assert 0.08 < flipped < 0.12

    skip = label_dataset(data, wish, FeedbackNoise(skip=0.2), seed=1)
    assert 0.18 < 1 - skip.labelled.mean() < 0.22

    gauss = label_dataset(data, wish, FeedbackNoise(sigma=2.0), seed=1)
    resid = gauss.scores - gauss.true_scores
    assert abs(resid.mean()) < 0.15 and 1.9 < resid.std() < 2.1

    binary = label_dataset(data, wish, FeedbackNoise(binary=True), seed=1)
    assert set(np.unique(binary.scores)) <= {-1.0, 0.0, 1.0}
    assert np.array_equal(binary.scores, np.sign(binary.true_scores))

    noisy_binary = label_dataset(data, wish, FeedbackNoise(binary=True, flip=0.1), seed=1)
    wrong = np.mean(noisy_binary.scores[nz] != np.sign(noisy_binary.true_scores[nz]))
    assert 0.08 < wrong < 0.12


def test_noise_is_deterministic_by_seed(big):
    data, wish = big
    noise = FeedbackNoise(binary=True, flip=0.2, skip=0.3, sigma=1.0)
    a = label_dataset(data, wish, noise, seed=7)
    b = label_dataset(data, wish, noise, seed=7)
    c = label_dataset(data, wish, noise, seed=8)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.labelled, b.labelled)
    assert not np.array_equal(a.scores, c.scores)


def test_relative_binary_marks_tell_apart_runs_that_all_enter_a_region():
    """Every run enters the avoided lane: plain signs are all -1, relative ones mark the worse runs (a larger
    share of their decisions in the lane than the median run's) -1 and the better ones +1."""
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(400):
        t = int(rng.integers(6, 30))
        share = rng.uniform(0.1, 0.9)
        rows.append([[0 if (k == 1 or rng.random() < share) else 1, 25.0] for k in range(t + 1)])
    data = handmade_dataset("highway", rows)
    wish = make_wish(data.region_features, avoid=["lane=0"])
    plain = label_dataset(data, wish, FeedbackNoise(binary=True), seed=1)
    assert (plain.scores == -1).all()
    rel = label_dataset(data, wish, FeedbackNoise(binary=True, relative=True), seed=1)
    rate = rel.true_scores / data.lengths
    assert set(np.unique(rel.scores)) <= {-1.0, 0.0, 1.0}
    assert np.array_equal(rel.scores, np.sign(rate - np.median(rate)).astype(np.float32))
    assert 0.4 < (rel.scores > 0).mean() < 0.6
    assert rel.meta["noise"]["relative"] is True and "relative" not in plain.meta["noise"]
    flipped = label_dataset(data, wish, FeedbackNoise(binary=True, relative=True, flip=0.5), seed=1)
    assert np.array_equal(np.abs(flipped.scores), np.abs(rel.scores)) and (flipped.scores != rel.scores).any()
    # comparisons of yes/no marks: plain ones are all ties, relative ones mostly say which run was worse
    assert (label_pairs(data, wish, FeedbackNoise(binary=True), seed=1, count=200).prefer == 0.5).all()
    relative_pairs = label_pairs(data, wish, FeedbackNoise(binary=True, relative=True), seed=1, count=200)
    worse = rate[relative_pairs.pairs[:, 0]] < rate[relative_pairs.pairs[:, 1]]
    said = relative_pairs.prefer != 0.5
    assert said.mean() > 0.3 and (relative_pairs.prefer[said] == np.where(worse, 0.0, 1.0)[said]).all()


def test_relative_marks_where_most_runs_miss_the_region_are_the_plain_signs():
    """The median run never enters a rarely visited region: relative signs are then the plain ones."""
    rng = np.random.default_rng(4)
    rows = [[[3 if (i % 10 < 3 and k > 2) else 1, 25.0] for k in range(int(rng.integers(5, 15)))] for i in range(200)]
    data = handmade_dataset("highway", rows)
    wish = make_wish(data.region_features, prefer=["lane=3"])
    plain = label_dataset(data, wish, FeedbackNoise(binary=True), seed=2)
    rel = label_dataset(data, wish, FeedbackNoise(binary=True, relative=True), seed=2)
    assert 0.25 < (plain.scores > 0).mean() < 0.35
    assert np.array_equal(plain.scores, rel.scores)


def test_relative_needs_binary():
    with pytest.raises(UserError, match="binary"):
        FeedbackNoise(relative=True)


@pytest.mark.parametrize("kwargs", [{"flip": 1.5}, {"skip": -0.1}, {"sigma": -1.0}, {"myopic": 0.0},
                                    {"myopic": 1.2}, {"equal": -1.0}, {"stochastic": -0.1}])
def test_bad_noise_options(kwargs):
    with pytest.raises(UserError):
        FeedbackNoise(**kwargs)


def test_a_myopic_user_weighs_the_end_of_a_run_most():
    """B-Pref's myopic teacher: a decision t steps before the end weighs gamma^t; gamma 1 is the plain sum."""
    # lane 0 avoided: run 1 enters it at its first decision, run 2 at its last, run 3 at both
    rows = [[[1, 25], [0, 25], [1, 25], [1, 25], [1, 25]], [[1, 25], [1, 25], [1, 25], [1, 25], [0, 25]],
            [[1, 25], [0, 25], [1, 25], [1, 25], [0, 25]]]
    data = handmade_dataset("highway", rows)
    wish = make_wish(data.region_features, avoid=["lane=0"])
    plain = label_dataset(data, wish, FeedbackNoise(), seed=0)
    half = label_dataset(data, wish, FeedbackNoise(myopic=0.5), seed=0)
    assert plain.scores.tolist() == [-1.0, -1.0, -2.0]
    assert half.scores.tolist() == [-0.125, -1.0, -1.125]  # 0.5^3 for the first of four decisions
    assert np.array_equal(half.true_scores, plain.true_scores)  # the truth is not what the user remembers
    assert half.meta["noise"] == {"binary": False, "flip": 0.0, "skip": 0.0, "sigma": 0.0, "myopic": 0.5}
    assert "myopic" not in plain.meta["noise"] and "equal" not in plain.meta["noise"]
    # comparisons: the myopic user prefers the run that entered early (its mark is forgotten), a tie otherwise
    pairs = label_pairs(data, wish, FeedbackNoise(myopic=0.5), seed=0, count=40)
    want = {(0, 1): 1.0, (1, 0): 0.0, (0, 2): 1.0, (2, 0): 0.0, (1, 2): 1.0, (2, 1): 0.0}
    assert [want[tuple(p)] for p in pairs.pairs.tolist()] == pairs.prefer.tolist()
    plain_pairs = label_pairs(data, wish, FeedbackNoise(), seed=0, count=40)
    assert (plain_pairs.prefer[(plain_pairs.pairs < 2).all(axis=1)] == 0.5).all()


def test_a_user_who_cannot_tell_small_scores_gives_them_as_neutral(big):
    data, wish = big
    plain = label_dataset(data, wish, FeedbackNoise(sigma=2.0), seed=3)
    unsure = label_dataset(data, wish, FeedbackNoise(sigma=2.0, equal=1.5), seed=3)
    small = np.abs(plain.scores) < 1.5
    assert 0.05 < small.mean() < 0.95  # both kinds are there, so both checks below bite
    assert (unsure.scores[small] == 0).all() and np.array_equal(unsure.scores[~small], plain.scores[~small])
    signs = label_dataset(data, wish, FeedbackNoise(binary=True, sigma=2.0, equal=1.5), seed=3)
    assert np.array_equal(signs.scores, np.sign(unsure.scores))
    # comparisons: scores within E of each other are equally good
    pairs = label_pairs(data, wish, FeedbackNoise(equal=1.0), seed=3, count=500)
    gap = np.abs(np.diff(pairs.true_scores[pairs.pairs], axis=1))[:, 0]
    assert ((pairs.prefer == 0.5) == (gap < 1.0)).all() and 0.05 < (gap < 1.0).mean() < 0.95


def test_relative_marks_of_a_user_who_cannot_tell_are_neutral_near_a_typical_run():
    rng = np.random.default_rng(3)
    rows = [[[0 if (k == 1 or rng.random() < rng.uniform(0.1, 0.9)) else 1, 25.0]
             for k in range(int(rng.integers(6, 30)) + 1)] for _ in range(300)]
    data = handmade_dataset("highway", rows)
    wish = make_wish(data.region_features, avoid=["lane=0"])
    rel = label_dataset(data, wish, FeedbackNoise(binary=True, relative=True), seed=1)
    unsure = label_dataset(data, wish, FeedbackNoise(binary=True, relative=True, equal=2.0), seed=1)
    rate = np.median(rel.true_scores / data.lengths)
    near = np.abs(rel.true_scores - rate * data.lengths) < 2.0
    assert 0.05 < near.mean() < 0.95
    assert (unsure.scores[near] == 0).all() and np.array_equal(unsure.scores[~near], rel.scores[~near])


def test_a_stochastic_user_errs_on_close_calls_by_the_boltzmann_rule():
    """B-Pref's stochastic teacher: a sign judged wrong with chance 1 / (1 + exp(|d| / (T u))), u the RMS of the
    judged scores; with flip F besides, F + (1 - F) times that. Hand-computed on three runs scored -1, -1, -2."""
    rows = [[[1, 25], [0, 25], [1, 25], [1, 25], [1, 25]], [[1, 25], [1, 25], [1, 25], [1, 25], [0, 25]],
            [[1, 25], [0, 25], [1, 25], [1, 25], [0, 25]]]
    data = handmade_dataset("highway", rows)
    wish = make_wish(data.region_features, avoid=["lane=0"])
    unit = np.sqrt((1 + 1 + 4) / 3)
    for seed in range(40):
        rng = np.random.default_rng(seed)  # the draws label_dataset makes, in its order: Gaussian, flip, skip
        rng.standard_normal(3)
        draw = rng.random(3)
        for flip in (0.0, 0.3):
            chance = flip + (1 - flip) / (1 + np.exp(np.array([1.0, 1.0, 2.0]) / (0.5 * unit)))
            given = label_dataset(data, wish, FeedbackNoise(binary=True, flip=flip, stochastic=0.5), seed=seed)
            assert given.scores.tolist() == np.where(draw < chance, 1.0, -1.0).tolist(), (seed, flip)
    noise = FeedbackNoise(binary=True, stochastic=0.5)
    assert label_dataset(data, wish, noise, seed=0).meta["noise"]["stochastic"] == 0.5
    assert "stochastic" not in label_dataset(data, wish, FeedbackNoise(binary=True), seed=0).meta["noise"]


def test_a_stochastic_user_gets_close_calls_wrong_and_clear_ones_right(big):
    data, wish = big
    sure = label_dataset(data, wish, FeedbackNoise(binary=True, flip=0.1), seed=2)
    same = label_dataset(data, wish, FeedbackNoise(binary=True, flip=0.1, stochastic=0.0), seed=2)
    assert np.array_equal(sure.scores, same.scores)  # T = 0: the plain flips, draw for draw
    given = label_dataset(data, wish, FeedbackNoise(binary=True, stochastic=0.3), seed=2)
    truth = np.sign(given.true_scores)
    wrong = given.scores != truth
    assert (given.scores[truth == 0] == 0).all()  # nothing to get wrong about a neutral run
    d = np.abs(given.true_scores.astype(np.float64))
    close, clear = (d > 0) & (d <= np.percentile(d[d > 0], 25)), d >= np.percentile(d, 75)
    assert wrong[close].mean() > 0.12 and wrong[clear].mean() < 0.04  # (0.18 and 0.01: seeded numpy draws)
    # comparisons: wrong about close pairs more often than about clear ones
    pairs = label_pairs(data, wish, FeedbackNoise(stochastic=0.3), seed=2, count=2000)
    gap = np.diff(pairs.true_scores[pairs.pairs], axis=1)[:, 0]
    answer = np.where(gap < 0, 1.0, np.where(gap > 0, 0.0, 0.5))  # the first of a pair is better: 1
    wrong_pair = (pairs.prefer != answer) & (gap != 0)
    small, large = (np.abs(gap) > 0) & (np.abs(gap) <= 1), np.abs(gap) >= 4
    assert wrong_pair[small].mean() > 3 * wrong_pair[large].mean()  # (0.22 against 0.02)


def test_every_kind_of_feedback_noise_says_what_it_does():
    """The CLI's help and the simulated-user dialog's tooltips read one table: a new kind of noise needs a line."""
    from dataclasses import fields

    from dpf_gui.oracles import NOISE_HELP, FeedbackNoise

    assert set(NOISE_HELP) == {f.name for f in fields(FeedbackNoise)}
    assert all(len(text) > 20 for text in NOISE_HELP.values())

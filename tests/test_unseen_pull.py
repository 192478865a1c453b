"""Places no labelled run reached are assumed slightly bad, not harmless (AdditiveConfig.unseen_pull)."""

from __future__ import annotations

import numpy as np
import pytest

from dpf_gui.intent.additive import AdditiveConfig, fit_additive, region_bin_columns, region_code
from dpf_gui.intent.unreached import marks_say_avoid, place_ids, pull_targets, unreached_places
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.wish import make_wish
from tests.helpers import handmade_dataset

LABELLED = 24
PLAIN, TOLL = 0.0, 3.0  # gridnav's terrain categories


@pytest.fixture(scope="module")
def data():
    """Walks along row 5 with toll cells at columns 6-7 now and then: 24 from column 3 (labelled), 24 from column 0."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(2 * LABELLED):
        start = 0 if k >= LABELLED else 3
        rows.append([[x, 5, TOLL if x in (6, 7) and rng.random() < 0.5 else PLAIN] for x in range(start, 10)])
    return handmade_dataset("gridnav", rows)


def _utility_in_marks(data, unseen_pull: float, wish: str = "avoid") -> np.ndarray:
    labels = label_dataset(data, make_wish(data.region_features, **{wish: ["terrain=toll"]}), FeedbackNoise(), seed=0)
    cfg = AdditiveConfig(members=4, value_steps=1, max_transitions=500, unseen_pull=unseen_pull)
    fit = fit_additive(data, labels, np.arange(LABELLED), seed=0, cfg=cfg)
    code = region_code(data.regions, data.region_features)
    return fit.model.utilities(data.features.astype(np.float32), code).mean(0) * fit.score_scale


def test_the_pull_aims_below_zero_exactly_where_no_labelled_step_went(data):
    code = region_code(data.regions, data.region_features)
    assert region_bin_columns(data.region_features).tolist() == list(range(code.shape[1]))  # ints and categories
    labelled_rows = np.concatenate([np.arange(data.state_slice(i).start + 1, data.state_slice(i).stop)
                                    for i in range(LABELLED)])
    targets = pull_targets(code, labelled_rows, data.region_features, 0.5)
    far = data.regions[:, 0] <= 3  # a mark counts the state a step leads to: no labelled step leads to column 3
    assert far.any() and (targets[far] == -0.5).all() and (targets[~far] == 0).all()
    assert not pull_targets(code, labelled_rows, data.region_features, 0.0).any()


def test_the_continuous_features_scaled_value_is_not_a_place():
    pong = handmade_dataset("pong", [[[0.5], [0.52], [0.97]]])
    assert region_code(pong.regions, pong.region_features).shape[1] == 11
    assert region_bin_columns(pong.region_features).tolist() == list(range(10))


def test_columns_no_labelled_run_entered_learn_a_slight_cost_and_judged_cells_keep_their_worth(data):
    pulled, harmless = _utility_in_marks(data, 0.25), _utility_in_marks(data, 0.0)
    far, toll = data.regions[:, 0] < 3, data.regions[:, 2] == TOLL
    plain = ~far & ~toll
    assert pulled[far].mean() < -0.15 and abs(harmless[far].mean()) < 0.05, (pulled[far].mean(), harmless[far].mean())
    assert pulled[toll].mean() < -0.5 and harmless[toll].mean() < -0.5  # marked: about -1 a decision
    assert abs(pulled[plain].mean()) < 0.15 and abs(harmless[plain].mean()) < 0.1


def test_marks_that_are_mostly_praise_pull_nothing(data):
    assert marks_say_avoid([-1.0, -2.0, 0.0, 3.0]) and not marks_say_avoid([-1.0, 2.0, 0.0, 3.0])
    assert not marks_say_avoid([-1.0, 1.0]) and not marks_say_avoid(np.zeros(5))  # ties and comparisons: no pull
    praised = _utility_in_marks(data, 0.25, wish="prefer")
    np.testing.assert_array_equal(praised, _utility_in_marks(data, 0.0, wish="prefer"))  # the very same fit
    assert praised[data.regions[:, 2] == TOLL].mean() > 0.5  # and the praise is learned


def test_the_person_is_told_how_many_stored_decisions_lead_where_no_labelled_run_went(data):
    from dpf_gui.selection import _given

    full = label_dataset(data, make_wish(data.region_features, avoid=["terrain=toll"]), FeedbackNoise(), seed=0)
    places = unreached_places(data, _given(full, range(LABELLED)))
    # the 24 unlabelled runs from column 0 step into columns 1-3 (3 decisions each); every other place is reached
    assert (places.decisions, places.of_decisions, places.labelled) == (3 * LABELLED, 6 * LABELLED + 9 * LABELLED,
                                                                        LABELLED)
    assert places.pulled == marks_say_avoid(full.scores[:LABELLED])
    assert "72 of the 360 stored decisions (20%)" in places.text()
    every = unreached_places(data, full)
    assert every.decisions == 0 and every.labelled == 2 * LABELLED
    praised = label_dataset(data, make_wish(data.region_features, prefer=["terrain=toll"]), FeedbackNoise(), seed=0)
    assert not unreached_places(data, _given(praised, range(LABELLED))).pulled


def test_places_are_told_apart_the_same_way_however_many_bins_they_have():
    rows = np.random.default_rng(0).integers(0, 2, size=(300, 3), dtype=np.uint8) * 17  # a few distinct rows
    narrow, wide = place_ids(rows), place_ids(np.concatenate([rows, np.zeros((300, 7), np.uint8)], axis=1))
    same = lambda ids: ids[:, None] == ids[None, :]  # noqa: E731
    assert len(np.unique(narrow)) == 8 and (same(narrow) == same(wide)).all()


def test_a_datasets_places_are_computed_once_and_forgotten_with_it(data):
    import gc

    from dpf_gui.intent import unreached as U

    places = U.stored_places(data)
    np.testing.assert_array_equal(places, U.places_of(region_code(data.regions, data.region_features),
                                                     data.region_features))
    assert U.stored_places(data) is places  # the Train tab's refreshes reuse it
    other = handmade_dataset("gridnav", [[[0, 5, PLAIN], [1, 5, TOLL]]])
    assert U.stored_places(other) is not places and id(other) in U._STORED_PLACES
    key = id(other)
    del other
    gc.collect()
    assert key not in U._STORED_PLACES


def test_adams_epsilon_reaches_the_utilitys_fit(data):
    """A huge epsilon turns Adam's steps into plain gradient steps of lr / eps: the utility stays near its zero start
    (AdditiveConfig.adam_eps, section 91 of docs/EXPERIMENTS.md)."""
    labels = label_dataset(data, make_wish(data.region_features, avoid=["terrain=toll"]), FeedbackNoise(), seed=0)
    code = region_code(data.regions, data.region_features)
    toll = data.regions[:, 2] == TOLL
    worth = {}
    for eps in (1e-8, 1e6):
        cfg = AdditiveConfig(members=4, value_steps=1, max_transitions=500, adam_eps=eps)
        fit = fit_additive(data, labels, np.arange(LABELLED), seed=0, cfg=cfg)
        worth[eps] = float((fit.model.utilities(data.features.astype(np.float32), code).mean(0) * fit.score_scale)[toll]
                           .mean())
    # measured -0.819 to -0.820 and -1.3e-5 under AVX-512, AVX2 and SSE kernels (docs/ROBUSTNESS.md, section 4)
    assert worth[1e-8] < -0.5 and abs(worth[1e6]) < 0.01, worth

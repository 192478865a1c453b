"""Intent model: incremental queries match the full sequence, redistribution adds up, training learns a wish."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dpf_gui.data.labels import Labels
from dpf_gui.errors import UserError
from dpf_gui.intent.model import IntentArch, IntentModel
from dpf_gui.intent.redistribute import (
    candidate_spread,
    predict_dataset,
    redistribute_dataset,
    redistributed_rewards,
    reward_scale,
)
from dpf_gui.intent.stepper import IntentStepper
from dpf_gui.intent.train import (
    IntentConfig,
    fit_metrics,
    load_intent,
    sequence_loss,
    train_intent,
)
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.rollout import random_policy, rollout
from dpf_gui.wish import make_wish

SMALL = {"embed": 16, "hidden": 16}


@pytest.fixture(scope="module")
def grid_data():
    return rollout("gridnav", random_policy(0), 200, seed=0, progress=False)


@pytest.fixture(scope="module")
def toll_labels(grid_data):
    wish = make_wish(grid_data.region_features, avoid=["terrain=toll"])
    return label_dataset(grid_data, wish, FeedbackNoise(), seed=0)


@pytest.fixture(scope="module")
def trained(grid_data, toll_labels, tmp_path_factory):
    out = tmp_path_factory.mktemp("intent") / "model"
    cfg = IntentConfig(max_epochs=40, patience=40, embed=32, hidden=32)
    curve = []
    res = train_intent(grid_data, toll_labels, seed=0, out_dir=out, config=cfg, progress=False,
                       on_epoch=lambda e, tr, va: curve.append((e, tr, va)))
    return res, out, curve


def random_model(readout: str, n_features: int = 8, n_actions: int = 4, seed: int = 0) -> IntentModel:
    torch.manual_seed(seed)
    m = IntentModel(IntentArch(n_features, n_actions, embed=16, hidden=16, readout=readout))
    m.set_normalisation(np.zeros(n_features), np.ones(n_features), score_scale=3.0, mean_length=20, mean_target=-0.5)
    with torch.no_grad():  # the cumsum heads start at zero: give them weights so the test means something
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m.eval()


@pytest.mark.parametrize("readout", ["cumsum", "direct"])
def test_stepper_history_matches_full_sequence(grid_data, readout):
    model = random_model(readout)
    stepper = IntentStepper(model)
    for i in range(3):
        traj = grid_data[i]
        full = model.predict(traj.features, traj.actions)
        stepper.reset()
        g_prev = 0.0
        for t in range(traj.length):
            g = stepper.score_actions(traj.features[t])
            r = stepper.rewards(traj.features[t], traj.legal[t])
            a = int(traj.actions[t])
            assert np.isclose(g[a], full[t], rtol=1e-5, atol=1e-5)
            assert np.isclose(r[a], full[t] - g_prev, rtol=1e-5, atol=1e-5)
            assert np.all(np.isneginf(r[~traj.legal[t]]))
            assert np.isclose(stepper.advance(a), full[t] - g_prev, rtol=1e-5, atol=1e-5)
            g_prev = stepper.g_prev
            assert np.isclose(g_prev, full[t], rtol=1e-5, atol=1e-5)
        assert stepper.t == traj.length


@pytest.mark.parametrize("readout", ["cumsum", "direct"])
def test_markov_query_is_length_one_forward(grid_data, readout):
    model = random_model(readout)
    markov, history = IntentStepper(model, markov=True), IntentStepper(model)
    traj = grid_data[0]
    differs = False
    for t in range(traj.length):
        r = markov.rewards(traj.features[t])
        for a in range(4):
            alone = model.predict(traj.features[t:t + 1], np.array([a]))[0]
            assert np.isclose(r[a], alone, rtol=1e-5, atol=1e-5)
        differs |= not np.allclose(r, history.rewards(traj.features[t]), atol=1e-4)
        markov.advance(int(traj.actions[t]))
        history.advance(int(traj.actions[t]))
        assert markov.g_prev == 0.0 and markov.state is None
    assert differs, "the history query should differ from the markov query somewhere"


def test_advance_without_scoring_needs_features(grid_data):
    model = random_model("cumsum")
    a, b = IntentStepper(model), IntentStepper(model)
    traj = grid_data[1]
    with pytest.raises(RuntimeError):
        a.advance(0)
    for t in range(5):
        b.score_actions(traj.features[t])
        rb = b.advance(int(traj.actions[t]))
        ra = a.advance(int(traj.actions[t]), features=traj.features[t])
        assert np.isclose(ra, rb, rtol=1e-6, atol=1e-6)


def test_redistribution_sums_to_final_prediction(grid_data):
    model = random_model("cumsum")
    for i in range(4):
        traj = grid_data[i]
        r = redistributed_rewards(model, traj.features, traj.actions)
        g = model.predict(traj.features, traj.actions)
        assert r.shape == (traj.length,)
        assert np.isclose(r.sum(), g[-1], rtol=1e-5, atol=1e-4)
    batched = predict_dataset(model, grid_data, range(10))
    for i in range(10):  # padding in a batch never changes a trajectory's predictions
        np.testing.assert_allclose(batched[i], model.predict(grid_data[i].features, grid_data[i].actions),
                                   rtol=1e-5, atol=1e-5)
    flat = redistribute_dataset(model, grid_data.subset(range(5)))
    assert flat.shape == (int(grid_data.lengths[:5].sum()),)


def test_redistribution_without_baseline_leaves_the_offset_out_of_the_first_step(grid_data):
    model = random_model("cumsum")
    with torch.no_grad():
        model.offset.fill_(0.7)
    traj = grid_data[0]
    r = redistributed_rewards(model, traj.features, traj.actions)
    centred = redistributed_rewards(model, traj.features, traj.actions, baseline=False)
    np.testing.assert_allclose(centred[1:], r[1:])
    assert np.isclose(centred[0], r[0] - 0.7 * float(model.score_scale), rtol=1e-6, atol=1e-6)


def test_sequence_loss_matches_definition():
    g = torch.tensor([[0.0, 1.0, 2.0, 3.0, 9.0], [1.0, 1.0, 9.0, 9.0, 9.0]])
    aux = torch.tensor([[1.0, 0.0, 0.0, 0.0, 9.0], [0.0, 0.0, 9.0, 9.0, 9.0]])
    y = torch.tensor([3.0, 2.0])
    lens = torch.tensor([4, 2])
    loss = sequence_loss(g, aux, y, lens, lam=0.1, horizon=3)
    # trajectory 0: final (3-3)^2; mid mean(9,4,1,0)=3.5; aux targets g_3=3 then y=3: mean(4,9,9,9)=7.75
    # trajectory 1: final (1-2)^2 = 1; mid mean(1,1)=1; aux targets y=2: mean(4,4)=4
    np.testing.assert_allclose(loss.numpy(), [0.1 * (3.5 + 7.75), 1 + 0.1 * (1 + 4)], rtol=1e-6)


# Learned figures below: measured here (AVX-512) with training seed 0, and over training seeds 0-23 (0-17
# for the per-step rewards) plus seeds 0-2 with AVX2 / SSE kernels (ATEN_CPU_CAPABILITY,
# MKL_ENABLE_INSTRUCTIONS, MKL_CBWR) standing in for other CPUs; each threshold sits well clear of the
# whole range given beside it.
def test_training_learns_to_avoid_the_toll(trained, grid_data, toll_labels):
    res, _, curve = trained
    held = res.metrics["held_out"]
    assert held["corr"] > 0.8, held  # 0.950 here; 0.94-0.99
    assert held["true_corr"] > 0.8  # equal to corr: noise-free labels
    assert held["sign_acc"] > 0.8  # 1.000 here; 0.92-1.00
    assert len(curve) == res.epochs and curve[0][0] == 1
    assert res.best_epoch >= 1 and not res.interrupted
    # the per-step rewards are more negative on (and right around) toll-road steps than elsewhere
    # (a mark is a -1; t = 0 is left out: r_0 carries the expected score of the whole trajectory)
    r = redistribute_dataset(res.model, grid_data)
    toll = toll_labels.marks < 0
    later = np.ones(len(r), bool)
    later[np.concatenate([[0], np.cumsum(grid_data.lengths)[:-1]])] = False
    near = toll | np.concatenate([[False], toll[:-1]])  # most credit lands on the step after (see report)
    assert r[toll & later].mean() < r[~near & later].mean() - 0.05  # 0.42 lower here; 0.40-0.55
    assert r[near & later].mean() < r[~near & later].mean() - 0.15  # 0.39 lower here; 0.38-0.51
    assert reward_scale(res.model, grid_data, res.train_indices) == pytest.approx(res.reward_scale, rel=1e-5)
    spread = candidate_spread(res.model, grid_data, res.train_indices, seed=0)
    assert spread == pytest.approx(res.sidecar["candidate_spread"]["history"], rel=1e-5)
    assert 0 < spread < res.reward_scale


def test_candidate_rewards_prefer_moves_off_the_toll(trained, grid_data):
    """At a decision next to the toll road, the moves onto it get lower intent rewards than the others."""
    from dpf_gui.envs import make_env
    from dpf_gui.envs.gridnav import MOVES

    res = trained[0]
    env = make_env("gridnav")
    stepper = IntentStepper(res.model)
    below = decisions = 0
    gaps = []
    for i in res.val_indices[:30]:
        traj = grid_data[int(i)]
        stepper.reset()
        for t in range(traj.length):
            x, y = round(traj.features[t][0] * 9), round(traj.features[t][1] * 9)
            onto = [a for a, (dx, dy) in enumerate(MOVES)
                    if traj.legal[t][a] and env.terrain_at(x + dx, y + dy) == "toll"]
            off = [a for a in np.flatnonzero(traj.legal[t]) if a not in onto]
            r = stepper.rewards(traj.features[t], traj.legal[t])
            if onto and off:
                decisions += 1
                below += int(r[onto].mean() < r[off].mean())
                gaps.append(r[off].mean() - r[onto].mean())
            stepper.advance(int(traj.actions[t]))
    assert decisions > 20  # 310 here; 209-310
    # With lam = 2 the model anticipates (g_t tracks the expected score), so moves *toward* the toll road
    # also score low and the move onto it is not always strictly the lowest (that fraction ranged 0.43-1.00
    # over the runs: no test). On average over its candidates it is below the others nearly always: chance
    # is a half; 0.99 here; 0.83-1.00.
    assert below / decisions > 0.7
    assert np.mean(gaps) > 0.02  # score units (a toll step is a -1 mark): 0.063 here; 0.055-0.18


def test_checkpoint_round_trip_and_wrong_env(trained, grid_data):
    res, out, _ = trained
    model, meta = load_intent(out, expect_env="gridnav")
    assert meta["kind"] == "intent" and meta["env"] == "gridnav"
    assert res.sidecar == meta and len(meta["weights_sha256"]) == 64  # handed back as saved, checksum included
    assert meta["labels"]["mode"] == "avoid" and meta["labels"]["count"] == 200
    assert meta["labels"]["data_fingerprint"] == grid_data.fingerprint()
    assert meta["score_scale"] == pytest.approx(res.score_scale)
    assert meta["reward_scale"] == pytest.approx(res.reward_scale)
    assert len(meta["training_curve"]) == res.epochs
    assert meta["metrics"]["held_out"]["corr"] == pytest.approx(res.metrics["held_out"]["corr"])
    assert meta["observation"]["features"] == grid_data.meta["feature_names"]
    json.dumps(meta)  # plain JSON
    traj = grid_data[3]
    np.testing.assert_array_equal(model.predict(traj.features, traj.actions),
                                  res.model.predict(traj.features, traj.actions))
    assert (out / "training_curve.csv").is_file()
    with pytest.raises(UserError, match="pong"):
        load_intent(out, expect_env="pong")


def test_uninformative_labels_are_refused(grid_data, toll_labels):
    def labels(scores, labelled):
        return Labels(scores=np.asarray(scores, np.float32), labelled=np.asarray(labelled, bool),
                      true_scores=np.full(len(scores), np.nan, np.float32), marks=toll_labels.marks,
                      lengths=toll_labels.lengths, meta=dict(toll_labels.meta))

    n = len(grid_data)
    with pytest.raises(UserError, match="same score"):
        train_intent(grid_data, labels(np.full(n, -2.0), np.ones(n)), seed=0, progress=False)
    with pytest.raises(UserError, match="only 0"):
        train_intent(grid_data, labels(toll_labels.scores, np.zeros(n)), seed=0, progress=False)
    few = np.zeros(n, bool)
    few[:3] = True
    with pytest.raises(UserError, match="only 3"):
        train_intent(grid_data, labels(toll_labels.scores, few), seed=0, progress=False)
    with pytest.raises(UserError, match=r"different trajectory dataset|cover"):
        train_intent(grid_data.subset(range(50)), toll_labels, seed=0, progress=False)


def test_binary_labels_and_cancel(grid_data):
    wish = make_wish(grid_data.region_features, avoid=["terrain=toll"])
    labels = label_dataset(grid_data, wish, FeedbackNoise(binary=True, skip=0.5), seed=1)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 7  # 80 training trajectories, 16 a batch: 5 batches an epoch

    res = train_intent(grid_data, labels, seed=0, config=IntentConfig(max_epochs=5, **SMALL),
                       progress=False, should_stop=stop)
    assert res.interrupted and res.epochs == 1
    assert res.score_scale <= 1.0  # binary: RMS of -1/0 scores
    assert res.metrics["held_out"]["n"] >= 1
    assert res.metrics["interrupted"] is True


def test_same_seed_same_weights(grid_data, toll_labels):
    cfg = IntentConfig(max_epochs=2, **SMALL)
    a = train_intent(grid_data, toll_labels, seed=3, config=cfg, progress=False).model.state_dict()
    b = train_intent(grid_data, toll_labels, seed=3, config=cfg, progress=False).model.state_dict()
    c = train_intent(grid_data, toll_labels, seed=4, config=cfg, progress=False).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    eps = train_intent(grid_data, toll_labels, seed=3, config=IntentConfig(max_epochs=2, adam_eps=1e-4, **SMALL),
                       progress=False).model.state_dict()
    assert not all(torch.equal(a[k], eps[k]) for k in a)  # adam_eps reaches the optimiser (EXPERIMENTS 91)


def test_fit_metrics():
    m = fit_metrics(np.array([-3.0, -1.0, 0.5, 2.0]), np.array([-2.0, -1.0, 0.0, 1.0]), np.array([-2, -1, 0, np.nan]))
    assert m["corr"] > 0.9 and m["sign_acc"] == 1.0 and m["pair_acc"] == 1.0 and m["true_corr"] > 0.9
    assert fit_metrics(np.array([1.0]), np.array([1.0]))["corr"] is None


def test_an_early_stop_is_said(grid_data, toll_labels, capsys):
    """The progress bar and the metrics say when (and why) training ended before max_epochs."""
    cfg = IntentConfig(max_epochs=30, patience=1, min_delta=0.99, **SMALL)  # no epoch improves enough
    res = train_intent(grid_data, toll_labels, seed=0, config=cfg, progress=True)
    assert res.epochs < 30 and res.metrics["stopped_early"] == "no held-out improvement for 1 epochs"
    assert f"stopped early at epoch {res.epochs} of 30" in capsys.readouterr().err
    full = train_intent(grid_data, toll_labels, seed=0, config=IntentConfig(max_epochs=1, **SMALL), progress=False)
    assert full.metrics["stopped_early"] is None

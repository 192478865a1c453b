"""Fusion maths and an end-to-end gridnav run: label, train a small intent model, evaluate."""

import itertools
from typing import ClassVar

import numpy as np
import pytest

from dpf_gui.errors import UserError
from dpf_gui.fusion import (
    EpisodeRows,
    FusedAgent,
    FusionParams,
    intent_scale,
    task_q_scale,
)
from dpf_gui.strategies import (
    dynamic_temperature,
    fusion_weight,
    geometric_fusion,
    softmax_legal,
)


def test_geometric_mean_is_normalised_and_matches_the_logit_sum():
    rng = np.random.default_rng(0)
    legal = np.array([True, True, False, True])
    q, r = rng.normal(size=4), rng.normal(size=4)
    p_task, p_intent = softmax_legal(q, legal, 0.7), softmax_legal(r, legal, 0.4)
    fused = geometric_fusion(p_task, p_intent)
    assert fused.sum() == pytest.approx(1.0) and fused[2] == 0.0
    expected = softmax_legal(q / 0.7 + r / 0.4, legal, 2.0)  # sqrt(p*p') is softmax of half the summed logits
    assert np.allclose(fused, expected)
    # greedy on the fused policy == argmax of Q/T_phi + r/T_psi: the intent's share is w = T_phi/(T_phi+T_psi)
    assert int(np.argmax(fused)) == int(np.argmax(np.where(legal, q / 0.7 + r / 0.4, -np.inf)))


def test_geometric_mean_minimises_the_summed_kl():
    legal = np.ones(3, bool)
    p, pp = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    fused = geometric_fusion(p, pp)

    def cost(x):
        return np.sum(x * np.log(x / p)) + np.sum(x * np.log(x / pp))

    rng = np.random.default_rng(1)
    for _ in range(200):
        other = rng.dirichlet(np.ones(3))
        assert cost(fused) <= cost(other) + 1e-12
    assert legal.all()


def test_dynamic_temperature_limits_and_monotonicity():
    params = FusionParams(T_min=0.3, T_max=5.0, k=1.0, c=3.0)
    values = [dynamic_temperature(g, params) for g in np.linspace(-50, 50, 201)]
    assert all(b >= a for a, b in itertools.pairwise(values))  # more collected intent reward: warmer intent
    assert min(values) == pytest.approx(0.3)
    assert max(values) == pytest.approx(5.0, rel=1e-6)
    assert dynamic_temperature(3.0, params) == pytest.approx(2.5)  # T_max/2 at G = c
    assert dynamic_temperature(1e6, params) == pytest.approx(5.0)  # no overflow
    assert dynamic_temperature(-1e6, params) == pytest.approx(0.3)


def test_fusion_weight():
    assert fusion_weight(1.0, 1.0) == 0.5
    assert fusion_weight(1.0, 0.3) == pytest.approx(1 / 1.3)
    assert fusion_weight(1.0, 1e9) < 1e-8


@pytest.mark.parametrize("kwargs", [{"T_phi": 0}, {"T_min": -1}, {"T_min": 6, "T_max": 5}, {"k": -1}, {"decay": 0},
                                    {"decay": 1.5}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(UserError):
        FusionParams(**kwargs)


def test_overrides_name_the_allowed_parameters():
    with pytest.raises(UserError,
                       match="allowed: T_max, T_min, T_phi, T_static, c, collect, confidence, decay, k, margin, "
                             "normalise, risk, sample, strength"):
        FusionParams().with_overrides({"temperature": 1})


def test_intent_scale_prefers_the_candidate_spread():
    side = {"reward_scale": 2.0, "candidate_spread": {"history": 0.5, "markov": 0.25}}
    assert intent_scale(side) == 0.5 and intent_scale(side, markov=True) == 0.25
    assert intent_scale({"reward_scale": 2.0}) == 2.0 and intent_scale(None) == 1.0


class _StubTask:
    """Three actions, the task always prefers action 0 by one Q-spread."""

    sidecar: ClassVar[dict] = {"metrics": {"q_scale": {"legal_std": 1.0}}}

    def q_values_batch(self, features):
        return np.tile([1.0, 0.0, 0.0], (len(features), 1))


class _StubStepper:
    """Intent that always rewards action 2 by 1.5 over the others (score units), for one episode."""

    g_prev_rows = np.zeros(1)

    def score_rows(self, features, legal):
        return np.array([[0.0, 0.0, 1.5]])

    def realized_rows(self, actions):
        return np.where(np.asarray(actions) == 2, 0.5, 0.0)  # the immediate reward the intent expects

    def advance_rows(self, actions):
        pass


def _dynamic_agent(params):
    agent = FusedAgent(_StubTask(), "task", params)
    agent.strategy, agent.rows = "dynamic", EpisodeRows(np.zeros(1), _StubStepper(), [np.random.default_rng(0)])
    return agent


@pytest.mark.parametrize("decay", [1.0, 0.8])
def test_the_budget_counts_collected_reward_in_units_and_every_override(decay):
    params = FusionParams(T_min=0.3, T_max=10.0, k=1.0, c=3.0, decay=decay, collect="budget")
    agent = _dynamic_agent(params)
    agent.intent_unit = 0.25
    legal = np.ones(3, bool)
    expected = 0.0
    for _ in range(20):
        d = agent.decide(np.zeros(1), legal)
        assert d.collected == pytest.approx(expected)
        overrides = float(d.action != int(np.argmax(d.q)))
        expected = decay * expected + (0.5 / 0.25 if d.action == 2 else 0.0) + overrides
    assert expected > 0  # the intent's action was taken at least once, so something was counted


@pytest.mark.parametrize("decay", [1.0, 0.8])
def test_collected_intent_reward_is_a_forgetting_sum_of_gained_advantages(decay):
    params = FusionParams(T_min=0.3, T_max=2.0, k=1.0, c=3.0, decay=decay, collect="gains")
    agent = _dynamic_agent(params)
    legal = np.ones(3, bool)
    expected, actions = 0.0, []
    for _ in range(30):
        d = agent.decide(np.zeros(1), legal)
        assert d.collected == pytest.approx(expected)  # G_t is what was collected before this decision
        assert d.T_psi == pytest.approx(dynamic_temperature(expected, params))
        assert d.weight == pytest.approx(1.0 / (1.0 + d.T_psi))
        expected = decay * expected + max(d.intent_rewards[d.action] - d.intent_rewards.mean(), 0.0)
        actions.append(d.action)
    assert actions[0] == 2  # cold intent temperature: the intent wins the first decision
    handover = actions.index(0)  # warm after collecting: the task takes over ...
    if decay == 1.0:  # ... and keeps it: overruling the intent does not pay G_t back (no alternating trap)
        assert set(actions[handover:]) == {0}
    if decay < 1:  # a forgetting sum stays bounded by advantage / (1 - decay)
        assert d.collected <= 1.0 / (1 - decay) + 1e-9
    agent.reset()
    assert agent.collected == 0.0


def test_a_task_agent_without_a_stored_q_scale_is_flagged():
    assert task_q_scale({"metrics": {"q_scale": {"legal_std": 0.25}}}) == 0.25
    with pytest.warns(UserWarning, match="q_scale"):
        assert task_q_scale({"metrics": {}}) == 1.0

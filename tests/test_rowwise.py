"""The decision path's numpy copies of the networks compute what the torch modules compute.

The reference is each torch module run in float64 (what the decision path ran before it moved to numpy,
:mod:`dpf_gui.rowwise`): outputs rounded to float32 agree to the last bit but for rare rounding ties, and
the LSTM's scores along a walk agree to float32 precision.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from dpf_gui.agents.dqn import QNetwork
from dpf_gui.agents.task_agent import TaskAgent, qnetwork_shapes
from dpf_gui.intent.additive import AdditiveArch, AdditiveIntent
from dpf_gui.intent.model import IntentArch, IntentModel
from dpf_gui.intent.stepper import IntentStepper
from dpf_gui.pipeline import load_task_agent


def _torch64(module: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(module).double().eval()


def _states(n: int, n_features: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, n_features)).astype(np.float32)


def _randomised(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():  # heads start at zero: give every weight a value so the comparison means something
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


@pytest.mark.parametrize("env_name", ["gridnav", "pong"])
def test_q_values_match_the_torch_network(env_name):
    task = load_task_agent(env_name)  # loaded: Q-values from the checkpoint's arrays, no torch module yet
    states = _states(500, task.n_features)
    q = task.q_values_batch(states)
    with torch.no_grad():
        ref = _torch64(task.network)(torch.from_numpy(states).double()).float().numpy()
    np.testing.assert_array_max_ulp(q, ref, maxulp=1)
    assert (q != ref).mean() < 0.01
    np.testing.assert_array_equal(task.q_values_batch(states), q)  # now from the built network: the same
    assert {k: tuple(v.shape) for k, v in task.network.state_dict().items()} == \
        qnetwork_shapes(task.n_features, task.n_actions, task.hidden)


def test_a_changed_network_is_copied_again():
    net = QNetwork(5, 3, (8, 8))
    task = TaskAgent(net, {"env": "gridnav"})
    states = _states(20, 5)
    before = task.q_values_batch(states)
    with torch.no_grad():
        net.net[0].weight.mul_(2.0)  # what an optimiser step or load_state_dict does: in place
        ref = _torch64(net)(torch.from_numpy(states).double()).float().numpy()
    after = task.q_values_batch(states)
    assert not np.array_equal(before, after)
    np.testing.assert_array_max_ulp(after, ref, maxulp=1)


def test_additive_heads_match_the_torch_ensemble():
    model = _randomised(AdditiveIntent(AdditiveArch(6, 4, n_code=1, members=4, hidden=16)), 0.5, 0)
    model.set_normalisation(np.linspace(-1, 1, 6), np.linspace(0.5, 2, 6), score_scale=2.5)
    states = _states(200, 6)
    immediate, value = model.heads(states)
    with torch.no_grad():
        out = _torch64(model.value)(model.standardise(states).double()).float() * model.score_scale
    np.testing.assert_array_max_ulp(immediate.astype(np.float32), out[..., :4].numpy(), maxulp=1)
    np.testing.assert_array_max_ulp(value.astype(np.float32), out[..., 4:].numpy(), maxulp=1)
    with torch.no_grad():  # training changes the weights in place: the next call reads them again
        model.value.weights[-1].mul_(-1.0)
        model.value.biases[-1].mul_(-1.0)
    np.testing.assert_array_equal(model.heads(states)[1], -value)


def _reference_scores(model: IntentModel, feats: np.ndarray, taken: np.ndarray, markov: bool) -> np.ndarray:
    """g_t(a) of every step and candidate (T, A): the torch model in float64, one LSTM step per decision."""
    m64, a = _torch64(model), model.arch.n_actions
    state, g_prev, out = None, 0.0, []
    with torch.no_grad():
        for t, f in enumerate(feats):
            x = torch.from_numpy(np.repeat(f[None, None], a, 0)).double()
            st = None if state is None else tuple(s.expand(1, a, -1).contiguous() for s in state)
            d, _, (h, c) = m64(x, torch.arange(a)[:, None], st, start=state is None)
            g = d[:, 0].numpy() * float(model.score_scale)
            if model.arch.readout == "cumsum":
                g = g + g_prev
            out.append(g)
            if not markov:
                k = int(taken[t])
                state, g_prev = (h[:, k:k + 1], c[:, k:k + 1]), g[k]
    return np.array(out)


@pytest.mark.parametrize("readout, action_in, markov", [("cumsum", 1, False), ("direct", 1, False),
                                                        ("cumsum", 0, False), ("cumsum", 1, True)])
def test_stepper_matches_the_torch_model_step_by_step(readout, action_in, markov):
    torch.manual_seed(1)
    model = IntentModel(IntentArch(6, 4, embed=16, hidden=16, readout=readout, action_in=action_in, block=3))
    model.set_normalisation(np.linspace(-1, 1, 6), np.linspace(0.5, 2, 6), score_scale=3.0, mean_length=20,
                            mean_target=-0.5)
    model = _randomised(model, 0.3, 2)
    feats, taken = _states(40, 6, seed=3), np.random.default_rng(4).integers(0, 4, 40)
    ref = _reference_scores(model, feats, taken, markov)
    stepper = IntentStepper(model, markov=markov)
    got = []
    for f, a in zip(feats, taken, strict=True):
        got.append(stepper.score_actions(f))
        stepper.advance(int(a))
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-6, atol=1e-6)


def test_a_changed_intent_model_is_copied_again():
    torch.manual_seed(0)
    model = _randomised(IntentModel(IntentArch(6, 4, embed=16, hidden=16)), 0.3, 0)
    f = _states(1, 6)[0]
    before = IntentStepper(model).score_actions(f)
    with torch.no_grad():
        model.head.weight.mul_(-1.0)
    after = IntentStepper(model).score_actions(f)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, _reference_scores(model, f[None], np.zeros(1), False)[0], rtol=1e-6, atol=1e-6)

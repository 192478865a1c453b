"""Batched evaluation plays exactly the episodes of the one-at-a-time loop, and --jobs N gives what --jobs 1 gives.

The intent models here are random (seeded) networks, not trained ones: equality must hold for any
weights, and random ones change the decisions without a training run (checked below, so the
comparisons are not between task-only runs).
"""

import copy
import json

import numpy as np
import pytest
import torch

from dpf_gui.agents.heuristics import baselines
from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.cli import main
from dpf_gui.errors import UserError
from dpf_gui.evaluate import (
    _play_chunk,
    play_agents,
    play_records,
    play_records_batched,
    play_records_sequential,
)
from dpf_gui.fusion import BaselineAgent, FusedAgent, FusionParams
from dpf_gui.intent.additive import AdditiveArch, AdditiveIntent
from dpf_gui.intent.model import IntentArch, IntentModel
from dpf_gui.intent.registry import make_stepper
from dpf_gui.parallel import map_jobs
from dpf_gui.pipeline import load_task_agent

SCALE = 0.1  # intent rewards / 0.1: large enough that the random intents below overrule the task agent at times
PONG_CONFIG = {"max_decisions": 80}  # short points keep the test fast; truncation is an ending like any other


def _perturbed(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():  # the value heads start at zero: give them weights so the intent has a say
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


def additive_intent(task: TaskAgent, seed: int = 0) -> AdditiveIntent:
    torch.manual_seed(seed)
    model = AdditiveIntent(AdditiveArch(task.n_features, task.n_actions, n_code=1, members=4, hidden=16))
    return _perturbed(model, 0.5, seed)


def lstm_intent(task: TaskAgent, seed: int = 0) -> IntentModel:
    torch.manual_seed(seed)
    model = IntentModel(IntentArch(task.n_features, task.n_actions, embed=16, hidden=16))
    model.set_normalisation(np.zeros(task.n_features), np.ones(task.n_features), score_scale=3.0, mean_length=20,
                            mean_target=-0.5)
    return _perturbed(model, 0.3, seed)


INTENTS = {"additive": additive_intent, "lstm": lstm_intent}


@pytest.fixture(scope="module")
def tasks():
    return {name: load_task_agent(name) for name in ("gridnav", "pong")}


def assert_same_records(one_by_one, batched):
    assert len(one_by_one) == len(batched)
    for k, (a, b) in enumerate(zip(one_by_one, batched, strict=True)):
        where = f"episode {k}"
        assert a.length == b.length, where
        np.testing.assert_array_equal(a.actions, b.actions, err_msg=where)
        np.testing.assert_array_equal(a.regions, b.regions, err_msg=where)
        np.testing.assert_array_equal(a.weights, b.weights, err_msg=where)  # NaN where no weight, on both sides
        assert (a.task_success, a.task_return) == (b.task_success, b.task_return), where
        assert (a.guarded, a.held_back) == (b.guarded, b.held_back), where


def _setting(env_name):
    if env_name == "pong":
        return PONG_CONFIG, list(range(5000, 5003)), 2  # 3 episodes, 2 at once: one refill
    return None, list(range(5000, 5012)), 5  # 12 episodes, 5 at once: refills, ragged ends


CASES = [(env, kind, strategy) for env in ("gridnav", "pong") for kind in INTENTS for strategy in ("static", "dynamic")]
CASES += [("gridnav", None, "task"), ("pong", None, "task")]


@pytest.mark.parametrize("env_name, kind, strategy", CASES)
def test_batched_play_equals_one_at_a_time(tasks, env_name, kind, strategy):
    task = tasks[env_name]
    intent = INTENTS[kind](task) if kind else None
    agent = FusedAgent(task, strategy, FusionParams(), intent=intent, intent_scale=SCALE, seed=1)
    config, seeds, width = _setting(env_name)
    assert_same_records(play_records_sequential(env_name, agent, seeds, config),
                        play_records_batched(env_name, agent, seeds, config, width=width))


@pytest.mark.parametrize("kind, strategy, params, markov", [
    ("additive", "dynamic", FusionParams(collect="budget", decay=0.9, sample=True), False),
    ("additive", "dynamic", FusionParams(margin=0.5, strength=8.0), False),  # a guard: its counts match too
    ("lstm", "dynamic", FusionParams(collect="advantage", sample=True), False),
    ("lstm", "dynamic", FusionParams(), True),
    ("additive", "intent", FusionParams(), False),
    ("lstm", "retrain", FusionParams(), False),
])
def test_batched_play_equals_one_at_a_time_in_every_mode(tasks, kind, strategy, params, markov):
    task = tasks["gridnav"]
    prepared = None
    if strategy == "retrain":
        prepared = TaskAgent(_perturbed(copy.deepcopy(task.network), 0.05, 3), task.sidecar)
    agent = FusedAgent(task, strategy, params, intent=INTENTS[kind](task), intent_scale=SCALE, markov=markov,
                       prepared=prepared, seed=2, intent_unit=0.7)
    config, seeds, width = _setting("gridnav")
    assert_same_records(play_records_sequential("gridnav", agent, seeds, config),
                        play_records_batched("gridnav", agent, seeds, config, width=width))


@pytest.mark.parametrize("env_name", ["gridnav", "pong"])
def test_network_outputs_do_not_depend_on_the_batch(tasks, env_name):
    """float32 kernels sum in a batch-size-dependent order (most rows differ in the last bits); ours must not."""
    task = tasks[env_name]
    states = np.random.default_rng(0).normal(size=(64, task.n_features)).astype(np.float32)
    q, (immediate, value) = task.q_values_batch(states), (intent := additive_intent(task)).heads(states)
    for i in range(0, len(states), 5):
        np.testing.assert_array_equal(task.q_values_batch(states[i:i + 1])[0], q[i])
        np.testing.assert_array_equal(task.q_values_batch(states[i:i + 3]), q[i:i + 3])
        one = intent.heads(states[i:i + 1])
        np.testing.assert_array_equal(one[0][:, 0], immediate[:, i])
        np.testing.assert_array_equal(one[1][:, 0], value[:, i])
    model, rng = lstm_intent(task), np.random.default_rng(1)
    rows, alone = make_stepper(model, rows=4), [make_stepper(model) for _ in range(4)]
    for _ in range(6):  # the LSTM's memory of 4 episodes in one stepper and in 4 separate ones
        feats = rng.normal(size=(4, task.n_features)).astype(np.float32)
        one_by_one = np.stack([s.score_actions(f) for s, f in zip(alone, feats, strict=True)])
        np.testing.assert_array_equal(rows.score_rows(feats), one_by_one)
        actions = rng.integers(0, task.n_actions, 4)
        rows.advance_rows(actions)
        for s, a in zip(alone, actions, strict=True):
            s.advance(int(a))


@pytest.mark.parametrize("env_name", ["gridnav", "pong"])
def test_the_random_intents_change_the_decisions(tasks, env_name):
    task = tasks[env_name]
    config, seeds, _ = _setting(env_name)
    plain = play_records(env_name, FusedAgent(task, "task"), seeds, config)
    for make in INTENTS.values():
        fused = play_records(env_name, FusedAgent(task, "static", intent=make(task), intent_scale=SCALE), seeds, config)
        assert any(len(a.actions) != len(b.actions) or (a.actions != b.actions).any()
                   for a, b in zip(plain, fused, strict=True))


def test_both_loops_tell_each_ended_episode_and_stop_when_told(tasks):
    """``on_episode`` counts every episode once in either loop (the calibration's progress bar), and an exception
    it raises stops the play (the calibration's cancel) without spoiling the next play in this process."""
    task = tasks["gridnav"]
    agent = FusedAgent(task, "dynamic", FusionParams(), intent=additive_intent(task), intent_scale=SCALE, seed=1)
    config, seeds, width = _setting("gridnav")
    for play in (play_records_sequential, lambda *a, **kw: play_records_batched(*a, width=width, **kw)):
        told = []
        records = play("gridnav", agent, seeds, config, on_episode=told.append)
        assert sum(told) == len(seeds) == len(records) and all(n >= 1 for n in told)

        def stop(n):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            play("gridnav", agent, seeds, config, on_episode=stop)
        assert_same_records(records, play("gridnav", agent, seeds, config))


def test_agents_without_rows_play_one_at_a_time(tasks):
    task = tasks["pong"]
    agent = BaselineAgent(baselines("pong", task.action_names)["follow-ball"], task.n_actions)
    seeds = [7, 8]
    records = play_records("pong", agent, seeds, PONG_CONFIG)
    assert_same_records(play_records_sequential("pong", agent, seeds, PONG_CONFIG), records)
    assert all(np.isnan(r.weights).all() for r in records)


def test_jobs_give_the_records_of_one_process(tasks):
    task = tasks["gridnav"]
    agents = {
        "task": FusedAgent(task, "task"),
        "dynamic": FusedAgent(task, "dynamic", FusionParams(sample=True), intent=additive_intent(task),
                              intent_scale=SCALE, seed=4),
        "static-lstm": FusedAgent(task, "static", intent=lstm_intent(task), intent_scale=SCALE),
        "const-0": BaselineAgent(baselines("highway", ["a"])["const-a"], task.n_actions),  # sent to a worker too
    }
    seeds = list(range(9000, 9017))
    local = play_agents("gridnav", agents, seeds)
    pooled = play_agents("gridnav", agents, seeds, jobs=3)  # chunks of 6, 6 and 5 episodes per agent
    assert list(pooled) == list(agents)
    for name in agents:
        assert_same_records(local[name], pooled[name])


def test_a_worker_error_reaches_the_caller(tasks):
    agent = FusedAgent(tasks["gridnav"], "task")
    items = [("gridnav", agent, [1], None, None), ("no-such-env", agent, [2], None, None)]
    with pytest.raises(UserError, match="unknown environment 'no-such-env'"):
        map_jobs(_play_chunk, items, jobs=2)


def test_cli_evaluate_jobs_writes_the_same_table(tmp_path, capsys):
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.json"
        assert main(["evaluate", "--env", "gridnav", "--strategies", "task", "--episodes", "9", "--seed", "5",
                     "--preset", "avoid", "--jobs", jobs, "--json", str(out), "--quiet"]) == 0
        outs.append(json.loads(out.read_text()))
    capsys.readouterr()
    assert outs[0] == outs[1]
    assert outs[0]["strategies"]["task"]["length"]["mean"] > 0

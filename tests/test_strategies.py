"""The strategy registry and the fusion parameters' metadata: one declaration reaches every place that offers them."""

import dataclasses

import pytest

from dpf_gui import strategies
from dpf_gui.errors import UserError
from dpf_gui.fusion import FusedAgent
from dpf_gui.fusion_params import PARAMS, FusionParams, cli_params, slider_params
from dpf_gui.pipeline import build_agents, load_task_agent
from dpf_gui.strategies import Choice, Strategy, greedy, names, register


def _contrary(step):
    """The task agent's worst legal action: a strategy no built-in resembles."""
    return Choice(step.p_task, greedy(-step.q, step.legal))


@pytest.fixture()
def contrary(monkeypatch):
    """A strategy registered by this test module alone (the registry is restored afterwards)."""
    monkeypatch.setattr(strategies, "_REGISTRY", dict(strategies._REGISTRY))
    return register(Strategy("contrary", "the task agent's worst action", _contrary, needs_intent=False))


def test_the_built_in_strategies_and_what_they_declare():
    assert names() == ("task", "intent", "static", "dynamic", "retrain")
    assert names(live=True) == ("task", "intent", "static", "dynamic")  # retrain prepares a network first
    assert names(fused=True) == ("static", "dynamic")
    assert names(needs_intent=False) == ("task",)
    with pytest.raises(UserError, match=r"unknown strategy 'best'; allowed: task, intent, static, dynamic, retrain"):
        strategies.get("best")
    with pytest.raises(UserError, match="needs an intent model: train one"):
        strategies.require_intent(["task", "static"], False, "train one")
    strategies.require_intent(["task"], False, "train one")


def test_a_registration_is_checked(contrary):
    with pytest.raises(ValueError, match="registered already"):
        register(contrary)
    with pytest.raises(ValueError, match="unknown fusion parameters"):
        register(Strategy("other", "x", _contrary, params=("temperature",)))


def test_one_registration_reaches_the_cli_and_the_evaluation(contrary, capsys):
    from dpf_gui.cli import main

    assert "contrary" in names(live=True)
    assert main(["evaluate", "--env", "gridnav", "--strategies", "task,contrary", "--episodes", "3", "--quiet"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["task"][1] == "1.000" and rows["contrary"][1] == "0.000"  # task_success: the worst action never arrives


def test_one_registration_reaches_the_apps_combos(contrary, qtbot):
    from dpf_gui.app.play_widgets import enable_strategies, strategy_combo

    combo = strategy_combo("strategyCombo", "task")
    assert [combo.itemText(i) for i in range(combo.count())] == list(names(live=True))
    enable_strategies(combo, has_intent=False)  # needs no intent: offered without one
    assert combo.model().item(names(live=True).index("contrary")).isEnabled()
    assert not combo.model().item(names(live=True).index("dynamic")).isEnabled()


def test_a_strategy_that_prepares_is_built_by_build_agents():
    task = load_task_agent("gridnav")
    with pytest.raises(UserError, match="needs what it prepares first"):
        FusedAgent(task, "retrain", intent=object())
    with pytest.raises(UserError, match="strategy 'retrain' needs an intent model: pass --intent DIR"):
        build_agents(task, ["task", "retrain"])


def test_every_fusion_parameter_is_declared_once_for_the_cli_and_the_panel():
    assert list(PARAMS) == [f.name for f in dataclasses.fields(FusionParams)]
    assert all(p.help and p.title for p in PARAMS.values())
    for name, p in slider_params().items():  # the default sits on its slider
        assert p.slider[0] <= getattr(FusionParams(), name) <= p.slider[1]
        assert p.allowed is None or (p.allowed.allows(p.slider[1]) and (p.log or p.allowed.allows(p.slider[0])))
    assert "normalise" not in cli_params() and "margin" not in slider_params()
    with pytest.raises(UserError, match="collect"):
        FusionParams(collect="sometimes")  # the metadata's choices are the check's


def test_the_cli_options_come_from_the_metadata():
    from dpf_gui.cli import build_parser
    from dpf_gui.cli.fusion_options import fusion_overrides

    args = build_parser().parse_args(["evaluate", "--env", "gridnav", "--T-static", "0.5", "--sample",
                                      "--collect", "gains", "--margin", "2"])
    assert fusion_overrides(args) == {"T_static": 0.5, "sample": True, "collect": "gains", "margin": 2.0}
    assert fusion_overrides(build_parser().parse_args(["evaluate", "--env", "gridnav"])) == {}
    off = fusion_overrides(build_parser().parse_args(["evaluate", "--env", "highway", "--margin", "none"]))
    assert off == {"margin": None}  # lifts highway's stored margin
    assert FusionParams(margin=0.5).with_overrides(off).margin is None


def test_highways_shipped_defaults_guard_fused_actions_against_crash_risk():
    """Highway's sidecar sets ``risk`` 0.005 and no margin (docs/EXPERIMENTS.md, "Highway: a guard against crash
    risk"): however loud the intent, a fused decision takes only actions the shipped risk model rates at most
    0.005 likelier to fail soon than the task agent's own choice; the margin (0.5, its earlier default) keeps
    them within half a typical Q difference of its best. Without a guard the same intent overrules both (so the
    checks can fail)."""
    import numpy as np

    from dpf_gui.agents.task_agent import stored_q_scale
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.pipeline import fusion_params
    from tests.test_batched_eval import additive_intent

    task = load_task_agent("highway")
    params = fusion_params(task)
    assert (params.risk, params.margin) == (0.005, None) and task.risk_model is not None
    data = TrajectoryDataset.load(task.dataset_path, expect_env="highway")
    states, legal = data.features[:400], data.legal[:400]
    q = task.q_values_batch(states) / stored_q_scale(task.sidecar)
    gap = np.where(legal, q, -np.inf).max(axis=1, keepdims=True) - q
    risk = task.risk_model.risks(states)
    at = np.arange(len(states))
    own = risk[at, np.argmax(np.where(legal, q, -np.inf), axis=1)]
    intent = additive_intent(task)  # random weights with a say
    guards = {"risk": {"risk": params.risk, "margin": None}, "margin": {"risk": None, "margin": 0.5},
              "none": {"risk": None, "margin": None}}
    for strategy in ("static", "dynamic"):
        taken = {}
        for name, guard in guards.items():
            agent = FusedAgent(task, strategy, dataclasses.replace(params, strength=8.0, **guard), intent=intent,
                               intent_scale=0.01, seed=0)
            agent.reset(0)
            taken[name] = np.array([agent.decide(f, ok).action for f, ok in zip(states, legal, strict=True)])
        assert np.all(risk[at, taken["risk"]] <= own + params.risk + 1e-5)  # float32 here, float64 in the decision
        assert gap[at, taken["margin"]].max() <= 0.5 + 1e-4
        assert np.any(risk[at, taken["none"]] > own + params.risk + 1e-5) and gap[at, taken["none"]].max() > 0.5

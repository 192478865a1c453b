"""Assemble what a run needs from checkpoints: task agent, intent model, fused agents.

The CLI and the app both build their agents here, so a strategy means the same
thing in a script, a study and a lab demo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.fusion import FusedAgent, FusionParams, intent_scale, intent_unit
from dpf_gui.paths import shipped_model
from dpf_gui.strategies import get as get_strategy
from dpf_gui.strategies import require_intent


def load_task_agent(env_name: str, directory: str | Path | None = None) -> TaskAgent:
    """The task agent at ``directory``, or the shipped one for ``env_name``."""
    return TaskAgent.load(directory if directory is not None else shipped_model(env_name), expect_env=env_name)


def task_region_features(task: TaskAgent):
    """Region features of the task agent's environment config (gridnav layouts change x/y ranges)."""
    env = task.make_env()
    features = getattr(env, "region_features", env.spec_info.region_features)
    env.close()
    return features


def fusion_params(task: TaskAgent, overrides: Mapping[str, Any] | None = None) -> FusionParams:
    """Defaults, then those stored with the task agent, then the caller's overrides."""
    return FusionParams().with_overrides(task.fusion).with_overrides(overrides)


#: what a command says when a strategy needs an intent model and none was given
INTENT_TIP = "pass --intent DIR (train one with `dpf train-intent`)"


def build_agents(task: TaskAgent, strategies: Sequence[str], intent_dir: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None, markov: bool = False,
                 seed: int = 0, progress: bool = True) -> dict[str, FusedAgent]:
    """One :class:`FusedAgent` per strategy name, sharing the task agent and intent model; what a strategy
    prepares (``retrain``'s fine-tuned network) is built here, once."""
    chosen = [get_strategy(name) for name in strategies]
    require_intent(strategies, intent_dir is not None, INTENT_TIP)
    intent = sidecar = None
    if intent_dir is not None:
        from dpf_gui.intent.registry import load_intent

        intent, sidecar = load_intent(intent_dir, expect_env=task.env_name)
    params = fusion_params(task, overrides)
    scale = intent_scale(sidecar, markov)
    unit = intent_unit(sidecar)
    return {
        s.name: FusedAgent(task, s.name, params, intent=intent if s.needs_intent else None, intent_scale=scale,
                           markov=markov, seed=seed, intent_unit=unit,
                           prepared=None if s.prepare is None else s.prepare(task, intent_dir, progress))
        for s in chosen
    }

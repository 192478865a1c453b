"""Assemble what a run needs from checkpoints: task agent, intent model, fused agents.

The CLI and the app both build their agents here, so a strategy means the same
thing in a script, a study and a lab demo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.errors import UserError
from dpf_gui.fusion import FusedAgent, FusionParams, intent_scale, intent_unit
from dpf_gui.paths import shipped_model


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


def build_agents(task: TaskAgent, strategies: Sequence[str], intent_dir: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None, markov: bool = False,
                 seed: int = 0, progress: bool = True) -> dict[str, FusedAgent]:
    """One :class:`FusedAgent` per strategy name, sharing the task agent and intent model."""
    intent = sidecar = retrain = None
    needs_intent = [s for s in strategies if s != "task"]
    if needs_intent and intent_dir is None:
        raise UserError(f"strategy {needs_intent[0]!r} needs an intent model: pass --intent DIR (train one with `dpf train-intent`)")
    if intent_dir is not None:
        from dpf_gui.intent.registry import load_intent

        intent, sidecar = load_intent(intent_dir, expect_env=task.env_name)
    if "retrain" in strategies:
        from dpf_gui.agents.retrain import load_or_retrain

        retrain = load_or_retrain(task, intent_dir, progress=progress)
    params = fusion_params(task, overrides)
    scale = intent_scale(sidecar, markov)
    unit = intent_unit(sidecar)
    return {
        name: FusedAgent(task, name, params, intent=intent if name != "task" else None, intent_scale=scale,
                         markov=markov, retrain=retrain, seed=seed, intent_unit=unit)
        for name in strategies
    }

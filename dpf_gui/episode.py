"""One live episode of the fused agent, decision by decision, as the Play and Compare views show it (no Qt).

:class:`EpisodeRunner` owns one environment and one
:class:`~dpf_gui.fusion.FusedAgent` and advances the episode one decision at a
time. Each call returns a :class:`Snapshot`: the frame, the decision about to
be taken in the state shown, its attribution and (gridnav) the intent value
map, the overlay's inputs and the episode metrics so far. Everything that
touches the environment happens inside the runner, so a runner can live in the
UI thread (gridnav, Pong), a worker thread, or a worker process
(:mod:`dpf_gui.episode_worker`, highway in the Play view): a snapshot is plain,
picklable data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpf_gui.back_steps import BackStepCounter
from dpf_gui.errors import UserError
from dpf_gui.fusion import Decision, FusedAgent, FusionParams, guard_held_back, intent_scale, intent_unit
from dpf_gui.overlay_data import OverlayData, overlay_data
from dpf_gui.strategies import get, names, require_intent
from dpf_gui.trace import EpisodeTrace

NEEDS_INTENT_TIP = "train an intent model first"


@dataclass
class EpisodeMetrics:
    """What the view reports while an episode runs (same meaning as :mod:`dpf_gui.evaluate`)."""

    steps: int = 0
    task_return: float = 0.0
    in_prefer: int = 0
    in_avoid: int = 0
    weight_sum: float = 0.0
    weight_count: int = 0
    guarded: int = 0  # fused decisions taken under a guard (FusionParams.margin / risk)
    held_back: int = 0  # of those, the ones where the guard ruled out the unguarded fusion's choice
    success: bool | None = None  # set when the episode ends
    strategies: list[str] = field(default_factory=list)  # every strategy used in this episode
    back: BackStepCounter = field(default_factory=BackStepCounter)  # returns to the regions of two decisions before

    def prefer_fraction(self) -> float | None:
        return self.in_prefer / self.steps if self.steps else None

    def avoid_fraction(self) -> float | None:
        return self.in_avoid / self.steps if self.steps else None

    def mean_weight(self) -> float | None:
        return self.weight_sum / self.weight_count if self.weight_count else None

    def held_back_fraction(self) -> float | None:
        return self.held_back / self.guarded if self.guarded else None

    def count_guard(self, d: Decision, params: FusionParams) -> None:
        """Count a fused decision under a guard, and whether the guard ruled out what the fusion alone would pick
        (:func:`~dpf_gui.fusion.guard_held_back`)."""
        held = guard_held_back(d, params)
        if held is not None:
            self.guarded += 1
            self.held_back += int(held)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "task_return": self.task_return, "prefer_fraction": self.prefer_fraction(),
                "avoid_fraction": self.avoid_fraction(), "prefer_steps": self.in_prefer, "avoid_steps": self.in_avoid,
                "fusion_weight": self.mean_weight(),
                "guard_held_back": self.held_back_fraction(), "task_success": self.success,
                "strategies": list(self.strategies), "back_steps": self.back.count}


@dataclass
class Snapshot:
    """One state of the episode as the view shows it."""

    t: int  # decisions taken so far in this episode
    frame: np.ndarray
    overlay: OverlayData
    decision: Decision | None  # the decision about to be taken in the shown state (None once done)
    attribution: np.ndarray | None  # of that decision's intent reward, in the fusion's units (/ intent_scale)
    # the screen's intent map (gridnav: reward of stepping into each cell), normalised units
    value_map: np.ndarray | None
    reward: float | None  # task reward of the step that led here
    done: bool
    metrics: dict[str, Any]
    strategy: str
    seed: int


def initial_strategy(name: str, has_intent: bool) -> str:
    """The strategy a runner starts with: ``name`` if the views offer it (the live strategies), ``task``
    without an intent model when ``name`` needs one."""
    get(name, among=names(live=True))
    return name if has_intent or not get(name).needs_intent else "task"


def check_strategy(name: str, has_intent: bool) -> None:
    """A switch to ``name`` is possible (a :class:`UserError` saying why not otherwise)."""
    get(name, among=names(live=True))
    require_intent([name], has_intent, NEEDS_INTENT_TIP)


class EpisodeRunner:
    """One environment + one fused agent, advanced one decision at a time (thread-confined, no Qt).

    ``wish`` None: the one the intent model was trained for (:func:`wish_from_sidecar`), if recorded.
    """

    def __init__(self, env_name: str, env_config: Mapping[str, Any] | None, task, intent=None,
                 intent_sidecar: Mapping[str, Any] | None = None, strategy: str = "dynamic",
                 params: FusionParams | None = None, wish=None, markov: bool = False,
                 attribution_method: str = "integrated", attribution_steps: int = 16, saliency: bool = True):
        from dpf_gui.envs import make_env
        from dpf_gui.pipeline import fusion_params

        self.env_name = env_name
        self.env = make_env(env_name, dict(env_config) if env_config is not None else dict(task.env_config))
        self.task = task
        self.intent = intent
        self.sidecar = dict(intent_sidecar or {})
        self.intent_scale = intent_scale(self.sidecar, markov)  # the fusion's unit for intent rewards
        strategy = initial_strategy(strategy, intent is not None)
        self.intent_unit = intent_unit(self.sidecar)  # dynamic fusion's unit of collected intent reward (budget rule)
        self.agent = FusedAgent(task, strategy, params or fusion_params(task), intent=intent,
                                intent_scale=self.intent_scale, markov=markov, intent_unit=self.intent_unit)
        self.wish = wish if wish is not None else wish_from_sidecar(self.env, self.sidecar)
        self.feature_names = list(task.feature_names or self.env.spec_info.feature_names)
        self.action_names = list(task.action_names or self.env.spec_info.action_names)
        self.attribution_method = attribution_method
        self.attribution_steps = int(attribution_steps)
        self.saliency = bool(saliency) and intent is not None
        self._cache: dict[str, Any] = {}
        self.seed = 0
        self.t = 0
        self.done = True
        self.pending: Decision | None = None
        self.metrics = EpisodeMetrics()
        self._attr: np.ndarray | None = None
        self._value_map: np.ndarray | None = None
        self.obs: np.ndarray | None = None
        self.info: dict[str, Any] = {}
        self.region_names = [rf.name for rf in getattr(self.env, "region_features", self.env.spec_info.region_features)]
        self.trace = EpisodeTrace(env_name, 0, self.action_names, self.region_names, wish)  # the episode so far

    # --- control (any thread, between advances) --------------------------
    @property
    def strategy(self) -> str:
        return self.agent.strategy

    def set_strategy(self, name: str) -> None:
        """Switch strategy; it acts from the next decision (the intent's memory and G_t carry on)."""
        check_strategy(name, self.intent is not None)
        self.agent.strategy = name  # FusedAgent reads it on every decision
        if not self.done and name not in self.metrics.strategies:
            self.metrics.strategies.append(name)

    def set_params(self, params: FusionParams) -> None:
        self.agent.set_params(params)

    @property
    def params(self) -> FusionParams:
        return self.agent.params

    # --- the episode -------------------------------------------------------
    def reset(self, seed: int) -> Snapshot:
        self.seed = int(seed)
        self.agent.reset()
        self.obs, self.info = self.env.reset(seed=self.seed)
        self.t = 0
        self.done = False
        self.metrics = EpisodeMetrics(strategies=[self.strategy])
        self.trace = EpisodeTrace(self.env_name, self.seed, self.action_names, self.region_names, self.wish)
        self._decide()
        return self.snapshot(reward=None)

    def advance(self) -> Snapshot:
        """Take the pending decision, then decide in the new state; returns what to show."""
        if self.done or self.pending is None:
            return self.snapshot(reward=None)
        d = self.pending
        self.obs, reward, terminated, truncated, self.info = self.env.step(d.action)
        self.trace.add(self.strategy, d, float(reward), self.info["regions"])
        m = self.metrics
        m.steps += 1
        m.task_return += float(reward)
        if d.weight is not None:
            m.weight_sum += float(d.weight)
            m.weight_count += 1
        m.count_guard(d, self.params)
        regions = np.asarray(self.info["regions"])  # of the state the decision led to
        m.back.add(tuple(regions.tolist()))
        if self.wish is not None:  # as evaluate.play_episode_stats
            m.in_prefer += int(self.wish.in_prefer(regions[None, :])[0])
            m.in_avoid += int(self.wish.in_avoid(regions[None, :])[0])
        self.t += 1
        if terminated or truncated:
            self.done = True
            self.pending = None
            m.success = bool(self.info.get("task_success", False))
            self._attr = self._value_map = None
        else:
            self._decide()
        return self.snapshot(reward=float(reward))

    def _decide(self) -> None:
        explain = None
        if self.saliency:  # imported here: the module needs torch, which only an intent model brings in
            from dpf_gui import saliency as explain
        state = explain.capture_state(self.agent.stepper) if explain else None  # before decide advances it
        legal = np.asarray(self.info["legal"], dtype=bool)
        d = self.agent.decide(self.obs, legal)
        self.pending = d
        self._attr = self._value_map = None
        if explain:
            model = self.intent
            self._attr = explain.attribute(model, state, self.obs, d.action, method=self.attribution_method,
                                           steps=self.attribution_steps) / self.intent_scale
            value_map = type(self.env).screen.intent_map(model, state, self.env)
            if value_map is not None:
                self._value_map = value_map / self.intent_scale

    def snapshot(self, reward: float | None = None) -> Snapshot:
        d = self.pending
        ov = overlay_data(self.env_name, self.env, self.feature_names, self.wish, self._attr, self._value_map,
                          None if d is None else d.action, self._cache)
        return Snapshot(t=self.t, frame=self.env.frame(), overlay=ov, decision=d, attribution=self._attr,
                        value_map=self._value_map, reward=reward, done=self.done, metrics=self.metrics.to_dict(),
                        strategy=self.strategy, seed=self.seed)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.env.close()


def wish_from_sidecar(env, intent_sidecar: Mapping[str, Any] | None):
    """The wish the intent model was trained for (recorded in its sidecar), or None.

    ``env``: anything with the environment's ``region_features`` or ``spec_info`` (an environment, or its class
    where the region features do not depend on the configuration).
    """
    features = getattr(env, "region_features", None) or env.spec_info.region_features
    return recorded_wish(features, intent_sidecar)


def recorded_wish(region_features, intent_sidecar: Mapping[str, Any] | None):
    """The wish recorded in an intent model's sidecar, read in these region features; None if none is recorded
    or it does not parse in them."""
    from dpf_gui.wish import make_wish

    w = ((intent_sidecar or {}).get("labels") or {}).get("wish") or {}
    if not isinstance(w, Mapping) or not (w.get("prefer") or w.get("avoid")):
        return None
    try:
        return make_wish(region_features, prefer=list(w.get("prefer") or ()), avoid=list(w.get("avoid") or ()))
    except UserError:
        return None


__all__ = ["NEEDS_INTENT_TIP", "EpisodeMetrics", "EpisodeRunner", "Snapshot", "check_strategy",
           "initial_strategy", "recorded_wish", "wish_from_sidecar"]

"""Policy fusion: how the task agent and the intent model decide together, step by step.

:class:`FusedAgent` holds a task agent, optionally an intent model, and the
name of a strategy (:mod:`dpf_gui.strategies`, where each strategy and its
policy is declared); it computes what every strategy sees (task Q-values and
policy, the intent's rewards, G_t), asks the strategy for its decision, and
keeps the episode state (G_t, the intent's memory, the sampling generators).
The fusion parameters live in :mod:`dpf_gui.fusion_params`.

Scales. Q-values and intent rewards differ in scale between environments and
label types, so both enter the policies normalised: Q by the task agent's
typical spread of legal Q-values (``q_scale``, measured on its own trajectories
and stored in its sidecar), r by the intent model's typical spread of candidate
rewards (``candidate_spread``: RMS of r_t(a) - mean_a r_t(a) over its training
decisions, for the history or the markov query, stored in its sidecar).
Temperatures are therefore in units of "typical differences between actions",
and one set of defaults can serve every environment and label type.

Every decision returns a :class:`Decision` with the diagnostics the app plots.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpf_gui.agents.task_agent import stored_q_scale
from dpf_gui.errors import UserError
from dpf_gui.fusion_params import FusionParams
from dpf_gui.rowwise import sum_last
from dpf_gui.strategies import Step, geometric_fusion, get, greedy, softmax_legal


def intent_scale(sidecar: Mapping[str, Any] | None, markov: bool = False) -> float:
    """The divisor that puts an intent model's rewards in units of typical action differences."""
    sidecar = sidecar or {}
    spread = (sidecar.get("candidate_spread") or {}).get("markov" if markov else "history")
    value = spread or sidecar.get("reward_scale") or 1.0
    return float(value) if value > 0 else 1.0


def intent_unit(sidecar: Mapping[str, Any] | None) -> float:
    """The intent reward of one step the model is sure about: dynamic fusion's unit of collected reward."""
    sidecar = sidecar or {}
    value = sidecar.get("reward_unit") or sidecar.get("reward_scale") or 1.0
    return float(value) if value > 0 else 1.0


def task_q_scale(sidecar: Mapping[str, Any] | None) -> float:
    """The divisor that puts a task agent's Q-values in units of its typical legal-action spread.

    Checkpoints written before ``q_scale`` was stored fall back to 1 with a warning: their temperatures
    then act on raw Q-values, so the stored defaults do not mean what they say.
    """
    value = stored_q_scale(sidecar)
    if value is None:
        warnings.warn("the task agent's sidecar has no metrics.q_scale.legal_std; fusion uses raw Q-values "
                      "(scale 1), so T_phi means something else for this agent. Retrain it with `dpf train-task` "
                      "to store the scale.", stacklevel=3)
        return 1.0
    return value


@dataclass
class Decision:
    """One decision and everything that led to it (what the app plots)."""

    action: int
    q: np.ndarray  # task Q-values (raw)
    intent_scores: np.ndarray | None  # g_t(a): predicted trajectory score if a were taken (score units)
    intent_rewards: np.ndarray | None  # r_t(a) = g_t(a) - g_{t-1}, divided by the intent's candidate spread
    p_task: np.ndarray
    p_intent: np.ndarray | None
    p_fused: np.ndarray
    T_psi: float | None
    collected: float  # G_t: intent advantage collected before this decision
    weight: float | None  # fusion weight w (None for task / retrain)
    legal: np.ndarray
    intent_reward: float | None = None  # the intent reward the action collects (score units): the model's own verdict


def guard_held_back(d: Decision | Decisions, params: FusionParams) -> np.ndarray | None:
    """Whether a guard (``params.margin`` / ``risk``) ruled out the action the fusion alone would pick, per
    decision (a bool, or one per row of :class:`Decisions`); None where no guard applies (no guard, or no fused
    decision). Where a wish moves the agent less than a person expects, this says the task's safety held it."""
    if d.weight is None or d.p_intent is None or (params.margin is None and params.risk is None):
        return None
    unguarded = greedy(geometric_fusion(d.p_task, d.p_intent), np.asarray(d.legal, bool))
    return np.take_along_axis(np.asarray(d.p_fused), np.asarray(unguarded)[..., None], axis=-1)[..., 0] == 0


@dataclass
class Decisions:
    """The decisions of B episodes at one lockstep step: :class:`Decision`'s fields with a leading row axis."""

    action: np.ndarray  # (B,) int
    q: np.ndarray  # (B, A)
    intent_scores: np.ndarray | None
    intent_rewards: np.ndarray | None
    p_task: np.ndarray
    p_intent: np.ndarray | None
    p_fused: np.ndarray
    T_psi: np.ndarray | None  # (B,)
    collected: np.ndarray  # (B,)
    weight: np.ndarray | None  # (B,)
    legal: np.ndarray
    intent_reward: np.ndarray | None = None  # (B,) the intent reward each action collects (score units)

    def row(self, i: int) -> Decision:
        def pick(x):
            return None if x is None else x[i]

        return Decision(action=int(self.action[i]), q=self.q[i], intent_scores=pick(self.intent_scores),
                        intent_rewards=pick(self.intent_rewards), p_task=self.p_task[i], p_intent=pick(self.p_intent),
                        p_fused=self.p_fused[i], T_psi=None if self.T_psi is None else float(self.T_psi[i]),
                        collected=float(self.collected[i]),
                        weight=None if self.weight is None else float(self.weight[i]),
                        legal=self.legal[i],
                        intent_reward=None if self.intent_reward is None else float(self.intent_reward[i]))


@dataclass
class EpisodeRows:
    """What B episodes played in lockstep carry between decisions: G_t, the intent's memory, the sampling rng."""

    collected: np.ndarray  # (B,) G_t
    stepper: Any  # the intent's memory of the B episodes (see dpf_gui.intent.registry.make_stepper), or None
    rngs: list[np.random.Generator]

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the episodes where ``mask`` is true (finished ones drop out)."""
        mask = np.asarray(mask, dtype=bool)
        self.collected = self.collected[mask]
        if self.stepper is not None:
            self.stepper.keep(mask)
        self.rngs = [r for r, k in zip(self.rngs, mask, strict=True) if k]

    def extend(self, other: EpisodeRows) -> None:
        """Append ``other``'s episodes after these."""
        self.collected = np.concatenate([self.collected, other.collected])
        if self.stepper is not None:
            self.stepper.extend(other.stepper)
        self.rngs += other.rngs


class FusedAgent:
    """A task agent, optionally an intent model, and a strategy: decides step by step, or for many episodes at once.

    ``intent`` is an intent model of any kind (:mod:`dpf_gui.intent.registry`) and ``intent_scale``
    its candidate spread (see :func:`intent_scale`); ``prepared`` what the strategy's ``prepare`` built
    (``retrain``: the task agent fine-tuned offline; :func:`dpf_gui.pipeline.build_agents` builds it).

    One episode: call :meth:`reset` (or :meth:`start_episode`) at its start, then :meth:`decide`.
    Many in lockstep: :meth:`new_rows` gives their state, :meth:`decide_rows` decides for all of them
    with one task-network and one intent call. :meth:`decide` is :meth:`decide_rows` with one row, so
    the two never disagree (tests/test_batched_eval.py). ``strategy`` is a name, looked up on every
    decision, so assigning another live one switches from the next decision.
    """

    def __init__(self, task, strategy: str, params: FusionParams | None = None, intent=None,
                 intent_scale: float = 1.0, markov: bool = False, prepared=None, seed: int = 0,
                 intent_unit: float = 1.0):
        chosen = get(strategy)
        if chosen.needs_intent and intent is None:
            raise UserError(f"strategy {strategy!r} needs an intent model (--intent DIR)")
        if chosen.prepare is not None and prepared is None:
            raise UserError(f"strategy {strategy!r} needs what it prepares first: build it with "
                            "dpf_gui.pipeline.build_agents")
        self.task = task
        self.strategy = strategy
        self.params = params or FusionParams()
        self._q_scale = task_q_scale(task.sidecar)
        self._intent_scale = float(intent_scale) if intent_scale and intent_scale > 0 else 1.0
        self.intent_unit = float(intent_unit) if intent_unit and intent_unit > 0 else 1.0
        self.prepared = prepared
        self.intent = intent
        self.markov = bool(markov)
        self.seed = int(seed)
        self._rng = np.random.default_rng(seed)
        if self.params.risk is not None and chosen.fused:
            self._risk_model()  # a missing risk model is said now, not at the first decision
        self.reset()

    # --- episode state ---------------------------------------------------------
    def _fresh_rows(self, rngs: list[np.random.Generator]) -> EpisodeRows:
        stepper = None
        if self.intent is not None:
            from dpf_gui.intent.registry import make_stepper

            stepper = make_stepper(self.intent, markov=self.markov, confidence=self.params.confidence, rows=len(rngs))
        return EpisodeRows(np.zeros(len(rngs)), stepper, list(rngs))

    def new_rows(self, episode_seeds) -> EpisodeRows:
        """Fresh state for episodes starting from these reset seeds.

        Each samples (``sample``) from its own generator, seeded by the agent's seed and the episode's, so
        what an episode does never depends on the episodes beside it in a batch or before it in a run.
        """
        return self._fresh_rows([np.random.default_rng([self.seed, int(s)]) for s in episode_seeds])

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (the sampling generator runs on across episodes; ``seed`` restarts it)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.rows = self._fresh_rows([self._rng])

    def start_episode(self, episode_seed: int) -> None:
        """Start the episode of reset seed ``episode_seed`` exactly as :meth:`new_rows` starts it in a batch."""
        self.rows = self.new_rows([episode_seed])

    @property
    def stepper(self):
        """The intent's memory of the current episode (None without an intent)."""
        return self.rows.stepper

    @property
    def collected(self) -> float:
        """G_t of the current episode."""
        return float(self.rows.collected[0])

    def set_params(self, params: FusionParams) -> None:
        """Change temperatures mid-episode (the app's sliders act immediately)."""
        self.params = params
        if self.stepper is not None and hasattr(self.stepper, "confidence"):
            self.stepper.confidence = params.confidence

    @property
    def q_scale(self) -> float:
        """The divisor of Q-values: the task agent's typical legal spread, or 1 in raw units."""
        return self._q_scale if self.params.normalise else 1.0

    @property
    def intent_scale(self) -> float:
        """The divisor of intent rewards: the intent's typical candidate spread, or 1 in raw units."""
        return self._intent_scale if self.params.normalise else 1.0

    # --- deciding ------------------------------------------------------------------
    def decide(self, features: np.ndarray, legal: np.ndarray) -> Decision:
        """The current episode's decision in state ``features``."""
        return self.decide_rows(np.asarray(features)[None], np.asarray(legal, dtype=bool)[None], self.rows).row(0)

    def decide_rows(self, features: np.ndarray, legal: np.ndarray, rows: EpisodeRows) -> Decisions:
        """Decide for B episodes at once (features (B, F), legal (B, A)) and advance their state ``rows``.

        Row by row the same float64 arithmetic as one episode alone; the networks' outputs do not depend on
        the batch (:mod:`dpf_gui.rowwise`), so neither do the decisions.
        """
        legal = np.asarray(legal, dtype=bool)
        p = self.params
        q = self.task.q_values_batch(features)
        p_task = softmax_legal(q / self.q_scale, legal, p.T_phi)
        scores = rewards = intent_reward = None
        stepper = rows.stepper
        if stepper is not None:
            scores = stepper.score_rows(features, legal)
            # illegal candidates score -inf: zero them before scaling (strength 0, a calibration's "leave it to the
            # task agent", made -inf * 0 = NaN there and a RuntimeWarning per decision on highway)
            gains = np.where(legal, scores, 0.0) - stepper.g_prev_rows[:, None]
            rewards = np.where(legal, gains / self.intent_scale * p.strength, -np.inf)
        task_choice = greedy(q, legal)
        strategy = get(self.strategy)
        risk = self._risk_model().risks(features) if p.risk is not None and strategy.fused else None
        choice = strategy.policy(Step(features=features, legal=legal, q=q, q_scale=self.q_scale, p_task=p_task,
                                      task_choice=task_choice, rewards=rewards, collected=rows.collected,
                                      params=p, prepared=self.prepared, risk=risk))
        fused, action = choice.p, choice.action
        if p.sample and strategy.fused:
            action = np.array([rng.choice(fused.shape[1], p=f) for rng, f in zip(rows.rngs, fused, strict=True)],
                              dtype=np.int64)
        if stepper is not None:
            intent_reward = stepper.realized_rows(action)
        decisions = Decisions(action=action, q=q, intent_scores=scores, intent_rewards=rewards, p_task=p_task,
                              p_intent=choice.p_intent, p_fused=fused, T_psi=choice.T_psi,
                              collected=rows.collected.copy(), weight=choice.weight, legal=legal,
                              intent_reward=intent_reward)
        if stepper is not None:
            rows.collected = p.decay * rows.collected + self._collected_now(rewards, legal, action, task_choice,
                                                                            intent_reward)
            stepper.advance_rows(action)
        return decisions

    def _risk_model(self):
        """The task agent's risk model, which ``FusionParams.risk`` needs (a UserError saying how to make it)."""
        model = getattr(self.task, "risk_model", None)
        if model is None:
            where = getattr(self.task, "directory", None) or "TASK_DIR"
            raise UserError(f"fusion parameter risk needs the task agent's risk model: make it with "
                            f"dpf train-risk --policy {where}, or leave risk unset")
        return model

    def _collected_now(self, rewards: np.ndarray, legal: np.ndarray, action: np.ndarray, task_choice: np.ndarray,
                       intent_reward: np.ndarray) -> np.ndarray:
        """What each row's decision adds to G_t (see ``FusionParams.collect``); ``intent_reward``: what the actions
        collected (score units)."""
        if self.params.collect == "budget":
            return np.maximum(intent_reward / self.intent_unit, 0.0) + (action != task_choice)
        legal_mean = sum_last(np.where(legal, rewards, 0.0)) / legal.sum(-1)
        advantage = rewards[np.arange(len(action)), action] - legal_mean
        return advantage if self.params.collect == "advantage" else np.maximum(advantage, 0.0)

    def act(self, features: np.ndarray, legal: np.ndarray) -> int:
        return self.decide(features, legal).action


class BaselineAgent:
    """A fixed policy (``obs -> action``) with the agent interface, for baseline rows in evaluations
    (one episode at a time)."""

    def __init__(self, policy, n_actions: int):
        self.policy = policy
        self.n_actions = n_actions

    def reset(self, seed: int | None = None) -> None:
        pass

    def start_episode(self, episode_seed: int) -> None:
        pass

    def decide(self, features: np.ndarray, legal: np.ndarray) -> Decision:
        legal = np.asarray(legal, dtype=bool)
        action = int(self.policy(features))
        onehot = np.eye(self.n_actions)[action]
        return Decision(action=action, q=np.zeros(self.n_actions), intent_scores=None, intent_rewards=None,
                        p_task=onehot, p_intent=None, p_fused=onehot, T_psi=None, collected=0.0, weight=None,
                        legal=legal)


__all__ = ["BaselineAgent", "Decision", "Decisions", "EpisodeRows", "FusedAgent", "FusionParams", "guard_held_back",
           "intent_scale", "intent_unit", "task_q_scale"]

"""Policy fusion: how the task agent and the intent model decide together.

Strategies (selectable by name):

* ``task``: greedy on the task Q-values.
* ``intent``: greedy on the intent rewards r_t(a) (the paper's "RUDDER" row).
* ``static``: greedy on the geometric mean of the task and intent Boltzmann
  policies, fixed intent temperature ``T_static``.
* ``dynamic``: the same with T_psi set every step from what the intent has
  collected so far, G_t = decay * G_{t-1} + (this decision's share), METHOD.md
  section 6. What a decision adds is ``FusionParams.collect``:

  - ``advantage``: the paper's signed intent advantage of the action taken;
  - ``gains``: its positive part only (the first wave's change: with the
    signed sum an agent that alternates between intent and task never warms
    up and is trapped);
  - ``budget`` (default): the intent reward the step actually collected, in
    the intent's reward units (one unit ~ one step inside a preferred
    region), plus 1 whenever the fused action differs from the task agent's.
    Why: counting *advantage* warms the temperature up by merely avoiding an
    avoided region, so the intent lets go exactly where an avoid wish needs it
    (the toll road re-entered after a few steps of detour); counting realised
    reward never rewards avoidance, and counting overrides is the do-no-harm
    budget that ends loops where the intent keeps vetoing the task agent's
    way forward (measured on gridnav, docs/RESULTS.md).

  With ``decay`` < 1 the sum forgets old steps, so on long episodes (Pong)
  the intent returns after the agent has left the wish for a while.
* ``retrain``: greedy on a task network fine-tuned offline with a blended
  reward (see :mod:`dpf_gui.agents.retrain`).

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
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from dpf_gui.errors import UserError
from dpf_gui.overrides import Allowed, check_fields
from dpf_gui.rowwise import sum_last

STRATEGIES = ("task", "intent", "static", "dynamic", "retrain")
FUSED = ("static", "dynamic")
#: what decides step by step from the task agent and the intent alone (``retrain`` needs a network fine-tuned
#: offline first): what the app plays
LIVE_STRATEGIES = ("task", "intent", "static", "dynamic")

_POSITIVE = Allowed(low=0, low_open=True)
#: ranges of the FusionParams fields (every number must also be finite; ``c`` may be any finite number)
_FUSION_ALLOWED = {"T_phi": _POSITIVE, "T_min": _POSITIVE, "T_max": _POSITIVE, "T_static": _POSITIVE,
                   "k": Allowed(low=0), "decay": Allowed(low=0, high=1, low_open=True),
                   "confidence": Allowed(low=0), "margin": Allowed(low=0), "strength": Allowed(low=0), "collect": Allowed(choices=("budget", "gains", "advantage"))}
COLLECT = _FUSION_ALLOWED["collect"].choices


@dataclass(frozen=True)
class FusionParams:
    """Temperatures of the fusion and how dynamic fusion counts what the intent collected.

    ``collect`` (see the module docstring): ``budget`` (default) counts the
    intent reward actually collected, in the intent's reward units, plus one
    for every decision where the intent overruled the task agent; ``gains``
    counts the positive part of the intent advantage (the first wave's rule);
    ``advantage`` is the paper's signed sum of intent advantages.
    ``normalise`` puts Q-values and intent rewards in units of their typical
    differences between actions (False: raw values, as the paper).
    ``confidence`` is how many ensemble standard deviations an intent
    advantage must exceed before it counts (ensemble intents only).
    """

    T_phi: float = 1.0  # task temperature (in units of q_scale)
    T_min: float = 0.3  # lower bound of the dynamic intent temperature
    T_max: float = 10.0  # upper bound of the dynamic intent temperature (authors: 5-30 unnormalised; see docs/RESULTS.md)
    k: float = 1.0  # slope of the temperature's sigmoid in the collected intent reward
    c: float = 3.0  # collected intent reward at which T_psi = T_max / 2 (authors: 0; see docs/RESULTS.md)
    T_static: float = 0.3  # intent temperature of static fusion
    decay: float = 1.0  # per-step forgetting factor of G_t: 1 is the paper's running sum (see dynamic fusion below)
    sample: bool = False  # sample from the fused policy instead of acting greedily
    collect: str = "budget"  # what G_t counts: budget | gains | advantage (the paper)
    confidence: float = 1.0  # ensemble intents: advantages shrink by this many standard deviations across members
    normalise: bool = True  # False: raw Q-values and intent rewards (the paper's units)
    margin: float | None = None  # fused actions only among those within this many q_scale of the task's best
    strength: float = 1.0  # multiplies the intent's rewards: 0 is the task agent, 2 an intent twice as loud

    def __post_init__(self) -> None:
        check_fields(self, "fusion parameters", _FUSION_ALLOWED)
        if self.T_min > self.T_max:
            raise UserError(f"fusion parameters: T_min ({self.T_min:g}) must not exceed T_max ({self.T_max:g})")

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> FusionParams:
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise UserError(f"fusion parameters must be names with values, e.g. {{\"T_phi\": 1.0}}; got {overrides!r}")
        allowed = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise UserError(f"unknown fusion parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
        return replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: what the paper's configuration sets besides its per-environment temperatures (METHOD.md section 6)
PAPER = {"collect": "advantage", "normalise": False, "T_min": 0.3, "k": 1.0, "c": 0.0, "decay": 1.0, "T_static": 0.3,
         "confidence": 0.0, "strength": 1.0, "margin": None}


def paper_params(env_name: str) -> FusionParams:
    """The paper's fusion by name: the signed sum of intent advantages, c = 0, raw Q-values and intent
    rewards, and the authors' temperatures for ``env_name`` (its spec's ``paper_temperatures``)."""
    from dpf_gui.envs import env_spec

    return FusionParams(**PAPER, **env_spec(env_name).paper_temperatures)


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
    from dpf_gui.agents.task_agent import stored_q_scale

    value = stored_q_scale(sidecar)
    if value is None:
        warnings.warn("the task agent's sidecar has no metrics.q_scale.legal_std; fusion uses raw Q-values "
                      "(scale 1), so T_phi means something else for this agent. Retrain it with `dpf train-task` "
                      "to store the scale.", stacklevel=3)
        return 1.0
    return value


def dynamic_temperature(collected, params: FusionParams):
    """T_psi = max(T_min, T_max * sigmoid(k (G_t - c))): small while little intent reward is collected.

    ``collected`` is one G_t (returns a float) or an array of them (returns an array).
    """
    z = params.k * (np.asarray(collected, dtype=np.float64) - params.c)
    e = np.exp(-np.abs(z))
    sig = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    t = np.maximum(params.T_min, params.T_max * sig)
    return float(t) if t.ndim == 0 else t


def fusion_weight(T_phi: float, T_psi):
    """The intent's share of the greedy decision: argmax Q/T_phi + r/T_psi, so w = T_phi / (T_phi + T_psi)."""
    w = T_phi / (T_phi + np.asarray(T_psi, dtype=np.float64))
    return float(w) if w.ndim == 0 else w


def softmax_legal(values: np.ndarray, legal: np.ndarray, temperature) -> np.ndarray:
    """Boltzmann distribution over the legal actions (0 elsewhere), along the last axis.

    ``values`` and ``legal`` are (A,) or (B, A); ``temperature`` a number or one per row, shaped (B, 1).
    """
    z = np.where(legal, np.asarray(values, np.float64) / temperature, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.asarray(sum_last(e))[..., None]


def geometric_fusion(p_task: np.ndarray, p_intent: np.ndarray) -> np.ndarray:
    """Normalised geometric mean sqrt(p_task * p_intent) along the last axis: minimises KL(p||p_task) + KL(p||p_intent)."""
    p_task = np.asarray(p_task, np.float64)
    g = np.sqrt(p_task * np.asarray(p_intent, np.float64))
    total = np.asarray(sum_last(g))
    ok = total > 0  # disjoint supports cannot happen over the same legal set; where they do, keep the task's choice
    return np.where(ok[..., None], g / np.where(ok, total, 1.0)[..., None], p_task)


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
                        collected=float(self.collected[i]), weight=None if self.weight is None else float(self.weight[i]),
                        legal=self.legal[i], intent_reward=None if self.intent_reward is None else float(self.intent_reward[i]))


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
        self.rngs = [r for r, k in zip(self.rngs, mask) if k]

    def extend(self, other: EpisodeRows) -> None:
        """Append ``other``'s episodes after these."""
        self.collected = np.concatenate([self.collected, other.collected])
        if self.stepper is not None:
            self.stepper.extend(other.stepper)
        self.rngs += other.rngs


class FusedAgent:
    """A task agent, optionally an intent model, and a strategy: decides step by step, or for many episodes at once.

    ``intent`` is an intent model of any kind (:mod:`dpf_gui.intent.registry`) and ``intent_scale``
    its candidate spread (see :func:`intent_scale`); ``retrain`` a
    :class:`TaskAgent` fine-tuned offline.

    One episode: call :meth:`reset` (or :meth:`start_episode`) at its start, then :meth:`decide`.
    Many in lockstep: :meth:`new_rows` gives their state, :meth:`decide_rows` decides for all of them
    with one task-network and one intent call. :meth:`decide` is :meth:`decide_rows` with one row, so
    the two never disagree (tests/test_batched_eval.py).
    """

    def __init__(self, task, strategy: str, params: FusionParams | None = None, intent=None,
                 intent_scale: float = 1.0, markov: bool = False, retrain=None, seed: int = 0,
                 intent_unit: float = 1.0):
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
        if strategy in ("intent", "static", "dynamic") and intent is None:
            raise UserError(f"strategy {strategy!r} needs an intent model (--intent DIR)")
        if strategy == "retrain" and retrain is None:
            raise UserError("strategy 'retrain' needs a retrained task agent")
        self.task = task
        self.strategy = strategy
        self.params = params or FusionParams()
        self._q_scale = task_q_scale(task.sidecar)
        self._intent_scale = float(intent_scale) if intent_scale and intent_scale > 0 else 1.0
        self.intent_unit = float(intent_unit) if intent_unit and intent_unit > 0 else 1.0
        self.retrain = retrain
        self.intent = intent
        self.markov = bool(markov)
        self.seed = int(seed)
        self._rng = np.random.default_rng(seed)
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
        scores = rewards = p_intent = T_psi = weight = intent_reward = None
        stepper = rows.stepper
        if stepper is not None:
            scores = stepper.score_rows(features, legal)
            rewards = np.where(legal, (scores - stepper.g_prev_rows[:, None]) / self.intent_scale * p.strength, -np.inf)
        task_choice = _greedy(q, legal)
        if self.strategy == "task":
            fused, action = p_task, task_choice
        elif self.strategy == "retrain":
            q_re = self.retrain.q_values_batch(features)
            fused, action = softmax_legal(q_re / self.q_scale, legal, p.T_phi), _greedy(q_re, legal)
        elif self.strategy == "intent":
            T_psi = np.full(len(legal), float(p.T_min))
            fused = p_intent = softmax_legal(rewards, legal, T_psi[:, None])
            action = _greedy(rewards, legal)
        else:
            if self.strategy == "static":
                T_psi = np.full(len(legal), float(p.T_static))
            else:
                T_psi = dynamic_temperature(rows.collected, p)
            p_intent = softmax_legal(rewards, legal, T_psi[:, None])
            fused = geometric_fusion(p_task, p_intent)
            if p.margin is not None:  # do no harm: only actions the task agent rates nearly as well
                fused = _within_margin(fused, q / self.q_scale, legal, p.margin)
            weight = fusion_weight(p.T_phi, T_psi)
            action = _greedy(fused, legal)
        if p.sample and self.strategy in FUSED:
            action = np.array([rng.choice(fused.shape[1], p=f) for rng, f in zip(rows.rngs, fused)], dtype=np.int64)
        if stepper is not None:
            intent_reward = stepper.realized_rows(action)
        decisions = Decisions(action=action, q=q, intent_scores=scores, intent_rewards=rewards, p_task=p_task,
                              p_intent=p_intent, p_fused=fused, T_psi=T_psi, collected=rows.collected.copy(),
                              weight=weight, legal=legal, intent_reward=intent_reward)
        if stepper is not None:
            rows.collected = p.decay * rows.collected + self._collected_now(rewards, legal, action, task_choice,
                                                                            intent_reward)
            stepper.advance_rows(action)
        return decisions

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
    """A fixed policy (``obs -> action``) with the agent interface, for baseline rows in evaluations (one episode at a time)."""

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
                        p_task=onehot, p_intent=None, p_fused=onehot, T_psi=None, collected=0.0, weight=None, legal=legal)


def _within_margin(p: np.ndarray, q: np.ndarray, legal: np.ndarray, margin: float) -> np.ndarray:
    """``p`` restricted (and renormalised, row by row) to the legal actions whose Q is within ``margin`` of the best."""
    best = np.max(np.where(legal, q, -np.inf), axis=-1, keepdims=True)
    ok = legal & (q >= best - margin)
    out = np.where(ok, p, 0.0)
    total = sum_last(out)[..., None]
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), ok / ok.sum(-1, keepdims=True))


def _greedy(values: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """The best legal action of every row (first on ties)."""
    return np.argmax(np.where(legal, values, -np.inf), axis=-1)

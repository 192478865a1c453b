"""The strategies, by registry: each declared once, with what it needs and how it decides.

Built in (selectable by name):

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
    the intent's reward units (one unit ~ one step inside a preferred region),
    plus 1 whenever the fused action differs from the task agent's.
    Why: counting *advantage* warms the temperature up by merely avoiding an
    avoided region, so the intent lets go exactly where an avoid wish needs it
    (the toll road re-entered after a few steps of detour); counting realised
    reward never rewards avoidance, and counting overrides is the do-no-harm
    budget that ends loops where the intent keeps vetoing the task agent's
    way forward (measured on gridnav, docs/RESULTS.md).

  With ``decay`` < 1 the sum forgets old steps, so on long episodes (Pong)
  the intent returns after the agent has left the wish for a while.
  (:class:`~dpf_gui.fusion.FusedAgent` keeps G_t: it is what every strategy's
  plots show.)
* ``retrain``: greedy on a task network fine-tuned offline with a blended
  reward (see :mod:`dpf_gui.agents.retrain`); not fusion, so its
  ``prepare`` builds (or loads from its cache) that network first.

A :class:`Strategy` says whether it needs an intent model, which fusion
parameters it reads and, per lockstep step of B episodes, its distribution
over actions and its action (:class:`Choice`, from a :class:`Step`). Everything
else (the CLI's choices, the app's combos, the results grid, the needs-an-intent
checks) reads :func:`names` and :func:`get`, so a new strategy is one
:func:`register` call. Policies work on whole (B, A) arrays, row by row the
same float64 arithmetic (:mod:`dpf_gui.rowwise`), so a batch decides as each
episode alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dpf_gui.errors import UserError
from dpf_gui.fusion_params import FusionParams
from dpf_gui.rowwise import sum_last


# --- the building blocks ----------------------------------------------------------
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
    """Normalised geometric mean sqrt(p_task * p_intent) along the last axis:
    minimises KL(p||p_task) + KL(p||p_intent)."""
    p_task = np.asarray(p_task, np.float64)
    g = np.sqrt(p_task * np.asarray(p_intent, np.float64))
    total = np.asarray(sum_last(g))
    ok = total > 0  # disjoint supports cannot happen over the same legal set; where they do, keep the task's choice
    return np.where(ok[..., None], g / np.where(ok, total, 1.0)[..., None], p_task)


def within_margin(p: np.ndarray, q: np.ndarray, legal: np.ndarray, margin: float) -> np.ndarray:
    """``p`` restricted (and renormalised, row by row) to the legal actions whose Q is within ``margin`` of the best."""
    best = np.max(np.where(legal, q, -np.inf), axis=-1, keepdims=True)
    return restricted(p, legal & (q >= best - margin))


def within_risk(p: np.ndarray, risk: np.ndarray, task_choice: np.ndarray, legal: np.ndarray,
                allowance: float) -> np.ndarray:
    """``p`` restricted (and renormalised, row by row) to the legal actions whose risk of failing the task is at
    most ``allowance`` above that of the task agent's choice, which always stays allowed."""
    rows = np.arange(len(task_choice))
    ok = legal & (risk <= risk[rows, task_choice][:, None] + allowance)
    ok[rows, task_choice] = True
    return restricted(p, ok)


def restricted(p: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``p`` on the actions ``ok`` only, renormalised row by row (uniform over them where ``p`` put nothing there)."""
    out = np.where(ok, p, 0.0)
    total = sum_last(out)[..., None]
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), ok / ok.sum(-1, keepdims=True))


def greedy(values: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """The best legal action of every row (first on ties)."""
    return np.argmax(np.where(legal, values, -np.inf), axis=-1)


# --- the seam ------------------------------------------------------------------------
@dataclass
class Step:
    """What a strategy sees at one lockstep step of B episodes (arrays have a leading row axis)."""

    features: np.ndarray  # (B, F)
    legal: np.ndarray  # (B, A) bool
    q: np.ndarray  # (B, A) task Q-values (raw)
    q_scale: float  # the divisor that puts Q-values in the fusion's units (1 in raw units)
    p_task: np.ndarray  # (B, A) the task's Boltzmann policy at T_phi
    task_choice: np.ndarray  # (B,) the task agent's greedy action
    rewards: np.ndarray | None  # (B, A) intent rewards r_t(a) in the fusion's units, times strength (-inf illegal)
    collected: np.ndarray  # (B,) G_t
    params: FusionParams
    prepared: Any = None  # what the strategy's ``prepare`` built (retrain: the fine-tuned TaskAgent)
    risk: np.ndarray | None = None  # (B, A) the task agent's risk model: chance of failing soon after each action


@dataclass
class Choice:
    """A strategy's decision for B episodes: its distribution over actions and its (greedy) action, plus the
    intent's policy, T_psi and the fusion weight w where it has them (what the app plots)."""

    p: np.ndarray  # (B, A)
    action: np.ndarray  # (B,) int
    p_intent: np.ndarray | None = None
    T_psi: np.ndarray | None = None  # (B,)
    weight: np.ndarray | None = None  # (B,)


@dataclass(frozen=True)
class Strategy:
    """One way of deciding, declared once (see the module docstring)."""

    name: str
    title: str  # what it does, in a few words (the app's combo tooltip)
    policy: Callable[[Step], Choice]
    needs_intent: bool = True
    fused: bool = False  # fuses the task and intent policies: has a fusion weight w; ``sample`` draws from it
    params: tuple[str, ...] = ()  # the FusionParams fields it reads (normalise and confidence act on its inputs)
    # builds what it needs before it can play, from (task agent, intent directory, progress); its result reaches
    # the policy as ``Step.prepared``. A strategy with one is no live strategy: the app does not offer it.
    prepare: Callable[[Any, Any, bool], Any] | None = None

    @property
    def live(self) -> bool:
        """Decides from the task agent and the intent alone, so the app can switch to it mid-episode."""
        return self.prepare is None

    def describe(self) -> str:
        return f"{self.name}: {self.title}" + (f" ({', '.join(self.params)})" if self.params else "")


_REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add ``strategy`` to the registry (its name must be new, its params FusionParams fields); returns it."""
    if strategy.name in _REGISTRY:
        raise ValueError(f"strategy {strategy.name!r} is registered already")
    unknown = set(strategy.params) - {f.name for f in fields(FusionParams)}
    if unknown:
        raise ValueError(f"strategy {strategy.name!r} reads unknown fusion parameters {sorted(unknown)}")
    _REGISTRY[strategy.name] = strategy
    return strategy


def names(*, live: bool | None = None, fused: bool | None = None, needs_intent: bool | None = None) -> tuple[str, ...]:
    """The registered strategies' names in registration order, those with the given properties only."""
    return tuple(s.name for s in _REGISTRY.values()
                 if (live is None or s.live == live) and (fused is None or s.fused == fused)
                 and (needs_intent is None or s.needs_intent == needs_intent))


def get(name: str, among: tuple[str, ...] | None = None) -> Strategy:
    """The strategy called ``name`` (among ``among``, default all): a :class:`UserError` naming the choices if none."""
    among = names() if among is None else among
    if name not in among:
        raise UserError(f"unknown strategy {name!r}; allowed: {', '.join(among)}")
    return _REGISTRY[name]


def require_intent(strategy_names, has_intent: bool, how: str) -> None:
    """A :class:`UserError` for the first of ``strategy_names`` that needs an intent model when there is none;
    ``how`` says how to get one."""
    if not has_intent:
        for name in strategy_names:
            if get(name).needs_intent:
                raise UserError(f"strategy {name!r} needs an intent model: {how}")


# --- the built-in strategies -----------------------------------------------------------
def _task(s: Step) -> Choice:
    return Choice(s.p_task, s.task_choice)


def _intent(s: Step) -> Choice:
    T_psi = np.full(len(s.legal), float(s.params.T_min))
    p = softmax_legal(s.rewards, s.legal, T_psi[:, None])
    return Choice(p, greedy(s.rewards, s.legal), p_intent=p, T_psi=T_psi)


def _fused(temperature: Callable[[Step], np.ndarray]) -> Callable[[Step], Choice]:
    """Greedy on the geometric mean of the task policy and the intent's at ``temperature(step)``."""
    def policy(s: Step) -> Choice:
        T_psi = temperature(s)
        p_intent = softmax_legal(s.rewards, s.legal, T_psi[:, None])
        p = geometric_fusion(s.p_task, p_intent)
        if s.params.margin is not None:  # do no harm: only actions the task agent rates nearly as well
            p = within_margin(p, s.q / s.q_scale, s.legal, s.params.margin)
        if s.params.risk is not None:  # do no harm: no action much likelier than the task agent's to fail soon
            p = within_risk(p, s.risk, s.task_choice, s.legal, s.params.risk)
        return Choice(p, greedy(p, s.legal), p_intent=p_intent, T_psi=T_psi,
                      weight=fusion_weight(s.params.T_phi, T_psi))

    return policy


def _retrained(s: Step) -> Choice:
    q = s.prepared.q_values_batch(s.features)
    return Choice(softmax_legal(q / s.q_scale, s.legal, s.params.T_phi), greedy(q, s.legal))


def _load_or_retrain(task, intent_dir, progress: bool):
    """The retrained task agent for this intent model (:func:`dpf_gui.agents.retrain.load_or_retrain`: cached)."""
    from dpf_gui.agents.retrain import load_or_retrain

    return load_or_retrain(task, intent_dir, progress=progress)


_FUSED_PARAMS = ("T_phi", "strength", "margin", "risk", "sample")
register(Strategy("task", "the DQN alone", _task, needs_intent=False, params=("T_phi",)))
register(Strategy("intent", "the intent model alone", _intent, params=("T_min", "strength")))
register(Strategy("static", "fusion at a fixed intent temperature T_static (one of the paper's baselines)",
                  _fused(lambda s: np.full(len(s.legal), float(s.params.T_static))), fused=True,
                  params=("T_static", *_FUSED_PARAMS)))
register(Strategy("dynamic", "Dynamic Policy Fusion: the intent lets go as its reward is collected",
                  _fused(lambda s: dynamic_temperature(s.collected, s.params)), fused=True,
                  params=("T_min", "T_max", "k", "c", "decay", "collect", *_FUSED_PARAMS)))
register(Strategy("retrain", "the DQN fine-tuned offline with the intent's reward", _retrained, params=("T_phi",),
                  prepare=_load_or_retrain))


__all__ = ["Choice", "Step", "Strategy", "dynamic_temperature", "fusion_weight", "geometric_fusion", "get", "greedy",
           "names", "register", "require_intent", "restricted", "softmax_legal", "within_margin", "within_risk"]

"""Why the intent model wants what it wants: feature attributions and value maps.

Two views of the intent model at one decision. For the paper's LSTM kind both
are computed with the LSTM state of the history actually played held fixed
(the state the :class:`~dpf_gui.intent.stepper.IntentStepper` carries), so they
explain the decision that was made and not a history-free caricature of it.
The additive kind (:mod:`dpf_gui.intent.additive`) has no memory: its
``r_t(a)`` is the members' mean intent value ``Q_u(s, a)``, the quantity fusion
ranks the candidates by (before it shrinks their advantages by the members'
disagreement):

* :func:`attribute`: per-feature attribution of the intent reward
  ``r_t(a) = g_t(a) - g_{t-1}`` of one action (by default the one taken) to
  the state features. Integrated gradients (default) or gradient x input,
  both against a baseline state, by default the training data's mean state
  (stored in the model as ``feat_mean``): "which features of *this* state,
  compared with a typical state, made this action look good or bad to the
  intent". Integrated gradients are complete: the attributions add up to
  ``r(x) - r(baseline)`` (up to the quadrature error of ``steps`` points), so
  the bars have the units of the reward itself. ``relative=True`` attributes
  the action's *advantage* ``r_t(a) - mean_legal r_t(b)`` instead: what makes
  this action better than the others rather than the state better than
  average.
* :func:`value_map`: for every place (a grid cell), the intent reward of
  arriving *in* it (for the additive kind: the intent value of that step),
  ``r_t(s_n, a_{n->c})`` averaged over the moves from the places ``n`` next to
  ``c`` into ``c``; the environment lists those moves (gridnav:
  :meth:`~dpf_gui.envs.gridnav.GridNavEnv.intent_value_map`). A simulated user
  marks a step by the state it leads to, so "reward of moving into the cell"
  is what the model can have learnt about that cell; the score of the best
  action *at* the cell would instead rate where one can go next.

Everything is in the labels' score units; divide by the intent sidecar's
the intent's candidate spread (``fusion.intent_scale``) to get the units the fusion uses.

The LSTM state is read with :func:`capture_state` *before* the agent decides
(``FusedAgent.decide`` advances the stepper at once). The stepper keeps its
state in private attributes; :func:`capture_state` reads them through
``getattr`` until the stepper offers a public accessor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

METHODS = ("integrated", "gradient")


@dataclass(frozen=True)
class IntentState:
    """The intent model's memory at a decision: LSTM ``(h, c)`` after the history, and ``g_{t-1}``.

    ``hc`` is None for an empty history (and always in the markov query, where
    every decision starts from the zero state and ``g_{t-1} = 0``).
    """

    hc: tuple[torch.Tensor, torch.Tensor] | None = None
    g_prev: float = 0.0
    markov: bool = False

    @classmethod
    def empty(cls, markov: bool = False) -> IntentState:
        return cls(None, 0.0, markov)


def capture_state(stepper) -> IntentState:
    """The stepper's current memory (call before ``decide``: it advances the stepper).

    The stepper replaces its state tuple on every ``advance`` (it never writes
    into it), so holding the returned tensors is safe.
    """
    if stepper is None:
        return IntentState.empty()
    markov = bool(getattr(stepper, "markov", False))
    state = getattr(stepper, "state", None)  # a public accessor, once the stepper has one
    if state is None:
        state = getattr(stepper, "_state", None)
    if markov:
        return IntentState(None, 0.0, True)
    return IntentState(state, float(stepper.g_prev), False)


# ---------------------------------------------------------------------------
# the one primitive: r_t(a) for a batch of (state, action) pairs, memory held
# ---------------------------------------------------------------------------
def _rewards_tensor(model, state: IntentState, feats: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``r_t`` (N,) in score units for states (N, F) and actions (N,), all from the same memory.

    An additive (ensemble) intent has no memory: its ``r_t(a)`` is the members' mean intent value of
    ``a`` (the value head), from the standardised state, which is what fusion ranks the candidates by.
    """
    if getattr(model, "kind", None) == "additive":
        x = (feats - model.feat_mean) / model.feat_std
        q = model.value(x)[..., model.arch.n_actions:].mean(0)  # (N, A): members' mean intent value
        return q.gather(1, actions.reshape(-1, 1))[:, 0] * model.score_scale
    n = feats.shape[0]
    hc = None
    if state.hc is not None and not state.markov:
        h, c = state.hc
        hc = (h.expand(1, n, h.shape[-1]).contiguous(), c.expand(1, n, c.shape[-1]).contiguous())
    out, _, _ = model(feats.reshape(n, 1, -1), actions.reshape(n, 1), hc)
    g = out[:, 0] * model.score_scale
    if model.arch.readout == "cumsum":  # one step's output is already the increment g_t - g_{t-1}
        return g
    return g - float(state.g_prev)


@torch.no_grad()
def intent_rewards(model, state: IntentState, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``r_t(a)`` (N,) in score units for N (state, action) pairs scored from the same memory ``state``."""
    f = torch.as_tensor(np.asarray(features, dtype=np.float32)).reshape(len(actions), -1)
    a = torch.as_tensor(np.asarray(actions, dtype=np.int64)).reshape(-1)
    return _rewards_tensor(model, state, f, a).double().numpy()


# ---------------------------------------------------------------------------
# feature attribution
# ---------------------------------------------------------------------------
def attribute(model, state: IntentState, features: np.ndarray, action: int, method: str = "integrated",
              steps: int = 16, baseline: np.ndarray | None = None, relative: bool = False,
              legal: np.ndarray | None = None) -> np.ndarray:
    """Per-feature attribution (F,) of the intent reward of ``action`` in state ``features``.

    ``method``: ``"integrated"`` (integrated gradients, midpoint rule with
    ``steps`` points along the straight line from ``baseline`` to the state)
    or ``"gradient"`` (gradient x (state - baseline), one backward pass).
    ``baseline`` defaults to the model's training mean state. ``relative``:
    attribute ``r(a) - mean over legal b of r(b)`` (``legal`` defaults to all
    actions). Deterministic: no sampling anywhere.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; allowed: {', '.join(METHODS)}")
    x = torch.as_tensor(np.asarray(features, dtype=np.float32)).reshape(-1)
    n_f = x.shape[0]
    b = (model.feat_mean.detach().clone() if baseline is None
         else torch.as_tensor(np.asarray(baseline, np.float32)).reshape(-1))
    if method == "gradient":
        alphas = torch.ones(1)
    else:
        m = max(1, int(steps))
        alphas = (torch.arange(m, dtype=torch.float32) + 0.5) / m
    points = (b + alphas[:, None] * (x - b)[None, :]).detach()  # (M, F)
    n_a = model.arch.n_actions
    cand = [int(action)]
    if relative:
        mask = np.ones(n_a, bool) if legal is None else np.asarray(legal, bool)
        cand = [int(i) for i in np.flatnonzero(mask)]
    m = points.shape[0]
    with torch.enable_grad():
        inp = points.repeat_interleave(len(cand), dim=0).requires_grad_(True)  # (M * K, F)
        acts = torch.tensor(cand, dtype=torch.int64).repeat(m)
        r = _rewards_tensor(model, state, inp, acts).reshape(m, len(cand))
        target = r[:, cand.index(int(action))] - r.mean(dim=1) if relative else r[:, 0]
        (grad,) = torch.autograd.grad(target.sum(), inp)
    grad = grad.reshape(m, len(cand), n_f)[:, 0] if not relative else grad.reshape(m, len(cand), n_f).sum(1)
    attr = grad.mean(0) * (x - b)
    return attr.detach().double().numpy()


def group_attribution(attr: np.ndarray, feature_names: Sequence[str], groups: Sequence[str]) -> np.ndarray:
    """Sum attributions over features named ``<group>_*`` (e.g. highway's ``v3_vx`` -> group ``v3``): (G,)."""
    out = np.zeros(len(groups), dtype=np.float64)
    for i, g in enumerate(groups):
        prefix = g + "_"
        out[i] = sum(float(a) for a, n in zip(attr, feature_names, strict=True) if n.startswith(prefix))
    return out


# ---------------------------------------------------------------------------
# value map: the intent reward of arriving in each place
# ---------------------------------------------------------------------------
@torch.no_grad()
def value_map(model, state: IntentState, feats: np.ndarray, acts: np.ndarray, places: np.ndarray, n_places: int,
              reduce: str = "mean") -> np.ndarray:
    """Intent reward of arriving in each of ``n_places`` places (flat, score units); NaN where no move arrives.

    Entry ``i`` is the move ``acts[i]`` from a state with features ``feats[i]`` that lands on place
    ``places[i]`` (an environment lists them: :meth:`dpf_gui.envs.gridnav.GridNavEnv.intent_value_map`). All
    are scored from the memory ``state`` in one batched step, then ``reduce``d per place: ``"mean"`` or ``"max"``.
    """
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    out = np.full(n_places, np.nan)
    if len(acts) == 0:
        return out
    r = intent_rewards(model, state, feats, acts)
    if reduce == "mean":
        total = np.bincount(places, weights=r, minlength=n_places)
        count = np.bincount(places, minlength=n_places)
        ok = count > 0
        out[ok] = total[ok] / count[ok]
    else:
        best = np.full(n_places, -np.inf)
        np.maximum.at(best, places, r)
        ok = np.isfinite(best)
        out[ok] = best[ok]
    return out


__all__ = [
    "METHODS",
    "IntentState",
    "attribute",
    "capture_state",
    "group_attribution",
    "intent_rewards",
    "value_map",
]

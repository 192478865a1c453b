"""Querying the intent model one decision at a time (METHOD.md, piece 4).

At decision ``t`` the agent needs, for every candidate action ``a``, the score
the model would predict if ``a`` were taken, ``g_t(a)``, and the intent reward
``r_t(a) = g_t(a) - g_{t-1}``. :class:`IntentStepper` carries the LSTM state
``h_{t-1}`` of the history actually played, scores all candidates with one
batched LSTM step (a batch of A copies of the state, one per action), and
:meth:`~IntentStepper.advance` commits the chosen action's already computed
state: one LSTM step per decision, never a re-run of the history.

``markov=True`` is the authors' query: every decision starts from the zero
state (no history) and ``g_{t-1} = 0``, so ``r_t(a) = g(s_t, a)``. It is kept
for comparison; the history query is the principled one, because the score is
a property of the whole trajectory.

Values are in the labels' score units. When ``legal`` is given, illegal
actions get ``-inf`` (so argmax and softmax ignore them); average over
``legal`` only.
"""

from __future__ import annotations

import numpy as np
import torch

from dpf_gui.intent.model import IntentModel


class IntentStepper:
    """Incremental g_t(a) / r_t(a) for every candidate action along one episode."""

    def __init__(self, model: IntentModel, markov: bool = False):
        self.model = model.eval()
        self.markov = bool(markov)
        self.n_actions = model.arch.n_actions
        self._actions = torch.arange(self.n_actions).reshape(self.n_actions, 1)
        self.reset()

    def reset(self) -> None:
        """Start a new episode: empty history, ``g_{-1} = 0``."""
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None
        self._g_prev = 0.0
        self._cand: tuple[np.ndarray, np.ndarray, torch.Tensor, torch.Tensor] | None = None
        self.t = 0

    @property
    def state(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """LSTM ``(h, c)`` after the history so far, each (1, 1, H); None before the first decision and in markov mode.

        A new tuple is made at every :meth:`advance` (never written into), so holding it is safe.
        """
        return None if self.markov else self._state

    @property
    def g_prev(self) -> float:
        """``g_{t-1}``: the prediction after the history so far (0 before the first decision; always 0 in markov mode)."""
        return self._g_prev

    @torch.no_grad()
    def _candidates(self, features: np.ndarray) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        feats = np.asarray(features, dtype=np.float32).reshape(-1)
        if self._cand is not None and np.array_equal(self._cand[0], feats):
            return self._cand[1:]
        a = self.n_actions
        f = torch.from_numpy(feats).reshape(1, 1, -1).expand(a, 1, feats.shape[0])
        state = None
        if self._state is not None and not self.markov:
            h, c = self._state
            state = (h.expand(1, a, h.shape[-1]).contiguous(), c.expand(1, a, c.shape[-1]).contiguous())
        out, _, (h_new, c_new) = self.model(f, self._actions, state)
        g = (out[:, 0] * self.model.score_scale).double().numpy()
        if self.model.arch.readout == "cumsum":  # one step's output is the increment g_t - g_{t-1}
            g = g + self._g_prev
        self._cand = (feats.copy(), g, h_new, c_new)
        return g, h_new, c_new

    def score_actions(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """``g_t(a)`` for every action a (A,), in score units; ``-inf`` where not legal."""
        g = self._candidates(features)[0].copy()
        if legal is not None:
            g[~np.asarray(legal, dtype=bool)] = -np.inf
        return g

    def rewards(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """``r_t(a) = g_t(a) - g_{t-1}`` for every action a (A,), in score units; ``-inf`` where not legal."""
        return self.score_actions(features, legal) - self._g_prev

    def realized(self, action: int) -> float:
        """``r_t`` of ``action`` among the candidates just scored (score units): the intent reward it collects."""
        if self._cand is None:
            return 0.0
        return float(self._cand[1][int(action)] - self._g_prev)

    def advance(self, action: int, features: np.ndarray | None = None) -> float:
        """Commit the action taken at this decision; return its ``r_t``.

        Reuses the candidates scored for this decision. ``features`` is needed
        only if no candidates were scored for the current state (e.g. a
        decision the intent model was not asked about).
        """
        if self._cand is None or (features is not None and not np.array_equal(
                self._cand[0], np.asarray(features, dtype=np.float32).reshape(-1))):
            if features is None:
                raise RuntimeError("IntentStepper.advance: no candidates scored for this state; pass its features")
            self._candidates(features)
        g, h, c = self._cand[1:]
        action = int(action)
        r = float(g[action] - self._g_prev)
        if not self.markov:
            self._state = (h[:, action:action + 1].clone(), c[:, action:action + 1].clone())
            self._g_prev = float(g[action])
        self._cand = None
        self.t += 1
        return r


__all__ = ["IntentStepper"]

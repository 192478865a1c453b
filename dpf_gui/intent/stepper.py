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

Rows. A stepper carries the memory of ``rows`` episodes at once (batched
evaluation plays many in lockstep): the ``*_rows`` methods take one row per
episode and score all of them and all their candidates in one LSTM call;
:meth:`~IntentStepper.keep` and :meth:`~IntentStepper.extend` drop finished
episodes and add new ones. The single-episode methods (``score_actions``,
``advance``, ...) are the same code with one row. The LSTM runs in float64 and
its scores are rounded to float32 (:mod:`dpf_gui.rowwise`), so an episode's
scores never depend on which other episodes share its batch; the carried
state stays float64.
"""

from __future__ import annotations

import numpy as np
import torch

from dpf_gui.intent.model import IntentModel
from dpf_gui.rowwise import float64_twin


class IntentStepper:
    """Incremental g_t(a) / r_t(a) for every candidate action along ``rows`` episodes (one by default)."""

    def __init__(self, model: IntentModel, markov: bool = False, rows: int = 1):
        self.model = model.eval()
        self.markov = bool(markov)
        self.n_actions = model.arch.n_actions
        self._rows = int(rows)
        self.reset()

    def reset(self) -> None:
        """Start new episodes in every row: empty history, ``g_{-1} = 0``."""
        b, h = self._rows, self.model.arch.hidden
        self._h = torch.zeros(1, b, h, dtype=torch.float64)
        self._c = torch.zeros(1, b, h, dtype=torch.float64)
        self._g_prev = np.zeros(b)
        self._first = np.ones(b, dtype=bool)  # no decision yet: the readout's offset enters (cumsum)
        self._cand: tuple[np.ndarray, np.ndarray, torch.Tensor, torch.Tensor] | None = None
        self.t = 0

    # --- rows: many episodes in lockstep ---------------------------------------
    @property
    def g_prev_rows(self) -> np.ndarray:
        """``g_{t-1}`` of every row (B,)."""
        return self._g_prev

    @torch.no_grad()
    def _candidates(self, features: np.ndarray) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        feats = np.asarray(features, dtype=np.float32).reshape(self._rows, -1)
        if self._cand is not None and np.array_equal(self._cand[0], feats):
            return self._cand[1:]
        b, a = self._rows, self.n_actions
        f = torch.from_numpy(feats).double().repeat_interleave(a, dim=0).reshape(b * a, 1, -1)
        acts = torch.arange(a).repeat(b).reshape(b * a, 1)
        state = (self._h.repeat_interleave(a, dim=1), self._c.repeat_interleave(a, dim=1))
        out, _, (h_new, c_new) = float64_twin(self.model)(f, acts, state, start=False)
        d = out[:, 0].float().reshape(b, a)  # rounded: the same whatever the batch (see the module doc)
        if self.model.arch.readout == "cumsum":
            first = torch.from_numpy(self._first | self.markov).reshape(b, 1)
            d = torch.where(first, d + self.model.offset.detach(), d)
        g = (d * self.model.score_scale).double().numpy()
        if self.model.arch.readout == "cumsum":  # one step's output is the increment g_t - g_{t-1}
            g = g + self._g_prev[:, None]
        self._cand = (feats.copy(), g, h_new, c_new)
        return g, h_new, c_new

    def score_rows(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """``g_t(a)`` for every row and action (B, A), in score units; ``-inf`` where not legal."""
        g = self._candidates(features)[0].copy()
        if legal is not None:
            g[~np.asarray(legal, dtype=bool).reshape(g.shape)] = -np.inf
        return g

    def realized_rows(self, actions: np.ndarray) -> np.ndarray:
        """``r_t`` of each row's action among the candidates just scored (B,): the intent reward it collects."""
        if self._cand is None:
            return np.zeros(self._rows)
        return self._cand[1][np.arange(self._rows), np.asarray(actions, dtype=np.int64)] - self._g_prev

    def advance_rows(self, actions: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Commit every row's action; return their ``r_t`` (B,). ``features``: see :meth:`advance`."""
        if self._cand is None or (features is not None and not np.array_equal(
                self._cand[0], np.asarray(features, dtype=np.float32).reshape(self._rows, -1))):
            if features is None:
                raise RuntimeError("IntentStepper.advance: no candidates scored for this state; pass its features")
            self._candidates(features)
        actions = np.asarray(actions, dtype=np.int64).reshape(self._rows)
        r = self.realized_rows(actions)
        if not self.markov:
            g, h, c = self._cand[1:]
            pick = torch.from_numpy(np.arange(self._rows) * self.n_actions + actions)
            self._h, self._c = h[:, pick], c[:, pick]
            self._g_prev = g[np.arange(self._rows), actions]
            self._first = np.zeros(self._rows, dtype=bool)
        self._cand = None
        self.t += 1
        return r

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true (finished episodes drop out)."""
        mask = np.asarray(mask, dtype=bool)
        pick = torch.from_numpy(np.flatnonzero(mask))
        self._h, self._c = self._h[:, pick], self._c[:, pick]
        self._g_prev, self._first = self._g_prev[mask], self._first[mask]
        self._rows, self._cand = int(mask.sum()), None

    def extend(self, other: IntentStepper) -> None:
        """Append ``other``'s rows (new episodes) after this stepper's."""
        self._h, self._c = torch.cat([self._h, other._h], dim=1), torch.cat([self._c, other._c], dim=1)
        self._g_prev = np.concatenate([self._g_prev, other._g_prev])
        self._first = np.concatenate([self._first, other._first])
        self._rows, self._cand = self._rows + other._rows, None

    # --- one episode (one row) ---------------------------------------------------
    @property
    def state(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """LSTM ``(h, c)`` after the history so far, each (1, 1, H) float32; None before the first decision and in markov mode.

        A new tuple of new tensors at every call, so holding it is safe.
        """
        if self.markov or self._first[0]:
            return None
        return self._h[:, :1].float(), self._c[:, :1].float()

    @property
    def g_prev(self) -> float:
        """``g_{t-1}``: the prediction after the history so far (0 before the first decision; always 0 in markov mode)."""
        return float(self._g_prev[0])

    def score_actions(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """``g_t(a)`` for every action a (A,), in score units; ``-inf`` where not legal."""
        return self.score_rows(np.asarray(features)[None], None if legal is None else np.asarray(legal)[None])[0]

    def rewards(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """``r_t(a) = g_t(a) - g_{t-1}`` for every action a (A,), in score units; ``-inf`` where not legal."""
        return self.score_actions(features, legal) - self.g_prev

    def realized(self, action: int) -> float:
        """``r_t`` of ``action`` among the candidates just scored (score units): the intent reward it collects."""
        return float(self.realized_rows(np.array([action]))[0])

    def advance(self, action: int, features: np.ndarray | None = None) -> float:
        """Commit the action taken at this decision; return its ``r_t``.

        Reuses the candidates scored for this decision. ``features`` is needed
        only if no candidates were scored for the current state (e.g. a
        decision the intent model was not asked about).
        """
        return float(self.advance_rows(np.array([action]), None if features is None else np.asarray(features)[None])[0])


__all__ = ["IntentStepper"]

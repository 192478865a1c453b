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
``advance``, ...) are the same code with one row.

Arithmetic. A step runs in numpy on float64 copies of the model's weights
(:class:`StepWeights`, read when the episodes start and made again if the
weights have changed since): torch's per-call overhead was most of a
decision's cost. The copies are arranged so
that what is the same for every candidate is computed once: the state's part
of the encoder's first layer and the LSTM's recurrent term once per row, the
FiLM factors of every action once per model. The scores are rounded to
float32 as the model's own forward rounds them (:mod:`dpf_gui.rowwise`), so
an episode's scores never depend on which other episodes share its batch;
the carried state stays float64. tests/test_intent.py checks the steps
against the model's forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dpf_gui.intent.model import IntentModel
from dpf_gui.rowwise import as_f64, numpy_twin

if TYPE_CHECKING:
    import torch


class StepWeights:
    """An :class:`IntentModel`'s weights for one LSTM step of every candidate action, in float64 numpy."""

    def __init__(self, model: IntentModel):
        arch = model.arch
        f, a, e = arch.n_features, arch.n_actions, arch.embed
        self.mean, self.std = as_f64(model.feat_mean), as_f64(model.feat_std)
        lin1, lin2 = model.enc[0], model.enc[2]
        w1 = as_f64(lin1.weight)  # (E, F [+ A])
        self.w_state = np.ascontiguousarray(w1[:, :f].T)
        # the action's one-hot enters the encoder as one column of the first layer per action (with the bias)
        self.b_action = (w1[:, f:].T if arch.action_in else np.zeros((a, e))) + as_f64(lin1.bias)
        self.w2, self.b2 = np.ascontiguousarray(as_f64(lin2.weight).T), as_f64(lin2.bias)
        code = np.tile(np.eye(a), arch.block)  # action_code of every action, (A, A * block)
        gb = code @ as_f64(model.film.weight).T + as_f64(model.film.bias)
        self.gamma, self.beta = gb[:, :e], gb[:, e:]
        lstm, h = model.lstm, arch.hidden
        # sigmoid(x) = tanh(x / 2) / 2 + 1 / 2 for the i, f, o gates: one tanh over all four gates (i, f, g, o),
        # with the halving in the weights (exact: a power of two)
        self.half = np.concatenate([np.full(2 * h, 0.5), np.ones(h), np.full(h, 0.5)])
        self.half_offset = np.concatenate([np.full(2 * h, 0.5), np.zeros(h), np.full(h, 0.5)])
        self.w_ih = np.ascontiguousarray(as_f64(lstm.weight_ih_l0).T * self.half)  # (E, 4H)
        self.w_hh = np.ascontiguousarray(as_f64(lstm.weight_hh_l0).T * self.half)
        self.b = (as_f64(lstm.bias_ih_l0) + as_f64(lstm.bias_hh_l0)) * self.half
        self.w_head, self.b_head = as_f64(model.head.weight)[0], float(as_f64(model.head.bias)[0])
        self.cumsum = arch.readout == "cumsum"
        self.step_scale = float(model.step_scale) if self.cumsum else 1.0
        self.offset = np.float32(model.offset.item())
        self.score_scale = np.float32(model.score_scale.item())
        self.hidden = h

    def step(self, features: np.ndarray, h: np.ndarray, c: np.ndarray):
        """One LSTM step from states ``features`` (B, F) for every action: ``(d, h', c')``.

        ``h``, ``c`` are (B, H); ``d`` is the head's output (B, A) rounded to float32 (with the cumsum
        readout times ``step_scale``: the increment), ``h'``, ``c'`` are (B, A, H).
        """
        s = (np.asarray(features, dtype=np.float64) - self.mean) / self.std
        z = (s @ self.w_state)[:, None, :] + self.b_action  # (B, A, E)
        np.maximum(z, 0.0, out=z)
        z = z @ self.w2
        z += self.b2
        x = self.gamma * z
        x += self.beta
        np.maximum(x, 0.0, out=x)
        rec = h @ self.w_hh
        rec += self.b
        gates = x @ self.w_ih
        gates += rec[:, None, :]
        t = np.tanh(gates, out=gates)
        t *= self.half
        t += self.half_offset
        n = self.hidden
        i, f, g, o = t[..., :n], t[..., n:2 * n], t[..., 2 * n:3 * n], t[..., 3 * n:]
        c_new = f * c[:, None, :]
        c_new += i * g
        h_new = o * np.tanh(c_new)
        d = h_new @ self.w_head + self.b_head
        if self.cumsum:
            d *= self.step_scale
        return d.astype(np.float32), h_new, c_new


class IntentStepper:
    """Incremental g_t(a) / r_t(a) for every candidate action along ``rows`` episodes (one by default)."""

    def __init__(self, model: IntentModel, markov: bool = False, rows: int = 1):
        self.model = model.eval()
        self.markov = bool(markov)
        self.n_actions = model.arch.n_actions
        self._rows = int(rows)
        self.reset()

    def reset(self) -> None:
        """Start new episodes in every row: empty history, ``g_{-1} = 0``; the model's weights are read now."""
        # once per episode, not per decision: checking that the copy is current costs 5-50 us (cold caches)
        self._weights = numpy_twin(self.model, StepWeights)
        b, h = self._rows, self.model.arch.hidden
        self._h = np.zeros((b, h))
        self._c = np.zeros((b, h))
        self._g_prev = np.zeros(b)
        self._first = np.ones(b, dtype=bool)  # no decision yet: the readout's offset enters (cumsum)
        self._cand: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.t = 0

    # --- rows: many episodes in lockstep ---------------------------------------
    @property
    def g_prev_rows(self) -> np.ndarray:
        """``g_{t-1}`` of every row (B,)."""
        return self._g_prev

    def _candidates(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feats = np.asarray(features, dtype=np.float32).reshape(self._rows, -1)
        if self._cand is not None and np.array_equal(self._cand[0], feats):
            return self._cand[1:]
        w = self._weights
        d, h_new, c_new = w.step(feats, self._h, self._c)  # d rounded: the same whatever the batch
        first = self._first | self.markov
        if w.cumsum and first.any():  # the readout's offset enters with the first step
            d = np.where(first[:, None], d + w.offset, d)
        g = (d * w.score_scale).astype(np.float64)
        if w.cumsum:  # one step's output is the increment g_t - g_{t-1}
            g += self._g_prev[:, None]
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
            rows = np.arange(self._rows)
            self._h, self._c = h[rows, actions], c[rows, actions]
            self._g_prev = g[rows, actions]
            self._first = np.zeros(self._rows, dtype=bool)
        self._cand = None
        self.t += 1
        return r

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true (finished episodes drop out)."""
        mask = np.asarray(mask, dtype=bool)
        self._h, self._c = self._h[mask], self._c[mask]
        self._g_prev, self._first = self._g_prev[mask], self._first[mask]
        self._rows, self._cand = int(mask.sum()), None

    def extend(self, other: IntentStepper) -> None:
        """Append ``other``'s rows (new episodes) after this stepper's."""
        self._h, self._c = np.concatenate([self._h, other._h]), np.concatenate([self._c, other._c])
        self._g_prev = np.concatenate([self._g_prev, other._g_prev])
        self._first = np.concatenate([self._first, other._first])
        self._rows, self._cand = self._rows + other._rows, None

    # --- one episode (one row) ---------------------------------------------------
    @property
    def state(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """LSTM ``(h, c)`` after the history so far, each (1, 1, H) float32; None before the first decision and
        in markov mode.

        A new tuple of new tensors at every call, so holding it is safe.
        """
        if self.markov or self._first[0]:
            return None
        import torch

        return (torch.tensor(self._h[None, :1], dtype=torch.float32),
                torch.tensor(self._c[None, :1], dtype=torch.float32))

    @property
    def g_prev(self) -> float:
        """``g_{t-1}``: the prediction after the history so far (0 before the first decision;
        always 0 in markov mode)."""
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


__all__ = ["IntentStepper", "StepWeights"]

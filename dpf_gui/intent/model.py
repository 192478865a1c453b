"""The intent model: an LSTM that reads (s_t, a_t) and predicts the trajectory's score.

RUDDER-style return decomposition (METHOD.md, piece 3). After every prefix
``(s_0, a_0, ..., s_t, a_t)`` the model predicts ``g_t``, the score the user
will give the whole trajectory; the differences ``r_t = g_t - g_{t-1}``
(``g_{-1} = 0``) are the per-step "intent rewards". A step's mark is decided by
the state the decision *leads to* (state ``t + 1``), so the model reads the
action together with the state it is taken in and can anticipate the mark.

Network, per step::

    z_t   = enc([(s_t - mean) / std, onehot(a_t)])   encoder MLP, F (+ A) -> E
    gamma, beta = film(code(a_t))                    block one-hot action code -> 2E (FiLM)
    x_t   = relu(gamma * z_t + beta)
    h_t   = LSTM(x_t, h_{t-1})                       E -> H, forget-gate bias 1
    readout "cumsum" (default):
        g_t   = offset + step_scale * sum_{j<=t} head(h_j)
        aux_t = g_t + step_scale * aux_head(h_t)     aux_t ~ g_{t+3}
    readout "direct" (the plain RUDDER head):
        g_t   = head(h_t),  aux_t = aux_head(h_t)

Why the cumsum readout: a simulated user's score *is* a sum of per-step
marks, and RUDDER's own LSTM is built as an integrator for the same reason.
With a direct head the LSTM has to count marks in its cell state over
hundreds of steps; on Pong episodes of ~300 steps it stalls (held-out
correlation 0.3-0.5), the cumsum readout reaches 0.94-0.99 and puts the
credit on the right steps far more often (docs in the training report).
``offset`` starts at the mean training target and carries the expected score,
so the increments only have to say what each step changes; the heads start
at zero (an untrained model predicts the mean, not a random walk);
``step_scale = 1 / sqrt(mean episode length)`` keeps one weight update from
moving a 1000-step sum much more than a 10-step one.

The action code is the one-hot of ``a`` repeated ``block`` times (the
authors' block one-hot). FiLM starts as the identity (``gamma = 1``,
``beta = 0``). The plain one-hot also enters the encoder (``action_in``):
where a move leads is then a *linear* feature of (state, action) (gridnav:
x + dx), which FiLM alone can only build from products of learnt features.
Measured on gridnav (3 seeds, 500 random episodes): the candidate actions'
rewards differ 2-4x more and rank "onto the toll road" below "elsewhere" in
99-100% of decisions instead of 92-100%; final-score fit unchanged.

Outputs are in *normalised* score units; ``score_scale`` (a buffer, saved with
the weights) converts: ``g * score_scale`` is in the labels' units. Feature
standardisation (``feat_mean``, ``feat_std``) and ``step_scale`` are buffers
too, so a loaded model needs nothing but its checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dpf_gui.intent.lstm_config import READOUTS

FORGET_BIAS = 1.0


@dataclass(frozen=True)
class IntentArch:
    """Everything needed to rebuild an :class:`IntentModel` (stored in the sidecar)."""

    n_features: int
    n_actions: int
    embed: int = 64  # E: state encoder width = LSTM input size
    hidden: int = 64  # H: LSTM hidden size
    block: int = 4  # repetitions of the action one-hot in the FiLM input
    aux_horizon: int = 3  # the aux head predicts g_{t + aux_horizon}
    readout: str = "cumsum"  # "cumsum": g_t = sum_{j<=t} head(h_j); "direct": g_t = head(h_t)
    action_in: int = 1  # 1: the action's one-hot is also an input of the state encoder (see module doc)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IntentArch:
        kw: dict[str, Any] = {k: int(d[k]) for k in ("n_features", "n_actions", "embed", "hidden", "block",
                                                     "aux_horizon", "action_in") if k in d}
        if "readout" in d:
            kw["readout"] = str(d["readout"])
        return cls(**kw)

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout {self.readout!r}: expected one of {', '.join(READOUTS)}")


class IntentModel(nn.Module):
    """g(s_0, a_0, ..., s_t, a_t): the predicted trajectory score after each prefix."""

    def __init__(self, arch: IntentArch):
        super().__init__()
        self.arch = arch
        f, a, e, h = arch.n_features, arch.n_actions, arch.embed, arch.hidden
        self.register_buffer("feat_mean", torch.zeros(f))
        self.register_buffer("feat_std", torch.ones(f))
        self.register_buffer("score_scale", torch.ones(()))
        self.register_buffer("step_scale", torch.ones(()))
        self.enc = nn.Sequential(nn.Linear(f + (a if arch.action_in else 0), e), nn.ReLU(), nn.Linear(e, e))
        self.film = nn.Linear(a * arch.block, 2 * e)
        with torch.no_grad():  # identity FiLM at init: gamma = 1, beta = 0
            self.film.weight.zero_()
            self.film.bias.zero_()
            self.film.bias[:e] = 1.0
        self.lstm = nn.LSTM(e, h, num_layers=1, batch_first=True)
        with torch.no_grad():  # forget-gate bias 1: remember by default, so counting marks over long episodes is easy
            self.lstm.bias_ih_l0[h:2 * h].fill_(float(FORGET_BIAS))
            self.lstm.bias_hh_l0[h:2 * h].zero_()
        self.head = nn.Linear(h, 1)
        self.aux_head = nn.Linear(h, 1)
        # cumsum readout: g_t = offset + step_scale * sum_{j<=t} head(h_j). The offset carries the
        # expected score (set to the training mean), so the increments only have to carry what
        # each step changes; the heads start at zero, so an untrained model predicts the mean.
        self.offset = nn.Parameter(torch.zeros(()))
        if arch.readout == "cumsum":
            for lin in (self.head, self.aux_head):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    # --- building blocks -------------------------------------------------------
    def set_normalisation(self, feat_mean: np.ndarray, feat_std: np.ndarray, score_scale: float,
                          mean_length: float = 1.0, mean_target: float = 0.0) -> None:
        """Install the training data's feature standardisation, score scale and step scale.

        With the cumsum readout each increment is multiplied by
        ``1 / sqrt(mean_length)``: a change of the weights then moves the sum
        over a typical episode by O(1), whether episodes last 10 or 1000 steps.
        """
        std = np.where(np.asarray(feat_std) > 1e-6, feat_std, 1.0)  # constant features: leave unscaled
        self.feat_mean.copy_(torch.as_tensor(np.asarray(feat_mean), dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32))
        self.score_scale.fill_(float(score_scale))
        self.step_scale.fill_(1.0 / math.sqrt(max(1.0, float(mean_length))) if self.arch.readout == "cumsum" else 1.0)
        with torch.no_grad():
            self.offset.fill_(float(mean_target) if self.arch.readout == "cumsum" else 0.0)

    def action_code(self, actions: torch.Tensor) -> torch.Tensor:
        """Block one-hot code of integer actions: (...,) -> (..., A * block)."""
        onehot = nn.functional.one_hot(actions.long(), self.arch.n_actions).to(self.feat_mean.dtype)
        return onehot.repeat(*([1] * (onehot.dim() - 1)), self.arch.block)

    def step_input(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """LSTM input x for states (..., F) and actions (...,): (..., E)."""
        s = (features - self.feat_mean) / self.feat_std
        if self.arch.action_in:
            s = torch.cat([s, nn.functional.one_hot(actions.long(), self.arch.n_actions).to(s.dtype)], dim=-1)
        z = self.enc(s)
        gb = self.film(self.action_code(actions))
        gamma, beta = gb.chunk(2, dim=-1)
        return torch.relu(gamma * z + beta)

    # --- full sequences ----------------------------------------------------------
    def forward(self, features: torch.Tensor, actions: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None, start: bool | None = None):
        """Run padded sequences: features (B, T, F), actions (B, T) -> (g, aux, (h, c)).

        ``g`` and ``aux`` are (B, T) in normalised units. The LSTM is causal, so
        padding at the end of shorter sequences never changes their valid
        outputs; callers mask positions ``t >= length``. ``(h, c)`` is the
        state after the last (padded) position, meaningful only for B = 1 or
        equal lengths.

        With the cumsum readout a call that continues a sequence (``state``
        given, ``start`` false) returns the increments summed *within this
        call* and no offset: the caller adds the ``g`` reached before it.
        """
        x = self.step_input(features, actions)
        out, hc = self.lstm(x, state)
        d = self.head(out).squeeze(-1)
        aux = self.aux_head(out).squeeze(-1)
        if self.arch.readout == "cumsum":
            d = (d * self.step_scale).cumsum(dim=1)
            if (state is None) if start is None else start:
                d = d + self.offset
            aux = d.detach() + aux * self.step_scale  # the aux head predicts the change over the next steps
        return d, aux, hc

    @torch.no_grad()
    def predict(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """g_t along one trajectory's decisions, in score units: (T,).

        ``features`` may hold T or T + 1 rows (a stored trajectory's final state
        is not a decision and is ignored).
        """
        t = len(actions)
        if t == 0:
            return np.zeros(0, dtype=np.float32)
        f = torch.as_tensor(np.asarray(features[:t], dtype=np.float32))[None]
        a = torch.as_tensor(np.asarray(actions, dtype=np.int64))[None]
        g, _, _ = self(f, a)
        return (g[0] * self.score_scale).numpy().astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"type": "film-lstm", **self.arch.to_dict()}


__all__ = ["IntentArch", "IntentModel"]

"""The task agent's Q-network: an MLP from the feature vector to one Q-value per action.

Its own module because two sides need it: the trainer (:mod:`dpf_gui.agents.dqn`,
:mod:`dpf_gui.agents.retrain`) and the loader (:mod:`dpf_gui.agents.task_agent`),
which must not import the training script.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class QNetwork(nn.Module):
    """MLP: features (F,) -> Q-values (A,), ReLU between layers."""

    def __init__(self, n_features: int, n_actions: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_features)
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, int(n_actions)))
        self.net = nn.Sequential(*layers)
        self.n_features, self.n_actions, self.hidden = int(n_features), int(n_actions), tuple(int(h) for h in hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def relu_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(W, b)`` of every layer, W shaped (in, out): the network for :class:`~dpf_gui.rowwise.ReluMLP`."""
        return [(m.weight.T, m.bias) for m in self.net if isinstance(m, nn.Linear)]

    def architecture(self) -> dict[str, Any]:
        return {"type": "mlp", "n_features": self.n_features, "hidden": list(self.hidden),
                "n_actions": self.n_actions, "activation": "relu"}


def masked_argmax_batch(q: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Row-wise argmax of ``q`` (N, A) over ``legal`` (N, A) bool (rows with no legal action: all)."""
    legal = legal | ~legal.any(dim=1, keepdim=True)
    return q.masked_fill(~legal, -torch.inf).argmax(dim=1)


__all__ = ["QNetwork", "masked_argmax_batch"]

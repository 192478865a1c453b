"""The paper's LSTM intent's settings: what needs no torch.

The Train tab builds an :class:`IntentConfig` from its form on the UI thread;
reading it from here keeps torch (1-2 s to import) off that thread.
:mod:`dpf_gui.intent.train` re-exports both names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dpf_gui.intent.objectives import OBJECTIVES
from dpf_gui.overrides import Allowed, check_fields

READOUTS = ("cumsum", "direct")  # how the LSTM's total is read out (dpf_gui/intent/model.py)

_POSITIVE = Allowed(low=0, low_open=True)
#: what every IntentConfig field may hold (numbers are also finite); the architecture keys of a stored
#: intent model (embed, hidden, block, aux_horizon, readout, action_in) are checked against the same ranges
INTENT_ALLOWED: dict[str, Allowed] = {
    "embed": Allowed(1, 4096), "hidden": Allowed(1, 4096), "block": Allowed(1, 64),
    "action_in": Allowed(choices=(0, 1)), "readout": Allowed(choices=READOUTS), "lam": Allowed(0),
    "aux_horizon": Allowed(1, 1000), "learning_rate": Allowed(low=0, high=10, low_open=True),
    "weight_decay": Allowed(0), "adam_eps": _POSITIVE, "batch_size": Allowed(1, 100_000),
    "max_batch_steps": Allowed(1, 10**9),
    "max_epochs": Allowed(1, 10**6), "patience": Allowed(1, 10**6),
    "min_delta": Allowed(low=0, high=1, high_open=True),
    "held_out": Allowed(low=0, high=1, low_open=True, high_open=True),
    "max_train_per_epoch": Allowed(1), "max_time_s": _POSITIVE, "min_labelled": Allowed(1, 10**9),
    "threads": Allowed(1, 1024), "objective": Allowed(choices=OBJECTIVES),
}


@dataclass
class IntentConfig:
    """Every knob of :func:`train_intent`."""

    # network
    embed: int = 64  # state encoder width (LSTM input)
    hidden: int = 64  # LSTM hidden size
    block: int = 4  # repetitions of the action one-hot fed to FiLM
    action_in: int = 1  # 1: the action one-hot also enters the state encoder (0: FiLM only)
    # "cumsum": g_t = sum of per-step increments (RUDDER's integrator); "direct": g_t = head(h_t)
    readout: str = "cumsum"
    # loss
    lam: float = 2.0  # weight of the per-step and aux terms (authors: 0.1; see the module docstring)
    aux_horizon: int = 3  # the aux head predicts g_{t + aux_horizon}
    # optimisation
    learning_rate: float = 3e-3  # Adam
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    max_grad_norm: float = 1.0  # gradient clipping (<= 0: off)
    #: AdamW's epsilon (its own default); 1e-4 narrows how far two CPUs' intents part on gridnav, hardly on Pong
    #: (docs/EXPERIMENTS.md, section 91)
    adam_eps: float = 1e-8
    batch_size: int = 16  # trajectories per batch (at most)
    max_batch_steps: int = 8192  # padded steps per batch (at most; long episodes get smaller batches)
    max_epochs: int = 100
    patience: int = 10  # epochs without held-out improvement before stopping
    min_delta: float = 1e-4  # relative improvement of the held-out loss that counts
    held_out: float = 0.2  # fraction of labelled trajectories held out (at least 1)
    max_train_per_epoch: int | None = None  # subsample the training trajectories each epoch
    max_time_s: float | None = None  # stop (keeping the best weights) after this much wall time
    min_labelled: int = 4  # fewer labelled trajectories: refuse
    threads: int | None = 1  # torch threads while training (restored after); small LSTMs gain nothing from more
    objective: str = "auto"  # loss on the feedback (dpf_gui/intent/objectives.py): auto, score, logistic

    def __post_init__(self) -> None:
        check_fields(self, "intent config", INTENT_ALLOWED)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IntentConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


__all__ = ["INTENT_ALLOWED", "READOUTS", "IntentConfig"]

"""The additive intent's settings and its region code: what needs no torch.

The Annotate view ranks "label this next" suggestions by region codes
(:mod:`dpf_gui.selection`) before any model exists; reading them from here
keeps torch (1-2 s to import) off the app's start. :mod:`dpf_gui.intent.additive`
re-exports every name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dpf_gui.envs.base import RegionFeature
from dpf_gui.intent.objectives import OBJECTIVES
from dpf_gui.overrides import Allowed, check_fields

BINS = 10  # bins of a continuous region feature in the region code
MAX_ONE_HOT = 32  # an int region feature with at most this many values is one-hot coded


#: what the intent value counts after a step that ends the episode (see :func:`dpf_gui.intent.additive._fit_value`)
TERMINAL_RULES = ("end", "stay")

_AT_LEAST_1 = Allowed(low=1)
_POSITIVE = Allowed(low=0, low_open=True)
_ADDITIVE_ALLOWED = {
    **dict.fromkeys(("members", "hidden", "utility_steps", "value_steps", "batch_size", "max_transitions",
                     "neutral_samples", "utility_rows", "min_labelled", "threads", "horizon"), _AT_LEAST_1),
    "utility_lr": _POSITIVE, "value_lr": _POSITIVE, "adam_eps": _POSITIVE,
    "target_tau": Allowed(low=0, high=1, low_open=True),
    **dict.fromkeys(("neutral_weight", "unseen_pull", "weight_decay", "segment_weight", "time_cost"), Allowed(low=0)),
    "objective": Allowed(choices=OBJECTIVES), "terminal": Allowed(choices=TERMINAL_RULES),
}



@dataclass
class AdditiveConfig:
    """Every knob of :func:`train_additive`; the defaults are measured in docs/RESULTS.md."""

    members: int = 8  # ensemble size (bootstrap resamples of the labelled trajectories)
    hidden: int = 64  # width of both MLPs (two hidden layers)
    utility_steps: int = 400  # full-batch Adam steps fitting u
    utility_lr: float = 3e-3
    neutral_weight: float = 0.1  # pull of u towards 0 on labelled and unlabelled stored states
    unseen_pull: float = 0.25  # and towards -this where no labelled step reached (if most labelled scores are < 0)
    weight_decay: float = 1e-4  # L2 on the utility's weights
    segment_weight: float = 1.0  # per-step loss on marked segments (where the labels have them)
    neutral_samples: int = 512  # stored states (redrawn every step) for the pull towards 0
    utility_rows: int = 20_000  # decisions per utility step at most (many labels: a random subset of trajectories)
    horizon: float = 10.0  # decisions the intent value looks ahead: discount 1 - 1/horizon
    value_steps: int = 3000  # minibatch steps of fitted Q iteration
    value_lr: float = 1e-3
    batch_size: int = 512
    target_tau: float = 0.01  # Polyak rate of the target network
    max_transitions: int = 100_000  # stored transitions used for the value (seeded subsample)
    min_labelled: int = 4  # fewer labelled trajectories: refuse
    threads: int | None = 1  # torch threads while training (restored after)
    objective: str = "auto"  # loss on the feedback (dpf_gui/intent/objectives.py): auto, score, logistic, pairs
    terminal: str = "stay"  # after an ending step: the value of the state it left ("stay") or nothing more ("end")
    time_cost: float = 0.0  # per step until a successful ending, in sure steps' utility (avoid-mostly marks; 0: off)
    #: Adam's epsilon in both fits: where a weight's true gradient is about 0, Adam turns the rounding noise of its
    #: computed gradient into steps of the full learning rate, so a larger epsilon trains intents that part less
    #: between CPUs (docs/EXPERIMENTS.md, section 91)
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        check_fields(self, "additive intent config", _ADDITIVE_ALLOWED)

    @property
    def gamma(self) -> float:
        return 1.0 - 1.0 / float(self.horizon)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdditiveConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def region_code_width(region_features: Sequence[RegionFeature]) -> int:
    return sum(_code_columns(rf) for rf in region_features)


def region_bin_columns(region_features: Sequence[RegionFeature]) -> np.ndarray:
    """The region code's one-hot columns: every column but a continuous feature's scaled value.

    Two states share a place when these agree; the scaled value would make
    nearly every Pong or highway state a place of its own."""
    keep: list[bool] = []
    for rf in region_features:
        n = _code_columns(rf)
        keep += [True] * n if rf.kind == "category" or _one_hot_int(rf) else [True] * (n - 1) + [False]
    return np.flatnonzero(keep)


def _code_columns(rf: RegionFeature) -> int:
    if rf.kind == "category":
        return len(rf.categories)
    if _one_hot_int(rf):
        return int(rf.high - rf.low) + 1
    return BINS + 1


def _one_hot_int(rf: RegionFeature) -> bool:
    return rf.kind == "int" and rf.low is not None and rf.high is not None and rf.high - rf.low + 1 <= MAX_ONE_HOT


def region_code(regions: np.ndarray, region_features: Sequence[RegionFeature]) -> np.ndarray:
    """The region values of states (N, R) as the utility's input: one-hots, bins and scaled values.

    Wishes are written as values and ranges of these features, so a one-hot
    per value (ints, categories) or per tenth of the range (floats) lets a
    small network express any single term exactly and conjunctions with one
    hidden unit. NaN (a region value the environment could not give) codes as
    all zeros.
    """
    regions = np.asarray(regions, dtype=np.float64)
    cols = []
    for j, rf in enumerate(region_features):
        v = regions[:, j]
        ok = np.isfinite(v)
        if rf.kind == "category" or _one_hot_int(rf):
            n = _code_columns(rf)
            low = 0.0 if rf.kind == "category" else float(rf.low)
            k = np.clip(np.where(ok, v - low, 0).round().astype(np.int64), 0, n - 1)
            block = np.eye(n, dtype=np.float32)[k]
            block[~ok] = 0
            cols.append(block)
        else:
            lo = float(rf.low) if rf.low is not None else float(np.nanmin(v)) if ok.any() else 0.0
            hi = float(rf.high) if rf.high is not None else float(np.nanmax(v)) if ok.any() else 1.0
            span = max(hi - lo, 1e-9)
            z = np.clip(np.where(ok, (v - lo) / span, 0.0), 0.0, 1.0)
            k = np.minimum((z * BINS).astype(np.int64), BINS - 1)
            block = np.eye(BINS, dtype=np.float32)[k]
            block[~ok] = 0
            cols.append(block)
            cols.append(z.astype(np.float32)[:, None])
    if not cols:
        return np.zeros((len(regions), 0), np.float32)
    return np.concatenate(cols, axis=1).astype(np.float32)


__all__ = ["BINS", "MAX_ONE_HOT", "TERMINAL_RULES", "AdditiveConfig", "region_bin_columns", "region_code",
           "region_code_width"]

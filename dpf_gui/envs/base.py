"""The adapter surface every dpf-gui environment offers.

Everything above the environments (simulated users, datasets, agents, fusion,
the app) talks to this surface only, so adding an environment means writing one
module that subclasses :class:`DPFEnv` (its :class:`EnvSpec` carries the
training defaults and example wishes, its ``screen`` how the app shows it) and
registering it (:func:`dpf_gui.envs.register_env`).

Conventions shared by all environments:

* ``observation`` is a float32 vector of ``len(feature_names)`` features.
* ``reset`` and ``step`` return ``info`` with ``"legal"`` (bool mask over the
  actions, for the state just observed), ``"regions"`` (float32 vector of the
  region-feature values of that state, in ``region_features`` order; a
  categorical feature holds the index into its ``categories``) and
  ``"task_success"`` (bool, meaningful once the episode has ended).
* ``reset(seed=s)`` followed by the same actions reproduces the same
  observations exactly: that is how stored trajectories are replayed.
  An environment that can start an episode elsewhere than its seed says
  (``supports_random_start``, :meth:`DPFEnv.start_options`) reads the start
  back from the stored start state, so such episodes replay too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dpf_gui.envs.screen import Screen


@dataclass(frozen=True)
class RegionFeature:
    """A named quantity a person's wish is written in (lane, paddle height, cell)."""

    name: str
    kind: str  # "int", "float" or "category"
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] = ()
    description: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegionFeature:
        """Inverse of ``dataclasses.asdict`` (region features travel in JSON metadata)."""
        return cls(d["name"], d["kind"], d.get("low"), d.get("high"), tuple(d.get("categories", ())),
                   d.get("description", ""))

    def describe_range(self) -> str:
        if self.kind == "category":
            return "one of " + ", ".join(self.categories)
        lo = "" if self.low is None else _fmt(self.low)
        hi = "" if self.high is None else _fmt(self.high)
        return f"{lo}..{hi} ({self.kind})"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Preset:
    """A named simulated-user wish shipped with an environment."""

    name: str  # "avoid", "prefer" or "mixed"
    prefer: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment, available without building it."""

    name: str
    title: str
    action_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    region_features: tuple[RegionFeature, ...]
    presets: tuple[Preset, ...]
    default_config: dict[str, Any] = field(default_factory=dict)
    #: the paper's task temperature and highest intent temperature for this environment (raw units;
    #: METHOD.md section 6), for ``dpf_gui.fusion_params.paper_params``
    paper_temperatures: dict[str, float] = field(default_factory=lambda: {"T_phi": 1.0, "T_max": 5.0})
    #: overrides of ``dpf_gui.agents.dqn.DQNConfig`` for ``dpf train-task`` (the generic defaults otherwise)
    train_defaults: dict[str, Any] = field(default_factory=dict)
    #: the step budget ``train_defaults`` were chosen for
    train_steps: int = 50_000
    #: a wish written in region expressions beyond the presets, {"prefer": (...), "avoid": (...)}
    #: (``dpf results``' custom-wish rows; none: those rows are skipped)
    example_wishes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: episodes ``dpf evaluate`` plays in lockstep per batched decision: enough to spread a network call's fixed
    #: cost thin, no more than the environment's own step and construction cost make worth it
    #: (bench/eval_throughput.py)
    lockstep_width: int = 64

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def region(self, name: str) -> RegionFeature:
        for rf in self.region_features:
            if rf.name == name:
                return rf
        raise KeyError(name)

    def preset(self, name: str) -> Preset:
        for p in self.presets:
            if p.name == name:
                return p
        raise KeyError(name)


class DPFEnv(gym.Env):
    """Base class: a gymnasium environment plus the dpf-gui adapter surface."""

    spec_info: ClassVar[EnvSpec]
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 15}
    #: ``reset(options={"start": "random"})`` starts the episode in a random state (more varied data)
    supports_random_start: ClassVar[bool] = False
    #: how the app shows it (overlays, region tint, frame scale, where it is stepped); see dpf_gui.envs.screen
    screen: ClassVar[Screen] = Screen()

    def __init__(self, config: dict[str, Any] | None = None, render_mode: str | None = None):
        super().__init__()
        self.config = merge_config(self.spec_info.default_config, config or {})
        self.render_mode = render_mode

    # --- adapter surface -------------------------------------------------
    def legal_actions(self) -> np.ndarray:
        """Bool mask over actions, legal in the current state."""
        raise NotImplementedError

    def region_values(self) -> np.ndarray:
        """float32 vector of the current state's region-feature values."""
        raise NotImplementedError

    def frame(self) -> np.ndarray:
        """RGB uint8 array (H, W, 3) of the current state."""
        raise NotImplementedError

    def start_options(self, start_regions: np.ndarray) -> dict[str, Any] | None:
        """``reset`` options that put an episode back in a stored start state (its region values).

        None: the reset seed alone reproduces the start (environments without random starts).
        """
        return None

    @classmethod
    def baseline_policies(cls, action_names) -> dict[str, Any]:
        """Policies (observation -> action, picklable) a task agent must beat, by row name (``--baselines``)."""
        return {}

    def render(self):  # gymnasium API
        return self.frame()

    # --- helpers for subclasses -----------------------------------------
    def _info(self, task_success: bool = False, **extra: Any) -> dict[str, Any]:
        info = {
            "legal": self.legal_actions(),
            "regions": self.region_values(),
            "task_success": bool(task_success),
        }
        info.update(extra)
        return info


def merge_config(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; unknown keys are refused so typos do not pass silently."""
    out = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            allowed = ", ".join(sorted(defaults))
            raise ValueError(f"unknown config key {key!r}; allowed: {allowed}")
        if isinstance(defaults[key], dict) and isinstance(value, dict):
            out[key] = merge_config(defaults[key], value)
        else:
            out[key] = value
    return out

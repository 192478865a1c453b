"""A trained intent model with its sidecar and folder, as one object (the intent's :class:`TaskAgent`).

The model alone is not enough to fuse with: fusion divides its rewards by a
scale stored in the sidecar, Play shows the wish recorded there, the app
remembers the folder. Carrying the three together keeps them from drifting
apart (a model with another model's scale). Loading checks everything a view
or fusion will read later, so a damaged checkpoint is one :class:`UserError`
on opening rather than a failure when a tab is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.errors import UserError


def model_kind(model) -> str:
    """"additive" or "lstm" (:data:`dpf_gui.intent.registry.KINDS`) for a loaded or just trained model."""
    return "additive" if getattr(model, "kind", None) == "additive" else "lstm"


class IntentAgent:
    """``model`` (either kind of :mod:`dpf_gui.intent.registry`), its ``sidecar`` and the ``directory`` it lives in."""

    def __init__(self, model, sidecar: Mapping[str, Any], directory: str | Path | None = None):
        self.model = model
        self.sidecar: dict[str, Any] = dict(sidecar)
        self.directory = Path(directory) if directory is not None else None

    @classmethod
    def load(cls, directory: str | Path, expect_env: str | None = None) -> IntentAgent:
        """Load an intent checkpoint of any kind, with the reward scales fusion divides by checked."""
        from dpf_gui.fusion import intent_scale
        from dpf_gui.intent.registry import load_intent

        try:
            model, sidecar = load_intent(directory, expect_env=expect_env)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
            raise UserError(f"{directory}: not a usable intent model ({exc.__class__.__name__}: {exc})") from None
        spread = sidecar.get("candidate_spread")
        scales = {"reward_scale": sidecar.get("reward_scale"), "reward_unit": sidecar.get("reward_unit")}
        if isinstance(spread, dict):
            scales.update({f"candidate_spread.{k}": spread.get(k) for k in ("history", "markov")})
        else:
            scales["candidate_spread"] = spread
        for name, value in scales.items():  # fusion divides intent rewards by one of these
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and math.isfinite(value) and value >= 0):
                raise UserError(f"{directory}: {name} must be a number >= 0, got {value!r}; "
                                "train the intent model again")
        intent_scale(sidecar)
        return cls(model, sidecar, directory)

    @property
    def kind(self) -> str:
        return model_kind(self.model)

    @property
    def env_name(self) -> str:
        return str(self.sidecar.get("env", ""))

    def scale(self, markov: bool = False) -> float:
        """The divisor that puts this model's rewards in units of typical action differences
        (fusion's ``intent_scale``)."""
        from dpf_gui.fusion import intent_scale

        return intent_scale(self.sidecar, markov)

    @property
    def unit(self) -> float:
        """The reward of one step the model is sure about: dynamic fusion's unit of collected reward."""
        from dpf_gui.fusion import intent_unit

        return intent_unit(self.sidecar)

    def check_fits(self, feature_names: Sequence[str], action_names: Sequence[str], where: str = "the data") -> None:
        """A model for the right environment must also fit this data's features and actions (a UserError if not)."""
        feats = list((self.sidecar.get("observation") or {}).get("features") or [])
        mine = list(feature_names)
        if feats and feats != mine:
            raise UserError(f"the intent model was trained on other {self.env_name} features "
                            f"({len(feats)}, {where} has {len(mine)}): train a new one")
        arch = self.model.arch
        if arch.n_actions != len(action_names) or arch.n_features != len(mine):
            raise UserError(f"the intent model expects {arch.n_features} features and {arch.n_actions} "
                            f"actions, {where} has {len(mine)} and {len(action_names)}")

    def step_rewards(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The redistributed intent reward of every decision of one trajectory, ``r_t = g_t - g_{t-1}``, without
        the model's baseline in the first (:func:`dpf_gui.intent.redistribute.redistributed_rewards`), so the
        rewards add up to what the trajectory did better or worse than usual, and where."""
        from dpf_gui.intent.redistribute import redistributed_rewards

        return redistributed_rewards(self.model, features, actions, baseline=False)

    def __repr__(self) -> str:
        return f"IntentAgent(kind={self.kind!r}, env={self.env_name!r}, directory={str(self.directory)!r})"


__all__ = ["IntentAgent", "model_kind"]

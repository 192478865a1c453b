"""The intent model each dataset was used with last: remembered in the label store, brought back on opening.

Opening a dataset brings its model back before any view is shown (the
Annotate timeline and the suggestions use it), so this lives outside the
Train view, which is built only when its tab is first shown. Qt-free.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from dpf_gui.errors import UserError

#: where the label store keeps a dataset's last model: {"dir", "env", "time"}
MEMORY_KEY = "intent/{fingerprint}"


def remember(ws) -> None:
    """Remember ``ws``'s intent model (its folder) for ``ws``'s data."""
    ws.store.set(MEMORY_KEY.format(fingerprint=ws.fingerprint),
                 {"dir": str(Path(ws.intent_dir).resolve()), "env": ws.env_name, "time": time.time()})


def recall(ws) -> bool:
    """Give ``ws`` the intent model remembered for its data, if there is one and its folder still is: True if so.

    A remembered model that cannot be used is a :class:`UserError` (``ws`` then keeps no model).
    """
    try:
        saved = ws.store.get(MEMORY_KEY.format(fingerprint=ws.fingerprint)) or {}
    except Exception:  # noqa: BLE001 (an unreadable memory: nothing remembered)
        return False
    d = saved.get("dir") if isinstance(saved, dict) else None
    if not isinstance(d, str) or not (Path(d) / "model.json").is_file():
        return False
    model, sidecar = open_intent(d, ws)
    ws.intent, ws.intent_sidecar, ws.intent_dir = model, sidecar, Path(d)
    return True


def open_intent(directory: str | Path, ws) -> tuple[Any, dict[str, Any]]:
    """Load the intent checkpoint in ``directory`` for ``ws``: (model, sidecar).

    What Play and Compare will read from it (its fit to the data, its reward
    scale) is checked now, so a damaged or foreign checkpoint is one
    :class:`UserError` on opening rather than a failure when a tab is shown.
    """
    from dpf_gui.fusion import intent_scale
    from dpf_gui.intent.registry import load_intent

    try:
        model, sidecar = load_intent(directory, expect_env=ws.env_name)
        _check_fits(model, sidecar, ws)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
        raise UserError(f"{directory}: not a usable intent model ({exc.__class__.__name__}: {exc})") from None
    spread = sidecar.get("candidate_spread")
    scales = {"reward_scale": sidecar.get("reward_scale"), "reward_unit": sidecar.get("reward_unit"),
              "candidate_spread": spread}
    if isinstance(spread, dict):
        scales = {"reward_scale": sidecar.get("reward_scale"), "reward_unit": sidecar.get("reward_unit"),
                  **{f"candidate_spread.{k}": spread.get(k) for k in ("history", "markov")}}
    for name, value in scales.items():  # Play divides intent rewards by one of these
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value) and value >= 0):
            raise UserError(f"{directory}: {name} must be a number >= 0, got {value!r}; train the intent model again")
    intent_scale(sidecar)
    return model, sidecar


def _check_fits(model, sidecar: dict[str, Any], ws) -> None:
    """A model for the right environment must also fit this data's features and actions."""
    feats = list((sidecar.get("observation") or {}).get("features") or [])
    mine = list(ws.dataset.meta["feature_names"])
    if feats and feats != mine:
        raise UserError(f"the intent model was trained on other {ws.env_name} features "
                        f"({len(feats)}, the data has {len(mine)}): train a new one")
    n_actions = len(ws.dataset.meta["action_names"])
    if model.arch.n_actions != n_actions or model.arch.n_features != len(mine):
        raise UserError(f"the intent model expects {model.arch.n_features} features and {model.arch.n_actions} "
                        f"actions, the data has {len(mine)} and {n_actions}")


__all__ = ["MEMORY_KEY", "open_intent", "recall", "remember"]

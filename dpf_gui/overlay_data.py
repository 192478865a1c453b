"""What the Play view's overlay needs from the environment, read where the environment is stepped (no Qt).

The environment lives in whichever thread or process steps it (highway's in a
worker process, :mod:`dpf_gui.episode_worker`), so its screen
(:class:`dpf_gui.envs.screen.Screen`) turns what it shows into plain, picklable
shapes there; the drawing itself (:func:`dpf_gui.app.overlays.compose`)
happens in the UI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpf_gui.envs.screen import OverlayInputs


@dataclass
class OverlayData:
    """The overlay of one frame: shapes in frame pixels, drawn after the frame is upscaled by ``scale``."""

    env_name: str
    action: int | None = None
    scale: int = 1
    shapes: list = field(default_factory=list)


def overlay_data(env_name: str, env, feature_names: Sequence[str], wish=None, attribution: np.ndarray | None = None,
                 value_map: np.ndarray | None = None, action: int | None = None,
                 cache: dict[str, Any] | None = None) -> OverlayData:
    """Collect the overlay of ``env``'s current state from its screen (call from the thread that steps it).

    ``value_map``: what the screen's ``intent_map`` gave for this state. ``cache`` (a dict owned by the
    caller, one per environment) keeps what never changes during a session, e.g. the wish's cells on the grid.
    """
    screen = type(env).screen
    inputs = OverlayInputs(feature_names, wish, attribution, value_map, action)
    shapes = screen.overlay(env, inputs, {} if cache is None else cache)
    return OverlayData(env_name=env_name, action=action, scale=int(screen.frame_scale), shapes=list(shapes))


__all__ = ["OverlayData", "overlay_data"]

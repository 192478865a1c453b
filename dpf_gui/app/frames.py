"""Region overlays: tint the parts of a frame a wish prefers (green) or avoids (orange).

A person labels better when they can see where the wish's regions are. The
overlay is an RGBA layer (numpy, no Qt) drawn over the frame by the player;
it is computed from the wish itself (not from hard-coded regions), so any
expression the user types (``x=3..5&y=0..4``, ``lane=1,2``) is shown as it
will be judged. Each environment's screen maps its region features to pixels
(:meth:`dpf_gui.envs.screen.Screen.region_layer`); an environment whose screen
does not, shows no tint. The screens tint in the palette's colours
(:data:`dpf_gui.palette.PREFER`, :data:`~dpf_gui.palette.AVOID`), the
colours the legend, Play and Compare show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpf_gui.envs import env_screen
from dpf_gui.wish import Wish


def region_layer(env_name: str, env_config: dict[str, Any], wish: Wish | None, regions: np.ndarray | None,
                 shape: tuple[int, ...]) -> np.ndarray | None:
    """RGBA uint8 layer (H, W, 4) to draw over a frame of ``shape``, or None if nothing to show.

    ``regions`` are the region values of the state shown (used for features
    the picture cannot vary over, like highway speed).
    """
    if wish is None:
        return None
    return env_screen(env_name).region_layer(env_config, wish, None if regions is None else
                                             np.asarray(regions, np.float32), shape)


def blend(frame: np.ndarray, layer: np.ndarray | None) -> np.ndarray:
    """The frame with the layer composited on it (for exports and tests; the player lets Qt blend)."""
    if layer is None:
        return frame
    a = layer[..., 3:4].astype(np.float32) / 255.0
    out = frame.astype(np.float32) * (1 - a) + layer[..., :3].astype(np.float32) * a
    return out.round().astype(np.uint8)


def describe_regions(region_names: list[str], categories: dict[str, tuple[str, ...]], regions: np.ndarray) -> str:
    """One line such as ``x=3 y=5 terrain=toll`` for the state shown."""
    parts = []
    for name, v in zip(region_names, np.asarray(regions, np.float64), strict=True):
        cats = categories.get(name)
        if cats:
            parts.append(f"{name}={cats[int(v)] if 0 <= int(v) < len(cats) else int(v)}")
        elif float(v).is_integer():
            parts.append(f"{name}={int(v)}")
        else:
            parts.append(f"{name}={v:.2f}")
    return " ".join(parts)


__all__ = ["blend", "describe_regions", "region_layer"]

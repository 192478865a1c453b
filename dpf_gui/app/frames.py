"""Region overlays: tint the parts of a frame a wish prefers (green) or avoids (red).

A person labels better when they can see where the wish's regions are. The
overlay is an RGBA layer (numpy, no Qt) drawn over the frame by the player;
it is computed from the wish itself (not from hard-coded regions), so any
expression the user types (``x=3..5&y=0..4``, ``lane=1,2``) is shown as it
will be judged. Each environment maps its region features to pixels with the
helpers its module offers:

* gridnav: every open cell is tested with its own (x, y, terrain);
* highway: every lane is tested with the current state's speed (a lane
  preferred only below some speed lights up only while that holds);
* pong: every paddle height is tested; the rows where the paddle centre would
  be are tinted (a strong strip beside the player's paddle, faintly across).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from dpf_gui.wish import Wish

PREFER_RGB = (40, 170, 60)
AVOID_RGB = (220, 40, 40)
FILL_ALPHA = 70
EDGE_ALPHA = 220


def region_layer(env_name: str, env_config: dict[str, Any], wish: Wish | None, regions: np.ndarray | None,
                 shape: tuple[int, ...]) -> np.ndarray | None:
    """RGBA uint8 layer (H, W, 4) to draw over a frame of ``shape``, or None if nothing to show.

    ``regions`` are the region values of the state shown (used for features
    the picture cannot vary over, like highway speed).
    """
    if wish is None:
        return None
    h, w = int(shape[0]), int(shape[1])
    draw = _DRAWERS.get(env_name)
    if draw is None:
        return None
    layer = np.zeros((h, w, 4), np.uint8)
    draw(layer, env_config, wish, None if regions is None else np.asarray(regions, np.float32))
    return layer if layer[..., 3].any() else None


def blend(frame: np.ndarray, layer: np.ndarray | None) -> np.ndarray:
    """The frame with the layer composited on it (for exports and tests; the player lets Qt blend)."""
    if layer is None:
        return frame
    a = layer[..., 3:4].astype(np.float32) / 255.0
    out = frame.astype(np.float32) * (1 - a) + layer[..., :3].astype(np.float32) * a
    return out.round().astype(np.uint8)


def _colour_for(mark: int) -> tuple[int, int, int] | None:
    return PREFER_RGB if mark > 0 else AVOID_RGB if mark < 0 else None


def _fill(layer: np.ndarray, y0: int, y1: int, x0: int, x1: int, rgb, alpha: int) -> None:
    h, w = layer.shape[:2]
    y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if y0 < y1 and x0 < x1:
        layer[y0:y1, x0:x1, :3] = rgb
        layer[y0:y1, x0:x1, 3] = alpha


def _outline(layer: np.ndarray, y0: int, y1: int, x0: int, x1: int, rgb, width: int = 2) -> None:
    for ya, yb, xa, xb in ((y0, y0 + width, x0, x1), (y1 - width, y1, x0, x1),
                           (y0, y1, x0, x0 + width), (y0, y1, x1 - width, x1)):
        _fill(layer, ya, yb, xa, xb, rgb, EDGE_ALPHA)


# --- gridnav ------------------------------------------------------------------
@lru_cache(maxsize=8)
def _grid_cells(layout: tuple[str, ...]):
    from dpf_gui.envs.gridnav import TERRAINS, parse_layout

    lay = parse_layout(list(layout))
    cells, rows = [], []
    for y in range(lay.height):
        for x in range(lay.width):
            terrain = lay.terrain_at(x, y)
            if terrain == "wall":
                continue
            cells.append((x, y))
            rows.append((x, y, TERRAINS.index(terrain)))
    return tuple(cells), np.asarray(rows, np.float32)


def _draw_gridnav(layer: np.ndarray, config: dict[str, Any], wish: Wish, regions) -> None:
    cells, rows = _grid_cells(tuple(config["layout"]))
    c = int(config["cell_px"])
    marks = wish.marks(rows)
    for (x, y), m in zip(cells, marks):
        rgb = _colour_for(int(m))
        if rgb is None:
            continue
        # same rectangle as GridNavEnv.cell_rect
        _fill(layer, y * c, (y + 1) * c, x * c, (x + 1) * c, rgb, FILL_ALPHA)
        _outline(layer, y * c, (y + 1) * c, x * c, (x + 1) * c, rgb, width=max(1, c // 14))


# --- highway ------------------------------------------------------------------
def _draw_highway(layer: np.ndarray, config: dict[str, Any], wish: Wish, regions) -> None:
    from highway_env.road.lane import AbstractLane

    from dpf_gui.envs.highway import N_LANES

    hw = config["highway"]
    scale = float(hw["scaling"])
    cy = float(hw["centering_position"][1])
    lane_w = AbstractLane.DEFAULT_WIDTH
    # The frame's camera holds the road's middle at cy * screen height (see highway._Camera).
    origin_y = (N_LANES - 1) * lane_w / 2 - cy * float(hw["screen_height"]) / scale
    speed = float(regions[1]) if regions is not None and len(regions) > 1 else 0.0
    rows = np.array([[lane, speed] for lane in range(N_LANES)], np.float32)
    w = layer.shape[1]
    for lane, m in enumerate(wish.marks(rows)):
        rgb = _colour_for(int(m))
        if rgb is None:
            continue
        y0 = int(round((lane * lane_w - lane_w / 2 - origin_y) * scale))
        y1 = int(round((lane * lane_w + lane_w / 2 - origin_y) * scale))
        _fill(layer, y0, y1, 0, w, rgb, FILL_ALPHA)
        _fill(layer, y0, y0 + 2, 0, w, rgb, EDGE_ALPHA)
        _fill(layer, y1 - 2, y1, 0, w, rgb, EDGE_ALPHA)


# --- pong ---------------------------------------------------------------------
def _draw_pong(layer: np.ndarray, config: dict[str, Any], wish: Wish, regions) -> None:
    from dpf_gui.envs import pong

    ram = np.arange(pong.PADDLE_RAM_MIN, pong.PADDLE_RAM_MAX + 1)
    values = np.array([[pong.paddle_region(r)] for r in ram], np.float32)
    marks = wish.marks(values)
    # centre rows fall on half pixels: cover both neighbours so the band has no gaps
    centre_rows = np.array([int(np.floor(pong.region_to_row(v[0]))) for v in values])
    x0, x1 = pong.PLAYER_PADDLE_COLS
    w = layer.shape[1]
    for row, m in zip(centre_rows, marks):
        rgb = _colour_for(int(m))
        if rgb is None or not pong.PLAYFIELD_TOP <= row < pong.PLAYFIELD_BOTTOM:
            continue
        _fill(layer, row, row + 2, 0, w, rgb, FILL_ALPHA // 2)  # faint band across the field
        _fill(layer, row, row + 2, x1 + 2, x1 + 8, rgb, EDGE_ALPHA)  # strong strip beside the paddle's path


_DRAWERS = {"gridnav": _draw_gridnav, "highway": _draw_highway, "pong": _draw_pong}


def describe_regions(region_names: list[str], categories: dict[str, tuple[str, ...]], regions: np.ndarray) -> str:
    """One line such as ``x=3 y=5 terrain=toll`` for the state shown."""
    parts = []
    for name, v in zip(region_names, np.asarray(regions, np.float64)):
        cats = categories.get(name)
        if cats:
            parts.append(f"{name}={cats[int(v)] if 0 <= int(v) < len(cats) else int(v)}")
        elif float(v).is_integer():
            parts.append(f"{name}={int(v)}")
        else:
            parts.append(f"{name}={v:.2f}")
    return " ".join(parts)


__all__ = ["AVOID_RGB", "PREFER_RGB", "blend", "describe_regions", "region_layer"]

"""What the Play view's overlay needs from the environment, read where the environment is stepped (no Qt).

The environment lives in whichever thread or process steps it (highway's in a
worker process, :mod:`dpf_gui.episode_worker`), so everything the overlay draws
is read there into a plain, picklable :class:`OverlayData`; the drawing itself
(:func:`dpf_gui.app.overlays.compose`) happens in the UI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class OverlayData:
    """Everything the overlay needs, read from the environment in the stepping thread."""

    env_name: str
    action: int | None = None
    # gridnav
    value_map: np.ndarray | None = None  # (H, W), score units, NaN on walls
    cell_px: int = 0
    agent_cell: tuple[int, int] | None = None
    prefer_cells: np.ndarray | None = None  # (H, W) bool
    avoid_cells: np.ndarray | None = None
    # highway
    vehicles: list = field(default_factory=list)  # screen (x, y) per observation row, None if empty
    vehicle_attr: np.ndarray | None = None  # per vehicle row
    lane_rows: list[float] = field(default_factory=list)  # screen row of each lane's centre
    lane_px: float = 0.0
    current_lane: int | None = None
    prefer_lanes: list[int] = field(default_factory=list)
    avoid_lanes: list[int] = field(default_factory=list)
    # pong
    paddle_row: float | None = None
    paddle_attr: float = 0.0
    ball_xy: tuple[float, float] | None = None
    ball_attr: float = 0.0
    prefer_bands: list[tuple[int, int]] = field(default_factory=list)
    avoid_bands: list[tuple[int, int]] = field(default_factory=list)


def overlay_data(env_name: str, env, feature_names: Sequence[str], wish=None, attribution: np.ndarray | None = None,
                 value_map: np.ndarray | None = None, action: int | None = None,
                 cache: dict[str, Any] | None = None) -> OverlayData:
    """Collect the overlay's inputs from ``env`` (call from the thread that steps it).

    ``cache`` (a dict owned by the caller, one per environment) keeps what
    never changes during a session, e.g. the wish's cells on the grid.
    """
    cache = {} if cache is None else cache
    data = OverlayData(env_name=env_name, action=action)
    if env_name == "gridnav":
        data.value_map = value_map
        data.cell_px = int(env.cell_px)
        data.agent_cell = tuple(int(v) for v in env.pos)
        if wish is not None:
            if "cells" not in cache:
                from dpf_gui.envs.gridnav import TERRAINS

                h, w = env.layout.height, env.layout.width
                regions = np.zeros((h, w, 3), np.float32)
                for y in range(h):
                    for x in range(w):
                        t = env.terrain_at(x, y)
                        regions[y, x] = (x, y, TERRAINS.index(t) if t in TERRAINS else -1)
                walls = np.array([[not env.layout.is_open(x, y) for x in range(w)] for y in range(h)])
                cache["cells"] = (wish.in_prefer(regions) & ~walls, wish.in_avoid(regions) & ~walls)
            data.prefer_cells, data.avoid_cells = cache["cells"]
    elif env_name == "highway":
        data.vehicles = list(env.vehicle_screen_positions())
        if attribution is not None:
            from dpf_gui.saliency import highway_vehicle_attribution

            data.vehicle_attr = highway_vehicle_attribution(attribution, feature_names, len(data.vehicles))
        data.current_lane = int(env.lane)
        data.lane_rows, data.lane_px = _highway_lane_rows(env, data.vehicles[0])
        if wish is not None:
            speed = float(env.speed)
            for lane in range(len(data.lane_rows)):
                reg = np.array([[lane, speed]], np.float32)
                if wish.in_prefer(reg)[0]:
                    data.prefer_lanes.append(lane)
                if wish.in_avoid(reg)[0]:
                    data.avoid_lanes.append(lane)
    elif env_name == "pong":
        data.paddle_row = float(env.paddle_screen_y())
        data.ball_xy = env.ball_screen_xy()
        if attribution is not None:
            names = list(feature_names)
            data.paddle_attr = float(attribution[names.index("paddle_y")]) if "paddle_y" in names else 0.0
            data.ball_attr = float(sum(attribution[names.index(n)] for n in ("ball_x", "ball_y", "ball_vx", "ball_vy")
                                       if n in names))
        if wish is not None:
            if "bands" not in cache:
                cache["bands"] = (_pong_bands(env, wish.prefer), _pong_bands(env, wish.avoid))
            data.prefer_bands, data.avoid_bands = cache["bands"]
    return data


def _highway_lane_rows(env, ego_xy) -> tuple[list[float], float]:
    """Screen rows of the lane centres, placed relative to the ego car's drawn position."""
    sim = env.sim
    ego = sim.vehicle
    scale = float(env.config["highway"]["scaling"])
    rows, width = [], 4.0
    try:
        net = sim.road.network
        a, b, _ = ego.lane_index
        lanes = net.graph[a][b]
        for lane in lanes:
            rows.append(ego_xy[1] + (float(lane.position(ego.position[0], 0)[1]) - float(ego.position[1])) * scale)
        width = float(lanes[0].width_at(0))
    except (AttributeError, KeyError, IndexError, TypeError):  # pragma: no cover - highway-env internals moved
        rows = [ego_xy[1] + (4.0 * i - float(ego.position[1])) * scale for i in range(4)]
    return rows, width * scale


def _pong_bands(env, expressions) -> list[tuple[int, int]]:
    bands = []
    for expr in expressions:
        for term in expr.terms:
            if term.feature != "paddle":
                continue
            if term.values is not None:
                for v in term.values:
                    bands.append(env.band_screen_rows(v, v))
            else:
                lo = None if not np.isfinite(term.low) else term.low
                hi = None if not np.isfinite(term.high) else term.high
                bands.append(env.band_screen_rows(lo, hi))
    return bands


__all__ = ["OverlayData", "overlay_data"]

"""2D navigation grid world: walk from a start cell to the goal.

The default map puts a toll road on the shortest path and a scenic strip on a
detour four steps longer, so a person's wish ("avoid the toll", "prefer the
scenic route") visibly changes the route the fused agent takes.

Maps are small text layouts, row 0 at the top (``y`` grows downward)::

    .  plain      #  wall      S  start      G  goal
    T  toll road  ~  scenic strip
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
import pygame

from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature
from dpf_gui.envs.screen import (
    FILL_ALPHA,
    Heat,
    Layer,
    Line,
    OverlayInputs,
    Pen,
    Rect,
    Screen,
    Swatch,
    fill,
    mark_colour,
    outline,
    region_glyph,
)

DEFAULT_LAYOUT: tuple[str, ...] = (
    "....##....",
    "....##....",
    "....##....",
    "..~~~~~~..",
    "S...##....",
    "S..TTTT..G",
    "S...##....",
    "....##....",
    "....##....",
    "....##....",
)

ACTIONS: tuple[str, ...] = ("up", "right", "down", "left")
MOVES: tuple[tuple[int, int], ...] = ((0, -1), (1, 0), (0, 1), (-1, 0))  # (dx, dy) per action
TERRAINS: tuple[str, ...] = ("plain", "start", "goal", "toll", "scenic")
_CHAR_TERRAIN = {".": "plain", "S": "start", "G": "goal", "T": "toll", "~": "scenic", "#": "wall"}

COLOURS: dict[str, tuple[int, int, int]] = {
    "plain": (240, 238, 228),
    "wall": (62, 66, 78),
    "start": (190, 215, 245),
    "goal": (245, 200, 60),
    "toll": (236, 128, 72),
    "scenic": (130, 196, 112),
}
GRID_LINE = (200, 196, 184)
AGENT = (40, 72, 170)
AGENT_EDGE = (255, 255, 255)


@dataclass(frozen=True)
class Layout:
    """A validated map: terrain names per cell, walls, start cells and the goal."""

    rows: tuple[str, ...]
    starts: tuple[tuple[int, int], ...]  # (x, y), in reading order
    goal: tuple[int, int]

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def height(self) -> int:
        return len(self.rows)

    def terrain_at(self, x: int, y: int) -> str:
        """Terrain name of a cell ("wall" for walls, which the agent never stands on)."""
        return _CHAR_TERRAIN[self.rows[y][x]]

    def is_open(self, x: int, y: int) -> bool:
        """True if (x, y) is inside the map and not a wall."""
        return 0 <= x < self.width and 0 <= y < self.height and self.rows[y][x] != "#"

    def distances_from(self, x: int, y: int) -> dict[tuple[int, int], int]:
        """BFS step counts from (x, y) to every reachable open cell."""
        dist = {(x, y): 0}
        queue = deque([(x, y)])
        while queue:
            cx, cy = queue.popleft()
            for dx, dy in MOVES:
                nxt = (cx + dx, cy + dy)
                if nxt not in dist and self.is_open(*nxt):
                    dist[nxt] = dist[(cx, cy)] + 1
                    queue.append(nxt)
        return dist


def parse_layout(lines: str | Sequence[str]) -> Layout:
    """Parse and validate a text map; any problem is a one-line ``ValueError``."""
    if isinstance(lines, str):
        lines = lines.strip().splitlines()
    if not isinstance(lines, (list, tuple)) or not all(isinstance(r, str) for r in lines):
        raise ValueError("layout must be a list of strings (one per row) or one multi-line string")
    rows = tuple(r.strip() for r in lines)
    if not rows or not rows[0]:
        raise ValueError("layout is empty")
    if any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"layout rows must all have the same length; got lengths {[len(r) for r in rows]}")
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            if ch not in _CHAR_TERRAIN:
                allowed = " ".join(repr(c) for c in _CHAR_TERRAIN)
                raise ValueError(f"layout has unknown character {ch!r} at x={x}, y={y}; allowed: {allowed}")
    cells = [(x, y, ch) for y, row in enumerate(rows) for x, ch in enumerate(row)]
    starts = tuple((x, y) for x, y, ch in cells if ch == "S")
    goals = [(x, y) for x, y, ch in cells if ch == "G"]
    if not starts:
        raise ValueError("layout needs at least one start cell 'S'")
    if len(goals) != 1:
        raise ValueError(f"layout needs exactly one goal cell 'G'; found {len(goals)}")
    layout = Layout(rows=rows, starts=starts, goal=goals[0])
    reachable = layout.distances_from(*layout.goal)  # moves are symmetric
    for s in starts:
        if s not in reachable:
            raise ValueError(f"goal {layout.goal} is unreachable from start cell {s}")
    return layout


def shortest_path_length(env_or_layout: Any, start: tuple[int, int]) -> int:
    """Fewest steps from ``start`` (x, y) to the goal; accepts an env, a Layout or map text."""
    if isinstance(env_or_layout, GridNavEnv):
        layout = env_or_layout.layout
    elif isinstance(env_or_layout, Layout):
        layout = env_or_layout
    else:
        layout = parse_layout(env_or_layout)
    dist = layout.distances_from(*layout.goal)
    start = (int(start[0]), int(start[1]))
    if start not in dist:
        raise ValueError(f"goal is unreachable from {start}")
    return dist[start]


def _region_features(width: int, height: int) -> tuple[RegionFeature, ...]:
    return (
        RegionFeature("x", "int", 0, width - 1, description="column of the agent's cell (0 = left)"),
        RegionFeature("y", "int", 0, height - 1, description="row of the agent's cell (0 = top)"),
        RegionFeature("terrain", "category", categories=TERRAINS, description="terrain of the agent's cell"),
    )


class GridNavScreen(Screen):
    """The grid on screen: the wish's cells, the intent's value of stepping into each cell, the next move."""

    base_fps = 6.0

    def region_layer(self, config, wish, regions, shape):
        """Every open cell tested with its own (x, y, terrain), tinted and outlined."""
        h, w = int(shape[0]), int(shape[1])
        layer = np.zeros((h, w, 4), np.uint8)
        cells, rows = _open_cells(tuple(config["layout"]))
        c = int(config["cell_px"])
        for (x, y), m in zip(cells, wish.marks(rows), strict=True):
            rgb = mark_colour(int(m))
            if rgb is None:
                continue
            # same rectangle as GridNavEnv.cell_rect
            fill(layer, y * c, (y + 1) * c, x * c, (x + 1) * c, rgb, FILL_ALPHA)
            outline(layer, y * c, (y + 1) * c, x * c, (x + 1) * c, rgb, width=max(1, c // 14))
        return layer if layer[..., 3].any() else None

    def intent_map(self, model, state, env):
        return env.intent_value_map(model, state)

    def overlay(self, env, inputs: OverlayInputs, cache):
        c = int(env.cell_px)
        shapes: list = []
        if inputs.intent_map is not None:
            h, w = inputs.intent_map.shape
            shapes.append(Heat(inputs.intent_map, 0, 0, w * c, h * c))
        if inputs.wish is not None:
            if "cells" not in cache:  # the wish's cells never change in a session: one layer, drawn once
                cache["cells"] = Layer(tuple(_cell_outlines(env, inputs.wish, c)))
            shapes.append(cache["cells"])
        if inputs.action is not None:
            dx, dy = MOVES[int(inputs.action)]
            x0, y0 = (env.pos[0] + 0.5) * c, (env.pos[1] + 0.5) * c
            x1, y1 = x0 + dx * 0.75 * c, y0 + dy * 0.75 * c
            pen = Pen("current", width=max(2.0, c / 10), round_cap=True)
            hx, hy = -dy * 0.15 * c, dx * 0.15 * c  # arrow head
            bx, by = x1 - dx * 0.2 * c, y1 - dy * 0.2 * c
            shapes += [Line(x0 + dx * 0.35 * c, y0 + dy * 0.35 * c, x1, y1, pen),
                       Line(x1, y1, bx + hx, by + hy, pen), Line(x1, y1, bx - hx, by - hy, pen)]
        return shapes

    def legend(self, overlay, regions, filled_regions):
        parts: list = [Swatch(AGENT, "agent", "●"), Swatch(COLOURS["start"], "start"), Swatch(COLOURS["goal"], "goal"),
                       Swatch(COLOURS["toll"], "toll road"), Swatch(COLOURS["scenic"], "scenic strip"),
                       Swatch(COLOURS["wall"], "wall")]
        if regions:
            g = region_glyph(filled_regions)
            parts += [Swatch("good", "preferred", g), Swatch("bad", "avoided cells", g)]
        if overlay:
            parts += [("heat: ", Swatch("good", "better"), " / ",
                       Swatch("bad", "worse cell for the intent than average")),
                      Swatch("current", "action about to be taken", "→")]
        return parts


_MOVES_INTO: dict[object, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _moves_into_cells(env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (open cell c, open neighbour n, move n->c): features of n, the move, the flat index of c.

    Depends only on the map, so it is cached per layout.
    """
    layout = env.layout
    key = (layout.rows, env.observation_space.shape)
    if key in _MOVES_INTO:
        return _MOVES_INTO[key]
    feats, acts, cells = [], [], []
    seen: dict[tuple[int, int], np.ndarray] = {}
    old = env.pos
    try:
        for y in range(layout.height):
            for x in range(layout.width):
                if not layout.is_open(x, y):
                    continue
                for a, (dx, dy) in enumerate(MOVES):
                    n = (x - dx, y - dy)  # stepping with move a from n lands on (x, y)
                    if not layout.is_open(*n):
                        continue
                    if n not in seen:  # the observation standing on n: it depends on the position and map only
                        env.pos = n
                        seen[n] = np.asarray(env._obs(), dtype=np.float32)
                    feats.append(seen[n])
                    acts.append(a)
                    cells.append(y * layout.width + x)
    finally:
        env.pos = old
    out = (np.asarray(feats, np.float32), np.asarray(acts, np.int64), np.asarray(cells, np.int64))
    if len(_MOVES_INTO) > 16:
        _MOVES_INTO.clear()
    _MOVES_INTO[key] = out
    return out


@lru_cache(maxsize=8)
def _open_cells(layout: tuple[str, ...]):
    """The open cells of a map and their region rows (x, y, terrain index)."""
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


def _cell_outlines(env, wish, c: int) -> list:
    """Dashed outlines round the preferred, then the avoided, open cells."""
    h, w = env.layout.height, env.layout.width
    regions = np.zeros((h, w, 3), np.float32)
    for y in range(h):
        for x in range(w):
            t = env.terrain_at(x, y)
            regions[y, x] = (x, y, TERRAINS.index(t) if t in TERRAINS else -1)
    walls = np.array([[not env.layout.is_open(x, y) for x in range(w)] for y in range(h)])
    shapes = []
    for cells, colour in ((wish.in_prefer(regions) & ~walls, "good"), (wish.in_avoid(regions) & ~walls, "bad")):
        pen = Pen(colour, width=max(1.0, c / 14), dashed=True)
        shapes += [Rect(x * c + 2, y * c + 2, c - 4, c - 4, pen=pen) for y, x in zip(*np.nonzero(cells), strict=True)]
    return shapes


class GridNavEnv(DPFEnv):
    """Grid world with 4 moves; -step_cost per step, +goal_reward on reaching G."""

    spec_info = EnvSpec(
        name="gridnav",
        title="2D navigation grid world",
        action_names=ACTIONS,
        feature_names=("x", "y", "goal_dx", "goal_dy",
                       "blocked_up", "blocked_right", "blocked_down", "blocked_left"),
        region_features=_region_features(len(DEFAULT_LAYOUT[0]), len(DEFAULT_LAYOUT)),
        presets=(
            Preset("avoid", avoid=("terrain=toll",), description="stay off the toll road"),
            Preset("prefer", prefer=("terrain=scenic",), description="take the scenic strip"),
            Preset("mixed", prefer=("terrain=scenic",), avoid=("terrain=toll",),
                   description="skip the toll road, take the scenic strip"),
        ),
        default_config={
            "layout": DEFAULT_LAYOUT,
            "step_cost": 0.01,
            "goal_reward": 1.0,
            "max_steps": 100,
            "cell_px": 40,
        },
        paper_temperatures={"T_phi": 1.0, "T_max": 5.0},  # no paper value for a grid world: highway's
        # 10x10 grid, 8 features, deterministic: a small net learns it in ~10-20k steps.
        train_defaults={
            "hidden": (64, 64), "learning_rate": 1e-3, "batch_size": 64, "gamma": 0.99, "n_step": 3,
            "buffer_size": 20_000, "learning_starts": 500, "train_frequency": 1,
            "target_update_interval": 250, "tau": 1.0,
            "start_e": 1.0, "end_e": 0.05, "exploration_fraction": 0.3,
            "max_trajectories": 2000, "eval_episodes": 30,
        },
        train_steps=20_000,
        # visit the top rows; the toll cells by coordinates
        example_wishes={"prefer": ("y=..2",), "avoid": ("x=3..6 & y=5",)},
        lockstep_width=128,  # steps in 11 us, made in 0.5 ms: 6 us of a network call per decision at 128 rows
    )
    screen = GridNavScreen()

    def __init__(self, config: dict[str, Any] | None = None, render_mode: str | None = None):
        super().__init__(config, render_mode)
        cfg = self.config
        self.layout = parse_layout(cfg["layout"])
        self.step_cost = float(cfg["step_cost"])
        self.goal_reward = float(cfg["goal_reward"])
        self.max_steps = int(cfg["max_steps"])
        self.cell_px = int(cfg["cell_px"])
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1; got {cfg['max_steps']!r}")
        if self.cell_px < 4:
            raise ValueError(f"cell_px must be >= 4; got {cfg['cell_px']!r}")
        self.width, self.height = self.layout.width, self.layout.height
        self.region_features = _region_features(self.width, self.height)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (len(self.spec_info.feature_names),), np.float32)
        self.pos: tuple[int, int] = self.layout.starts[0]
        self.steps = 0
        self._background: pygame.Surface | None = None  # static map, drawn once

    # --- gymnasium API ---------------------------------------------------
    supports_random_start = True

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start on one of the map's start cells, drawn with ``seed``.

        ``options={"start": "random"}``: on any open cell but the goal, drawn with ``seed`` (more varied
        data); ``options={"start": (x, y)}``: on that cell (replaying a stored episode).
        """
        super().reset(seed=seed)
        start = (options or {}).get("start")
        if start is None:
            starts = self.layout.starts
            self.pos = starts[int(self.np_random.integers(len(starts)))]
        elif isinstance(start, str) and start == "random":
            cells = self.open_cells()
            self.pos = cells[int(self.np_random.integers(len(cells)))]
        else:
            self.pos = self._start_cell(start)
        self.steps = 0
        return self._obs(), self._info()

    def open_cells(self) -> list[tuple[int, int]]:
        """Cells an episode may start on: every open cell except the goal, in reading order."""
        return [(x, y) for y in range(self.height) for x in range(self.width)
                if self.layout.is_open(x, y) and (x, y) != self.layout.goal]

    def start_options(self, start_regions: np.ndarray) -> dict[str, Any]:
        """The stored start cell (region values x, y), whether the episode began on an 'S' cell or not."""
        return {"start": (int(start_regions[0]), int(start_regions[1]))}

    def _start_cell(self, start: Any) -> tuple[int, int]:
        try:
            cell = (int(start[0]), int(start[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"start must be 'random' or a cell (x, y); got {start!r}") from None
        if not self.layout.is_open(*cell) or cell == self.layout.goal:
            raise ValueError(f"start cell {cell} is a wall, the goal or outside the map")
        return cell

    def step(self, action):
        dx, dy = MOVES[int(action)]
        nxt = (self.pos[0] + dx, self.pos[1] + dy)
        if self.layout.is_open(*nxt):  # an illegal move leaves the agent in place
            self.pos = nxt
        self.steps += 1
        reward = -self.step_cost
        terminated = self.pos == self.layout.goal
        if terminated:
            reward += self.goal_reward
        truncated = not terminated and self.steps >= self.max_steps
        return self._obs(), reward, terminated, truncated, self._info(task_success=terminated)

    # --- adapter surface -------------------------------------------------
    def legal_actions(self) -> np.ndarray:
        x, y = self.pos
        return np.array([self.layout.is_open(x + dx, y + dy) for dx, dy in MOVES], dtype=bool)

    def region_values(self) -> np.ndarray:
        x, y = self.pos
        return np.array([x, y, TERRAINS.index(self.terrain_at(x, y))], dtype=np.float32)

    def terrain_at(self, x: int, y: int) -> str:
        """Terrain name of cell (x, y): one of TERRAINS, or "wall"."""
        return self.layout.terrain_at(x, y)

    def cell_rect(self, x: int, y: int) -> tuple[int, int, int, int]:
        """Pixel rectangle (px, py, w, h) of cell (x, y) in ``frame()``, e.g. for heat maps."""
        return (x * self.cell_px, y * self.cell_px, self.cell_px, self.cell_px)

    def frame(self) -> np.ndarray:
        """Map plus agent as an (H, W, 3) uint8 image; touches no episode state."""
        surf = self._map_surface().copy()
        px, py, w, h = self.cell_rect(*self.pos)
        centre, radius = (px + w // 2, py + h // 2), max(2, int(w * 0.32))
        pygame.draw.circle(surf, AGENT, centre, radius)
        pygame.draw.circle(surf, AGENT_EDGE, centre, radius, width=max(1, w // 20))
        return np.ascontiguousarray(pygame.surfarray.array3d(surf).transpose(1, 0, 2))

    def intent_value_map(self, model, state, reduce: str = "mean") -> np.ndarray:
        """Intent reward of stepping into each cell (H, W), score units; NaN on walls and cells no move reaches.

        Every open cell ``c`` gets ``r_t(s_n, a_{n->c})`` for each open neighbour ``n`` and the move from ``n``
        onto ``c``, scored from the intent's memory ``state`` (:class:`dpf_gui.saliency.IntentState`), then
        ``reduce``d over the neighbours: ``"mean"`` or ``"max"`` (:func:`dpf_gui.saliency.value_map`).
        """
        from dpf_gui.saliency import value_map  # torch: only where an intent model is

        feats, acts, cells = _moves_into_cells(self)
        return value_map(model, state, feats, acts, cells, self.height * self.width, reduce).reshape(self.height,
                                                                                                    self.width)

    # --- internals -------------------------------------------------------
    def _obs(self) -> np.ndarray:
        x, y = self.pos
        gx, gy = self.layout.goal
        sx, sy = max(self.width - 1, 1), max(self.height - 1, 1)
        blocked = (~self.legal_actions()).astype(np.float32)
        return np.concatenate([[x / sx, y / sy, (gx - x) / sx, (gy - y) / sy], blocked]).astype(np.float32)

    def _map_surface(self) -> pygame.Surface:
        """Terrain colours and grid lines; cached since the map never changes."""
        if self._background is None:
            c = self.cell_px
            surf = pygame.Surface((self.width * c, self.height * c))
            for y in range(self.height):
                for x in range(self.width):
                    surf.fill(COLOURS[self.terrain_at(x, y)], self.cell_rect(x, y))
            for x in range(self.width + 1):
                pygame.draw.line(surf, GRID_LINE, (min(x * c, self.width * c - 1), 0),
                                 (min(x * c, self.width * c - 1), self.height * c - 1))
            for y in range(self.height + 1):
                pygame.draw.line(surf, GRID_LINE, (0, min(y * c, self.height * c - 1)),
                                 (self.width * c - 1, min(y * c, self.height * c - 1)))
            self._background = surf
        return self._background

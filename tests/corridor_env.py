"""A 1-D corridor defined only here: the proof that a new environment needs one module and no change elsewhere.

Cells 0..8; the agent starts in the left part and walks to the goal at the
right end (actions left, right, stay; -0.05 a step, +1 at the goal). The
region features a wish is written in: ``cell``, ``half`` (left / right) and
``trap`` (1 on cell 2). Importing the module registers it as ``corridor``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dpf_gui.envs import register_env
from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature
from dpf_gui.envs.screen import (
    FILL_ALPHA,
    Pen,
    Rect,
    Screen,
    Swatch,
    Text,
    fill,
    mark_colour,
)

N, GOAL, TRAP, PX = 9, 8, 2, 24  # cells, goal cell, trap cell, pixels per cell
MOVES = (-1, +1, 0)


class CorridorScreen(Screen):
    """Cells tinted by the wish (Annotate); the agent's cell outlined and the next move written on it (Play)."""

    base_fps = 8.0

    def region_layer(self, config, wish, regions, shape):
        layer = np.zeros((int(shape[0]), int(shape[1]), 4), np.uint8)
        for cell, m in enumerate(wish.marks(np.array([_regions(c) for c in range(N)], np.float32))):
            if mark_colour(int(m)) is not None:
                fill(layer, 0, PX, cell * PX, (cell + 1) * PX, mark_colour(int(m)), FILL_ALPHA)
        return layer

    def overlay(self, env, inputs, cache):
        shapes: list = [Rect(env.pos * PX + 1, 1, PX - 2, PX - 2, pen=Pen("current", width=2))]
        if inputs.action is not None:
            shapes.append(Text(env.pos * PX + 8, PX - 7, "<>."[int(inputs.action)], (255, 255, 255), 12))
        return shapes

    def legend(self, overlay, regions, filled_regions):
        return [Swatch((40, 70, 200), "agent"), Swatch((240, 200, 60), "goal"), Swatch((200, 60, 60), "trap")]


def _regions(cell: int) -> tuple[float, float, float]:
    return float(cell), float(cell >= N // 2), float(cell == TRAP)


class CorridorEnv(DPFEnv):
    spec_info = EnvSpec(
        name="corridor",
        title="1-D corridor (a test environment)",
        action_names=("left", "right", "stay"),
        feature_names=("x", "goal_dx"),
        region_features=(RegionFeature("cell", "int", 0, N - 1),
                         RegionFeature("half", "category", categories=("left", "right")),
                         RegionFeature("trap", "int", 0, 1)),
        presets=(Preset("avoid", avoid=("trap=1",)), Preset("prefer", prefer=("cell=0",)),
                 Preset("mixed", prefer=("cell=0",), avoid=("trap=1",))),
        default_config={"max_steps": 30},
        train_defaults={"hidden": (16, 16), "learning_rate": 3e-3, "batch_size": 32, "buffer_size": 2000,
                        "learning_starts": 100,
                            "target_update_interval": 100, "exploration_fraction": 0.5, "eval_episodes": 0},
        train_steps=1500,
        example_wishes={"prefer": ("half=left",), "avoid": ()},
    )
    screen = CorridorScreen()

    def __init__(self, config: dict[str, Any] | None = None, render_mode: str | None = None):
        super().__init__(config, render_mode)
        self.action_space = gym.spaces.Discrete(3)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos, self.steps = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos, self.steps = int(self.np_random.integers(0, N // 2)), 0
        return self._obs(), self._info()

    def step(self, action):
        self.pos = int(np.clip(self.pos + MOVES[int(action)], 0, N - 1))
        self.steps += 1
        done = self.pos == GOAL
        return self._obs(), -0.05 + float(done), done, self.steps >= self.config["max_steps"], self._info(done)

    def legal_actions(self) -> np.ndarray:
        return np.ones(3, bool)

    def region_values(self) -> np.ndarray:
        return np.array(_regions(self.pos), np.float32)

    def frame(self) -> np.ndarray:
        strip = np.full((PX, N * PX, 3), 225, np.uint8)
        strip[:, GOAL * PX:(GOAL + 1) * PX] = (240, 200, 60)
        strip[:, TRAP * PX:(TRAP + 1) * PX] = (200, 60, 60)
        strip[4:-4, self.pos * PX + 4:(self.pos + 1) * PX - 4] = (40, 70, 200)
        strip[:, ::PX] = 150
        return strip

    def _obs(self) -> np.ndarray:
        return np.array([self.pos / (N - 1), (GOAL - self.pos) / (N - 1)], np.float32)


register_env("corridor", CorridorEnv)

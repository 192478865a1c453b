"""ALE Pong, one point per episode, state read from the console RAM.

The player controls the right (green) paddle; the left (orange) paddle is the
console's. An episode is one point: it ends (``terminated``) when either side
scores, or is cut off (``truncated``) after ``max_decisions`` decisions. The
task reward is +1 for a point won, -1 for a point lost, 0 otherwise;
``info["task_success"]`` says whether the point was won.

Actions (3): ``NOOP``, ``UP``, ``DOWN``, always legal; they map to the ALE
minimal-set actions NOOP, RIGHT and LEFT (RIGHT moves the right paddle up on
screen, LEFT down). Each decision repeats the action for ``frameskip`` frames.
The paddle has inertia: from rest, UP moves it about 10 then 21 RAM units per
decision (frameskip 4), and it coasts a few units after the key is released.

RAM calibration (ale-py 0.12.1, verified against the rendered frame):

* ``ram[51]`` player paddle: 38 (fully up) .. 203 (fully down); on screen the
  paddle spans rows ``ram[51]-13 .. ram[51]+2`` (16 rows, +-1 while moving),
  centre row ``ram[51] - 5.5``; columns 140..143. At the extremes most of the
  paddle is hidden behind the wall.
* ``ram[50]`` console paddle: bottom row on screen, spans ``ram[50]-15 ..
  ram[50]`` (centre ``ram[50] - 7.5``), columns 16..19; holds 0..16 (off
  screen) before the first serve, up to 206.
* ``ram[49]`` ball x, ``ram[54]`` ball y: the ball's top-left pixel is
  ``(col, row) = (ram[49] - 49, ram[54] - 14)``; it is 2 columns x 4 rows
  (centre ``ram[49] - 48.5``, ``ram[54] - 12.5``). In play x is 52..205 and y
  44..207. ``ram[54] == 0`` means the ball is out of play (before a serve and
  after a point; ``ram[49]`` then holds 0, 52 or 205).
* The playfield is rows 34..193 (walls at 24..33 and 194..209), columns 0..159.

Observation (float32, 6 features):

* ``paddle_y``, ``cpu_paddle_y``, ``ball_y``: centre row of the object on the
  frame, ``(row - 34) / 160``: 0 = top of the playfield, 1 = bottom (the
  paddles' centres reach slightly past both ends, -0.01..1.02; the console
  paddle parks at -0.26 before the first serve).
* ``ball_x``: centre column ``col / 160``: 0 = left edge, 1 = right edge; the
  player's paddle is at 0.89.
* ``ball_vx``, ``ball_vy``: ball displacement since the previous decision in
  pixels per frame, ``dx / frameskip`` and ``dy / (2 * frameskip)`` (ordinary
  speeds give about +-1); 0 at reset and whenever the ball was or is out of
  play. Positive is right / down.
* While the ball is out of play, ``ball_x = ball_y = -1`` (a sentinel outside
  the in-play range 0..1).

Region feature ``paddle`` (float 0..1): the player paddle's height over the
range it can reach, ``(ram[51] - 38) / 165``, 0 = top, 1 = bottom; equivalently
the paddle centre is at frame row ``32.5 + 165 * paddle`` (the playfield rows
34..193 are 0.01..0.97).

Diversity: with sticky actions off, ALE Pong is deterministic and the ALE seed
has no effect (checked: identical RAM and frames for different ALE seeds and
after any history), so ``reset`` resets the game and then runs a random number
(drawn from the environment's ``np_random``, 0..``noop_max``) of NOOP frames
before the first decision. ``reset(seed=s)`` plus the same actions reproduces
every observation exactly.

That alone is weak diversity: the game reacts only to the player's paddle, so a
deterministic policy that parks the paddle while the ball is out of play sees
the same few rallies (the follow-ball heuristic: 4 distinct rallies over all 31
NOOP counts, one per frame phase). ``sticky_prob`` > 0 adds ALE-style sticky
actions (Machado et al. 2018): each frame, with that probability, the previous
frame's action is repeated instead of the chosen one. The draws come from
``np_random``, so seeded replay stays exact. Default 0.1: without it a
100-episode evaluation of a deterministic agent would replay 4 games, and a
DQN could "win" by memorising them. Set ``{"sticky_prob": 0}`` for the
literal no-sticky-actions game.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature

# --- calibration constants (see module docstring) -------------------------
RAM_PLAYER_Y = 51
RAM_CPU_Y = 50
RAM_BALL_X = 49
RAM_BALL_Y = 54

PADDLE_RAM_MIN = 38  # ram[51] with the paddle fully up
PADDLE_RAM_MAX = 203  # ram[51] with the paddle fully down
PADDLE_RAM_SPAN = PADDLE_RAM_MAX - PADDLE_RAM_MIN

PLAYER_CENTRE_OFFSET = -5.5  # centre row = ram[51] + offset
CPU_CENTRE_OFFSET = -7.5  # centre row = ram[50] + offset
BALL_ROW_OFFSET = -12.5  # ball centre row = ram[54] + offset
BALL_COL_OFFSET = -48.5  # ball centre column = ram[49] + offset

PLAYFIELD_TOP = 34  # first playfield row
PLAYFIELD_BOTTOM = 194  # one past the last playfield row
PLAYFIELD_HEIGHT = PLAYFIELD_BOTTOM - PLAYFIELD_TOP
SCREEN_WIDTH = 160
PLAYER_PADDLE_COLS = (140, 144)  # columns [140, 144) on the frame
CPU_PADDLE_COLS = (16, 20)
PADDLE_HEIGHT_PX = 16

BALL_OUT = -1.0  # ball_x / ball_y while the ball is out of play

ACTION_NAMES = ("NOOP", "UP", "DOWN")
FEATURE_NAMES = ("paddle_y", "cpu_paddle_y", "ball_x", "ball_y", "ball_vx", "ball_vy")


def paddle_region(ram_y: float) -> float:
    """Region value ``paddle`` (0 top .. 1 bottom) for a player-paddle RAM y."""
    return float(np.clip((float(ram_y) - PADDLE_RAM_MIN) / PADDLE_RAM_SPAN, 0.0, 1.0))


def region_to_row(value: float) -> float:
    """Frame row of the paddle centre for a region value ``paddle``."""
    return PADDLE_RAM_MIN + PLAYER_CENTRE_OFFSET + PADDLE_RAM_SPAN * float(value)


_SPEC = EnvSpec(
    name="pong",
    title="Pong (ALE, one point per episode)",
    action_names=ACTION_NAMES,
    feature_names=FEATURE_NAMES,
    region_features=(
        RegionFeature(
            name="paddle",
            kind="float",
            low=0.0,
            high=1.0,
            description="height of the player's paddle: 0 = top of the field, 1 = bottom",
        ),
    ),
    presets=(
        Preset(
            name="avoid",
            avoid=("paddle=..0.15", "paddle=0.85.."),
            description="keep the paddle away from the top and bottom edges",
        ),
        Preset(
            name="prefer",
            prefer=("paddle=0.35..0.65",),
            description="keep the paddle in the middle band",
        ),
        Preset(
            name="mixed",
            prefer=("paddle=0.35..0.65",),
            avoid=("paddle=..0.15", "paddle=0.85.."),
            description="prefer the middle band and avoid the edges",
        ),
    ),
    default_config={"max_decisions": 1000, "noop_max": 30, "frameskip": 4, "sticky_prob": 0.1},
    paper_temperatures={"T_phi": 0.03, "T_max": 1.5},  # the authors' first reported pair (PLE Pong)
)


class PongEnv(DPFEnv):
    """ALE Pong adapter: one point per episode, RAM features, paddle-height region."""

    spec_info = _SPEC

    def __init__(self, config: dict[str, Any] | None = None, render_mode: str | None = None):
        super().__init__(config=config, render_mode=render_mode)
        self.max_decisions = int(self.config["max_decisions"])
        self.noop_max = int(self.config["noop_max"])
        self.frameskip = int(self.config["frameskip"])
        if self.max_decisions < 1:
            raise ValueError("max_decisions must be at least 1")
        if self.noop_max < 0:
            raise ValueError("noop_max must be 0 or more")
        if self.frameskip < 1:
            raise ValueError("frameskip must be at least 1")
        self.sticky_prob = float(self.config["sticky_prob"])
        if not 0.0 <= self.sticky_prob < 1.0:
            raise ValueError("sticky_prob must be in [0, 1)")

        from ale_py import Action, ALEInterface, LoggerMode, roms

        ALEInterface.setLoggerMode(LoggerMode.Error)
        self._ale = ALEInterface()
        self._ale.setInt("random_seed", 0)
        self._ale.setFloat("repeat_action_probability", 0.0)
        self._ale.loadROM(roms.get_rom_path("pong"))
        minimal = list(self._ale.getMinimalActionSet())
        for needed in (Action.NOOP, Action.RIGHT, Action.LEFT):
            if needed not in minimal:  # pragma: no cover - ROM sanity check
                raise RuntimeError(f"ALE Pong lacks action {needed}")
        # NOOP, UP (RIGHT moves the right paddle up), DOWN (LEFT moves it down)
        self._ale_actions = (Action.NOOP, Action.RIGHT, Action.LEFT)

        self.action_space = gym.spaces.Discrete(len(ACTION_NAMES))
        low = np.array([-0.1, -0.3, -1.0, -1.0, -2.0, -2.0], dtype=np.float32)
        high = np.array([1.1, 1.1, 1.1, 1.1, 2.0, 2.0], dtype=np.float32)
        self.observation_space = gym.spaces.Box(low=low, high=high, dtype=np.float32)

        self._ram = self._ale.getRAM().copy()
        self._last_ale_action = self._ale_actions[0]
        self._prev_ball: tuple[int, int] | None = None
        self._vel = (0.0, 0.0)
        self._decisions = 0
        self._done = False
        self._needs_reset = True

    # --- gymnasium API ----------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._ale.reset_game()
        noops = int(self.np_random.integers(0, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            self._ale.act(self._ale_actions[0])
        self._ram = self._ale.getRAM().copy()
        self._last_ale_action = self._ale_actions[0]
        self._prev_ball = self._ball_ram()
        self._vel = (0.0, 0.0)
        self._decisions = 0
        self._done = False
        self._needs_reset = False
        return self._obs(), self._info(task_success=False, noops=noops)

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("episode has ended; call reset()")
        a = int(action)
        if not 0 <= a < len(ACTION_NAMES):
            raise ValueError(f"action {action!r} out of range 0..{len(ACTION_NAMES) - 1}")
        ale_action = self._ale_actions[a]
        score = 0
        for _ in range(self.frameskip):
            frame_action = ale_action
            if self.sticky_prob > 0.0 and self.np_random.random() < self.sticky_prob:
                frame_action = self._last_ale_action
            self._last_ale_action = frame_action
            score += self._ale.act(frame_action)
            if score != 0:
                break
        self._ram = self._ale.getRAM().copy()
        self._decisions += 1

        ball = self._ball_ram()
        if ball is not None and self._prev_ball is not None:
            dx = ball[0] - self._prev_ball[0]
            dy = ball[1] - self._prev_ball[1]
            self._vel = (dx / self.frameskip, dy / (2.0 * self.frameskip))
        else:
            self._vel = (0.0, 0.0)
        self._prev_ball = ball

        terminated = score != 0
        truncated = (not terminated) and self._decisions >= self.max_decisions
        reward = float(np.sign(score))
        won = score > 0
        self._done = terminated or truncated
        return self._obs(), reward, terminated, truncated, self._info(task_success=won)

    # --- adapter surface --------------------------------------------------
    def legal_actions(self) -> np.ndarray:
        return np.ones(len(ACTION_NAMES), dtype=bool)

    def region_values(self) -> np.ndarray:
        return np.array([self.paddle_height], dtype=np.float32)

    def frame(self) -> np.ndarray:
        return self._ale.getScreenRGB().copy()

    # --- extras for the app -----------------------------------------------
    @property
    def paddle_height(self) -> float:
        """Region value ``paddle``: 0 = paddle at the top .. 1 = at the bottom."""
        return paddle_region(self._ram[RAM_PLAYER_Y])

    def paddle_screen_y(self) -> float:
        """Frame row of the player paddle's centre (the paddle is at columns 140..143)."""
        return float(self._ram[RAM_PLAYER_Y]) + PLAYER_CENTRE_OFFSET

    def ball_screen_xy(self) -> tuple[float, float] | None:
        """Frame (column, row) of the ball's centre, or None while it is out of play."""
        ball = self._ball_ram()
        if ball is None:
            return None
        return (ball[0] + BALL_COL_OFFSET, ball[1] + BALL_ROW_OFFSET)

    def band_screen_rows(self, lo: float | None, hi: float | None) -> tuple[int, int]:
        """Frame rows ``[row0, row1)`` where the paddle centre lies for ``lo <= paddle <= hi``.

        An open bound (None) is the matching end of the range; the rows are
        clipped to the playfield (34..193).
        """
        lo_v = 0.0 if lo is None else float(lo)
        hi_v = 1.0 if hi is None else float(hi)
        if hi_v < lo_v:
            lo_v, hi_v = hi_v, lo_v
        row0 = PLAYFIELD_TOP if lo_v <= 0.0 else int(round(region_to_row(lo_v)))
        row1 = PLAYFIELD_BOTTOM if hi_v >= 1.0 else int(round(region_to_row(hi_v))) + 1
        row0 = int(np.clip(row0, PLAYFIELD_TOP, PLAYFIELD_BOTTOM))
        row1 = int(np.clip(row1, row0, PLAYFIELD_BOTTOM))
        return row0, row1

    @property
    def decisions(self) -> int:
        """Decisions taken in the current episode."""
        return self._decisions

    # --- internals --------------------------------------------------------
    def _ball_ram(self) -> tuple[int, int] | None:
        y = int(self._ram[RAM_BALL_Y])
        if y == 0:
            return None
        return int(self._ram[RAM_BALL_X]), y

    def _obs(self) -> np.ndarray:
        ram = self._ram
        paddle_y = (float(ram[RAM_PLAYER_Y]) + PLAYER_CENTRE_OFFSET - PLAYFIELD_TOP) / PLAYFIELD_HEIGHT
        cpu_y = (float(ram[RAM_CPU_Y]) + CPU_CENTRE_OFFSET - PLAYFIELD_TOP) / PLAYFIELD_HEIGHT
        ball = self._ball_ram()
        if ball is None:
            bx = by = BALL_OUT
        else:
            bx = (ball[0] + BALL_COL_OFFSET) / SCREEN_WIDTH
            by = (ball[1] + BALL_ROW_OFFSET - PLAYFIELD_TOP) / PLAYFIELD_HEIGHT
        obs = np.array([paddle_y, cpu_y, bx, by, self._vel[0], self._vel[1]], dtype=np.float32)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)


__all__ = ["ACTION_NAMES", "FEATURE_NAMES", "PongEnv", "paddle_region", "region_to_row"]

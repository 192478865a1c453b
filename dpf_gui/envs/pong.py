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
from dpf_gui.envs.screen import (
    EDGE_ALPHA,
    FILL_ALPHA,
    Ellipse,
    OverlayInputs,
    Pen,
    Rect,
    Screen,
    Swatch,
    fill,
    mark_colour,
)

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
    # Pong on 6 RAM features, one point per episode (+-1 at the end, ~100-200
    # decisions). What makes it learn fast: 3-step returns carry the point's
    # reward back quickly, gamma 0.99 keeps it alive over a rally, a large
    # replay (300k) with batch 128 every 4 steps keeps updates cheap and
    # decorrelated, short exploration (10 % of the run) since the policy only
    # needs to track the ball, and a slow hard target (every 2000 steps) for
    # stability. Budget 0.5-2M steps.
    train_defaults={
        "hidden": (256, 256), "learning_rate": 2.5e-4, "batch_size": 128, "gamma": 0.99, "n_step": 3,
        "buffer_size": 300_000, "learning_starts": 10_000, "train_frequency": 4, "gradient_steps": 1,
        "target_update_interval": 2_000, "tau": 1.0,
        "start_e": 1.0, "end_e": 0.02, "exploration_fraction": 0.1,
        "max_trajectories": 2000, "max_dataset_steps": 500_000, "eval_episodes": 50,
        "checkpoint_every": 250_000,
    },
    train_steps=1_000_000,
    example_wishes={"prefer": ("paddle=0.2..0.5",), "avoid": ()},  # an off-centre band
    # steps in 0.3-0.4 ms, made in 0.13 s (ALE loads its ROM): at 16 rows the networks add ~10 % to a step
    lockstep_width=16,
)


class PongScreen(Screen):
    """The field on screen (upscaled 3x): the wish's paddle bands on the right edge, paddle and ball outlined."""

    frame_scale = 3  # the frame is 160 x 210 px
    base_fps = 15.0  # roughly real time (4 ALE frames a decision)

    def region_layer(self, config, wish, regions, shape):
        """Every paddle height tested; the rows where the paddle centre would be are tinted (a strong strip
        beside the player's paddle, faintly across)."""
        h, w = int(shape[0]), int(shape[1])
        layer = np.zeros((h, w, 4), np.uint8)
        ram = np.arange(PADDLE_RAM_MIN, PADDLE_RAM_MAX + 1)
        values = np.array([[paddle_region(r)] for r in ram], np.float32)
        # centre rows fall on half pixels: cover both neighbours so the band has no gaps
        centre_rows = np.array([int(np.floor(region_to_row(v[0]))) for v in values])
        x1 = PLAYER_PADDLE_COLS[1]
        for row, m in zip(centre_rows, wish.marks(values), strict=True):
            rgb = mark_colour(int(m))
            if rgb is None or not PLAYFIELD_TOP <= row < PLAYFIELD_BOTTOM:
                continue
            fill(layer, row, row + 2, 0, w, rgb, FILL_ALPHA // 2)  # faint band across the field
            fill(layer, row, row + 2, x1 + 2, x1 + 8, rgb, EDGE_ALPHA)  # strong strip beside the paddle's path
        return layer if layer[..., 3].any() else None

    def overlay(self, env, inputs: OverlayInputs, cache):
        shapes: list = []
        if inputs.wish is not None:
            if "bands" not in cache:
                cache["bands"] = (_bands(env, inputs.wish.prefer), _bands(env, inputs.wish.avoid))
            for bands, colour in zip(cache["bands"], ("good", "bad"), strict=True):
                shapes += [Rect(146, r0, 14, max(1, r1 - r0), fill=colour, fill_alpha=110) for r0, r1 in bands]
        paddle_attr = ball_attr = 0.0
        if inputs.attribution is not None:
            names, attr = list(inputs.feature_names), inputs.attribution
            paddle_attr = float(attr[names.index("paddle_y")]) if "paddle_y" in names else 0.0
            ball_attr = float(sum(attr[names.index(n)] for n in ("ball_x", "ball_y", "ball_vx", "ball_vy")
                                  if n in names))
        span = max(abs(paddle_attr), abs(ball_attr)) or 1.0

        def pen(a: float) -> Pen:
            return Pen("good" if a >= 0 else "bad", 120 + int(135 * abs(a) / span), 1.0)

        shapes.append(Rect(138, float(env.paddle_screen_y()) - 10, 8, 20, pen=pen(paddle_attr)))
        ball = env.ball_screen_xy()
        if ball is not None:
            shapes.append(Ellipse(float(ball[0]), float(ball[1]), 5, 5, pen=pen(ball_attr)))
        return shapes

    def legend(self, overlay, regions, filled_regions):
        parts: list = [Swatch((92, 186, 92), "our paddle (right)")]
        if regions:
            parts += [Swatch("good", "preferred"), Swatch("bad", "avoided paddle heights (right edge)")]
        if overlay:
            parts += [("paddle and ball outlined ", Swatch("good", "raises", "□"), " / ", Swatch("bad", "lowers", "□"),
                       " the intent reward of the chosen action")]
        return parts


def _bands(env, expressions) -> list[tuple[int, int]]:
    """Frame rows of the paddle heights named by a wish's ``paddle`` terms."""
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


class PongEnv(DPFEnv):
    """ALE Pong adapter: one point per episode, RAM features, paddle-height region."""

    spec_info = _SPEC
    screen = PongScreen()

    @classmethod
    def baseline_policies(cls, action_names) -> dict[str, Any]:
        """The paddle-follows-ball heuristic."""
        from dpf_gui.agents.heuristics import pong_follow_ball

        return {"follow-ball": pong_follow_ball}

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
        row0 = PLAYFIELD_TOP if lo_v <= 0.0 else round(region_to_row(lo_v))
        row1 = PLAYFIELD_BOTTOM if hi_v >= 1.0 else round(region_to_row(hi_v)) + 1
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

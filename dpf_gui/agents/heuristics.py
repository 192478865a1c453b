"""Baseline policies used to judge the trained agents.

Each baseline is a plain function from an environment's observation vector to
an action index; a trained agent is worth keeping only if it beats them on the
task.
"""

from __future__ import annotations

from functools import partial

import numpy as np

# Pong observation layout (see dpf_gui.envs.pong): paddle_y, cpu_paddle_y,
# ball_x, ball_y, ball_vx, ball_vy; ball_x = ball_y = -1 while out of play.
_PONG_NOOP, _PONG_UP, _PONG_DOWN = 0, 1, 2


def pong_follow_ball(obs, dead_band: float = 0.05) -> int:
    """Pong: move the paddle toward the ball's height; NOOP within ``dead_band``.

    ``obs`` is a Pong observation (``paddle_y``, ..., ``ball_y`` share one
    scale, 0 = top .. 1 = bottom of the playfield). While the ball is out of
    play the paddle heads for the middle of the field. The dead band (in
    playfield heights; 0.05 = 8 pixels, half a paddle) keeps the paddle, which
    has inertia and moves up to ~0.13 per decision, from oscillating.
    """
    o = np.asarray(obs, dtype=np.float64)
    paddle_y, ball_x, ball_y = o[0], o[2], o[3]
    target = 0.5 if ball_x < 0.0 else ball_y
    diff = target - paddle_y
    if diff < -dead_band:
        return _PONG_UP
    if diff > dead_band:
        return _PONG_DOWN
    return _PONG_NOOP


def _constant(action: int, obs) -> int:
    return action


def constant_action(action: int):
    """A policy that always asks for ``action`` (replaced by its environment when illegal).

    A partial, not a closure, so that it can be sent to a worker process (``dpf evaluate --jobs``).
    """
    return partial(_constant, int(action))


def baselines(env_name: str, action_names) -> dict[str, object]:
    """The baseline policies a task agent of ``env_name`` must beat, by row name: its environment says which
    (``DPFEnv.baseline_policies``; highway: every constant action, pong: follow-ball, gridnav: none, its bar is
    the shortest path)."""
    from dpf_gui.envs import env_class

    return env_class(env_name).baseline_policies(action_names)


__all__ = ["baselines", "constant_action", "pong_follow_ball"]

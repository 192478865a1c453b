"""Play a policy for some episodes into a dataset, and replay stored trajectories.

Episode ``i`` of a rollout is reset with a seed drawn from ``seed``, so the
same command always records the same trajectories, and any stored trajectory
can be replayed from its reset seed and actions (and, where the environment
started it at random, its stored start state).

More varied data without learning: the fixed task agent plays with
exploration noise (:func:`exploring_policy`), optionally from random start
states, so that regions its greedy runs never enter show up in the data a
person labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dpf_gui.data.trajectories import (
    EpisodeRecorder,
    Trajectory,
    TrajectoryDataset,
    dataset_meta,
)
from dpf_gui.envs import ENV_NAMES, DPFEnv, env_class, make_env
from dpf_gui.errors import UserError

Policy = Callable[[np.ndarray, np.ndarray], int]  # (features, legal mask) -> action


#: Reset seeds are drawn from two disjoint ranges: recording and training use the
#: lower half, evaluation the upper half, so an evaluation never replays an
#: episode the agent was trained on.
SEED_SPLIT = 2**30


def episode_seeds(seed: int, episodes: int, held_out: bool = False) -> np.ndarray:
    """The reset seeds of a run's episodes, derived from the run's seed.

    ``held_out=True`` draws from the evaluation range.
    """
    seeds = np.random.default_rng(seed).integers(0, SEED_SPLIT, size=episodes)
    return seeds + SEED_SPLIT if held_out else seeds


def random_policy(seed: int) -> Policy:
    """Uniform over the legal actions, seeded."""
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray, legal: np.ndarray) -> int:
        return int(rng.choice(np.flatnonzero(legal)))

    return act


#: exploration kinds of :func:`parse_exploration`
EXPLORATIONS = ("boltzmann", "epsilon")


@dataclass(frozen=True)
class Exploration:
    """Noise on a fixed agent's choices.

    ``boltzmann``: sample from the softmax of Q / q_scale at temperature ``value`` (> 0; the units of the
    fusion temperature ``T_phi``: 1 is the task policy fusion starts from, larger is more random);
    ``epsilon``: a uniformly random legal action with probability ``value`` (0..1), else the greedy one.
    """

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in EXPLORATIONS:
            raise UserError(f"unknown exploration {self.kind!r}; allowed: boltzmann:T (T > 0) or epsilon:E (0..1)")
        ok = np.isfinite(self.value) and (self.value > 0 if self.kind == "boltzmann" else 0 <= self.value <= 1)
        if not ok:
            allowed = "a temperature > 0" if self.kind == "boltzmann" else "a probability 0..1"
            raise UserError(f"{self.kind}:{self.value:g} is out of range; allowed: {allowed}")

    def text(self) -> str:
        return f"{self.kind}:{self.value:g}"


def parse_exploration(text: str) -> Exploration:
    """``boltzmann:T`` or ``epsilon:E``; anything else is a one-line :class:`UserError`."""
    kind, sep, value = str(text).partition(":")
    try:
        number = float(value)
    except ValueError:
        number = None
    if not sep or number is None:
        raise UserError(f"exploration {text!r} is not KIND:NUMBER; allowed: boltzmann:T (T > 0) or epsilon:E (0..1)")
    return Exploration(kind.strip(), number)


def exploring_policy(agent, exploration: Exploration, seed: int) -> Policy:
    """The task agent's choices with exploration noise, seeded (the agent itself is not changed)."""
    rng = np.random.default_rng(seed)
    q_scale = agent.q_scale or 1.0

    def act(obs: np.ndarray, legal: np.ndarray) -> int:
        if exploration.kind == "epsilon":
            explore = rng.random() < exploration.value
            return int(rng.choice(np.flatnonzero(legal))) if explore else agent.act(obs, legal)
        p = agent.policy(obs, legal, temperature=exploration.value * q_scale)
        return int(rng.choice(len(p), p=p))

    return act


def random_start_envs() -> tuple[str, ...]:
    """Environments that can start an episode in a random state."""
    return tuple(name for name in ENV_NAMES if env_class(name).supports_random_start)


def play_episode(env: DPFEnv, policy: Policy, seed: int, episode: int = 0,
                 options: dict[str, Any] | None = None) -> Trajectory:
    """Play one episode from ``reset(seed, options)`` and return it as a trajectory."""
    obs, info = env.reset(seed=int(seed), options=options)
    rec = EpisodeRecorder(seed, obs, info, episode=episode)
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy(obs, info["legal"])
        obs, reward, terminated, truncated, info = env.step(action)
        rec.step(action, reward, obs, info)
    return rec.finish(terminated=terminated, success=info["task_success"])


def rollout(
    env_name: str,
    policy: Policy,
    episodes: int,
    seed: int,
    env_config: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    progress: bool = True,
    random_start: bool = False,
    on_episode: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrajectoryDataset:
    """Record ``episodes`` episodes of ``policy`` into a dataset (``random_start``: from random states).

    ``on_episode(k)`` is called after the k-th episode (1-based); when ``should_stop()`` turns true the
    recording ends early and the dataset holds the episodes played so far (the app's Cancel).
    """
    if random_start and env_name not in random_start_envs():
        raise UserError(f"{env_name} cannot start episodes in random states (its reset seed decides the start); "
                        f"environments that can: {', '.join(random_start_envs())}")
    env = make_env(env_name, env_config)
    options = {"start": "random"} if random_start else None
    trajs = []
    seeds = tqdm(episode_seeds(seed, episodes), desc=f"rollout {env_name}", unit="ep", disable=not progress)
    for i, s in enumerate(seeds):
        if should_stop is not None and should_stop():
            break
        trajs.append(play_episode(env, policy, int(s), episode=i, options=options))
        if on_episode is not None:
            on_episode(i + 1)
    env.close()
    extra = {"start": "random"} if random_start else {}
    meta = dataset_meta(env, dict(source or {}, seed=int(seed), episodes=len(trajs), **extra))
    return TrajectoryDataset.from_trajectories(meta, trajs)


def replay(env: DPFEnv, traj: Trajectory, frames: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(features, frame)`` for each of the trajectory's ``T + 1`` states by re-simulating it."""
    obs, _ = env.reset(seed=traj.seed, options=env.start_options(traj.regions[0]))
    yield obs, (env.frame() if frames else None)
    for action in traj.actions:
        obs, *_ = env.step(int(action))
        yield obs, (env.frame() if frames else None)

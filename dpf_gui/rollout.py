"""Play a policy for some episodes into a dataset, and replay stored trajectories.

Episode ``i`` of a rollout is reset with a seed drawn from ``seed``, so the
same command always records the same trajectories, and any stored trajectory
can be replayed from its reset seed and actions.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
from tqdm.auto import tqdm

from dpf_gui.data.trajectories import EpisodeRecorder, Trajectory, TrajectoryDataset, dataset_meta
from dpf_gui.envs import DPFEnv, make_env

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


def play_episode(env: DPFEnv, policy: Policy, seed: int, episode: int = 0) -> Trajectory:
    """Play one episode from ``reset(seed)`` and return it as a trajectory."""
    obs, info = env.reset(seed=int(seed))
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
) -> TrajectoryDataset:
    """Record ``episodes`` episodes of ``policy`` into a dataset."""
    env = make_env(env_name, env_config)
    trajs = []
    for i, s in enumerate(tqdm(episode_seeds(seed, episodes), desc=f"rollout {env_name}", unit="ep", disable=not progress)):
        trajs.append(play_episode(env, policy, int(s), episode=i))
    env.close()
    meta = dataset_meta(env, dict(source or {}, seed=int(seed), episodes=int(episodes)))
    return TrajectoryDataset.from_trajectories(meta, trajs)


def replay(env: DPFEnv, traj: Trajectory, frames: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(features, frame)`` for each of the trajectory's ``T + 1`` states by re-simulating it."""
    obs, _ = env.reset(seed=traj.seed)
    yield obs, (env.frame() if frames else None)
    for action in traj.actions:
        obs, *_ = env.step(int(action))
        yield obs, (env.frame() if frames else None)

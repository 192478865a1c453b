"""Small builders shared by tests: hand-made trajectories with known regions."""

from __future__ import annotations

import numpy as np

from dpf_gui.data.trajectories import Trajectory, TrajectoryDataset, dataset_meta
from dpf_gui.envs import make_env

HANG_S = 600
"""How long a test waits for the app or a worker to finish something: a hang guard, not a speed target. Each wait
ends as soon as its condition holds, so a passing run takes no longer; a CI machine whose cores are shared many
times over is slow, and only a hang should fail there."""


def handmade_dataset(env_name: str, region_rows: list[list[list[float]]], seed0: int = 0) -> TrajectoryDataset:
    """A dataset whose trajectories visit the given region values (one list of T+1 rows each).

    Features and actions are dummies: only the region columns matter to a simulated user.
    """
    env = make_env(env_name)
    spec = env.spec_info
    trajs = []
    for k, rows in enumerate(region_rows):
        regions = np.asarray(rows, dtype=np.float32)
        t = len(regions) - 1
        trajs.append(
            Trajectory(
                features=np.zeros((t + 1, spec.n_features), np.float32),
                actions=np.zeros(t, np.int64),
                rewards=np.zeros(t, np.float32),
                legal=np.ones((t + 1, spec.n_actions), bool),
                regions=regions,
                seed=seed0 + k,
                terminated=True,
                success=True,
                episode=k,
            )
        )
    env.close()
    return TrajectoryDataset.from_trajectories(dataset_meta(env, {"kind": "handmade"}), trajs)

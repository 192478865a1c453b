"""The shipped task agents: they load as data, match their checksums, refuse other environments, play."""

import json

import numpy as np
import pytest

from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.checkpoints import sha256_file
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.paths import models_root

ENVS = ("gridnav", "highway", "pong")


@pytest.mark.parametrize("env_name", ENVS)
def test_shipped_checkpoint_loads_and_matches_its_checksum(env_name):
    directory = models_root() / env_name
    sidecar = json.loads((directory / "model.json").read_text())
    assert sidecar["kind"] == "task-dqn" and sidecar["env"] == env_name
    assert sha256_file(directory / "weights.safetensors") == sidecar["weights_sha256"]
    agent = TaskAgent.load(directory, expect_env=env_name)
    q = agent.q_values(np.zeros(agent.n_features, np.float32))
    assert q.shape == (agent.n_actions,) and np.isfinite(q).all()
    data = TrajectoryDataset.load(directory / "trajectories.npz", expect_env=env_name)
    assert 10 <= len(data) <= 5000
    assert (directory / "trajectories.npz").stat().st_size < 16 * 2**20
    for key in ("hyperparameters", "steps", "seed", "wall_time_s", "metrics", "env_config"):
        assert key in sidecar, key


@pytest.mark.parametrize("env_name, other", [("gridnav", "pong"), ("pong", "highway"), ("highway", "gridnav")])
def test_wrong_environment_is_refused(env_name, other):
    with pytest.raises(UserError, match=f"trained for '{env_name}', not '{other}'"):
        TaskAgent.load(models_root() / env_name, expect_env=other)


def test_gridnav_agent_reaches_the_goal_greedily():
    from dpf_gui.agents.task_agent import evaluate_agent

    agent = TaskAgent.load(models_root() / "gridnav", expect_env="gridnav")
    result = evaluate_agent(agent, episodes=10, seed=123)
    assert result["success_rate"] == 1.0
    assert result["mean_length"] <= 11


def test_tampered_weights_are_refused(tmp_path):
    import shutil

    copy = tmp_path / "gridnav"
    shutil.copytree(models_root() / "gridnav", copy)
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(UserError, match="checksum"):
        TaskAgent.load(copy)

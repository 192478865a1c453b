"""The retraining reference: n-step targets, the conservative (CQL) term, and the cache."""

import numpy as np
import pytest
import torch

from dpf_gui.agents import retrain as R
from dpf_gui.agents.dqn import QNetwork
from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.data.trajectories import Trajectory, TrajectoryDataset, dataset_meta
from dpf_gui.envs import make_env


def _dataset(n_traj=3, length=4, n_features=8, n_actions=4, terminated=True, seed=0):
    """gridnav-shaped trajectories with random features, always action 1, reward -0.1 per step."""
    rng = np.random.default_rng(seed)
    env = make_env("gridnav")
    trajs = [
        Trajectory(
            features=rng.normal(size=(length + 1, n_features)).astype(np.float32),
            actions=np.ones(length, np.int64),
            rewards=np.full(length, -0.1, np.float32),
            legal=np.ones((length + 1, n_actions), bool),
            regions=np.zeros((length + 1, 3), np.float32),
            seed=k, terminated=terminated, success=terminated, episode=k,
        )
        for k in range(n_traj)
    ]
    env.close()
    return TrajectoryDataset.from_trajectories(dataset_meta(env, {"kind": "handmade"}), trajs)


def test_n_step_targets_sum_rewards_and_bootstrap_k_steps_later():
    data = _dataset(n_traj=2, length=4)
    rewards = np.arange(8, dtype=np.float32)  # two trajectories of 4 steps: 0 1 2 3 | 4 5 6 7
    g = 0.5
    t = R.transitions(data, rewards, gamma=g, n_step=2)
    assert np.allclose(t["returns"][:4], [0 + g * 1, 1 + g * 2, 2 + g * 3, 3])
    assert np.allclose(t["discount"][:4], [g**2, g**2, g**2, g])
    # the state two decisions later (the last state for the last decisions), terminal only at the end
    states = data.features[data.state_slice(0)]
    assert np.array_equal(t["next_obs"][:4], states[[2, 3, 4, 4]])
    assert t["terminal"][:4].tolist() == [False, False, True, True]
    assert np.array_equal(t["obs"][4:], data.features[data.state_slice(1)][:4])
    one = R.transitions(data, rewards, gamma=g, n_step=1)
    assert np.allclose(one["returns"], rewards) and np.allclose(one["discount"], g)
    assert one["terminal"].tolist() == [False, False, False, True] * 2


def test_conservative_penalty_ignores_illegal_actions():
    q = torch.tensor([[1.0, 2.0, 100.0], [0.5, 0.5, 0.5]], requires_grad=True)
    legal = torch.tensor([[True, True, False], [True, True, True]])
    actions = torch.tensor([1, 0])
    pen = R.conservative_penalty(q, legal, actions, scale=0.5)
    lse0 = 0.5 * np.log(np.exp(2.0) + np.exp(4.0)) - 2.0
    lse1 = 0.5 * np.log(3 * np.exp(1.0)) - 0.5
    assert float(pen.detach()) == pytest.approx((lse0 + lse1) / 2, rel=1e-5)
    pen.backward()
    assert float(q.grad[0, 2]) == 0.0  # the illegal action is neither pushed down nor up
    assert float(q.grad[0, 1]) < 0 < float(q.grad[0, 0])  # raise the data's action, lower the other


def _task_agent(q_level=0.5):
    """A small random task network that thinks every action is worth about ``q_level``."""
    torch.manual_seed(0)
    net = QNetwork(8, 4, (16, 16))
    with torch.no_grad():
        net.net[-1].weight.mul_(0.1)
        net.net[-1].bias.fill_(q_level)
    return TaskAgent(net, {"env": "gridnav", "metrics": {"q_scale": {"legal_std": 0.05}}})


def _seen_minus_best_unseen(cfg):
    data = _dataset(n_traj=20, length=6)
    t = R.transitions(data, data.rewards, gamma=0.9, n_step=cfg.n_step)
    net = R.fit(_task_agent(), t, cfg, q_scale=0.05, progress=False)
    with torch.no_grad():
        q = net(torch.as_tensor(t["obs"])).numpy()
    return q[:, 1] - np.delete(q, 1, axis=1).max(axis=1)


def test_conservative_term_keeps_unseen_actions_below_the_data_action():
    # the data only ever takes action 1 and it costs: plain offline DQN lowers Q(s, 1) and leaves the
    # actions it never saw at the task network's optimistic value, so the greedy policy leaves the data
    cfg = R.RetrainConfig(gradient_steps=300, batch_size=64, learning_rate=1e-3, target_update_interval=50)
    plain = _seen_minus_best_unseen(R.RetrainConfig(**{**cfg.__dict__, "cql_alpha": 0.0, "scale_init": False}))
    assert (plain < 0).mean() > 0.9
    conservative = _seen_minus_best_unseen(cfg)
    assert (conservative > 0).all()


def test_cache_is_reused_only_for_the_same_inputs_and_when_whole(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    intent_dir = tmp_path / "intent"
    intent_dir.mkdir()
    (intent_dir / "model.json").write_text('{"weights_sha256": "abc"}')
    task = _task_agent()
    task.directory = tmp_path / "task"
    task.directory.mkdir()
    (task.directory / "trajectories.npz").write_bytes(b"stored trajectories")
    task.sidecar["weights_sha256"] = "task-sha"
    calls = []

    def fake_retrain(task, intent_dir, out_dir, cfg=None, progress=True):
        calls.append(cfg)
        (Path(out_dir) / "model.json").write_text(json.dumps({"made": len(calls)}))
        if interrupt:
            raise KeyboardInterrupt
        return out_dir

    monkeypatch.setattr(R, "retrain", fake_retrain)
    monkeypatch.setattr(TaskAgent, "load", classmethod(
        lambda cls, d, expect_env=None: json.loads((Path(d) / "model.json").read_text())["made"]))

    def made(cfg=None):
        return R.load_or_retrain(task, intent_dir, progress=False, cfg=cfg)

    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        made()
    assert not (intent_dir / R.SUBDIR).exists()  # interrupted training leaves nothing to reuse
    interrupt = False
    assert made() == 2 and made() == 2  # trained once, then reused
    # a net from an older RetrainConfig (e.g. before the conservative term) is retrained
    assert made(R.RetrainConfig(cql_alpha=0.0, n_step=1)) == 3
    assert made() == 4
    task.sidecar["weights_sha256"] = "other"
    assert made() == 5
    (task.directory / "trajectories.npz").write_bytes(b"other stored trajectories")
    assert made() == 6
    (intent_dir / R.SUBDIR / "model.json").write_text('{"made": 6')  # damaged: redone, never read
    assert made() == 7 and made() == 7


def test_retraining_asks_for_an_lstm_intent_by_name(tmp_path):
    """The blended reward is the LSTM's redistributed reward; an additive model is refused in one line."""
    from dpf_gui.errors import UserError
    from dpf_gui.pipeline import load_task_agent

    (tmp_path / "model.json").write_text('{"kind": "intent", "intent_kind": "additive", "env": "gridnav"}')
    with pytest.raises(UserError, match=r"needs an LSTM intent model .* is 'additive'"):
        R.load_or_retrain(load_task_agent("gridnav"), tmp_path, progress=False)

"""Task DQN: checkpoint I/O, the stratified episode sample, masking, and a tiny end-to-end run."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dpf_gui.agents.dqn import (
    NStepAccumulator,
    QNetwork,
    StratifiedEpisodeSample,
    learner_reward,
    make_config,
    masked_argmax,
    masked_argmax_batch,
    train_dqn,
)
from dpf_gui.agents.task_agent import TaskAgent, boltzmann
from dpf_gui.checkpoints import (
    SIDECAR_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    read_sidecar,
    save_checkpoint,
    update_sidecar,
)
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import env_spec
from dpf_gui.errors import UserError


def _sidecar(kind="task-dqn", env="gridnav"):
    return {"kind": kind, "env": env, "env_config": {}, "observation": {"features": ["a", "b"], "n_features": 2},
            "n_actions": 3, "action_names": ["x", "y", "z"], "steps": 10, "seed": 1, "metrics": {"train": {"n": 1}}}


def _state():
    torch.manual_seed(0)
    return QNetwork(2, 3, (4,)).state_dict()


# --- checkpoints ------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path):
    state = _state()
    d = save_checkpoint(tmp_path / "ck", state, _sidecar())
    loaded, meta = load_checkpoint(d, "task-dqn", expect_env="gridnav")
    assert set(loaded) == set(state)
    for k in state:
        assert torch.equal(loaded[k], state[k])
    assert meta["kind"] == "task-dqn" and meta["env"] == "gridnav"
    assert len(meta["weights_sha256"]) == 64 and meta["created"] and meta["dpf_gui_version"]
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]  # no temporary files left

    meta2 = update_sidecar(d, metrics={"eval": {"mean_return": 0.5}}, note="hi")
    assert meta2["metrics"] == {"train": {"n": 1}, "eval": {"mean_return": 0.5}}  # merged one level
    assert read_sidecar(d)["note"] == "hi"
    load_checkpoint(d, "task-dqn")  # the checksum is unaffected by sidecar updates
    with pytest.raises(ValueError):
        update_sidecar(d, weights_sha256="0" * 64)


def test_checkpoint_tamper_and_refusals(tmp_path):
    d = save_checkpoint(tmp_path / "ck", _state(), _sidecar(env="pong"))
    with pytest.raises(UserError, match="trained for 'pong', not 'gridnav'"):
        load_checkpoint(d, "task-dqn", expect_env="gridnav")
    with pytest.raises(UserError, match="is a task agent, not an intent model"):
        load_checkpoint(d, "intent")

    raw = bytearray((d / WEIGHTS_FILE).read_bytes())
    raw[-1] ^= 0xFF  # flip bits in the last tensor's data
    (d / WEIGHTS_FILE).write_bytes(bytes(raw))
    with pytest.raises(UserError, match="checksum"):
        load_checkpoint(d, "task-dqn")

    # a weights file that matches its checksum but is not safetensors
    (d / WEIGHTS_FILE).write_bytes(b"not a safetensors file")
    meta = json.loads((d / SIDECAR_FILE).read_text())
    import hashlib

    meta["weights_sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()
    (d / SIDECAR_FILE).write_text(json.dumps(meta))
    with pytest.raises(UserError, match="cannot read"):
        load_checkpoint(d, "task-dqn")

    (d / SIDECAR_FILE).write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_checkpoint(d, "task-dqn")
    (d / SIDECAR_FILE).unlink()
    with pytest.raises(UserError, match=r"missing model\.json"):
        load_checkpoint(d, "task-dqn")
    with pytest.raises(UserError, match="no such directory"):
        load_checkpoint(tmp_path / "nope", "task-dqn")
    (tmp_path / "labels.npz").write_bytes(b"")
    with pytest.raises(UserError, match="a file, not a checkpoint folder"):
        load_checkpoint(tmp_path / "labels.npz", "task-dqn")

    d2 = save_checkpoint(tmp_path / "ck2", _state(), _sidecar())
    (d2 / WEIGHTS_FILE).unlink()
    with pytest.raises(UserError, match="missing weights"):
        load_checkpoint(d2, "task-dqn")


# --- pieces -----------------------------------------------------------------
def test_masked_argmax_never_picks_illegal():
    rng = np.random.default_rng(0)
    for _ in range(500):
        q = rng.normal(size=5) * 10
        legal = rng.random(5) < 0.5
        if not legal.any():
            legal[rng.integers(5)] = True
        a = masked_argmax(q, legal)
        assert legal[a] and q[a] == q[legal].max()
    q = rng.normal(size=(200, 5)).astype(np.float32)
    legal = rng.random((200, 5)) < 0.4
    legal[0] = False  # no legal action: falls back to all
    picks = masked_argmax_batch(torch.from_numpy(q), torch.from_numpy(legal)).numpy()
    ok = legal.any(axis=1)
    assert legal[np.arange(200)[ok], picks[ok]].all()
    p = boltzmann(q, legal, 0.5)
    assert np.allclose(p.sum(axis=1), 1) and (p[ok][~legal[ok]] == 0).all()


def test_stratified_sample_keeps_first_last_and_limit():
    for limit, total in [(20, 10), (20, 20), (20, 21), (30, 1000), (7, 333), (2, 50)]:
        s = StratifiedEpisodeSample(limit)
        for i in range(total):
            s.add(SimpleNamespace(episode=i, length=1))
        kept = [t.episode for t in s.result()]
        assert len(kept) == min(limit, total)
        assert kept == sorted(set(kept))
        assert kept[0] == 0 and kept[-1] == total - 1
        if total <= limit:
            assert kept == list(range(total))
    # the middle is spread over the whole run, not bunched at one end
    s = StratifiedEpisodeSample(100)
    for i in range(10_000):
        s.add(SimpleNamespace(episode=i, length=1))
    kept = np.array([t.episode for t in s.result()])
    assert len(kept) == 100 and np.histogram(kept, bins=5, range=(0, 10_000))[0].min() >= 10
    # the step budget thins the middle, still keeping the ends
    s = StratifiedEpisodeSample(100, max_steps=500)
    for i in range(1000):
        s.add(SimpleNamespace(episode=i, length=10))
    kept = [t.episode for t in s.result()]
    assert kept[0] == 0 and kept[-1] == 999 and sum(10 for _ in kept) <= 500


def test_nstep_returns():
    acc = NStepAccumulator(3, 0.5)
    out = []
    for t in range(4):
        last = t == 3
        out += acc.push(t, 0, 1.0, t + 1, np.ones(2, bool), terminated=last, episode_over=last)
    # from s0: 1 + .5 + .25 bootstrapping s3 with .125; then the end flushes s1, s2, s3 with discount 0
    assert [o[0] for o in out] == [0, 1, 2, 3]
    assert out[0][2] == pytest.approx(1.75) and out[0][3] == pytest.approx(0.125) and out[0][4] == 3
    assert out[1][2] == pytest.approx(1.75) and out[1][3] == 0.0
    assert out[3][2] == pytest.approx(1.0) and out[3][3] == 0.0


def test_config_overrides_validated():
    cfg = make_config("highway", {"learning_rate": "1e-4", "hidden": "32,32", "double_dqn": "false"})
    assert cfg.learning_rate == 1e-4 and cfg.hidden == (32, 32) and cfg.double_dqn is False
    assert cfg.gamma == env_spec("highway").train_defaults["gamma"]
    with pytest.raises(UserError, match="unknown key"):
        make_config("gridnav", {"lr": 1})
    with pytest.raises(UserError, match="gamma"):
        make_config("gridnav", {"gamma": 2})


# --- end to end ---------------------------------------------------------------
def test_tiny_gridnav_training_end_to_end(tmp_path):
    pytest.importorskip("dpf_gui.envs.gridnav")
    out = tmp_path / "agent"
    cfg = {"hidden": (16,), "learning_starts": 50, "buffer_size": 500, "batch_size": 16,
           "eval_episodes": 2, "max_trajectories": 5}
    res = train_dqn("gridnav", 400, seed=3, out_dir=out, config_overrides=cfg, progress=False)
    assert res.steps == 400 and not res.interrupted and res.episodes >= 4
    for name in ("weights.safetensors", "model.json", "trajectories.npz", "training_curve.csv",
                 "training_curve.png"):
        assert (out / name).is_file(), name

    agent = TaskAgent.load(out, expect_env="gridnav")
    assert agent.env_name == "gridnav" and agent.n_actions == 4
    obs = np.zeros(agent.n_features, dtype=np.float32)
    assert agent.q_values(obs).shape == (4,)
    assert agent.q_values_batch(np.zeros((7, agent.n_features))).shape == (7, 4)
    assert agent.act(obs, np.array([False, False, True, False])) == 2
    assert "eval" in agent.sidecar["metrics"] and agent.sidecar["steps"] == 400
    with pytest.raises(UserError, match="not 'pong'"):
        TaskAgent.load(out, expect_env="pong")

    with open(out / "training_curve.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == res.episodes

    ds = TrajectoryDataset.load(out / "trajectories.npz", expect_env="gridnav")
    assert ds.meta["source"]["kind"] == "dqn-training" and ds.meta["source"]["seed"] == 3
    assert len(ds) == min(5, res.episodes)  # one trajectory per finished episode, capped
    assert ds.episodes[0] == 0 and ds.episodes[-1] == res.episodes - 1
    # stored episodes replay exactly from their seed and actions
    from dpf_gui.envs import make_env

    env = make_env("gridnav", ds.env_config)
    for traj in ds:
        o, _ = env.reset(seed=traj.seed)
        assert np.allclose(o, traj.features[0])
        for t, a in enumerate(traj.actions):
            o, r, *_ = env.step(int(a))
            assert np.allclose(o, traj.features[t + 1]) and r == pytest.approx(traj.rewards[t])
        assert traj.length == int(rows[traj.episode]["length"])


def test_training_cancel_saves_everything(tmp_path):
    pytest.importorskip("dpf_gui.envs.gridnav")
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 250

    res = train_dqn("gridnav", 10_000, seed=0, out_dir=tmp_path / "a", progress=False, should_stop=stop,
                    config_overrides={"hidden": (8,), "learning_starts": 50, "batch_size": 8})
    assert res.interrupted and res.steps == 250
    meta = read_sidecar(tmp_path / "a")
    assert meta["interrupted"] is True and meta["steps"] == 250
    TaskAgent.load(tmp_path / "a")
    ds = TrajectoryDataset.load(tmp_path / "a" / "trajectories.npz")
    assert len(ds) == res.episodes  # the unfinished episode is dropped


def test_same_seed_same_run(tmp_path):
    pytest.importorskip("dpf_gui.envs.gridnav")
    cfg = {"hidden": (8,), "learning_starts": 50, "batch_size": 8, "eval_episodes": 0}
    prints = []
    for name in ("a", "b"):
        train_dqn("gridnav", 300, seed=11, out_dir=tmp_path / name, config_overrides=cfg, progress=False)
        prints.append(TrajectoryDataset.load(tmp_path / name / "trajectories.npz").fingerprint())
    assert prints[0] == prints[1]


def test_validation_selection_records_history_and_ships_a_validated_step(tmp_path):
    from dpf_gui.agents.dqn import train_dqn

    res = train_dqn("gridnav", 1200, seed=0, out_dir=tmp_path / "sel", progress=False,
                    config_overrides={"select_every": 400, "select_episodes": 2, "eval_episodes": 0,
                                      "learning_starts": 100, "hidden": (16,)})
    side = json.loads((res.out_dir / "model.json").read_text())
    sel = side["selection"]
    assert [row[0] for row in sel["history"]][:3] == [400, 800, 1200]
    assert sel["shipped_step"] in {row[0] for row in sel["history"]}
    TaskAgent.load(res.out_dir, expect_env="gridnav")


def test_failure_penalty_shapes_only_a_failed_ending():
    """The learner pays the penalty when an episode ends in failure (a crash), never on success or a time-out."""
    assert learner_reward(0.0, True, {"task_success": False}, 2.0) == -2.0
    assert learner_reward(0.7, True, {"task_success": True}, 2.0) == 0.7
    assert learner_reward(0.7, False, {"task_success": False}, 2.0) == 0.7  # truncated or still running
    assert learner_reward(0.0, True, {"task_success": False}, 0.0) == 0.0
    with pytest.raises(UserError, match="failure_penalty"):
        make_config("highway", {"failure_penalty": -1})

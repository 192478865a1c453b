"""Trajectory dataset and label files: round trips, replay equality, refusal of bad files."""

import numpy as np
import pytest

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import make_env
from dpf_gui.errors import UserError
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.rollout import random_policy, replay, rollout
from dpf_gui.wish import make_wish

EPISODES = {"gridnav": 5, "highway": 2, "pong": 2}


@pytest.fixture(scope="module", params=sorted(EPISODES))
def recorded(request, tmp_path_factory):
    name = request.param
    data = rollout(name, random_policy(3), EPISODES[name], seed=11, progress=False)
    path = data.save(tmp_path_factory.mktemp(name) / "data.npz")
    return name, data, path


def test_round_trip_keeps_everything(recorded):
    name, data, path = recorded
    loaded = TrajectoryDataset.load(path, expect_env=name)
    assert len(loaded) == EPISODES[name]
    for field in ("features", "actions", "rewards", "legal", "regions", "lengths", "seeds", "terminated", "success"):
        assert np.array_equal(getattr(loaded, field), getattr(data, field)), field
    assert loaded.meta["env"] == name and loaded.meta["format_version"] == 1
    assert loaded.fingerprint() == data.fingerprint()
    t = loaded[0]
    assert t.features.shape[0] == t.length + 1 == t.regions.shape[0] == t.legal.shape[0]
    assert len(loaded.next_state_regions()) == len(loaded.actions)


def test_replay_reproduces_stored_features_exactly(recorded):
    name, data, _ = recorded
    env = make_env(name, data.env_config)
    for traj in data:
        feats = np.stack([obs for obs, _ in replay(env, traj)])
        assert feats.shape == traj.features.shape
        assert np.array_equal(feats, traj.features), f"{name} seed {traj.seed} diverged"
    env.close()


def test_replay_with_frames_is_still_exact(recorded):
    name, data, _ = recorded
    env = make_env(name, data.env_config)
    traj = data[0]
    states = list(replay(env, traj, frames=True))
    assert np.array_equal(np.stack([o for o, _ in states]), traj.features)
    frame = states[-1][1]
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    env.close()


def test_same_seed_same_rollout():
    a = rollout("gridnav", random_policy(1), 4, seed=2, progress=False)
    b = rollout("gridnav", random_policy(1), 4, seed=2, progress=False)
    c = rollout("gridnav", random_policy(1), 4, seed=3, progress=False)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_wrong_environment_and_bad_files_are_refused(recorded, tmp_path):
    name, _, path = recorded
    other = "pong" if name != "pong" else "gridnav"
    with pytest.raises(UserError, match=f"for environment '{name}', not '{other}'"):
        TrajectoryDataset.load(path, expect_env=other)
    with pytest.raises(UserError, match="no such file"):
        TrajectoryDataset.load(tmp_path / "missing.npz")
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(UserError, match="not a readable"):
        TrajectoryDataset.load(bad)
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(UserError, match="not a dpf"):
        TrajectoryDataset.load(tmp_path / "foreign.npz")


def test_subset_keeps_trajectories():
    data = rollout("gridnav", random_policy(0), 6, seed=0, progress=False)
    sub = data.subset([4, 1])
    assert len(sub) == 2
    assert np.array_equal(sub[0].actions, data[4].actions)
    assert np.array_equal(sub[1].features, data[1].features)


def test_labels_round_trip_and_refuse_other_data(tmp_path):
    data = rollout("gridnav", random_policy(0), 6, seed=0, progress=False)
    wish = make_wish(data.region_features, avoid=["terrain=toll"])
    labels = label_dataset(data, wish, FeedbackNoise(skip=0.3), seed=4)
    path = labels.save(tmp_path / "labels.npz")
    back = Labels.load(path)
    assert np.array_equal(back.scores, labels.scores) and np.array_equal(back.labelled, labels.labelled)
    assert back.meta["wish"] == {"prefer": [], "avoid": ["terrain=toll"]} and back.meta["mode"] == "avoid"
    back.check_matches(data)
    other = rollout("gridnav", random_policy(0), 6, seed=1, progress=False)
    with pytest.raises(UserError, match="different trajectory dataset"):
        back.check_matches(other)
    with pytest.raises(UserError, match="not a dpf label file"):
        Labels.load(data.save(tmp_path / "data.npz"))

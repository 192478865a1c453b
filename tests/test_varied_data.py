"""More varied trajectories without learning: exploring rollouts of the fixed task agent, random starts, merged
datasets that keep the old labels (dpf_gui/rollout.py, dpf_gui/data/merge.py, `dpf rollout --explore`,
`dpf merge`), and the wish coverage `dpf label` prints first (dpf_gui/coverage.py)."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest

from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.cli import main
from dpf_gui.coverage import EVERYWHERE_SHARE, THIN_TRAJECTORIES, VARIED_EPISODES, RegionCoverage, wish_coverage
from dpf_gui.data.labels import Labels
from dpf_gui.data.merge import carry_labels, merge_datasets
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import make_env
from dpf_gui.errors import UserError
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.paths import shipped_model
from dpf_gui.rollout import (
    Exploration,
    exploring_policy,
    parse_exploration,
    random_policy,
    replay,
    rollout,
)
from dpf_gui.session.workspace import wish_coverage as workspace_coverage
from dpf_gui.wish import make_wish


@pytest.fixture(scope="module")
def agent():
    return TaskAgent.load(shipped_model("gridnav"))


def _explore(agent, text, seed, episodes=6, random_start=False):
    return rollout("gridnav", exploring_policy(agent, parse_exploration(text), seed), episodes, seed,
                   env_config=agent.env_config, progress=False, random_start=random_start)


@pytest.mark.parametrize("text", ["epsilon:0.3", "boltzmann:3"])
def test_exploring_rollouts_are_seeded_and_leave_the_greedy_path(agent, text):
    greedy = rollout("gridnav", agent.act, 6, 3, env_config=agent.env_config, progress=False)
    a, b = _explore(agent, text, 3), _explore(agent, text, 3)
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.seeds, greedy.seeds)  # same episodes ...
    assert a.fingerprint() != greedy.fingerprint()  # ... played differently
    assert _explore(agent, text, 4).fingerprint() != a.fingerprint()


def test_exploration_specs():
    assert parse_exploration("boltzmann:0.5") == Exploration("boltzmann", 0.5)
    assert parse_exploration("epsilon:1").text() == "epsilon:1"
    for bad, fragment in (("epsilon:1.5", "out of range"), ("boltzmann:0", "out of range"),
                          ("boltzmann:nan", "out of range"),
                          ("gauss:1", "unknown exploration 'gauss'"), ("epsilon", "not KIND:NUMBER"),
                          ("epsilon:x", "not KIND:NUMBER")):
        with pytest.raises(UserError, match=fragment):
            parse_exploration(bad)


def test_random_starts_vary_and_replay_exactly(agent):
    data = _explore(agent, "epsilon:0.1", 0, episodes=12, random_start=True)
    starts = {tuple(data[i].regions[0][:2]) for i in range(len(data))}
    assert len(starts) > 3, starts  # the map has three start cells
    assert data.meta["source"]["start"] == "random"
    env = make_env("gridnav", data.env_config)
    for i in range(len(data)):
        feats = np.stack([obs for obs, _ in replay(env, data[i])])
        np.testing.assert_array_equal(feats, data[i].features)
    env.close()


def test_random_starts_only_where_the_environment_has_them():
    with pytest.raises(UserError, match=r"pong cannot start episodes in random states.*gridnav"):
        rollout("pong", random_policy(0), 1, 0, progress=False, random_start=True)
    env = make_env("gridnav")
    with pytest.raises(ValueError, match="wall, the goal or outside"):
        env.reset(seed=0, options={"start": (4, 0)})  # a wall
    env.close()


@pytest.fixture(scope="module")
def old_and_new(agent):
    old = rollout("gridnav", random_policy(1), 10, 1, progress=False)
    new = _explore(agent, "epsilon:0.3", 2, episodes=5, random_start=True)
    return old, new


def test_merge_makes_a_new_dataset_and_carries_labels_over(old_and_new, tmp_path):
    old, new = old_and_new
    wish = make_wish(old.region_features, avoid=["terrain=toll"], prefer=["terrain=scenic"])
    labels = label_dataset(old, wish, FeedbackNoise(skip=0.3), 0)
    labels.known = np.zeros(len(labels.marks), bool)
    labels.known[:3] = True
    merged = merge_datasets(old, new)
    assert len(merged) == 15 and merged.fingerprint() not in (old.fingerprint(), new.fingerprint())
    parts = merged.meta["source"]["parts"]
    assert [p["fingerprint"] for p in parts] == [old.fingerprint(), new.fingerprint()]
    assert [p["offset"] for p in parts] == [0, 10] and parts[1]["source"]["start"] == "random"
    for i in range(len(new)):
        np.testing.assert_array_equal(merged[10 + i].features, new[i].features)
    carried = carry_labels(labels, old, merged)
    carried.check_matches(merged)
    np.testing.assert_array_equal(carried.labelled[:10], labels.labelled)
    np.testing.assert_array_equal(carried.scores[:10], labels.scores)
    np.testing.assert_array_equal(carried.marks[:len(labels.marks)], labels.marks)
    assert not carried.labelled[10:].any() and np.isnan(carried.true_scores[10:]).all()
    assert (carried.marks[len(labels.marks):] == 0).all() and carried.known[:3].all() and not carried.known[3:].any()
    # the new part's labels land at its offset, and everything survives a round trip through files
    new_labels = label_dataset(new, wish, FeedbackNoise(), 1)
    placed = carry_labels(new_labels, new, merged)
    assert not placed.labelled[:10].any() and placed.labelled[10:].all()
    merged.save(tmp_path / "m.npz")
    carried.save(tmp_path / "l.npz")
    back = TrajectoryDataset.load(tmp_path / "m.npz")
    assert back.fingerprint() == merged.fingerprint()
    carry_again = carry_labels(labels, old, back)
    Labels.load(tmp_path / "l.npz").check_matches(back)
    np.testing.assert_array_equal(carry_again.scores, carried.scores)


def test_merge_refuses_what_cannot_live_in_one_dataset(old_and_new):
    old, new = old_and_new
    other = rollout("gridnav", random_policy(3), 3, 3, env_config={"max_steps": 50}, progress=False)
    with pytest.raises(UserError, match="differs from dataset 1 in its env config"):
        merge_datasets(old, other)
    with pytest.raises(UserError, match="dataset 2 of the merge is the same data as dataset 1"):
        merge_datasets(old, old)
    with pytest.raises(UserError, match="holds no trajectories"):
        merge_datasets(old, old.subset([]))
    labels = label_dataset(old, make_wish(old.region_features, avoid=["terrain=toll"]), FeedbackNoise(), 0)
    with pytest.raises(UserError, match="does not hold these trajectories"):
        carry_labels(labels, old, merge_datasets(new, new.subset([0, 1])))
    with pytest.raises(UserError, match="different trajectory dataset"):
        carry_labels(labels, new, merge_datasets(old, new))


def test_cli_explore_merge_and_label_a_budget(tmp_path, capsys):
    data, varied, merged = tmp_path / "d.npz", tmp_path / "v.npz", tmp_path / "m.npz"
    assert main(["rollout", "--env", "gridnav", "--episodes", "10", "--seed", "1", "--out", str(data), "--quiet"]) == 0
    assert main(["label", "--data", str(data), "--preset", "mixed", "--budget", "4", "--select", "active",
                 "--out", str(tmp_path / "l.npz")]) == 0
    out, err = capsys.readouterr()
    assert "coverage: prefer terrain=scenic: entered by" in out and "of 10 stored trajectories" in out
    assert "4 of 10 trajectories labelled (mixed; active selection)" in out
    assert "label this next" in err  # the rounds' progress (each trains an intent model with more rounds)
    assert main(["rollout", "--env", "gridnav", "--policy", str(shipped_model("gridnav")), "--explore", "boltzmann:2",
                 "--start", "random", "--episodes", "4", "--seed", "5", "--out", str(varied), "--quiet"]) == 0
    assert main(["merge", "--data", str(data), "--data", str(varied), "--out", str(merged),
                 "--labels", str(tmp_path / "l.npz"), "--labels-out", str(tmp_path / "ml.npz")]) == 0
    out = capsys.readouterr().out
    assert "14 trajectories (10 from" in out and "4 of 14 trajectories labelled (carried over" in out
    m = TrajectoryDataset.load(merged)
    ml = Labels.load(tmp_path / "ml.npz")
    ml.check_matches(m)
    assert ml.meta["selection"]["chosen"] == Labels.load(tmp_path / "l.npz").meta["selection"]["chosen"]
    assert m.meta["source"]["parts"][1]["source"]["explore"] == "boltzmann:2"


def test_label_warns_before_labelling_a_region_the_data_hardly_enters(tmp_path, capsys, monkeypatch):
    data = tmp_path / "d.npz"
    assert main(["rollout", "--env", "gridnav", "--episodes", "4", "--seed", "1", "--out", str(data), "--quiet"]) == 0
    d = TrajectoryDataset.load(data)
    far = "x=9&y=0"
    (cov,) = wish_coverage(d, make_wish(d.region_features, avoid=[far]))
    assert cov.kind == "avoid" and cov.expression == far and cov.of_trajectories == 4 and cov.thin
    assert cov.trajectories < THIN_TRAJECTORIES
    assert main(["label", "--data", str(data), "--avoid", far, "--out", str(tmp_path / "l.npz")]) == 0
    captured = capsys.readouterr()
    assert f"coverage: avoid {far}: entered by {cov.trajectories} of 4 stored trajectories" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and "dpf label: warning:" in warnings[0] and "dpf rollout" in warnings[0]
    assert "--explore" in warnings[0] and "dpf merge" in warnings[0]
    # the remedy's commands run as printed from any folder (the shipped agent by its name), fewer episodes here
    rollout, merge = re.findall(r"`(dpf [^`]+)`", warnings[0])
    monkeypatch.chdir(tmp_path)
    rollout = rollout.replace(f"--episodes {VARIED_EPISODES}", "--episodes 3")
    assert main([*shlex.split(rollout)[1:], "--quiet"]) == 0 and main(shlex.split(merge)[1:]) == 0
    assert len(TrajectoryDataset.load(tmp_path / "merged.npz")) == 4 + 3


def test_a_region_nearly_every_trajectory_enters_gets_advice_on_how_to_mark_it(tmp_path, capsys):
    data = tmp_path / "d.npz"
    assert main(["rollout", "--env", "gridnav", "--episodes", "20", "--seed", "1", "--out", str(data), "--quiet"]) == 0
    d = TrajectoryDataset.load(data)
    everywhere = "x=0.."  # the whole map
    wish = make_wish(d.region_features, avoid=[everywhere])
    (stored,) = wish_coverage(d, wish)
    assert stored.everywhere and stored.trajectories == 20 and not stored.thin
    cov = workspace_coverage(d, wish)
    assert cov.warnings == [] and len(cov.advice) == 1
    assert "Nearly every stored trajectory (20 of 20) enters the avoided region x=0.." in cov.advice[0]
    assert "segments" in cov.advice[0] and "stay there longest avoided" in cov.advice[0]
    # the share decides: one trajectory short of it is no longer "everywhere"
    at = int(np.ceil(EVERYWHERE_SHARE * 100))
    assert RegionCoverage("avoid", "r", at, 1, 100).everywhere
    assert RegionCoverage("avoid", "r", 1, 1, 100).text().endswith("1 decision inside")  # said "1 decisions"
    assert RegionCoverage("avoid", "r", 1, 2, 100).text().endswith("2 decisions inside")
    assert not RegionCoverage("avoid", "r", at - 1, 1, 100).everywhere
    # dpf label: said for binary marks (entered or not), not for graded scores (they count the decisions inside)
    binary = ["label", "--data", str(data), "--avoid", everywhere, "--binary", "--out", str(tmp_path / "b.npz")]
    assert main(binary) == 0
    err = capsys.readouterr().err
    assert "drop --binary" in err and "add --relative" in err
    # signs against a typical trajectory: the advice is taken, both signs given; --relative alone is refused
    assert main([*binary[:-2], "--relative", "--out", str(tmp_path / "r.npz")]) == 0
    assert "Nearly every" not in capsys.readouterr().err
    assert set(np.unique(Labels.load(tmp_path / "r.npz").scores)) == {0.0}  # the whole map: every run as usual
    near_start = ["label", "--data", str(data), "--avoid", "x=..2", "--binary", "--relative"]
    assert main([*near_start, "--out", str(tmp_path / "s.npz")]) == 0  # every run starts there, some linger
    assert "Nearly every" not in capsys.readouterr().err
    assert {-1.0, 1.0} <= set(np.unique(Labels.load(tmp_path / "s.npz").scores))
    alone = ["label", "--data", str(data), "--avoid", everywhere, "--relative", "--out", str(tmp_path / "x.npz")]
    assert main(alone) == 2 and "give --binary too" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    assert main(["label", "--data", str(data), "--avoid", everywhere, "--out", str(tmp_path / "e.npz")]) == 0
    assert "Nearly every" not in capsys.readouterr().err


def test_an_avoided_region_every_successful_run_crosses_is_said_to_be_unavoidable(tmp_path, capsys):
    """On gridnav's map every way to the goal crosses the wall at x=4 and x=5: no stored run shows the task done
    with those decisions halved, so labels cannot teach the agent to avoid them (a person-written wish that met the
    claim only by diluting them over longer episodes, docs/RESULTS.md). The toll road has a way round: no note."""
    d = TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz")
    (wall,) = wish_coverage(d, make_wish(d.region_features, avoid=["x=4"]))
    (toll,) = wish_coverage(d, make_wish(d.region_features, avoid=["terrain=toll"]))
    assert wall.unavoidable and wall.fewest_in_success >= 1 and not toll.unavoidable and toll.fewest_in_success == 0
    cov = workspace_coverage(d, make_wish(d.region_features, avoid=["x=4"], prefer=["terrain=scenic"]))
    assert len(cov.warnings) == 1 and "Every stored trajectory that succeeds enters the avoided region x=4" in \
        cov.warnings[0] and "nothing shows the task done while avoiding it" in cov.warnings[0]
    # the bar: the fewest decisions inside more than half the typical; never said of a preferred region
    assert RegionCoverage("avoid", "r", 9, 30, 10, fewest_in_success=2, typical_in_success=3.0).unavoidable
    assert not RegionCoverage("avoid", "r", 9, 30, 10, fewest_in_success=1, typical_in_success=2.0).unavoidable
    assert not RegionCoverage("prefer", "r", 9, 30, 10, fewest_in_success=2, typical_in_success=3.0).unavoidable
    assert not RegionCoverage("avoid", "r", 0, 0, 10).unavoidable  # no successful run: nothing to say
    out = tmp_path / "wall.npz"
    assert main(["label", "--data", "gridnav", "--avoid", "x=4", "--budget", "5", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: every stored trajectory that succeeds enters the avoided region x=4" in err and out.exists()

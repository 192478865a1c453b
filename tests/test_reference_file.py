"""The task agent's calibration reference kept beside its weights (dpf_gui/reference_file.py, `dpf reference`)."""

import json
import shutil

import numpy as np
import pytest

from dpf_gui.cli import main


def fake_task(tmp_path, weights="w", env_config=None):
    (tmp_path / "task").mkdir(exist_ok=True)
    return type("Task", (), {"env_config": env_config or {"lanes": 4}, "sidecar": {"weights_sha256": weights},
                             "directory": tmp_path / "task"})()


def fake_play(outcomes, plays):
    """A play that records how many seeds it was asked for and returns the outcome of each reference episode
    it is given (``outcomes``, by the episode's place among the reference seeds)."""
    from dpf_gui.calibrate import REFERENCE_SEED
    from dpf_gui.rollout import episode_seeds

    place = {int(s): i for i, s in enumerate(episode_seeds(REFERENCE_SEED, len(outcomes)))}

    def play(agent, seeds):
        plays.append(len(seeds))
        return [type("R", (), {"task_success": float(outcomes[place[int(s)]])})() for s in seeds]
    return play


@pytest.fixture
def cal(monkeypatch):
    import dpf_gui.calibrate as cal_mod

    monkeypatch.setattr(cal_mod, "REFERENCE_EPISODES", {"highway": 14})
    monkeypatch.setattr(cal_mod, "_references", {})
    monkeypatch.setattr(cal_mod, "FusedAgent", lambda task, strategy: None)  # the fake plays take no agent
    return cal_mod


def test_a_kept_reference_is_taken_after_its_first_episodes_replay_the_same(tmp_path, cal):
    from dpf_gui.reference_file import CHECK_EPISODES, write_reference

    assert CHECK_EPISODES < 14
    truth = [i % 3 != 0 for i in range(14)]
    task = fake_task(tmp_path)
    write_reference("highway", task, cal.REFERENCE_SEED, np.asarray(truth), "test", 1.0, "here")
    plays = []
    got = cal.task_reference("highway", task, fake_play(truth, plays))
    assert plays == [CHECK_EPISODES] and got.tolist() == [float(t) for t in truth]
    # one of the first outcomes differs on this machine (another environment, other arithmetic): the rest are
    # played too, the first ones kept as replayed
    cal._references.clear()
    here = list(truth)
    here[CHECK_EPISODES - 1] = not here[CHECK_EPISODES - 1]
    plays.clear()
    got = cal.task_reference("highway", task, fake_play(here, plays))
    assert plays == [CHECK_EPISODES, 14 - CHECK_EPISODES] and got.tolist() == [float(t) for t in here]


@pytest.mark.parametrize("change", ["weights", "env_config", "seed", "episodes", "damaged", "kind"])
def test_a_kept_reference_stands_for_the_same_agent_environment_and_episodes_only(tmp_path, cal, change):
    from dpf_gui.reference_file import read_reference, reference_path, write_reference

    task = fake_task(tmp_path)
    write_reference("highway", task, cal.REFERENCE_SEED, np.ones(14), "test", 1.0, "here")
    assert read_reference("highway", task, cal.REFERENCE_SEED, 14).tolist() == [1.0] * 14
    path = reference_path(task)
    seed, episodes = cal.REFERENCE_SEED, 14
    if change == "weights":
        task = fake_task(tmp_path, weights="v")
    elif change == "env_config":
        task = fake_task(tmp_path, env_config={"lanes": 3})
    elif change == "seed":
        seed += 1
    elif change == "episodes":
        episodes = 15
    elif change == "damaged":
        path.write_text(path.read_text()[:40])
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), "kind": "task-dqn"}))
    assert read_reference("highway", task, seed, episodes) is None
    if change not in ("seed", "episodes"):  # the file no longer stands for these episodes: all are played
        plays = []
        cal.task_reference("highway", task, fake_play([True] * 14, plays))
        assert plays == [14]


def test_dpf_reference_writes_it_once(tmp_path, monkeypatch, capsys):
    """`dpf reference` plays the reference beside a task agent's weights, with how it was made; it refuses an
    environment without a reference and an existing file without --force."""
    import dpf_gui.calibrate as cal_mod
    from dpf_gui.paths import shipped_model

    shutil.copytree(shipped_model("gridnav"), tmp_path / "agent")
    assert main(["reference", "--task", str(tmp_path / "agent"), "--quiet"]) == 2
    assert "gridnav calibrates without a reference" in capsys.readouterr().err
    monkeypatch.setattr(cal_mod, "REFERENCE_EPISODES", {"gridnav": 5})
    assert main(["reference", "--task", str(tmp_path / "agent"), "--quiet"]) == 0
    said = capsys.readouterr().out
    kept = json.loads((tmp_path / "agent" / "reference.json").read_text())
    # the outcomes as played (not a learned figure asserted: the file says what the command printed)
    assert len(kept["success"]) == 5 and set(kept["success"]) <= {0, 1}
    assert f"succeeded in {sum(kept['success'])} of 5 reference episodes" in said
    assert kept["seed"] == cal_mod.REFERENCE_SEED and kept["env"] == "gridnav"
    assert kept["command"].startswith("dpf reference --task") and kept["machine"] and kept["created"]
    assert main(["reference", "--task", str(tmp_path / "agent"), "--quiet"]) == 2
    assert "reference.json exists; pass --force" in capsys.readouterr().err
    assert main(["reference", "--task", str(tmp_path / "agent"), "--quiet", "--force", "--jobs", "2"]) == 0


def test_dpf_reference_refuses_a_folder_it_cannot_write_before_playing(tmp_path, monkeypatch, capsys):
    """An agent in a read-only place (an installation): one line at once, not a traceback after minutes."""
    import dpf_gui.calibrate as cal_mod
    import dpf_gui.evaluate as evaluate_mod
    import dpf_gui.reference_file as reference_mod
    from dpf_gui.paths import shipped_model
    from tests.bad_inputs import readonly_folder

    ro = readonly_folder(tmp_path)
    if ro is None:
        pytest.skip("no folder here that this process cannot write into")
    shutil.copytree(shipped_model("gridnav"), tmp_path / "agent")
    monkeypatch.setattr(cal_mod, "REFERENCE_EPISODES", {"gridnav": 5})
    monkeypatch.setattr(reference_mod, "reference_path", lambda task: ro / "reference.json")
    monkeypatch.setattr(evaluate_mod, "play_agents", lambda *a, **k: pytest.fail("played before checking"))
    try:
        assert main(["reference", "--task", str(tmp_path / "agent"), "--quiet", "--force"]) == 2
    finally:
        (tmp_path / "readonly").chmod(0o755)
    err = capsys.readouterr().err.strip()
    assert err.startswith("dpf reference: error: cannot write into") and "\n" not in err, err


@pytest.mark.parametrize("env_name, check", [("pong", 10), ("highway", 2)])
def test_the_shipped_references_are_their_agents_and_replay_the_same(env_name, check):
    """The shipped agents' references are theirs and still come out the same here (a change of the environment
    or the task agent's arithmetic fails this, and then calibrations would replay them all)."""
    from dpf_gui.calibrate import REFERENCE_EPISODES, REFERENCE_SEED
    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.reference_file import checks_out, read_reference
    from dpf_gui.rollout import episode_seeds

    task = load_task_agent(env_name)
    kept = read_reference(env_name, task, REFERENCE_SEED, REFERENCE_EPISODES[env_name])
    assert kept is not None and 0.5 < kept.mean() < 1.0
    seeds = episode_seeds(REFERENCE_SEED, REFERENCE_EPISODES[env_name])[:check]
    replayed = [r.task_success for r in play_records(env_name, FusedAgent(task, "task"), seeds, task.env_config)]
    assert checks_out(kept, replayed)

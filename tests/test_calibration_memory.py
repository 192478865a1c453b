"""Calibrations kept on this machine: the same agents from the same parameters get theirs back, nothing else does."""

import json

import pytest

import dpf_gui.calibration_memory as memory
from dpf_gui.calibrate import Calibration
from dpf_gui.calibration_memory import RESULT, calibration_entry, keep_calibration, recall_calibration
from dpf_gui.pipeline import fusion_params, load_task_agent

INTENT = {"weights_sha256": "ab" * 32}


@pytest.fixture(scope="module")
def task():
    return load_task_agent("gridnav")


def a_calibration() -> Calibration:
    table = [{"strength": 1.0, "c": 3.0, "success": 1.0, "intent_score": 0.1, "changed": 1.0},
             {"strength": 4.0, "c": 6.0, "success": 0.95, "intent_score": 0.4, "changed": 1.0}]
    return Calibration(strength=4.0, task_success=1.0, keep=0.9, episodes=20, seed=0, table=table, c=6.0,
                       confirm={"episodes": 100, "tries": []}, reference=0)


def test_a_kept_calibration_comes_back_for_the_same_agents_and_parameters(task, tmp_path):
    params = fusion_params(task)
    assert recall_calibration("gridnav", task, INTENT, params, root=tmp_path) is None  # nothing kept yet
    assert keep_calibration(a_calibration(), "gridnav", task, INTENT, params, root=tmp_path)
    back = recall_calibration("gridnav", task, INTENT, params, root=tmp_path)
    assert back == a_calibration() and back.params(params).strength == 4.0 and back.params(params).c == 6.0


def test_another_intent_start_code_or_seed_gets_nothing(task, tmp_path, monkeypatch):
    params = fusion_params(task)
    keep_calibration(a_calibration(), "gridnav", task, INTENT, params, root=tmp_path)
    assert recall_calibration("gridnav", task, {"weights_sha256": "cd" * 32}, params, root=tmp_path) is None
    assert recall_calibration("gridnav", task, INTENT, params.with_overrides({"T_max": 5.0}), root=tmp_path) is None
    assert recall_calibration("gridnav", task, INTENT, params, seed=1, root=tmp_path) is None
    assert recall_calibration("gridnav", task, INTENT, params, episodes=50, root=tmp_path) is None
    monkeypatch.setattr(memory, "code_fingerprint", lambda: "other code")
    assert recall_calibration("gridnav", task, INTENT, params, root=tmp_path) is None


def test_a_damaged_or_unkeepable_calibration_is_no_calibration(task, tmp_path):
    params = fusion_params(task)
    keep_calibration(a_calibration(), "gridnav", task, INTENT, params, root=tmp_path)
    entry = calibration_entry("gridnav", task, INTENT, params, root=tmp_path)
    kept = json.loads((entry.path / RESULT).read_text())
    (entry.path / RESULT).write_text(json.dumps({**kept, "strength": 8.0}))  # not what was stamped
    assert recall_calibration("gridnav", task, INTENT, params, root=tmp_path) is None
    # an intent built in memory has no checksum to be known by: nothing is kept for it
    assert not keep_calibration(a_calibration(), "gridnav", task, {}, params, root=tmp_path)
    assert recall_calibration("gridnav", task, {}, params, root=tmp_path) is None
    blocker = tmp_path / "a file"
    blocker.write_text("")
    assert not keep_calibration(a_calibration(), "gridnav", task, INTENT, params, root=blocker / "calibrations")


def test_the_next_calibration_of_the_same_agents_replaces_the_last(task, tmp_path):
    params, louder = fusion_params(task), fusion_params(task).with_overrides({"T_max": 5.0})
    keep_calibration(a_calibration(), "gridnav", task, INTENT, params, root=tmp_path)
    keep_calibration(a_calibration(), "gridnav", task, INTENT, louder, root=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1  # one entry for the two agents
    assert recall_calibration("gridnav", task, INTENT, louder, root=tmp_path) is not None
    assert recall_calibration("gridnav", task, INTENT, params, root=tmp_path) is None

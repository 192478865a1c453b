"""A calibration in a process of its own gives what it gives in this thread, reports its episodes, and stops
when asked (gridnav stands in for highway and Pong, whose calibrations take minutes)."""

import pytest

from dpf_gui.calibrate import CalibrationCancelled, calibrate
from dpf_gui.calibration_process import calibrate_on_this_machine, runs_in_a_process
from dpf_gui.errors import UserError
from dpf_gui.fusion import intent_scale, intent_unit
from dpf_gui.pipeline import fusion_params, load_task_agent
from tests.test_saliency import train_tiny_additive_avoid_toll_intent


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    model, sidecar = train_tiny_additive_avoid_toll_intent(tmp_path_factory.mktemp("additive") / "gridnav")
    return load_task_agent("gridnav"), model, sidecar


def test_only_the_long_calibrations_leave_the_callers_process():
    assert runs_in_a_process("highway") and runs_in_a_process("pong")
    assert not runs_in_a_process("gridnav")  # under a second: starting a process takes longer


def test_a_calibration_in_a_process_is_the_one_played_here(agents):
    task, model, sidecar = agents
    args = ("gridnav", task, model, intent_scale(sidecar), intent_unit(sidecar), fusion_params(task))
    told = []
    there = calibrate_on_this_machine(*args, episodes=4, seed=2, in_a_process=True,
                                      progress=lambda *a: told.append(a))
    here = calibrate("gridnav", *args[1:], episodes=4, seed=2)
    assert there == here and there.table  # the same choice and the same figures for every candidate
    played = [a[0] for a in told]
    assert played == sorted(played) and played[0] == 1 and played[-1] == len(there.table) * 4 + 4  # every episode
    assert all(isinstance(a[2], str) and a[1] >= a[0] for a in told)


def test_a_calibration_in_a_process_stops_when_asked_and_says_what_went_wrong(agents):
    task, model, sidecar = agents
    args = ("gridnav", task, model, intent_scale(sidecar), intent_unit(sidecar), fusion_params(task))
    told = []
    with pytest.raises(CalibrationCancelled):
        calibrate_on_this_machine(*args, episodes=4, in_a_process=True, progress=lambda *a: told.append(a),
                                  should_stop=lambda: bool(told))  # stop once the first episode is reported
    assert len(told) < 4 * 3  # it stopped within the search, not at its end
    with pytest.raises(UserError, match="unknown environment"):  # a user's mistake there is one here
        calibrate_on_this_machine("no-such-env", *args[1:], episodes=2, in_a_process=True)

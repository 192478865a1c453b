"""A new environment needs only its own module: tests/corridor_env.py, registered here, goes through the CLI
(rollout, label, train-task, train-intent, evaluate) and the app's Annotate and Play views with no change anywhere
else, and the three real environments keep their screens."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpf_gui.cli import main
from dpf_gui.envs import ENV_NAMES, env_screen, env_spec, make_env, unregister_env
from dpf_gui.wish import make_wish


@pytest.fixture(scope="module")
def corridor():
    """The corridor registered (importing the module does it) for this module's tests only: the other test
    modules' environment lists stay the three real ones."""
    import tests.corridor_env as module

    yield module
    unregister_env("corridor")


@pytest.fixture(scope="module")
def run_dir(corridor, tmp_path_factory):
    """Data, labels, a task agent and an intent model for the corridor, made with the CLI (about 10 s)."""
    d = tmp_path_factory.mktemp("corridor")
    commands = [
        ["rollout", "--env", "corridor", "--policy", "random", "--episodes", "60", "--seed", "0", "--out",
         f"{d}/data.npz", "--quiet"],
        ["label", "--data", f"{d}/data.npz", "--preset", "mixed", "--seed", "0", "--out", f"{d}/labels.npz"],
        ["train-task", "--env", "corridor", "--seed", "0", "--out", f"{d}/task", "--quiet"],
        ["train-intent", "--data", f"{d}/data.npz", "--labels", f"{d}/labels.npz", "--seed", "0", "--out",
         f"{d}/intent", "--set", "members=2", "--set", "hidden=16", "--set", "utility_steps=150",
         "--set", "value_steps=300"],
        # no --strategies: with --intent the default is task, static and dynamic (read by the tests below)
        ["evaluate", "--env", "corridor", "--task", f"{d}/task", "--intent", f"{d}/intent", "--preset", "mixed",
         "--episodes", "30", "--seed", "0", "--json", f"{d}/eval.json"],
    ]
    for argv in commands:
        assert main(argv) == 0, argv
    return d


def test_a_registered_environment_is_listed_live(corridor, capsys):
    assert "corridor" in ENV_NAMES and ENV_NAMES[-1] == "corridor"
    assert main(["envs"]) == 0 and "corridor" in capsys.readouterr().out


def test_the_cli_runs_the_whole_loop_on_it(run_dir):
    """The task agent learns the corridor; static fusion follows the wish (go to cell 0, keep off the trap),
    dynamic fusion keeps the task."""
    rows = json.loads((run_dir / "eval.json").read_text())["strategies"]
    task, static, dynamic = (rows[s] for s in ("task", "static", "dynamic"))
    assert task["task_success"]["mean"] >= 0.9 and dynamic["task_success"]["mean"] >= 0.9
    assert static["prefer_fraction"]["mean"] > task["prefer_fraction"]["mean"] + 0.3
    assert static["avoid_fraction"]["mean"] < task["avoid_fraction"]["mean"]


def test_worker_processes_know_it(run_dir):
    """`dpf evaluate --jobs 2` plays it in worker processes (which start with the built-in environments only)
    and gives the table of one process."""
    argv = ["evaluate", "--env", "corridor", "--task", f"{run_dir}/task", "--intent", f"{run_dir}/intent",
            "--strategies", "task,static,dynamic", "--preset", "mixed", "--episodes", "30", "--seed", "0",
            "--jobs", "2", "--quiet", "--json", f"{run_dir}/eval-jobs2.json"]
    assert main(argv) == 0
    one, two = (json.loads((run_dir / name).read_text())["strategies"] for name in ("eval.json", "eval-jobs2.json"))
    assert one == two


def test_the_episode_worker_process_plays_it(run_dir):
    """A plugin environment with ``stepping = "process"`` plays in the app's episode worker process (spawned: it
    starts with the built-in environments only) exactly as in this process."""
    from dpf_gui.episode import EpisodeRunner
    from dpf_gui.episode_worker import EpisodeProcess, RemoteRunner
    from dpf_gui.pipeline import load_task_agent

    task = load_task_agent("corridor", run_dir / "task")
    process = EpisodeProcess("corridor simulator")
    try:
        here, there = EpisodeRunner("corridor", None, task), RemoteRunner(process, "corridor", None, task)
        assert np.array_equal(there.reset(3).frame, here.reset(3).frame)
        while not here.done:
            a, b = here.advance(), there.advance()
            assert (a.t, a.reward, a.done) == (b.t, b.reward, b.done) and np.array_equal(a.frame, b.frame)
        assert there.done
    finally:
        process.close()


def test_evaluate_calibrate_prints_the_search_and_shows_its_progress(run_dir, capsys):
    """`dpf evaluate --calibrate`: every candidate and the choice on stdout, the episode count on stderr (not with
    --quiet)."""
    argv = ["evaluate", "--env", "corridor", "--task", f"{run_dir}/task", "--intent", f"{run_dir}/intent",
            "--strategies", "dynamic", "--preset", "mixed", "--episodes", "5", "--seed", "0", "--calibrate"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "calibration: strength 1, c " in out and "calibrated: strength " in out
    assert "calibrating" in err and "the task agent" in err
    assert main([*[a for a in argv if a != "--calibrate"], "--quiet", "--recalibrate"]) == 0  # implies --calibrate
    quiet_out, quiet_err = capsys.readouterr()
    assert "calibrating" not in quiet_err and quiet_out.splitlines()[:3] == out.splitlines()[:3]
    # kept on this machine: a later run of the same agents, parameters and seed reads it back, and says so
    assert main(argv) == 0
    kept_out, kept_err = capsys.readouterr()
    first, *rest = kept_out.splitlines()
    assert first.startswith("calibration: kept from an earlier calibration") and "calibrating" not in kept_err
    assert rest == out.splitlines()
    assert main([*argv, "--seed", "1"]) == 0  # another seed: calibrated anew
    assert "calibration: kept" not in capsys.readouterr().out


def test_evaluate_calibrate_keeps_the_reference_for_the_next_run(run_dir, capsys, monkeypatch, tmp_path):
    """On Pong and highway the task agent's reference is minutes of play: `dpf evaluate --calibrate` keeps it in
    the app's data folder and a later run reads it back (the corridor stands in, given a reference of 3)."""
    import dpf_gui.calibrate as cal_mod

    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "user-data"))
    monkeypatch.setattr(cal_mod, "REFERENCE_EPISODES", {"corridor": 3})
    seeds_of, real = [], cal_mod.episode_seeds
    monkeypatch.setattr(cal_mod, "episode_seeds", lambda seed, n, **kw: seeds_of.append(seed) or real(seed, n, **kw))
    argv = ["evaluate", "--env", "corridor", "--task", f"{run_dir}/task", "--intent", f"{run_dir}/intent",
            "--strategies", "dynamic", "--preset", "mixed", "--episodes", "5", "--seed", "0", "--calibrate", "--quiet",
            "--recalibrate"]  # the calibration itself is kept too: here its reference is what is read back
    said = []
    for run in ("first", "later"):
        monkeypatch.setattr(cal_mod, "_references", {})  # a new process
        seeds_of.clear()
        assert main(argv) == 0
        said.append(capsys.readouterr().out)
        assert (cal_mod.REFERENCE_SEED in seeds_of) == (run == "first"), run  # played once, then read back
        assert len(list((tmp_path / "user-data" / "references").glob("reference-corridor-*"))) == 1
    assert said[0] == said[1]  # the same choice from the reference read back


def test_the_annotate_view_shows_it_with_the_wish_tinted(run_dir, qtbot, tmp_path, messages):
    from dpf_gui.envs.screen import AVOID_RGB, PREFER_RGB
    from tests.qt_helpers import WAIT_MS, open_window

    window = open_window(qtbot, tmp_path / "store", env="corridor", task_dir=run_dir / "task",
                         dataset_path=run_dir / "data.npz")
    assert window.env_name == "corridor" and not messages
    assert window.env_combo.findData("corridor") >= 0
    player = window.annotate.player
    wish = make_wish(env_spec("corridor").region_features, preset=env_spec("corridor").preset("mixed"))
    window.annotate.set_overlay_wish(wish, "simulated user")
    qtbot.waitUntil(lambda: player.frames is not None, timeout=WAIT_MS)
    frame = player.frames[0]
    layer = player._layer(frame)
    assert layer is not None and layer.shape[:2] == frame.shape[:2]
    assert tuple(layer[0, 2])[:3] == PREFER_RGB and tuple(layer[0, 2 * 24 + 2])[:3] == AVOID_RGB
    assert "trap" in player.legend_label.text()
    window.close()


def test_the_play_view_plays_it_with_its_overlay(run_dir, qtbot):
    from dpf_gui.app.overlays import qimage_to_array
    from dpf_gui.app.play_view import PlayView
    from dpf_gui.app.play_widgets import off_ui_thread
    from dpf_gui.intent.registry import load_intent
    from dpf_gui.pipeline import load_task_agent

    model, sidecar = load_intent(run_dir / "intent", expect_env="corridor")[:2]
    v = PlayView()
    qtbot.addWidget(v)
    v.resize(1024, 768)
    v.show()
    v.set_agents("corridor", None, load_task_agent("corridor", run_dir / "task"), model, sidecar, seed=1)
    assert not off_ui_thread("corridor")
    assert v.run_decisions(5) == 5
    snap = v.snapshot()
    assert [type(s).__name__ for s in snap.overlay.shapes] == ["Rect", "Text"]
    shown = qimage_to_array(v.frame_view.image())
    assert shown.shape == snap.frame.shape and not np.array_equal(shown, snap.frame)  # the overlay is drawn on it
    v.shutdown()


def test_an_environment_that_defines_no_screen_still_shows(corridor):
    """The generic fallbacks: no tint, no overlay, no legend, frames at their own size, stepped in the UI thread."""
    from dpf_gui.envs.screen import OverlayInputs, Screen

    screen, env = Screen(), make_env("corridor")
    env.reset(seed=0)
    wish = make_wish(env_spec("corridor").region_features, prefer=["cell=0"])
    assert screen.region_layer(env.config, wish, env.region_values(), env.frame().shape) is None
    assert screen.overlay(env, OverlayInputs(env.spec_info.feature_names, wish), {}) == []
    assert screen.legend(True, True, False) == [] and screen.frame_scale == 1 and screen.stepping == "inline"


@pytest.mark.parametrize("name, scale, stepping", [("gridnav", 1, "inline"), ("highway", 1, "process"),
                                                    ("pong", 3, "inline")])
def test_the_real_environments_keep_their_screens(name, scale, stepping):
    screen = env_screen(name)
    assert screen.frame_scale == scale and screen.stepping == stepping and screen.legend(True, True, False)


def test_highways_legend_names_the_colours_highway_env_draws():
    """A crashed car turns red in highway-env's drawing: the legend says what red means."""
    from highway_env.vehicle.graphics import VehicleGraphics

    from dpf_gui.envs.highway import CRASHED_COLOUR

    names = {getattr(part, "text", None): getattr(part, "colour", None)
             for part in env_screen("highway").legend(False, False, False)}
    assert tuple(CRASHED_COLOUR) == tuple(VehicleGraphics.RED) and names.get("crashed") == CRASHED_COLOUR


def test_evaluate_measures_the_wish_recorded_with_the_intent(run_dir, capsys):
    """Without a wish on the command line, the one the intent model's labels were made for (mixed) is measured,
    and said."""
    capsys.readouterr()
    argv = ["evaluate", "--env", "corridor", "--task", f"{run_dir}/task", "--intent", f"{run_dir}/intent",
            "--strategies", "task,static,dynamic", "--episodes", "30", "--seed", "0", "--quiet",
            "--json", f"{run_dir}/eval-recorded.json"]
    assert main(argv) == 0
    assert "recorded with the intent model's labels" in capsys.readouterr().out
    given, recorded = (json.loads((run_dir / name).read_text()) for name in ("eval.json", "eval-recorded.json"))
    assert recorded["strategies"] == given["strategies"] and "prefer_fraction" in recorded["strategies"]["task"]


def test_the_thin_region_hint_asks_for_a_task_agent_where_none_is_shipped(corridor):
    """The remedy names the shipped agent by its name where there is one, else a folder to fill in."""
    from dpf_gui.coverage import RegionCoverage, thin_warning

    region = RegionCoverage(kind="prefer", expression="cell=0", trajectories=0, decisions=0, of_trajectories=60)
    assert "--policy gridnav " in thin_warning(region, "gridnav", "data.npz")
    text = thin_warning(region, "corridor", "data.npz")
    assert "--policy DIR " in text and "corridor ships none" in text and "--policy corridor" not in text

"""The `dpf` command line: happy paths and every user-error path (one line, exit code 2)."""

import json

import pytest

from dpf_gui.cli import main
from tests.helpers import HANG_S


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, fragment, *argv):
    with pytest.raises(SystemExit) as exc_info:  # argparse-level errors exit directly
        code = main(list(argv))
        raise SystemExit(code)
    out, err = capsys.readouterr()
    assert exc_info.value.code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def gridnav_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "g.npz"
    assert main(["rollout", "--env", "gridnav", "--episodes", "8", "--seed", "1", "--out", str(path), "--quiet"]) == 0
    return path


def test_envs_lists_everything(capsys):
    code, out, _ = run(capsys, "envs")
    assert code == 0
    for word in ("gridnav", "highway", "pong", "LANE_LEFT", "terrain", "paddle", "lane", "speed", "presets"):
        assert word in out
    code, out, _ = run(capsys, "envs", "--json")
    specs = {s["name"]: s for s in json.loads(out)}
    assert specs["highway"]["features"][-1] == "ego_lane" and len(specs["highway"]["features"]) == 26
    assert {p["name"] for p in specs["pong"]["presets"]} == {"avoid", "prefer", "mixed"}


def test_rollout_and_label(capsys, gridnav_data, tmp_path):
    out_path = tmp_path / "labels.npz"
    code, out, _ = run(capsys, "label", "--data", str(gridnav_data), "--preset", "mixed", "--seed", "2",
                       "--out", str(out_path))
    assert code == 0 and "8 of 8 trajectories labelled (mixed)" in out
    code, out, _ = run(
        capsys, "label", "--data", str(gridnav_data), "--avoid", "x=4..5&y=5", "--prefer", "terrain=scenic",
        "--binary", "--flip", "0.1", "--skip", "0.5", "--out", str(tmp_path / "l2.npz"),
    )
    assert code == 0 and "(mixed)" in out


def test_existing_output_is_not_overwritten_without_force(capsys, gridnav_data, tmp_path):
    target = tmp_path / "keep.npz"
    target.write_bytes(b"user data")
    assert_user_error(capsys, "already exists", "label", "--data", str(gridnav_data), "--preset", "avoid",
                      "--out", str(target))
    assert target.read_bytes() == b"user data"


def test_help_of_every_command_has_examples(capsys):
    """`dpf --help` and `dpf COMMAND --help` for every command print their help and exit 0 (argparse reads a
    "%" in a command's help line as a format code: "95 % intervals" once crashed every one of them)."""
    from dpf_gui.cli import COMMANDS

    assert set(COMMANDS) == {"envs", "rollout", "label", "train-task", "train-intent", "evaluate", "results", "merge",
                             "benchmark", "study", "trace", "train-risk", "reference", "suggest",
                             "record"}
    for argv in (["--help"], *([cmd, "--help"] for cmd in COMMANDS)):
        with pytest.raises(SystemExit) as e:
            main(argv)
        out, err = capsys.readouterr()
        assert e.value.code == 0 and err == "", (argv, err)
        assert out.startswith(f"usage: dpf {argv[0] if len(argv) == 2 else ''}".rstrip()), out
        assert "example" in out if len(argv) == 2 else "metrics with 95 % intervals" in " ".join(out.split()), argv
    code, out, err = run(capsys)  # bare `dpf`: the overview, and the usage-mistake exit code
    assert code == 2 and out.startswith("usage: dpf") and "evaluate" in out and err == ""


def test_help_of_every_study_action_has_examples(capsys):
    """`dpf study ACTION --help` for every action (init, pilot, export, status, add, withdraw)."""
    from dpf_gui.cli.studies import STUDY_ACTIONS

    assert {"init", "pilot", "export", "status", "add", "withdraw"} <= set(STUDY_ACTIONS)
    for action in STUDY_ACTIONS:
        with pytest.raises(SystemExit) as e:
            main(["study", action, "--help"])
        out, err = capsys.readouterr()
        assert e.value.code == 0 and err == "" and out.startswith(f"usage: dpf study {action}"), (action, err)
        assert "example" in out, action
    code, out, err = run(capsys, "study")  # no action: one line, exit 2
    assert code == 2 and f"give an action: {', '.join(STUDY_ACTIONS)} (see" in err and "summary" in err


def test_counts_are_said_in_the_singular_for_one():
    from dpf_gui.cli.options import counted

    assert [counted(n, noun) for n, noun in ((1, "trajectory"), (2, "trajectory"), (0, "participant"),
                                              (1, "simulated participant"), (3, "day"))] == \
        ["1 trajectory", "2 trajectories", "0 participants", "1 simulated participant", "3 days"]


@pytest.mark.parametrize("argv, code", [(["envs"], 141), (["--help"], 0)])  # argparse ignores a failed write
def test_a_reader_that_goes_away_gets_no_traceback(argv, code):
    """`dpf envs | head -1`: the reader closes the pipe before dpf is done writing; dpf stops quietly."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dpf_gui.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # before dpf writes anything: every write finds no reader
    _, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err


@pytest.mark.parametrize("argv, code", [(["--help"], 0), ([], 2), (["evaluate", "--help"], 0)])
def test_help_from_a_fresh_process(argv, code):
    """The real entry point, as a newcomer types it: no traceback."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "dpf_gui.cli", *argv], capture_output=True, text=True, timeout=HANG_S,
                          check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout.startswith("usage: dpf")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["rollout", "--env", "atari", "--out", "x.npz"],
         "unknown environment 'atari'; allowed: gridnav, highway, pong"),
        (["rollout", "--env", "gridnav", "--episodes", "0", "--out", "x.npz"], "0 is out of range; allowed: >= 1"),
        (["rollout", "--env", "gridnav", "--seed", "abc", "--out", "x.npz"], "not a whole number"),
        (["rollout", "--env", "gridnav", "--policy", "no/such/dir", "--out", "x.npz"], "no/such/dir"),
        (["label", "--data", "missing.npz", "--preset", "avoid", "--out", "l.npz"], "missing.npz: no such file"),
        (["label", "--data", "DATA", "--avoid", "lane=0", "--out", "l.npz"], "unknown region feature 'lane'"),
        (["label", "--data", "DATA", "--avoid", "x<3", "--out", "l.npz"], "malformed term"),
        (["label", "--data", "DATA", "--avoid", "x=12", "--out", "l.npz"], "out of range"),
        (["label", "--data", "DATA", "--prefer", "terrain=lava", "--out", "l.npz"], "unknown terrain 'lava'"),
        (["label", "--data", "DATA", "--out", "l.npz"], "no wish given"),
        (["label", "--data", "DATA", "--preset", "avoid", "--avoid", "x=1", "--out", "l.npz"], "not both"),
        (["label", "--data", "DATA", "--preset", "sideways", "--out", "l.npz"], "invalid choice: 'sideways'"),
        (["label", "--data", "DATA", "--preset", "avoid", "--flip", "2", "--out", "l.npz"],
         "2 is out of range; allowed: >= 0 and <= 1"),
        (["label", "--data", "DATA", "--preset", "avoid", "--sigma", "-1", "--out", "l.npz"],
         "-1 is out of range; allowed: >= 0"),
        (["label", "--data", "DATA", "--preset", "avoid", "--myopic", "0", "--out", "l.npz"],
         "0 is out of range; allowed: > 0 and <= 1"),
        (["label", "--data", "DATA", "--preset", "avoid", "--equal", "-2", "--out", "l.npz"],
         "-2 is out of range; allowed: >= 0"),
        (["label", "--data", "DATA", "--preset", "avoid", "--stochastic", "-0.5", "--out", "l.npz"],
         "-0.5 is out of range; allowed: >= 0"),
        (["label", "--data", "DATA", "--preset", "avoid", "--feedback", "segments", "--myopic", "0.9", "--out",
          "l.npz"], "--equal and --stochastic change scores"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["--bogus"], "dpf: error: unrecognized arguments: --bogus"),
        # an unknown option is said by its command, with the options it may have meant
        (["label", "--data", "DATA", "--wish", "avoid x=1", "--out", "l.npz"],
         "dpf label: error: unrecognized arguments: --wish avoid x=1 (for --wish, dpf label has --preset, --prefer "
         "or --avoid) (see dpf label --help)"),
        (["train-intent", "--data", "DATA", "--labels", "l.npz", "--out", "o", "--seeds", "3"],
         "(for --seeds, dpf train-intent has --seed)"),
        (["evaluate", "--environment", "gridnav"], "(for --environment, dpf evaluate has --env)"),
        (["envs", "--env", "atari"], "dpf envs: error: unrecognized arguments: --env atari (see dpf envs --help)"),
        (["study", "pilot", "S", "--participants", "2", "--seeds", "1"],
         "dpf study pilot: error: unrecognized arguments: --seeds 1 (for --seeds, dpf study pilot has --seed)"),
        (["train-task", "--env", "gridnav", "--out", "o", "--set", "gamma"], "--set 'gamma': expected KEY=VALUE"),
        (["train-task", "--env", "gridnav", "--out", "o", "--set", "lr=1"], "unknown key 'lr'; allowed: batch_size"),
        (["train-task", "--env", "gridnav", "--out", "o", "--set", "double_dqn=maybe"], "expected true or false"),
    ],
)
def test_user_errors(capsys, gridnav_data, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    argv = [str(gridnav_data) if a == "DATA" else a for a in argv]
    assert_user_error(capsys, fragment, *argv)


def test_set_values_are_parsed_to_each_fields_type():
    from dpf_gui.errors import UserError
    from dpf_gui.intent.train import IntentConfig
    from dpf_gui.overrides import config_from_sets

    cfg = config_from_sets(IntentConfig, ["max_epochs=20", "max_train_per_epoch=1e2", "max_time_s=none", "lam=0.5"])
    assert cfg.max_epochs == 20 and cfg.max_time_s is None and cfg.lam == 0.5
    assert cfg.max_train_per_epoch == 100 and isinstance(cfg.max_train_per_epoch, int)  # int | None: an int
    with pytest.raises(UserError, match=r"intent config: unknown key 'lr'; allowed: .*learning_rate"):
        config_from_sets(IntentConfig, ["lr=1"], what="intent config")
    with pytest.raises(UserError, match=r"max_epochs='2.5' is not valid; expected a whole number"):
        config_from_sets(IntentConfig, {"max_epochs": "2.5"})
    with pytest.raises(UserError, match=r"max_time_s='soon' is not valid; expected a number or none"):
        config_from_sets(IntentConfig, ["max_time_s=soon"])


def test_label_refuses_a_file_that_is_not_a_dataset(capsys, tmp_path):
    bogus = tmp_path / "notes.npz"
    bogus.write_text("hello")
    assert_user_error(capsys, "not a readable trajectory dataset", "label", "--data", str(bogus), "--preset", "avoid",
                      "--out", str(tmp_path / "l.npz"))


def test_evaluate_task_json_shape(capsys, tmp_path):
    out = tmp_path / "eval.json"
    code, text, _ = run(capsys, "evaluate", "--env", "gridnav", "--strategies", "task", "--episodes", "5",
                        "--seed", "3",
                        "--preset", "mixed", "--json", str(out), "--quiet")
    assert code == 0 and "task_success" in text
    report = json.loads(out.read_text())
    assert report["env"] == "gridnav" and report["episodes"] == 5 and report["seed"] == 3
    row = report["strategies"]["task"]
    for metric in ("task_success", "task_return", "length", "prefer_fraction", "avoid_fraction"):
        assert set(row[metric]) == {"mean", "ci95"}
        lo, hi = row[metric]["ci95"]
        assert lo <= row[metric]["mean"] <= hi


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["evaluate", "--env", "gridnav", "--strategies", "task,best"], "unknown strategy 'best'"),
        (["evaluate", "--env", "gridnav", "--strategies", "calibrated"], "calibrated row is --strategies dynamic "
                                                                          "--calibrate"),
        (["evaluate", "--env", "gridnav", "--strategies", "dynamic"], "needs an intent model"),
        (["evaluate", "--env", "gridnav", "--task", "models/pong"], "trained for 'pong', not 'gridnav'"),
        (["evaluate", "--env", "gridnav", "--T-phi", "0"], "T_phi must be a finite number > 0; got 0.0"),
        (["evaluate", "--strategies", "task"], "which environment? give --env"),
        (["trace", "--task", "models", "--out", "x.csv"], "no readable model.json saying its environment"),
        (["rollout", "--env", "gridnav", "--policy", "models/highway", "--out", "x.npz"],
         "trained for 'highway', not 'gridnav'"),
    ],
)
def test_evaluate_user_errors(capsys, argv, fragment):
    from dpf_gui.paths import models_root

    argv = [str(models_root() / a[len("models/"):]) if a.startswith("models/") else a for a in argv]
    assert_user_error(capsys, fragment, *argv)



def test_environment_name_means_the_shipped_agent_and_data_from_any_folder(capsys, tmp_path, monkeypatch):
    """`--data gridnav` / `--policy gridnav` name the shipped files when no such file or folder is here;
    `dpf envs` says where they are."""
    from dpf_gui.paths import models_root

    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "label", "--data", "gridnav", "--preset", "avoid", "--budget", "3", "--out", "l.npz")
    assert code == 0 and "3 of 1495 trajectories labelled" in out
    code, out, _ = run(capsys, "rollout", "--env", "gridnav", "--policy", "gridnav", "--episodes", "2",
                       "--out", "r.npz",
                       "--quiet")
    assert code == 0 and "task success 100%" in out
    code, out, _ = run(capsys, "envs")
    assert f"shipped data:  {(models_root() / 'gridnav' / 'trajectories.npz').resolve()}" in out
    (tmp_path / "gridnav").mkdir()  # a folder of that name here is what the name means
    assert_user_error(capsys, "gridnav is a folder; give the trajectory dataset .npz file", "label", "--data",
                      "gridnav", "--preset", "avoid", "--out", "l2.npz")


def test_evaluate_takes_the_environment_from_the_task_folder(capsys):
    """Without --env, the environment is the one the --task folder (or an environment's name) was made for."""
    code, out, _ = run(capsys, "evaluate", "--task", "gridnav", "--episodes", "2", "--quiet")
    assert code == 0 and "task_success" in out
    assert "rows: task: the DQN alone" in out  # what each row of the table is


def test_evaluate_says_when_a_row_goes_against_the_wish(capsys):
    """Under the table, a fused row whose avoided share rose beyond both 95 % intervals is said in words; a row
    within noise of the task agent's is not."""
    from dpf_gui.cli.evaluate_notes import say_against_wish

    def share(mean):
        return {"mean": mean, "ci95": [mean - 0.02, mean + 0.02]}

    say_against_wish({"task": {"avoid_fraction": share(0.207)}, "static": {"avoid_fraction": share(0.22)},
                       "dynamic": {"avoid_fraction": share(0.563)}})
    out = capsys.readouterr().out
    assert out.count("note:") == 1 and "dynamic moves against the wish: the avoided region 0.563" in out
    say_against_wish({"task": {"avoid_fraction": share(0.31), "prefer_fraction": share(0.103)},
                       "dynamic": {"avoid_fraction": share(0.0), "prefer_fraction": share(0.045)}})
    assert "note: dynamic gives up the preferred region 0.045 of its decisions (the task agent 0.103) for the " \
           "avoided region 0.000" in capsys.readouterr().out


def test_evaluate_says_when_a_row_halves_the_avoided_share_by_longer_episodes(capsys):
    """Stepping back and forth before crossing halves the share, not the decisions in the region: said plainly; a
    row twice as long as the task agent's is said as a length; a row of the task agent's length is not."""
    from dpf_gui.cli.evaluate_notes import say_longer_episodes

    def m(mean):
        return {"mean": mean}

    task = {"task_success": m(1.0), "avoid_fraction": m(0.207), "avoid_steps": m(2.0), "length": m(9.7)}
    say_longer_episodes({"task": task,
                         "dynamic": {"task_success": m(1.0), "avoid_fraction": m(0.053), "avoid_steps": m(2.0),
                                     "length": m(37.6)},
                         "static": {"task_success": m(1.0), "avoid_fraction": m(0.0), "avoid_steps": m(0.0),
                                    "length": m(20.2)},
                         "intent": {"task_success": m(1.0), "avoid_fraction": m(0.1), "avoid_steps": m(1.0),
                                    "length": m(10.0)}})
    out = capsys.readouterr().out
    assert out.count("note:") == 2
    assert "note: dynamic halves its share of decisions in the avoided region only by longer episodes (37.6 " \
           "decisions against the task agent's 9.7): it enters it 2.00 decisions an episode against 2.00" in out
    assert "note: static's episodes last 20.2 decisions, 2.1x the task agent's 9.7" in out and "intent" not in out
    say_longer_episodes({"task": {"task_success": m(1.0)}, "dynamic": {"task_success": m(1.0)}})  # no lengths
    assert capsys.readouterr().out == ""


def test_evaluate_says_how_to_calibrate_a_strength_nobody_chose(capsys, tmp_path):
    """Dynamic fusion at the stored strength moves nothing with a quiet intent (what issue 10 measured from
    outside); the table says how to calibrate it, and says nothing once a strength was chosen."""
    from tests.test_saliency import train_tiny_additive_avoid_toll_intent

    train_tiny_additive_avoid_toll_intent(tmp_path / "intent")
    argv = ["evaluate", "--env", "gridnav", "--intent", str(tmp_path / "intent"), "--strategies", "task,dynamic",
            "--episodes", "2", "--quiet"]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "note: dynamic played the intent at the strength stored with the task agent (1, c 3" in out
    assert "--calibrate chooses them for this intent" in out
    for chosen in (["--strength", "2"], ["--calibrate"], ["--paper"]):
        code, out, _ = run(capsys, *argv, *chosen)
        assert code == 0 and "task" in out and "--calibrate chooses" not in out, chosen


def test_trace_writes_one_row_per_decision(capsys, tmp_path):
    import csv

    out = tmp_path / "t.csv"
    # no --strategy and no --intent: the task agent (with --intent the default is dynamic)
    code, text, _ = run(capsys, "trace", "--env", "gridnav", "--seed", "3", "--preset", "mixed", "--out", str(out))
    assert code == 0 and "decisions of task on gridnav (seed 3)" in text
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert rows and rows[0]["strategy"] == "task" and rows[0]["w"] == "" and rows[0]["in_avoid"] in ("0", "1")
    assert [r["t"] for r in rows] == [str(i) for i in range(len(rows))]
    assert_user_error(capsys, "already exists", "trace", "--env", "gridnav", "--strategy", "task", "--out", str(out))


def test_trace_to_stdout_writes_the_csv_alone(capsys, tmp_path, monkeypatch):
    """``--out -``: the CSV on stdout for a pipe, byte for byte the file's; what is said goes to stderr."""
    monkeypatch.chdir(tmp_path)
    argv = ("trace", "--env", "gridnav", "--seed", "3", "--preset", "mixed", "--out")
    code, text, err = run(capsys, *argv, "-")
    assert code == 0 and "decisions of task on gridnav (seed 3)" in err and not list(tmp_path.iterdir())
    code, said, _ = run(capsys, *argv, "t.csv")
    assert code == 0 and "wrote t.csv" in said and text == (tmp_path / "t.csv").read_text(encoding="utf-8")


def test_results_estimates_the_time_left_per_environment():
    from dpf_gui.benchmark_report import duration
    from dpf_gui.cli.evaluation import remaining_seconds

    assert remaining_seconds([], ["gridnav"]) == 0
    done = [("gridnav", 10.0), ("gridnav", 20.0), ("highway", 300.0)]
    assert remaining_seconds(done, ["gridnav", "highway", "pong"]) == 15 + 300 + 110  # pong: the mean of all
    assert [duration(s) for s in (42, 600, 7200)] == ["42 s", "10 min", "2.0 h"]



def test_progress_bars_redraw_seldom_in_logs(monkeypatch):
    """Written to a file or a pipe, tqdm's bars redraw every few seconds (not ten times a second), and a
    TQDM_MININTERVAL the user set is kept; on a terminal nothing changes. tqdm reads the variable when it is
    imported, so a fresh process checks that it takes it."""
    import io
    import os
    import subprocess
    import sys

    from dpf_gui.cli import LOG_PROGRESS_INTERVAL, quiet_progress_in_logs

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    quiet_progress_in_logs(Terminal())
    assert "TQDM_MININTERVAL" not in os.environ
    quiet_progress_in_logs(io.StringIO())
    assert os.environ["TQDM_MININTERVAL"] == str(LOG_PROGRESS_INTERVAL)
    monkeypatch.setenv("TQDM_MININTERVAL", "2")
    quiet_progress_in_logs(io.StringIO())
    assert os.environ["TQDM_MININTERVAL"] == "2"

    monkeypatch.delenv("TQDM_MININTERVAL")
    probe = ("import io, sys; from dpf_gui.cli import main; main(['envs']); from tqdm.auto import tqdm; "
             "print(tqdm(total=1, file=io.StringIO()).mininterval)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_S, check=True)
    assert float(out.stdout.split()[-1]) == LOG_PROGRESS_INTERVAL, out
    # a bar given its own mininterval ignores the variable (dpf train-task redrew twice a second in its log)
    from pathlib import Path

    import dpf_gui

    own = [str(f) for f in Path(dpf_gui.__file__).parent.rglob("*.py") if "mininterval=" in f.read_text()]
    assert own == []


def test_a_long_run_on_one_worker_says_jobs_would_use_the_other_cores(capsys, monkeypatch):
    """`dpf results` / `dpf benchmark` left at one worker on a machine with more cores say so on stderr (once,
    not with --quiet, not when --jobs was given); the number of workers stays what was asked."""
    import argparse

    from dpf_gui.cli import evaluation

    monkeypatch.setattr(evaluation, "usable_cores", lambda: 16)

    def jobs(**given):
        args = argparse.Namespace(command="results", backend="local", address=None, jobs=None, quiet=False)
        vars(args).update(given)
        workers = evaluation.use_backend(args, cells="cell")
        return workers, capsys.readouterr().err

    workers, err = jobs()
    assert workers == 1 and "this machine has 16 cores, and --jobs 16 runs that many at once" in err
    assert jobs(jobs=4) == (4, "") and jobs(quiet=True) == (1, "")
    monkeypatch.setattr(evaluation, "usable_cores", lambda: 1)
    assert jobs() == (1, "")


def test_train_task_refused_for_its_device_leaves_no_folder(capsys, tmp_path):
    """--set device=cuda without CUDA is refused before --out is made (train_dqn made it first, and an empty
    folder stayed behind the error)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert_user_error(capsys, "CUDA is not available", "train-task", "--env", "gridnav", "--steps", "50", "--quiet",
                      "--out", str(tmp_path / "t"), "--set", "device=cuda")
    assert not (tmp_path / "t").exists()


def test_ctrl_c_saves_the_additive_intent_trained_so_far(tmp_path):
    """The first Ctrl-C stops `dpf train-intent` at its next step and saves the model, as docs/ROBUSTNESS.md
    promises (the additive kind, the default, exited 130 and saved nothing)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from dpf_gui.intent.registry import load_intent
    from tests.bad_inputs import good_dataset, good_labels

    data = good_dataset(tmp_path)
    labels = good_labels(tmp_path, data)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "dpf_gui.cli", "train-intent", "--data", str(data), "--labels",
                             str(labels), "--out", str(out), "--set", "utility_steps=1000000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        err, deadline = b"", time.monotonic() + HANG_S
        while b"intent utility" not in err and time.monotonic() < deadline:  # its bar: the training has begun
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
        assert b"intent utility" in err, err
        proc.send_signal(signal.SIGINT)
        stdout, rest = proc.communicate(timeout=HANG_S)
    finally:
        proc.kill()
    err = (err + rest).decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "interrupted, saved" in stdout.decode()
    _model, sidecar = load_intent(out, expect_env="gridnav")
    assert sidecar["metrics"]["interrupted"] is True


def test_ctrl_c_after_training_stops_at_once_again():
    """The first-Ctrl-C handler of `dpf train-intent` stayed installed after training: a Ctrl-C while its
    result was printed said "stopping after this step" instead of stopping."""
    import signal

    from dpf_gui.cli.training import stop_on_first_ctrl_c

    with stop_on_first_ctrl_c() as stop:
        assert signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, signal.SIG_IGN)
        signal.raise_signal(signal.SIGINT)  # the first: asks the trainer to stop, raises nothing
        assert stop.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

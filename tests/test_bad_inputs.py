"""Every bad input: one clear line, exit code 2, no traceback, nothing written (docs/ROBUSTNESS.md).

Two tables. The loaders (TrajectoryDataset.load, Labels.load, TaskAgent.load, load_intent) refuse every
malformed file of tests/bad_inputs.py with a one-line UserError, so the CLI and the app get the same
checks. The CLI table runs ``dpf`` on bad options, bad files and bad outputs and checks the exit code,
the single line on stderr, and that the case's folder is byte-for-byte what it was before.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.cli import main
from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.intent.train import load_intent
from tests.bad_inputs import (
    BAD_DATASETS,
    BAD_INTENTS,
    BAD_LABELS,
    BAD_TASKS,
    empty_dataset,
    good_dataset,
    good_intent,
    good_labels,
    good_task,
    readonly_folder,
    snapshot,
)
from tests.study_helpers import tiny_protocol


def _assert_one_line(message: str, fragment: str) -> None:
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert fragment in message, message


# --- the loaders: one validator per format, shared by the CLI and the app ---------------------------------
@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_dataset_loader_refuses(case, tmp_path):
    build, fragment = BAD_DATASETS[case]
    with pytest.raises(UserError) as e:
        TrajectoryDataset.load(build(tmp_path))
    _assert_one_line(str(e.value), fragment)


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_label_loader_refuses(case, tmp_path):
    build, fragment = BAD_LABELS[case]
    with pytest.raises(UserError) as e:
        Labels.load(build(tmp_path))
    _assert_one_line(str(e.value), fragment)


@pytest.mark.parametrize("case", sorted(BAD_TASKS))
def test_task_agent_loader_refuses(case, tmp_path):
    build, fragment = BAD_TASKS[case]
    with pytest.raises(UserError) as e:
        TaskAgent.load(build(tmp_path), expect_env="gridnav")
    _assert_one_line(str(e.value), fragment)


@pytest.mark.parametrize("case", sorted(BAD_INTENTS))
def test_intent_loader_refuses(case, tmp_path):
    build, fragment = BAD_INTENTS[case]
    with pytest.raises(UserError) as e:
        load_intent(build(tmp_path), expect_env="gridnav")
    _assert_one_line(str(e.value), fragment)


def test_the_good_files_load(tmp_path):
    """The files the bad ones are made from are fine: each table entry breaks exactly one thing."""
    data = TrajectoryDataset.load(good_dataset(tmp_path))
    Labels.load(good_labels(tmp_path, tmp_path / "data.npz")).check_matches(data)
    TaskAgent.load(good_task(tmp_path), expect_env="gridnav")
    load_intent(good_intent(tmp_path / "i"), expect_env="gridnav")
    assert len(TrajectoryDataset.load(empty_dataset(tmp_path))) == 0


# --- the CLI table ---------------------------------------------------------------------------------------
class _Made(dict):
    """The table's placeholders, each made on first use in the case's folder: {data}, {labels}, {task},
    {intent}, {empty}, {data2} (another good dataset), {ro} (a read-only folder), {file} (an existing file),
    {dir} (an existing folder named like an output file), {npz_stem} (keep, where keep.npz exists), {existing_json},
    {tmp}, {binary} (a file that is not UTF-8 text), {fifo} (a named pipe), and {bad_data[CASE]} etc. from
    tests/bad_inputs.py."""

    def __init__(self, tmp: Path):
        super().__init__(tmp=tmp)
        self.tmp = tmp

    def __missing__(self, key: str):
        tmp = self.tmp
        made = {
            "data": lambda: good_dataset(tmp),
            "labels": lambda: good_labels(tmp, self["data"]),
            "task": lambda: good_task(tmp / "good"),
            "intent": lambda: good_intent(tmp / "good_intent"),
            "empty": lambda: empty_dataset(tmp),
            "data2": lambda: _rollout(tmp / "data2.npz"),
            "ro": lambda: readonly_folder(tmp) or pytest.skip("no read-only folder for this user"),
            "file": lambda: _write(tmp / "afile", b"keep me"),
            "npz_stem": lambda: _write(tmp / "keep.npz", b"user data").with_suffix(""),
            "existing_json": lambda: _write(tmp / "keep.json", b"{}"),
            "zip": lambda: _write(tmp / "keep.zip", b"user data"),
            "binary": lambda: _write(tmp / "notes.md", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
            "fifo": lambda: _fifo(tmp / "pipe"),  # not a device: the old code replaced the path it was given
            "dir": lambda: _mkdir(tmp / "out.npz"),
            "damaged_report": lambda: _write(tmp / "rep" / "results" / "benchmark.json", b"{not json").parent.parent
            / "RESULTS.md",
            "bad_data": lambda: _Bad(BAD_DATASETS, tmp / "bad_data"),
            "bad_labels": lambda: _Bad(BAD_LABELS, tmp / "bad_labels"),
            "bad_task": lambda: _Bad(BAD_TASKS, tmp / "bad_task"),
            "bad_intent": lambda: _Bad(BAD_INTENTS, tmp / "bad_intent"),
            "protocol": lambda: tiny_protocol(tmp / "proto"),
            "bad_protocol": lambda: tiny_protocol(tmp / "badproto", {'strategy = "static"': 'strategy = "fast"'}),
            "study": lambda: _study(tmp / "study", self["protocol"]),
            # a folder of the user's own files named as train-task writes them, beside no checkpoint
            "user_run": lambda: _write(_write(tmp / "run" / "training_curve.csv", b"my notes").parent
                                       / "trajectories.npz", self["data"].read_bytes()).parent,
            "weights_only": lambda: _write(tmp / "w" / "weights.safetensors", b"someone's weights").parent,
            "sparse_labels": lambda: _sparse_labels(tmp / "sparse.npz", self["data"]),
        }[key]()
        self[key] = made
        return made


def _fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(path)
    return path


class _Bad:
    def __init__(self, table, folder: Path):
        self.table, self.folder = table, folder

    def __getitem__(self, case: str) -> Path:
        folder = self.folder / case
        folder.mkdir(parents=True)
        return self.table[case][0](folder)


def _study(folder: Path, protocol: Path) -> Path:
    """A study folder made from the tiny example protocol, with one participant P01."""
    from dpf_gui.studies.folder import init_study

    init_study(protocol, folder).add_participant("P01")
    return folder


def _rollout(path: Path) -> Path:
    """A second small gridnav dataset (other episodes than {data})."""
    from dpf_gui.rollout import random_policy, rollout

    return rollout("gridnav", random_policy(2), 3, seed=2, progress=False).save(path)


def _sparse_labels(path: Path, data_path: Path) -> Path:
    """Scores of 4 of {data}'s 24 trajectories (the others skipped): enough for train-intent's note on the
    places no labelled trajectory reaches."""
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.wish import make_wish

    data = TrajectoryDataset.load(data_path)
    wish = make_wish(data.region_features, avoid=["terrain=toll"])
    return label_dataset(data, wish, FeedbackNoise(skip=0.8), seed=0).save(path)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


TRAIN_INTENT = ["train-intent", "--data", "{data}", "--labels", "{labels}", "--quiet", "--out"]
LABEL = ["label", "--data", "{data}", "--avoid", "terrain=toll", "--out"]
EVALUATE = ["evaluate", "--env", "gridnav", "--episodes", "1", "--quiet"]
ROLLOUT = ["rollout", "--env", "gridnav", "--quiet"]

CASES: list[tuple[str, list[str], str]] = [
    # --set: every key typed and ranged (IntentConfig and AdditiveConfig check themselves)
    *[(f"set-additive-{kv}", [*TRAIN_INTENT, "{tmp}/run", "--set", kv], want) for kv, want in (
        ("members=0", "members must be a whole number >= 1"),
        ("horizon=0.5", "horizon must be a finite number >= 1"),
        ("neutral_weight=-1", "neutral_weight must be a finite number >= 0"),
        ("target_tau=2", "target_tau must be a finite number > 0 and <= 1"),
        ("adam_eps=0", "adam_eps must be a finite number > 0"),
        ("learning_rate=0.1", "unknown key 'learning_rate'"),
    )],
    *[(f"set-{kv}", [*TRAIN_INTENT, "{tmp}/run", "--kind", "lstm", "--set", kv], want) for kv, want in (
        ("learning_rate=nan", "learning_rate must be a finite number > 0"),
        ("hidden=0", "hidden must be a whole number >= 1 and <= 4096; got 0"),
        ("readout=bogus", "readout must be one of cumsum, direct; got 'bogus'"),
        ("embed=-3", "embed must be a whole number >= 1"),
        ("threads=0", "threads must be a whole number >= 1"),
        ("max_epochs=0", "max_epochs must be a whole number >= 1"),
        ("lam=inf", "lam must be a finite number >= 0; got inf"),
        ("adam_eps=-1", "adam_eps must be a finite number > 0"),
        ("held_out=1.5", "held_out must be a finite number > 0 and < 1"),
        ("patience=-1", "patience must be a whole number >= 1"),
        ("batch_size=0", "batch_size must be a whole number >= 1"),
        ("max_batch_steps=0", "max_batch_steps must be a whole number >= 1"),
    )],
    (("train-task-set-gamma-nan", ["train-task", "--env", "gridnav", "--out", "{tmp}/t", "--set", "gamma=nan"],
      "gamma must be a finite number >= 0 and <= 1")),
    # malformed datasets, labels and checkpoints, through the command that reads them
    *[(f"label-{case}", ["label", "--data", f"{{bad_data[{case}]}}", "--avoid", "terrain=toll", "--out", "{tmp}/l.npz"],
       fragment) for case, (_, fragment) in sorted(BAD_DATASETS.items())],
    ("label-no-trajectories", ["label", "--data", "{empty}", "--preset", "avoid", "--out", "{tmp}/l.npz"],
     "holds no trajectories"),
    *[(f"train-intent-data-{case}", ["train-intent", "--data", f"{{bad_data[{case}]}}", "--labels", "{labels}",
                                     "--out", "{tmp}/run"], BAD_DATASETS[case][1])
      for case in ("inf-features", "two-feature-columns")],
    *[(f"train-intent-labels-{case}", ["train-intent", "--data", "{data}", "--labels", f"{{bad_labels[{case}]}}",
                                       "--out", "{tmp}/run"], fragment)
      for case, (_, fragment) in sorted(BAD_LABELS.items())],
    *[(f"evaluate-task-{case}", [*EVALUATE, "--task", f"{{bad_task[{case}]}}", "--json", "{tmp}/e.json"], fragment)
      for case, (_, fragment) in sorted(BAD_TASKS.items())],
    ("rollout-policy-hidden-negative", [*ROLLOUT, "--policy", "{bad_task[hidden-negative]}", "--out", "{tmp}/r.npz"],
     "no usable architecture"),
    *[(f"evaluate-intent-{case}", [*EVALUATE, "--intent", f"{{bad_intent[{case}]}}", "--strategies", "task,dynamic",
                                   "--json", "{tmp}/e.json"], fragment)
      for case, (_, fragment) in sorted(BAD_INTENTS.items())],
    # numeric options: finite and in range
    ("benchmark-keep-damaged-report", ["benchmark", "--envs", "pong", "--keep-other-envs", "--out", "{damaged_report}",
                                       "--work", "{tmp}/w"], "is not a benchmark report's JSON"),
    ("label-sigma-inf", [*LABEL, "{tmp}/l.npz", "--sigma", "inf"], "argument --sigma: inf is not a finite number"),
    ("label-sigma-1e300", [*LABEL, "{tmp}/l.npz", "--sigma", "1e300"],
     "argument --sigma: 1e300 is out of range; allowed: >= 0 and <= 1000000"),
    ("label-flip-nan", [*LABEL, "{tmp}/l.npz", "--flip", "nan"], "argument --flip: nan is not a finite number"),
    ("evaluate-c-nan", [*EVALUATE, "--c", "nan"], "argument --c: nan is not a finite number"),
    ("evaluate-T-phi-inf", [*EVALUATE, "--T-phi", "inf"], "argument --T-phi: inf is not a finite number"),
    ("evaluate-k-inf", [*EVALUATE, "--k", "inf"], "argument --k: inf is not a finite number"),
    ("evaluate-T-max-inf", [*EVALUATE, "--T-max", "inf"], "argument --T-max: inf is not a finite number"),
    ("evaluate-k-negative", [*EVALUATE, "--k", "-1"], "fusion parameters: k must be a finite number >= 0; got -1.0"),
    ("evaluate-decay-zero", [*EVALUATE, "--decay", "0"], "decay must be a finite number > 0 and <= 1"),
    ("evaluate-T-min-above-T-max", [*EVALUATE, "--T-min", "15"], "T_min (15) must not exceed T_max (10)"),
    ("evaluate-jobs-zero", [*EVALUATE, "--jobs", "0"], "argument --jobs: 0 is out of range; allowed: >= 1 and <= 256"),
    ("evaluate-jobs-text", [*EVALUATE, "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
    ("rollout-episodes-1e20", [*ROLLOUT, "--episodes", "100000000000000000000", "--out", "{tmp}/r.npz"],
     "argument --episodes: 100000000000000000000 is out of range; allowed: >= 1 and <= 1000000"),
    ("rollout-seed-huge", [*ROLLOUT, "--seed", "99999999999999999999", "--out", "{tmp}/r.npz"], "argument --seed"),
    # a few labels, chosen (dpf label --budget), and more varied data (rollout --explore, merge)
    ("label-select-without-budget", [*LABEL, "{tmp}/l.npz", "--select", "active"], "give --budget K too"),
    ("label-rounds-without-budget", [*LABEL, "{tmp}/l.npz", "--rounds", "2"], "give --budget K too"),
    ("label-budget-over-data", [*LABEL, "{tmp}/l.npz", "--budget", "25"],
     "--budget 25 is more than the 24 trajectories"),
    ("label-budget-zero", [*LABEL, "{tmp}/l.npz", "--budget", "0"], "argument --budget: 0 is out of range"),
    ("label-rounds-over-budget", [*LABEL, "{tmp}/l.npz", "--budget", "3", "--rounds", "4"],
     "--rounds 4 is more than --budget 3"),
    ("label-select-unknown", [*LABEL, "{tmp}/l.npz", "--budget", "3", "--select", "best"],
     "argument --select: invalid choice: 'best'"),
    ("rollout-explore-random-policy", [*ROLLOUT, "--explore", "epsilon:0.2", "--out", "{tmp}/r.npz"],
     "--explore adds noise to a task agent's choices: give --policy DIR"),
    ("rollout-explore-epsilon-2", [*ROLLOUT, "--explore", "epsilon:2", "--out", "{tmp}/r.npz"],
     "argument --explore: epsilon:2 is out of range; allowed: a probability 0..1"),
    ("rollout-explore-boltzmann-nan", [*ROLLOUT, "--explore", "boltzmann:nan", "--out", "{tmp}/r.npz"],
     "argument --explore: boltzmann:nan is out of range; allowed: a temperature > 0"),
    ("rollout-explore-unknown", [*ROLLOUT, "--explore", "gauss:1", "--out", "{tmp}/r.npz"],
     "unknown exploration 'gauss'"),
    ("rollout-start-random-pong", ["rollout", "--env", "pong", "--start", "random", "--quiet", "--out", "{tmp}/r.npz"],
     "pong cannot start episodes in random states"),
    ("rollout-start-unknown", [*ROLLOUT, "--start", "anywhere", "--out", "{tmp}/r.npz"],
     "argument --start: invalid choice: 'anywhere'"),
    ("merge-one-dataset", ["merge", "--data", "{data}", "--out", "{tmp}/m.npz"], "at least two --data files"),
    ("merge-same-twice", ["merge", "--data", "{data}", "--data", "{data}", "--out", "{tmp}/m.npz"],
     "dataset 2 of the merge is the same data as dataset 1"),
    ("merge-empty", ["merge", "--data", "{data}", "--data", "{empty}", "--out", "{tmp}/m.npz"],
     "dataset 2 of the merge holds no trajectories"),
    ("merge-labels-alone", ["merge", "--data", "{data}", "--data", "{data2}", "--out", "{tmp}/m.npz",
                            "--labels", "{labels}"], "--labels and --labels-out go together"),
    ("merge-labels-of-other-data", ["merge", "--data", "{data2}", "--data", "{empty}", "--out", "{tmp}/m.npz",
                                    "--labels", "{labels}", "--labels-out", "{tmp}/ml.npz"],
     "were given to none of the --data datasets"),
    ("merge-out-is-an-input", ["merge", "--data", "{data}", "--data", "{data2}", "--out", "{data}", "--force"],
     "is one of the inputs"),
    ("merge-bad-data", ["merge", "--data", "{data}", "--data", "{bad_data[inf-features]}", "--out", "{tmp}/m.npz"],
     BAD_DATASETS["inf-features"][1]),
    ("merge-out-exists", ["merge", "--data", "{data}", "--data", "{data2}", "--out", "{npz_stem}"],
     "keep.npz already exists; pass --force"),
    # user studies: the protocol checked field by field (tests/test_study.py has the full table), folders
    ("study-init-bad-strategy", ["study", "init", "{bad_protocol}", "--out", "{tmp}/s"],
     "conditions[1].strategy: 'fast' is not allowed; allowed: task, intent, static, dynamic"),
    ("study-init-no-protocol", ["study", "init", "{tmp}/none.toml", "--out", "{tmp}/s"], "no such protocol file"),
    ("study-init-out-exists", ["study", "init", "{protocol}", "--out", "{file}"],
     "already exists and is not an empty folder"),
    ("study-init-read-only-folder", ["study", "init", "{protocol}", "--out", "{ro}/s"], "cannot write into"),
    ("study-pilot-not-a-study", ["study", "pilot", "{tmp}", "--participants", "2"], "is not a study folder"),
    ("study-status-no-folder", ["study", "status", "{tmp}/nowhere"], "nowhere: no such study folder"),
    ("study-pilot-participants-zero", ["study", "pilot", "{study}", "--participants", "0"],
     "argument --participants: 0 is out of range; allowed: >= 1 and <= 1000"),
    ("study-pilot-flip-nan", ["study", "pilot", "{study}", "--participants", "1", "--flip", "nan"],
     "argument --flip: nan is not a finite number"),
    ("study-export-out-exists", ["study", "export", "{study}", "--out", "{existing_json}"], "is a file; give a folder"),
    ("study-export-zip-exists", ["study", "export", "{study}", "--out", "{zip}"],
     "keep.zip already exists; pass --force"),
    ("study-add-name", ["study", "add", "{study}", "--participant", "Jane Doe"], "is not allowed; use 1-32 letters"),
    ("study-add-twice", ["study", "add", "{study}", "--participant", "P01"], "'P01' is already used in this study"),
    ("study-withdraw-unknown", ["study", "withdraw", "{study}", "--participant", "P99"], "no participant 'P99'"),
    ("study-unknown-action", ["study", "analyse", "{study}"], "argument ACTION: invalid choice: 'analyse'"),
    # outputs: checked before any work, never overwritten without --force
    ("label-read-only-folder", [*LABEL, "{ro}/l.npz"], "cannot write into"),
    ("rollout-read-only-folder", [*ROLLOUT, "--out", "{ro}/r.npz"], "cannot write into"),
    ("train-intent-read-only-folder", [*TRAIN_INTENT, "{ro}/run"], "cannot write into"),
    ("train-task-read-only-folder", ["train-task", "--env", "gridnav", "--steps", "50", "--out", "{ro}/t", "--quiet"],
     "cannot write into"),
    ("evaluate-json-read-only-folder", [*EVALUATE, "--json", "{ro}/e.json"], "cannot write into"),
    ("train-intent-out-is-a-file", [*TRAIN_INTENT, "{file}"], "is a file; give a folder for the checkpoint"),
    ("train-intent-out-under-a-file", [*TRAIN_INTENT, "{file}/run"], "afile is a file, not a folder"),
    ("label-force-out-folder", [*LABEL, "{dir}", "--force"], "out.npz is a folder; give the name of a file"),
    ("rollout-force-out-folder", [*ROLLOUT, "--out", "{dir}", "--force"], "out.npz is a folder"),
    ("evaluate-force-json-folder", [*EVALUATE, "--json", "{dir}", "--force"], "out.npz is a folder"),
    ("label-out-existing-folder-no-npz", [*LABEL, "{tmp}", "--force"], "is a folder; give the name of a file"),
    ("label-out-dot", [*LABEL, ".", "--force"], ". is a folder; give the name of a file"),
    ("label-out-dot-dot", [*LABEL, "..", "--force"], ".. is a folder; give the name of a file"),
    ("trace-force-out-pipe", ["trace", "--env", "gridnav", "--strategy", "task", "--out", "{fifo}", "--force"],
     "pipe is not a regular file"),
    ("benchmark-out-not-text", ["benchmark", "--quick", "--work", "{tmp}/w", "--out", "{binary}"],
     "is not a text file; dpf benchmark writes Markdown"),
    ("benchmark-out-folder", ["benchmark", "--quick", "--work", "{tmp}/w", "--out", "{dir}"], "is a folder"),
    ("results-out-not-text", ["results", "--report-only", "--work", "{tmp}", "--out", "{binary}", "--force"],
     "is not a text file; dpf results writes Markdown"),
    ("results-out-read-only-folder", ["results", "--envs", "gridnav", "--work", "{tmp}/w", "--out", "{ro}/R.md"],
     "cannot write into"),
    ("study-export-over-a-study", ["study", "export", "{study}", "--out", "{study}", "--force"],
     "is a study folder; an export there would delete its participants' records"),
    ("study-export-over-other-files", ["study", "export", "{study}", "--out", "{study}/participants", "--force"],
     "holds no earlier export"),
    ("label-out-without-npz-exists", [*LABEL, "{npz_stem}"], "keep.npz already exists; pass --force"),
    ("rollout-out-without-npz-exists", [*ROLLOUT, "--out", "{npz_stem}"], "keep.npz already exists; pass --force"),
    ("evaluate-json-exists", [*EVALUATE, "--json", "{existing_json}"], "keep.json already exists; pass --force"),
    # an output's folder is never made silently: a typo in a path is refused before any work
    ("evaluate-json-missing-folder", [*EVALUATE, "--json", "{tmp}/no/such/dir/e.json"], "no/such/dir does not exist"),
    ("label-out-missing-folder", [*LABEL, "{tmp}/nodir/l.npz"], "nodir does not exist (create it first"),
    ("rollout-out-missing-folder", [*ROLLOUT, "--out", "{tmp}/nodir/r.npz"], "nodir does not exist"),
    ("merge-labels-out-missing-folder", ["merge", "--data", "{data}", "--data", "{data2}", "--out", "{tmp}/m.npz",
                                         "--labels", "{labels}", "--labels-out", "{tmp}/nodir/ml.npz"],
     "nodir does not exist"),
    ("results-out-missing-folder", ["results", "--report-only", "--work", "{tmp}", "--out", "{tmp}/nodir/R.md"],
     "nodir does not exist"),
    ("benchmark-out-missing-folder", ["benchmark", "--quick", "--work", "{tmp}/w", "--out", "{tmp}/nodir/R.md"],
     "nodir does not exist"),
    ("benchmark-draw-negative", ["benchmark", "--quick", "--draw", "-1", "--work", "{tmp}/w", "--out", "{tmp}/R.md"],
     "--draw"),
    ("trace-out-missing-folder", ["trace", "--env", "gridnav", "--strategy", "task", "--out", "{tmp}/nodir/t.csv"],
     "nodir does not exist"),
    ("trace-dynamic-without-intent", ["trace", "--env", "gridnav", "--strategy", "dynamic", "--out", "{tmp}/t.csv"],
     "strategy 'dynamic' needs an intent model"),
    ("trace-strategy-unknown", ["trace", "--env", "gridnav", "--strategy", "retrain", "--out", "{tmp}/t.csv"],
     "argument --strategy: invalid choice: 'retrain'"),
    # a checkpoint's folder: the user's files in it are overwritten only with --force, as a checkpoint is
    ("train-task-out-holds-user-files", ["train-task", "--env", "gridnav", "--steps", "50", "--quiet", "--out",
                                         "{user_run}"], "run already holds trajectories.npz, training_curve.csv"),
    ("train-intent-out-holds-weights", [*TRAIN_INTENT, "{weights_only}"], "w already holds weights.safetensors"),
    # refused before the notes on the labels: one line (the unreached-places note came first)
    ("train-intent-pairs-objective-on-scores", ["train-intent", "--data", "{data}", "--labels", "{sparse_labels}",
                                                "--objective", "pairs", "--quiet", "--out", "{tmp}/run"],
     "objective pairs learns from pairwise comparisons"),
    # options that contradict each other: refused, not one of them silently dropped
    ("merge-labels-twice", ["merge", "--data", "{data}", "--data", "{data2}", "--out", "{tmp}/m.npz", "--labels",
                            "{labels}", "--labels", "{labels}", "--labels-out", "{tmp}/ml.npz"],
     "--labels given 2 times"),
    ("evaluate-strength-with-calibrate", [*EVALUATE, "--intent", "{intent}", "--strength", "2", "--calibrate"],
     "--strength sets the intent's strength by hand and --calibrate chooses it"),
    ("trace-strength-with-recalibrate", ["trace", "--env", "gridnav", "--intent", "{intent}", "--strength", "2",
                                         "--recalibrate", "--out", "{tmp}/t.csv"],
     "--strength sets the intent's strength by hand and --recalibrate chooses it"),
    ("benchmark-pairs-active", ["benchmark", "--envs", "gridnav", "--labels", "pairs", "--select", "random,active",
                                "--work", "{tmp}/w", "--out", "{tmp}/R.md"], "cannot go with --select active"),
    ("benchmark-quick-with-envs", ["benchmark", "--quick", "--envs", "pong", "--work", "{tmp}/w", "--out",
                                   "{tmp}/R.md"], "--quick is its own grid (gridnav, 3 wishes"),
    ("benchmark-quick-with-budgets-rows", ["benchmark", "--quick", "--budgets", "10", "--rows", "dynamic", "--work",
                                           "{tmp}/w", "--out", "{tmp}/R.md"], "would ignore --budgets, --rows"),
    # a file of the wrong kind: the summary plot is a PNG whatever the name (s.pdf got a PNG)
    ("study-summary-plot-not-png", ["study", "summary", "{study}", "--plot", "{tmp}/s.pdf"],
     "s.pdf: this writes a PNG image; give a file name ending in .png"),
    ("results-nothing-to-run", ["results", "--envs", "", "--efficiency", "", "--work", "{tmp}/w", "--out",
                                "{tmp}/R.md"], "--envs and --efficiency name no environment: nothing to run"),
    ("trace-out-not-csv", ["trace", "--env", "gridnav", "--strategy", "task", "--seed", "0", "--out", "{tmp}/ep.npz"],
     "ep.npz: this writes CSV; give a file name ending in .csv"),
    ("evaluate-json-not-json", ["evaluate", "--env", "gridnav", "--episodes", "2", "--json", "{tmp}/eval.csv"],
     "eval.csv: this writes JSON; give a file name ending in .json"),
    # an environment name stands for the shipped agent / data only where no such file or folder exists
    # dpf suggest: the labels and the intent model must be this dataset's
    ("suggest-labels-of-other-data", ["suggest", "--data", "gridnav", "--labels", "{labels}"],
     "were given to a different trajectory dataset"),
    ("suggest-labels-are-trajectories", ["suggest", "--data", "{data}", "--labels", "{data}"],
     "not a dpf label file"),
    ("suggest-intent-is-a-task-agent", ["suggest", "--data", "{data}", "--intent", "{task}"],
     "is a task agent, not an intent model"),
    ("label-data-unknown-name", ["label", "--data", "atari", "--preset", "avoid", "--out", "{tmp}/l.npz"],
     "atari: no such file, and no environment of that name (an environment name means its shipped trajectories: "
     "gridnav, highway, pong"),
    ("label-data-is-a-folder", ["label", "--data", "{dir}", "--preset", "avoid", "--out", "{tmp}/l.npz"],
     "out.npz is a folder; give the trajectory dataset .npz file"),
    ("label-data-not-an-npz", ["label", "--data", "{file}", "--preset", "avoid", "--out", "{tmp}/l.npz"],
     "afile: not a readable trajectory dataset (not an .npz archive)"),
]


@pytest.fixture()
def case_dir(tmp_path):
    yield tmp_path
    for root, dirs, _ in os.walk(tmp_path):  # let pytest remove a read-only folder
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)


@pytest.mark.parametrize("name, argv, fragment", CASES, ids=[c[0] for c in CASES])
def test_cli_refuses_with_one_line_and_writes_nothing(name, argv, fragment, case_dir, capsys, monkeypatch):
    made = _Made(case_dir)
    args = [a.format_map(made) for a in argv]
    monkeypatch.chdir(case_dir)
    before = snapshot(case_dir)
    with pytest.raises(SystemExit) as exc_info:  # argparse errors exit; user errors return 2
        raise SystemExit(main(args))
    err = capsys.readouterr().err
    assert exc_info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    _assert_one_line(lines[0], fragment)
    assert snapshot(case_dir) == before, "a refused command wrote or changed files"


def test_the_table_covers_the_reported_inputs():
    """At least the 51 reported non-results cases, each a separate parametrised case."""
    assert len(CASES) >= 51 and len({c[0] for c in CASES}) == len(CASES)


# --- dpf-gui's own options follow the same rule ---------------------------------------------------------
@pytest.mark.parametrize("argv, fragment", [
    (["--quit-after", "nan"], "--quit-after: nan is not a finite number"),
    (["--quit-after", "-1"], "--quit-after: -1 is out of range"),
    (["--demo", "gridnav", "--episodes", "0"], "--episodes: 0 is out of range"),
    (["--demo", "gridnav", "--speed", "1e9"], "--speed: '1e9' is not a whole number"),
    (["--demo", "gridnav", "--preset", "sideways"], "not a preset of gridnav"),
    (["--participant", "P01"], "--participant needs --study STUDY_DIR, a folder made by `dpf study init`"),
    (["--study", __file__], "is a file; give a folder: one made by `dpf study init`, or any folder to keep"),
])
def test_app_options_one_line_exit_2(argv, fragment, capsys):
    from dpf_gui.app.main import parse_args

    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    _assert_one_line(lines[0], fragment)

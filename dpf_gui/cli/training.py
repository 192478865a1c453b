"""The training commands: ``dpf train-task`` (a DQN task agent), ``dpf train-intent`` (an intent model
from labels), ``dpf train-risk`` (a task agent's risk model, from its stored trajectories) and ``dpf
reference`` (the task agent's calibration reference, kept beside it)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from dpf_gui.cli.options import (
    MAX_JOBS,
    SHIPPED_DATA,
    check_checkpoint_out,
    command,
    int_in,
    nonneg_int,
    note_unreached,
    pos_int,
    warn_lopsided,
)
from dpf_gui.paths import dataset_path, task_path


# --- dpf train-task ---------------------------------------------------------------
def _build_train_task(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--steps", type=pos_int, default=None,
                   help="environment steps (default: per environment, see dpf_gui/agents/dqn.py)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="training seed (default: 0)")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a DQNConfig hyperparameter (repeatable)")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "train-task",
    "train a DQN task agent and record every episode it plays",
    "Writes DIR/weights.safetensors, DIR/model.json (sidecar), DIR/trajectories.npz,\n"
    "DIR/training_curve.csv and .png. Ctrl-C stops early and still leaves a usable checkpoint.\n\n"
    "examples:\n"
    "  dpf train-task --env gridnav --steps 20000 --seed 0 --out models/gridnav\n"
    "  dpf train-task --env pong --steps 1000000 --seed 0 --out runs/pong --set learning_rate=1e-4\n"
    "  dpf train-task --env highway --seed 1 --out runs/hw --set threads=1",
    _build_train_task,
)
def cmd_train_task(args: argparse.Namespace) -> int:
    from dpf_gui.agents.dqn import CURVE_CSV, CURVE_PNG, train_dqn
    from dpf_gui.agents.task_agent import DATASET_FILE
    from dpf_gui.envs import env_class
    from dpf_gui.overrides import parse_sets

    env_class(args.env)
    out = check_checkpoint_out(args.out, args.force, writes=(DATASET_FILE, CURVE_CSV, CURVE_PNG))
    overrides = parse_sets(args.set)  # make_config turns the strings into each field's type
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C saves, even when started in the background
    result = train_dqn(args.env, args.steps, args.seed, out, config_overrides=overrides, progress=not args.quiet)
    ev = result.metrics.get("eval", {})
    state = "interrupted, saved" if result.interrupted else "done"
    episodes = f"{result.episodes} episode{'' if result.episodes == 1 else 's'}"
    print(f"{state}: {out} ({result.steps} steps, {episodes}, {result.wall_time_s:.0f} s)")
    if ev:
        print("greedy evaluation: "
              + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in ev.items()))
    return 0


OBJECTIVE_CHOICES = ("auto", "score", "logistic", "pairs")  # dpf_gui.intent.objectives.OBJECTIVES (checked by a test)


# --- dpf train-intent ----------------------------------------------------------------
def _build_train_intent(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help=f"trajectory dataset (.npz); {SHIPPED_DATA}")
    p.add_argument("--labels", required=True, help="label file (.npz) from `dpf label` or the app's export")
    p.add_argument("--seed", type=nonneg_int, default=0, help="training seed (split, initialisation; default: 0)")
    p.add_argument("--out", required=True, help="intent-model checkpoint directory to write")
    p.add_argument("--kind", choices=("additive", "lstm"), default="additive",
                   help="intent model: additive (utility + intent-value ensemble, learns from few marks; default) "
                        "or lstm (the paper's RUDDER LSTM)")
    p.add_argument("--objective", choices=OBJECTIVE_CHOICES, default=None,
                   help="loss on the feedback: score (regression to graded scores), logistic (binary labels), pairs "
                        "(comparisons; additive only) or auto (by the label file: the default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the kind's config (repeatable), "
                        "e.g. members=4 or, for lstm, max_epochs=30")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "train-intent",
    "learn the user's wish from trajectory labels (additive ensemble, or the paper's LSTM)",
    "Writes DIR/weights.safetensors and DIR/model.json (environment, kind, labels' provenance,\n"
    "hyperparameters, held-out fit). Prints the held-out fit: correlation of predicted and given\n"
    "scores, and sign accuracy (for the additive kind out-of-bag: each trajectory predicted by the\n"
    "ensemble members that never saw it), with the Train tab's verdict (good, fair, weak; none with\n"
    "too few held out). Config fields: dpf_gui/intent/additive.py (AdditiveConfig)\n"
    "and dpf_gui/intent/train.py (IntentConfig). Ctrl-C stops at the next step and saves what\n"
    "was learnt so far.\n\n"
    "examples:\n"
    "  dpf label --data gridnav --preset avoid --budget 25 --select active --out avoid.npz\n"
    "  dpf train-intent --data gridnav --labels avoid.npz --seed 0 --out runs/intent_avoid\n"
    "  dpf train-intent --data d.npz --labels l.npz --kind lstm --out runs/i --set max_epochs=20 --set hidden=32",
    _build_train_intent,
)
def cmd_train_intent(args: argparse.Namespace) -> int:
    from dpf_gui.data.labels import Labels
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.registry import check_trainable, config_for, train_intent
    from dpf_gui.overrides import config_from_sets
    from dpf_gui.session.training import best_epoch_words, fit_verdict

    args.data = str(dataset_path(args.data))
    data = TrajectoryDataset.load(args.data)
    labels = Labels.load(args.labels)
    labels.check_matches(data, where=f"labels {args.labels}")
    out = check_checkpoint_out(args.out, args.force)
    sets = args.set + ([f"objective={args.objective}"] if args.objective else [])
    config = config_from_sets(config_for(args.kind), sets, what=f"{args.kind} intent config")
    check_trainable(data, labels, config)
    warn_lopsided("dpf train-intent", labels)  # after every check, so a mistake stays one line
    note_unreached("dpf train-intent", data, labels, config)
    with stop_on_first_ctrl_c() as stop:
        result = train_intent(data, labels, args.seed, out_dir=out, config=config, progress=not args.quiet,
                              should_stop=stop.is_set)
    fit = result.metrics.get("held_out", result.metrics)
    state = "interrupted, saved best so far" if result.interrupted else "done"
    if args.kind == "lstm":
        early = result.metrics.get("stopped_early")
        early = f"; stopped early, {early}" if early and not result.interrupted else ""
        print(f"{state}: {out} ({result.epochs} of {config.max_epochs} epochs{early}, "
              f"{best_epoch_words(result.best_epoch)}, {result.wall_time_s:.0f} s)")
    else:
        print(f"{state}: {out} ({args.kind}, objective {result.sidecar['objective']}, {result.wall_time_s:.0f} s)")

    # the Train tab's verdict on the same figures (good / fair / weak, or too few held out to judge)
    # (a figure the labels cannot give is left out: comparisons have no scores to correlate with)
    print("held-out fit: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in fit.items()
                                       if v is not None) + fit_verdict(fit))
    if not result.interrupted:  # the next step of the README's loop, calibrated: what docs/RESULTS.md measures
        print(f"next: dpf evaluate --intent {out} --calibrate   (or in the app: Train tab, Load intent model…)")
    return 0


@contextlib.contextmanager
def stop_on_first_ctrl_c() -> Iterator[threading.Event]:
    """While training: an event the first Ctrl-C sets, for a trainer's ``should_stop``: it stops at its next step
    and what it has learnt is saved (the additive intent stops only so; a KeyboardInterrupt lost it all). A second
    Ctrl-C stops at once (the additive kind then saves nothing). Installed even when started in the background,
    where SIGINT was ignored; afterwards Ctrl-C stops the command at once again (the lines printed after training
    said "stopping after this step")."""
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        # os.write, not print: a handler printing while the progress bar writes to stderr raises a reentrant call
        os.write(2, b"\nstopping after this step and saving what was learnt (Ctrl-C again: stop at once)\n")

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --- dpf train-risk -------------------------------------------------------------------
def _build_train_risk(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", "--task", dest="policy", required=True, metavar="DIR",
                   help="the task agent's folder (or gridnav, highway, pong: the shipped one); the risk model is "
                        "written into DIR/risk (--task, as dpf evaluate and benchmark call it, means the same)")
    p.add_argument("--horizon", type=pos_int, default=3,
                   help="decisions: an action counts as risky where the episode fails within this many (default: 3)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="training seed, and which episodes are held out "
                   "(default: 0)")
    p.add_argument("--force", action="store_true", help="replace a risk model already in DIR/risk")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "train-risk",
    "learn how likely each action is to fail the task soon, from the task agent's stored trajectories",
    "Writes DIR/risk/weights.safetensors and DIR/risk/model.json: a classifier of 'the episode fails\n"
    "(ends without success) within H decisions' per action, trained on 80 % of the stored episodes and\n"
    "measured on the rest (AUC, beside that of the task agent's own Q gap). Fusion uses it with the\n"
    "parameter risk (--risk): a fused action may be at most that much riskier than the task agent's.\n"
    "The task agent itself is not changed. A few seconds on highway's 30,000 stored decisions, about a\n"
    "minute on Pong's 457,000.\n\n"
    "examples:\n"
    "  dpf train-risk --policy highway --force\n"
    "  dpf evaluate --env highway --strategies task,dynamic --intent runs/i --risk 0.005",
    _build_train_risk,
)
def cmd_train_risk(args: argparse.Namespace) -> int:
    from dpf_gui.agents.risk import RiskConfig, risk_dir, train_risk
    from dpf_gui.agents.task_agent import TaskAgent
    from dpf_gui.checkpoints import save_checkpoint
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.errors import UserError

    task = TaskAgent.load(task_path(args.policy))
    out = check_checkpoint_out(risk_dir(task.directory), args.force)
    if task.dataset_path is None or not task.dataset_path.is_file():
        raise UserError(f"{task.directory} has no stored trajectories ({task.dataset_path}) to learn the risk from")
    data = TrajectoryDataset.load(task.dataset_path, expect_env=task.env_name)
    state, sidecar = train_risk(task, data, RiskConfig(horizon=args.horizon, seed=args.seed), progress=not args.quiet)
    sidecar["command"] = f"dpf train-risk --policy {args.policy} --horizon {args.horizon} --seed {args.seed}"
    save_checkpoint(out, state, sidecar)
    m = sidecar["metrics"]
    print(f"done: {out} ({m['decisions']} decisions, {m['failing_decisions']} within {args.horizon} of a failure, "
          f"{sidecar['wall_time_s']:.0f} s)")
    if "test_auc" in m:
        print(f"held-out episodes ({m['test_episodes']}): AUC {m['test_auc']:.3f} (the task agent's Q gap: "
              f"{m['test_auc_task_q_gap']:.3f}); mean predicted risk {m['test_mean_risk']:.3f}, "
              f"observed {m['test_failure_rate']:.3f}")
    return 0


# --- dpf reference -------------------------------------------------------------------
def _build_reference(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", "--policy", dest="task", required=True, metavar="DIR",
                   help="the task agent's folder (or highway, pong: the shipped one); writes DIR/reference.json")
    p.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=1, metavar="N",
                   help="worker processes (default: 1); the outcomes are the same for any N")
    p.add_argument("--force", action="store_true", help="replace DIR/reference.json if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "reference",
    "play the task agent's calibration reference once and keep it beside its weights",
    "On highway and Pong a calibration of the intent's strength compares the fused agent with the\n"
    "task agent's success on its reference episodes (1000 Pong points, 300 highway episodes: minutes),\n"
    "played at the first calibration on each machine and after every update of the code. This plays\n"
    "them once and writes DIR/reference.json; calibrations anywhere then replay only the first few\n"
    "to check them (the shipped agents carry theirs).\n\n"
    "examples:\n"
    "  dpf reference --task runs/my-pong-agent --jobs 2",
    _build_reference,
)
def cmd_reference(args: argparse.Namespace) -> int:
    import time

    from dpf_gui.agents.task_agent import TaskAgent
    from dpf_gui.calibrate import REFERENCE_EPISODES, REFERENCE_SEED
    from dpf_gui.cli.options import machine_text, writable_folder
    from dpf_gui.errors import UserError
    from dpf_gui.evaluate import play_agents
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.reference_file import reference_path, write_reference
    from dpf_gui.rollout import episode_seeds

    task = TaskAgent.load(task_path(args.task))
    episodes = REFERENCE_EPISODES.get(task.env_name, 0)
    if not episodes:
        raise UserError(f"{task.env_name} calibrates without a reference (only "
                        f"{', '.join(sorted(REFERENCE_EPISODES))} have one): nothing to play")
    path = reference_path(task)
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; pass --force to replace it")
    writable_folder(path.parent)  # before minutes of play (e.g. an agent inside a read-only installation)
    start = time.perf_counter()
    records = play_agents(task.env_name, {"task": FusedAgent(task, "task")}, episode_seeds(REFERENCE_SEED, episodes),
                          task.env_config, jobs=args.jobs, progress=not args.quiet)["task"]
    success = [float(r.task_success) for r in records]
    wall = time.perf_counter() - start
    write_reference(task.env_name, task, REFERENCE_SEED, success, f"dpf reference --task {args.task}", wall,
                    f"{machine_text()}, --jobs {args.jobs}")
    print(f"wrote {path}: the task agent succeeded in {sum(success):.0f} of {episodes} reference episodes "
          f"({sum(success) / episodes:.3f}; {wall:.0f} s)")
    return 0

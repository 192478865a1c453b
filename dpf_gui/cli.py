"""The ``dpf`` command line: everything the app does, scriptable.

Each sub-command is a thin layer over a core function. User mistakes raise
:class:`UserError` (or are argparse errors) and end as one line on stderr with
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from dpf_gui.data.trajectories import npz_path
from dpf_gui.errors import UserError
from dpf_gui.oracles import SIGMA_MAX
from dpf_gui.overrides import Allowed
from dpf_gui.paths import dataset_path, task_path

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (no usage dump) and exit code 2 (``dpf`` and ``dpf-gui``)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def _command(name: str, help: str, epilog: str, build: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = fn
        fn.cli_spec = (help, epilog, build)  # type: ignore[attr-defined]
        return fn

    return register


# --- shared option helpers ---------------------------------------------------
SHIPPED_DATA = ("an environment name (gridnav, highway, pong) that is no file here means the trajectories its "
                "shipped agent learned from (see `dpf envs`)")


def _writable_folder(folder: Path) -> None:
    """Refuse (before any work is done) an output whose folder cannot be made or written into."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write into {folder}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UserError(f"cannot write into {existing} ({exc.strerror or exc.__class__.__name__})") from None


def _existing_folder(folder: Path, what: str) -> None:
    """Refuse an output whose folder does not exist: a typo in a path never makes folders silently."""
    folder = folder if str(folder) else Path(".")
    if folder.is_dir():
        return
    if folder.exists():
        raise UserError(f"cannot write {what}: {folder} is a file, not a folder")
    raise UserError(f"cannot write {what}: folder {folder} does not exist (create it first, or write into an "
                    "existing folder)")


def _check_file_out(path: str, force: bool, npz: bool = False) -> Path:
    """The file an output option names (``npz``: with ``.npz`` added as the saver does), checked before the work:
    its folder must exist already (never made silently) and be writable."""
    out = npz_path(path) if npz else Path(path)
    if out.is_dir():
        raise UserError(f"{out} is a folder; give the name of a file to write")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it")
    _existing_folder(out.parent, out.name)
    _writable_folder(out.parent)
    return out


def _check_checkpoint_out(path: str, force: bool) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give a folder for the checkpoint")
    if (out / "model.json").exists() and not force:
        raise UserError(f"{out} already holds a checkpoint; pass --force to overwrite it")
    _writable_folder(out)
    return out


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number in ``low..high``."""
    allowed = Allowed(low=low, high=high)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not allowed.allows(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed: {allowed.describe()}")
        return value

    return parse


def float_in(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number within the bounds (``low_open``: ``low`` itself excluded)."""
    allowed = Allowed(low=low, high=high, low_open=low_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if not allowed.allows(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed: {allowed.describe()}")
        return value

    return parse


MAX_EPISODES = 1_000_000
MAX_JOBS = 256
_nonneg_int = int_in(0, 2**32 - 1)  # seeds: what numpy and torch seeding accept
_pos_int = int_in(1, 10**10)  # counts: steps, episodes of a results cell
_episodes = int_in(1, MAX_EPISODES)
_prob = float_in(0.0, 1.0)
_finite = float_in()


def add_wish_options(p: argparse.ArgumentParser, required: bool) -> None:
    g = p.add_argument_group("the wish (a preset, or region expressions)")
    g.add_argument("--preset", choices=("avoid", "prefer", "mixed"), help="the environment's named wish")
    g.add_argument("--prefer", action="append", default=[], metavar="EXPR", help="preferred region (repeatable, OR-ed)")
    g.add_argument("--avoid", action="append", default=[], metavar="EXPR", help="avoided region (repeatable, OR-ed)")
    p.set_defaults(_wish_required=required)


def wish_from_args(args: argparse.Namespace, region_features, env_name: str):
    """The wish the options describe, or None when none was given and none is required."""
    from dpf_gui.envs import env_spec
    from dpf_gui.wish import make_wish

    if args.preset and (args.prefer or args.avoid):
        raise UserError("give either --preset or --prefer/--avoid expressions, not both")
    if not (args.preset or args.prefer or args.avoid):
        if args._wish_required:
            raise UserError("no wish given: use --preset avoid|prefer|mixed, or --prefer EXPR / --avoid EXPR")
        return None
    preset = env_spec(env_name).preset(args.preset) if args.preset else None
    return make_wish(region_features, prefer=args.prefer, avoid=args.avoid, preset=preset)


def add_noise_options(p: argparse.ArgumentParser, title: str) -> None:
    """A simulated user's feedback noise (``oracles.FeedbackNoise``): dpf label and dpf study pilot."""
    g = p.add_argument_group(title)
    g.add_argument("--binary", action="store_true", help="give only the sign of each score (-1, 0, +1)")
    g.add_argument("--flip", type=_prob, default=0.0, metavar="P", help="probability of flipping a score's sign")
    g.add_argument("--skip", type=_prob, default=0.0, metavar="P", help="probability of leaving a trajectory unlabelled")
    g.add_argument("--sigma", type=float_in(0.0, SIGMA_MAX), default=0.0,
                   help=f"std. dev. of Gaussian noise added to scores (0..{SIGMA_MAX:g})")


def noise_from_args(args: argparse.Namespace):
    from dpf_gui.oracles import FeedbackNoise

    return FeedbackNoise(binary=args.binary, flip=args.flip, skip=args.skip, sigma=args.sigma)


# --- dpf envs ----------------------------------------------------------------
def _build_envs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


@_command(
    "envs",
    "list the environments, their actions, features, region features and presets",
    "examples:\n  dpf envs\n  dpf envs --json > envs.json",
    _build_envs,
)
def cmd_envs(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from dpf_gui.envs import ENV_NAMES, env_spec

    specs = [env_spec(n) for n in ENV_NAMES]
    shipped = {n: _shipped_files(n) for n in ENV_NAMES}
    if args.json:
        out = []
        for s in specs:
            out.append(
                {
                    "name": s.name,
                    "title": s.title,
                    "actions": list(s.action_names),
                    "features": list(s.feature_names),
                    "region_features": [asdict(rf) for rf in s.region_features],
                    "presets": [asdict(p) for p in s.presets],
                    "shipped_agent": shipped[s.name][0],
                    "shipped_data": shipped[s.name][1],
                }
            )
        print(json.dumps(out, indent=2))
        return 0
    for s in specs:
        print(f"{s.name}  ({s.title})")
        print(f"  actions ({s.n_actions}): {', '.join(s.action_names)}")
        print(f"  features ({s.n_features}): {', '.join(s.feature_names)}")
        print("  region features:")
        for rf in s.region_features:
            desc = f"  {rf.description}" if rf.description else ""
            print(f"    {rf.name:<8} {rf.describe_range()}{desc}")
        print("  presets:")
        for p in s.presets:
            parts = [f"prefer {' | '.join(p.prefer)}" if p.prefer else "", f"avoid {' | '.join(p.avoid)}" if p.avoid else ""]
            print(f"    {p.name:<7} {'; '.join(x for x in parts if x)}")
        agent, data = shipped[s.name]
        print(f"  shipped agent: {agent or 'none'}  (--policy / --task {s.name})")
        print(f"  shipped data:  {data or 'none'}  (--data {s.name})")
        print()
    return 0


def _shipped_files(env_name: str) -> tuple[str | None, str | None]:
    """Where the shipped task agent and its trajectories of ``env_name`` are (None: not there)."""
    from dpf_gui.paths import models_root

    folder = models_root() / env_name
    agent = str(folder.resolve()) if (folder / "model.json").is_file() else None
    data = folder / "trajectories.npz"
    return agent, str(data.resolve()) if data.is_file() else None


# --- dpf rollout ---------------------------------------------------------------
def _build_rollout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--policy", default="random", help="'random', a task-agent checkpoint directory, or an environment name for its shipped agent "
                        "(default: random)")
    p.add_argument("--episodes", type=_episodes, default=10, help=f"number of episodes, 1..{MAX_EPISODES} (default: 10)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="run seed: fixes every episode's reset seed (default: 0)")
    p.add_argument("--explore", type=_exploration, default=None, metavar="KIND:X",
                   help="play the task agent with exploration noise: boltzmann:T (sample at temperature T > 0, in "
                        "units of the fusion temperature T_phi) or epsilon:E (a random legal action with "
                        "probability E); needs --policy DIR")
    p.add_argument("--start", choices=("default", "random"), default="default",
                   help="where episodes start: as the environment's reset seed draws them (default), or in a random "
                        "state (gridnav: any open cell)")
    p.add_argument("--out", required=True, help="dataset file to write (.npz)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _exploration(text: str):
    from dpf_gui.rollout import parse_exploration

    try:
        return parse_exploration(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@_command(
    "rollout",
    "play a policy for N episodes and record them as a trajectory dataset",
    "With a task agent (--policy DIR) the episodes are played in the agent's environment\n"
    "configuration. --explore and --start random record more varied trajectories without\n"
    "retraining anything; `dpf merge` adds them to a dataset, carrying its labels over.\n\n"
    "examples:\n"
    "  dpf rollout --env gridnav --policy random --episodes 50 --seed 1 --out gridnav_random.npz\n"
    "  dpf rollout --env pong --policy pong --episodes 20 --seed 7 --out pong_agent.npz\n"
    "  dpf rollout --env gridnav --policy gridnav --explore epsilon:0.3 --start random \\\n"
    "      --episodes 200 --out gridnav_varied.npz",
    _build_rollout,
)
def cmd_rollout(args: argparse.Namespace) -> int:
    from dpf_gui.envs import env_class
    from dpf_gui.rollout import exploring_policy, random_policy, rollout

    env_class(args.env)  # validates the name first
    if args.explore is not None and args.policy == "random":
        raise UserError("--explore adds noise to a task agent's choices: give --policy DIR (or "
                        f"{args.env} for the shipped agent), not random")
    out = _check_file_out(args.out, args.force, npz=True)
    env_config = None
    if args.policy == "random":
        policy, source = random_policy(args.seed), {"kind": "rollout", "policy": "random"}
    else:
        from dpf_gui.agents.task_agent import TaskAgent

        args.policy = str(task_path(args.policy))
        agent = TaskAgent.load(args.policy, expect_env=args.env)
        env_config = agent.env_config
        policy, source = agent.act, {"kind": "rollout", "policy": str(args.policy)}
        if args.explore is not None:
            policy, source["explore"] = exploring_policy(agent, args.explore, args.seed), args.explore.text()
    data = rollout(args.env, policy, args.episodes, args.seed, env_config=env_config, source=source,
                   progress=not args.quiet, random_start=args.start == "random")
    path = data.save(out)
    succ = data.success.mean() if len(data) else 0.0
    print(f"wrote {path}: {len(data)} trajectories, {int(data.lengths.sum())} decisions, task success {succ:.0%}")
    return 0


# --- dpf label -------------------------------------------------------------------
def _build_label(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help=f"trajectory dataset (.npz) to label; {SHIPPED_DATA}")
    add_wish_options(p, required=True)
    add_noise_options(p, "feedback noise (all seeded)")
    g = p.add_argument_group("a few labels, as a person gives them (default: every trajectory is labelled)")
    g.add_argument("--budget", type=_pos_int, default=None, metavar="K", help="label only K trajectories")
    g.add_argument("--select", choices=SELECT_CHOICES, default=None,
                   help="which K: random (seeded), first (dataset order, walking the list) or active (the app's "
                        "suggestions: varied trajectories first, then where the intent models disagree); "
                        "default: random")
    g.add_argument("--rounds", type=_pos_int, default=None, metavar="R",
                   help="label the K in R batches; with active the intent model is retrained after each batch and "
                        "suggests the next (default: 1)")
    g = p.add_argument_group("what the user gives")
    g.add_argument("--feedback", choices=("scores", "pairs"), default="scores",
                   help="scores: one score per trajectory (default); pairs: comparisons of two trajectories "
                        "('this one is better'), answered from the scores with the noise above")
    g.add_argument("--pairs", type=_pos_int, default=None, metavar="P",
                   help="with --feedback pairs: how many comparisons (default: one per trajectory to choose from)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="noise and selection seed (default: 0)")
    p.add_argument("--out", required=True, help="label file to write (.npz)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


SELECT_CHOICES = ("random", "first", "active")  # dpf_gui.selection.SELECT_MODES (checked by a test)
OBJECTIVE_CHOICES = ("auto", "score", "logistic", "pairs")  # dpf_gui.intent.objectives.OBJECTIVES (checked by a test)


@_command(
    "label",
    "label a dataset's trajectories with a simulated user",
    "A step is marked +1 when it leads into a preferred region, -1 into an\n"
    "avoided one; a trajectory's score is the sum of its marks.\n\n"
    "Region expressions: NAME=V, NAME=V1,V2, NAME=LO..HI (LO.. or ..HI open),\n"
    "terms joined with '&'; see `dpf envs` for names and ranges.\n\n"
    "Before labelling, the coverage of each region of the wish is printed: how many\n"
    "stored trajectories enter it; a region (almost) no trajectory enters cannot be\n"
    "learned from labels, and a warning says how to record more varied data.\n\n"
    "examples:\n"
    "  dpf label --data gridnav --preset mixed --seed 0 --out labels.npz\n"
    "  dpf label --data hw.npz --avoid lane=0 --prefer 'lane=2&speed=..25' --out hw_labels.npz\n"
    "  dpf label --data pong.npz --preset avoid --binary --flip 0.1 --skip 0.2 --seed 3 --out l.npz\n"
    "  dpf label --data gridnav --preset mixed --budget 25 --select active \\\n"
    "      --rounds 3 --out few.npz\n"
    "  dpf label --data gridnav --preset avoid --feedback pairs --budget 25 --pairs 40 --flip 0.1 --out pairs.npz",
    _build_label,
)
def cmd_label(args: argparse.Namespace) -> int:
    from dpf_gui.coverage import thin_warning, wish_coverage
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.oracles import label_dataset

    args.data = str(dataset_path(args.data))
    data = TrajectoryDataset.load(args.data)
    wish = wish_from_args(args, data.region_features, data.env_name)
    if args.budget is None and (args.select is not None or args.rounds is not None):
        raise UserError("--select and --rounds choose which trajectories a budget labels: give --budget K too")
    if args.budget is not None and args.budget > len(data):
        raise UserError(f"--budget {args.budget} is more than the {len(data)} trajectories in {args.data}")
    if args.budget is not None and args.rounds is not None and args.rounds > args.budget:
        raise UserError(f"--rounds {args.rounds} is more than --budget {args.budget} (each round labels at least one)")
    if args.feedback == "pairs" and (args.select == "active" or args.rounds is not None):
        raise UserError("--select active and --rounds choose trajectories to score; comparisons are drawn among "
                        "--budget K trajectories chosen by --select random or first")
    if args.pairs is not None and args.feedback != "pairs":
        raise UserError("--pairs counts comparisons: give --feedback pairs too")
    out = _check_file_out(args.out, args.force, npz=True)
    noise = noise_from_args(args)
    for region in wish_coverage(data, wish) if len(data) else []:  # no data: labelling says so
        print(f"coverage: {region.text()}")
        if region.thin:
            print(f"dpf label: warning: {thin_warning(region, data.env_name)}", file=sys.stderr)
    if args.feedback == "pairs":
        labels, how = _label_pairs(args, data, wish, noise)
    elif args.budget is None:
        labels = label_dataset(data, wish, noise, args.seed)
        how = wish.mode
    else:
        from dpf_gui.selection import select_and_label

        select, rounds = args.select or "random", args.rounds or 1
        labels = select_and_label(data, wish, noise, args.budget, select=select, rounds=rounds, seed=args.seed)
        how = f"{wish.mode}; {select} selection" + (f" in {rounds} rounds" if rounds > 1 else "")
    labels.meta["data_path"] = str(args.data)
    path = labels.save(out)
    if labels.pairs is not None:
        ties = int((labels.prefer == 0.5).sum())
        print(f"wrote {path}: {len(labels.pairs)} comparisons of {labels.count} trajectories ({how}); {ties} ties")
        return 0
    s = labels.scores[labels.labelled]
    print(
        f"wrote {path}: {labels.count} of {len(labels)} trajectories labelled ({how}); "
        f"{len(set(s.tolist()))} different scores, "
        f"mean {s.mean() if len(s) else 0:.2f}, min {s.min() if len(s) else 0:.2f}, max {s.max() if len(s) else 0:.2f}"
    )
    return 0


def _label_pairs(args: argparse.Namespace, data, wish, noise):
    """Comparisons among every trajectory, or among the --budget chosen by --select (random or first)."""
    from dpf_gui.oracles import label_dataset, label_pairs
    from dpf_gui.selection import keep_chosen

    among, how = None, f"{wish.mode}; comparisons"
    if args.budget is not None:
        select = args.select or "random"
        kept = keep_chosen(data, label_dataset(data, wish, noise, args.seed), args.budget, select, 1, args.seed)
        among, how = kept.meta["selection"]["chosen"], f"{how} among {args.budget} chosen by {select} selection"
    labels = label_pairs(data, wish, noise, args.seed, count=args.pairs, among=among)
    if args.budget is not None:
        labels.meta["selection"] = kept.meta["selection"]
    return labels, how


# --- dpf merge -------------------------------------------------------------------
def _build_merge(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="FILE",
                   help=f"trajectory dataset (.npz) to merge; give two or more, in the order they are stored; {SHIPPED_DATA}")
    p.add_argument("--out", required=True, help="merged dataset file to write (.npz)")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="labels of one of the --data datasets, carried over to the merged one (needs --labels-out)")
    p.add_argument("--labels-out", default=None, metavar="FILE", help="label file to write for the merged dataset")
    p.add_argument("--force", action="store_true", help="overwrite --out and --labels-out if they exist")


@_command(
    "merge",
    "merge trajectory datasets into a new one, carrying labels over",
    "The merged dataset holds every --data file's trajectories in the order given and\n"
    "has its own fingerprint; the input files and their labels stay as they are. With\n"
    "--labels, the labels of one input keep their trajectories in the merged dataset\n"
    "and every other trajectory starts unlabelled.\n\n"
    "examples:\n"
    "  dpf rollout --env gridnav --policy gridnav --explore epsilon:0.3 --start random \\\n"
    "      --episodes 200 --out varied.npz\n"
    "  dpf merge --data gridnav --data varied.npz --out more.npz \\\n"
    "      --labels labels.npz --labels-out more_labels.npz",
    _build_merge,
)
def cmd_merge(args: argparse.Namespace) -> int:
    from dpf_gui.data.labels import Labels
    from dpf_gui.data.merge import carry_labels, merge_datasets
    from dpf_gui.data.trajectories import TrajectoryDataset

    if len(args.data) < 2:
        raise UserError("give at least two --data files to merge")
    args.data = [str(dataset_path(d)) for d in args.data]
    if (args.labels is None) != (args.labels_out is None):
        raise UserError("--labels and --labels-out go together: the labels to carry over and where to write them")
    out = _check_file_out(args.out, args.force, npz=True)
    labels_out = _check_file_out(args.labels_out, args.force, npz=True) if args.labels_out else None
    inputs = {Path(f).absolute(): f for f in args.data + ([args.labels] if args.labels else [])}
    for option, path in (("--out", out), ("--labels-out", labels_out)):
        if path is not None and path.absolute() in inputs:
            raise UserError(f"{option} {path} is one of the inputs: write the merge to a new file")
    if labels_out is not None and labels_out.absolute() == out.absolute():
        raise UserError("--out and --labels-out name the same file")
    parts = [TrajectoryDataset.load(path) for path in args.data]
    labels = Labels.load(args.labels) if args.labels else None
    owner = None
    if labels is not None:
        fingerprints = [p.fingerprint() for p in parts]
        if labels.meta.get("data_fingerprint") not in fingerprints:
            raise UserError(f"labels {args.labels} were given to none of the --data datasets")
        owner = parts[fingerprints.index(labels.meta["data_fingerprint"])]
    merged = merge_datasets(*parts)
    carried = carry_labels(labels, owner, merged) if labels is not None else None
    path = merged.save(out)
    counts = ", ".join(f"{len(p)} from {f}" for p, f in zip(parts, args.data))
    print(f"wrote {path}: {len(merged)} trajectories ({counts}), fingerprint {merged.fingerprint()[:12]}")
    if carried is not None:
        carried.meta["data_path"] = str(path)
        print(f"wrote {carried.save(labels_out)}: {carried.count} of {len(carried)} trajectories labelled "
              f"(carried over from {args.labels})")
    return 0


# --- dpf train-task ---------------------------------------------------------------
def _build_train_task(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--steps", type=_pos_int, default=None, help="environment steps (default: per environment, see dpf_gui/agents/dqn.py)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="training seed (default: 0)")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a DQNConfig hyperparameter (repeatable)")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@_command(
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
    import signal

    from dpf_gui.agents.dqn import train_dqn
    from dpf_gui.envs import env_class
    from dpf_gui.overrides import parse_sets

    env_class(args.env)
    out = _check_checkpoint_out(args.out, args.force)
    overrides = parse_sets(args.set)  # make_config turns the strings into each field's type
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C saves, even when started in the background
    result = train_dqn(args.env, args.steps, args.seed, out, config_overrides=overrides, progress=not args.quiet)
    ev = result.metrics.get("eval", {})
    state = "interrupted, saved" if result.interrupted else "done"
    print(f"{state}: {out} ({result.steps} steps, {result.episodes} episodes, {result.wall_time_s:.0f} s)")
    if ev:
        print("greedy evaluation: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in ev.items()))
    return 0


# --- dpf train-intent ----------------------------------------------------------------
def _build_train_intent(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help=f"trajectory dataset (.npz); {SHIPPED_DATA}")
    p.add_argument("--labels", required=True, help="label file (.npz) from `dpf label` or the app's export")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="training seed (split, initialisation; default: 0)")
    p.add_argument("--out", required=True, help="intent-model checkpoint directory to write")
    p.add_argument("--kind", choices=("additive", "lstm"), default="additive",
                   help="intent model: additive (utility + intent-value ensemble, learns from few marks; default) "
                        "or lstm (the paper's RUDDER LSTM)")
    p.add_argument("--objective", choices=OBJECTIVE_CHOICES, default=None,
                   help="loss on the feedback: score (regression to graded scores), logistic (binary labels), pairs "
                        "(comparisons; additive only) or auto (by the label file: the default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the kind's config (repeatable), e.g. members=4 or, for lstm, max_epochs=30")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@_command(
    "train-intent",
    "learn the user's wish from trajectory labels (additive ensemble, or the paper's LSTM)",
    "Writes DIR/weights.safetensors and DIR/model.json (environment, kind, labels' provenance,\n"
    "hyperparameters, held-out fit). Prints the held-out fit: correlation of predicted and given\n"
    "scores, and sign accuracy (for the additive kind out-of-bag: each trajectory predicted by the\n"
    "ensemble members that never saw it). Config fields: dpf_gui/intent/additive.py (AdditiveConfig)\n"
    "and dpf_gui/intent/train.py (IntentConfig).\n\n"
    "examples:\n"
    "  dpf label --data gridnav --preset avoid --budget 25 --select active --out avoid.npz\n"
    "  dpf train-intent --data gridnav --labels avoid.npz --seed 0 --out runs/intent_avoid\n"
    "  dpf train-intent --data d.npz --labels l.npz --kind lstm --out runs/i --set max_epochs=20 --set hidden=32",
    _build_train_intent,
)
def cmd_train_intent(args: argparse.Namespace) -> int:
    import signal

    from dpf_gui.data.labels import Labels
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.registry import config_for, train_intent
    from dpf_gui.overrides import config_from_sets

    args.data = str(dataset_path(args.data))
    data = TrajectoryDataset.load(args.data)
    labels = Labels.load(args.labels)
    labels.check_matches(data, where=f"labels {args.labels}")
    out = _check_checkpoint_out(args.out, args.force)
    sets = args.set + ([f"objective={args.objective}"] if args.objective else [])
    config = config_from_sets(config_for(args.kind), sets, what=f"{args.kind} intent config")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    result = train_intent(data, labels, args.seed, out_dir=out, config=config, progress=not args.quiet)
    fit = result.metrics.get("held_out", result.metrics)
    state = "interrupted, saved best so far" if result.interrupted else "done"
    if args.kind == "lstm":
        early = result.metrics.get("stopped_early")
        early = f"; stopped early, {early}" if early and not result.interrupted else ""
        print(f"{state}: {out} ({result.epochs} of {config.max_epochs} epochs{early}, best {result.best_epoch}, "
              f"{result.wall_time_s:.0f} s)")
    else:
        print(f"{state}: {out} ({args.kind}, objective {result.sidecar['objective']}, {result.wall_time_s:.0f} s)")
    print("held-out fit: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in fit.items()))
    return 0


# --- dpf evaluate -----------------------------------------------------------------
def _strategies(text: str) -> list[str]:
    from dpf_gui.strategies import names as strategy_names

    allowed = strategy_names()
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown strategy {bad[0] if bad else text!r}; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def add_fusion_options(p: argparse.ArgumentParser) -> None:
    """One option per fusion parameter its metadata offers on the command line (dpf_gui/fusion_params.py):
    numbers as ``--T-phi X``, choices as ``--collect {...}``, switches as ``--sample``."""
    from dpf_gui.fusion_params import FusionParams, cli_params

    defaults = FusionParams()
    g = p.add_argument_group("fusion parameters (defaults stored with the task agent)")
    for name, param in cli_params().items():
        flag, dest = f"--{name.replace('_', '-')}", f"fusion_{name}"
        if param.choices:
            g.add_argument(flag, dest=dest, choices=tuple(param.choices), default=None, help=param.tooltip())
        elif isinstance(getattr(defaults, name), bool):  # a switch: on, or the stored default
            g.add_argument(flag, dest=dest, action="store_const", const=True, default=None, help=param.tooltip())
        else:
            g.add_argument(flag, dest=dest, type=_finite, default=None, metavar="X", help=param.tooltip())
    g.add_argument("--paper", action="store_true",
                   help="the paper's fusion by name: signed advantages, c = 0, raw units, the authors' temperatures "
                        "(options above still override it); pair it with an --kind lstm intent")
    g.add_argument("--calibrate", action="store_true",
                   help="choose the intent's strength in simulation first (task reward and the model's own "
                        "predictions only; see dpf_gui/calibrate.py)")
    g.add_argument("--markov", action="store_true", help="query the intent model without history (the authors' query)")


def fusion_overrides(args: argparse.Namespace) -> dict:
    out = {k[len("fusion_"):]: v for k, v in vars(args).items() if k.startswith("fusion_") and v is not None}
    if getattr(args, "paper", False):
        from dpf_gui.fusion_params import paper_params

        out = {**paper_params(args.env).to_dict(), **out}
    return out


# --- where evaluate, results and benchmark run: --jobs, --backend, --address --------
def add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: --jobs worker processes here (default); ray: every cell or chunk of episodes a Ray "
                        "task, on a cluster with --address (needs pip install 'dpf-gui[ray]'); the numbers are the same")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --backend ray, the cluster: ray://HEAD:10001 (Ray Client), HEAD:6379 on one of its "
                        "nodes, or auto (`ray start` on this machine); default: a Ray instance started here with "
                        "--jobs CPUs (all without --jobs)")


def use_backend(args: argparse.Namespace) -> int:
    """Connect ``--backend ray`` before any work (no Ray, a bad address: one line, exit 2) and fill in
    ``--jobs`` (local: 1; ray: the cluster's CPUs, which is how many chunks ``dpf evaluate`` splits episodes
    into). Returns how many items run at once: ``--jobs``, or the cluster's CPUs."""
    if args.address is not None and args.backend != "ray":
        raise UserError("--address names a Ray cluster: give --backend ray too")
    if args.backend != "ray":
        args.jobs = args.jobs or 1
        return args.jobs
    from dpf_gui.ray_jobs import connect

    cpus = connect(args.address, cpus=args.jobs if args.address is None else None)
    args.jobs = args.jobs or cpus
    return cpus


def _build_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--task", default=None, metavar="DIR", help="task-agent checkpoint folder (default: the shipped agent of --env)")
    from dpf_gui.strategies import names

    p.add_argument("--intent", default=None, metavar="DIR",
                   help=f"intent-model checkpoint (needed by {', '.join(names(needs_intent=True))})")
    p.add_argument("--strategies", type=_strategies, default=["task"],
                   help=f"comma-separated: {','.join(names())} (default: task)")
    p.add_argument("--episodes", type=_episodes, default=100, help="evaluation episodes per strategy (default: 100)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="evaluation seed (held-out episode seeds; default: 0)")
    add_wish_options(p, required=False)
    add_fusion_options(p)
    p.add_argument("--baselines", action="store_true", help="add the environment's baseline rows (highway: constant actions, pong: follow-ball)")
    p.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=None, metavar="N",
                   help=f"worker processes, 1..{MAX_JOBS} (default: 1; with --backend ray the episode chunks, default: "
                        "the cluster's CPUs); the results are the same for any N")
    add_backend_options(p)
    p.add_argument("--json", default=None, metavar="OUT", help="also write the table as JSON")
    p.add_argument("--force", action="store_true", help="overwrite --json if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@_command(
    "evaluate",
    "play strategies on the same held-out episodes and print metrics with 95 % intervals",
    "Metrics: task_success (gridnav goal, highway no crash, pong point won), task_return,\n"
    "length; with a wish prefer_fraction / avoid_fraction (share of decisions leading into\n"
    "the region); for fused strategies fusion_weight. JSON: {env, episodes, seed,\n"
    "strategies: {NAME: {METRIC: {mean, ci95: [lo, hi]}}}}.\n\n"
    "examples:\n"
    "  dpf evaluate --env gridnav --strategies task --episodes 100 --seed 0\n"
    "  dpf evaluate --env highway --strategies task --preset avoid --json hw.json\n"
    "  dpf evaluate --env gridnav --intent runs/intent --strategies task,static,dynamic --preset avoid",
    _build_evaluate,
)
def cmd_evaluate(args: argparse.Namespace) -> int:
    from dpf_gui.envs import env_class
    from dpf_gui.evaluate import evaluate
    from dpf_gui.pipeline import build_agents, load_task_agent, task_region_features

    env_class(args.env)
    json_out = _check_file_out(args.json, args.force) if args.json else None
    use_backend(args)
    task = load_task_agent(args.env, task_path(args.task) if args.task else None)
    wish = wish_from_args(args, task_region_features(task), args.env)
    overrides = fusion_overrides(args)
    if args.calibrate:
        overrides["strength"] = _calibrated_strength(args, task, overrides)
    agents = build_agents(task, args.strategies, intent_dir=args.intent, overrides=overrides, markov=args.markov,
                          progress=not args.quiet)
    if args.baselines:
        from dpf_gui.agents.heuristics import baselines
        from dpf_gui.fusion import BaselineAgent

        for name, policy in baselines(args.env, task.action_names).items():
            agents[name] = BaselineAgent(policy, task.n_actions)
    result = evaluate(args.env, agents, args.episodes, args.seed, env_config=task.env_config, wish=wish,
                      progress=not args.quiet, jobs=args.jobs, backend=args.backend)
    if wish is not None:
        result.extra["wish"] = wish.describe()
    print(result.table())
    if json_out is not None:
        print(f"wrote {result.save(json_out)}")
    return 0


# --- dpf trace -------------------------------------------------------------------
def _build_trace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--task", default=None, metavar="DIR", help="task-agent checkpoint folder (default: the shipped agent of --env)")
    from dpf_gui.strategies import names

    p.add_argument("--intent", default=None, metavar="DIR",
                   help=f"intent-model checkpoint (needed by {', '.join(names(live=True, needs_intent=True))})")
    p.add_argument("--strategy", choices=names(live=True), default="dynamic",
                   help="strategy to play (default: dynamic)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="the episode's reset seed (default: 0)")
    add_wish_options(p, required=False)
    add_fusion_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


@_command(
    "trace",
    "play one episode and write its traces (w, T_psi, G_t, actions, rewards, region flags) as CSV",
    "One row per decision: t, strategy, action, action_name, task_reward, w, T_psi, G_t (what the decision\n"
    "used, as the app's Play view plots them), intent_reward, in_prefer, in_avoid (with a wish) and the region\n"
    "values of the state the decision led to (region:NAME). A value the strategy does not have is empty. The\n"
    "app's Play view writes the same file for the episode on screen (Export trace).\n\n"
    "examples:\n"
    "  dpf trace --env gridnav --intent runs/intent --strategy dynamic --preset avoid --seed 3 --out ep3.csv\n"
    "  dpf trace --env pong --strategy task --seed 0 --out pong_task.csv",
    _build_trace,
)
def cmd_trace(args: argparse.Namespace) -> int:
    from dpf_gui.envs import env_class
    from dpf_gui.pipeline import build_agents, load_task_agent, task_region_features
    from dpf_gui.trace import play_trace

    env_class(args.env)
    out = _check_file_out(args.out, args.force)
    task = load_task_agent(args.env, task_path(args.task) if args.task else None)
    wish = wish_from_args(args, task_region_features(task), args.env)
    overrides = fusion_overrides(args)
    if args.calibrate:
        overrides["strength"] = _calibrated_strength(args, task, overrides)
    agent = build_agents(task, [args.strategy], intent_dir=args.intent, overrides=overrides, markov=args.markov,
                         progress=False)[args.strategy]
    trace = play_trace(args.env, agent, args.seed, env_config=task.env_config, wish=wish)
    path = trace.write_csv(out)
    ret = sum(r["task_reward"] for r in trace.rows)
    print(f"wrote {path}: {len(trace.rows)} decisions of {args.strategy} on {args.env} (seed {args.seed}), "
          f"task return {ret:.2f}")
    return 0


def _calibrated_strength(args: argparse.Namespace, task, overrides: dict) -> float:
    """``--calibrate``: the intent's strength chosen in simulation (prints what each candidate did)."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.calibrate import calibrate
    from dpf_gui.pipeline import fusion_params

    if args.intent is None:
        raise UserError("--calibrate needs an intent model: pass --intent DIR")
    intent = IntentAgent.load(args.intent, expect_env=args.env)
    cal = calibrate(args.env, task, intent.model, intent.scale(args.markov), intent.unit,
                    fusion_params(task, overrides), seed=args.seed)
    for row in cal.table:
        print(f"calibration: strength {row['strength']:g}: task success {row['success']:.2f} "
              f"(task agent {cal.task_success:.2f}), intent score per decision {row['intent_score']:.3f}")
    print(f"calibrated strength: {cal.strength:g} ({cal.episodes} calibration episodes, keeping >= "
          f"{cal.keep:.0%} of the task agent's success)")
    return cal.strength


# --- dpf results ------------------------------------------------------------------
def _build_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--envs", default="gridnav,highway,pong", help="comma-separated environments (default: all three)")
    p.add_argument("--modes", default="avoid,prefer,mixed,custom",
                   help="comma-separated wishes: the presets avoid, prefer, mixed and 'custom' (a non-preset wish per "
                        "environment, see dpf_gui/results.py); default: all four")
    p.add_argument("--episodes", type=_pos_int, default=200, help="evaluation episodes per strategy (default: 200)")
    p.add_argument("--highway-episodes", type=_pos_int, default=60, help="episodes per strategy on highway (slow simulator; default: 60)")
    p.add_argument("--efficiency", default="gridnav,highway",
                   help="environments for the label-efficiency study ('' for none; default: gridnav,highway)")
    p.add_argument("--efficiency-episodes", type=_pos_int, default=30, help="episodes per label-efficiency point (default: 30)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="labels, intent training and evaluation seed (default: 0)")
    p.add_argument("--work", default="runs/results",
                   help="cache folder for intent models, retrained references and cell results (default: runs/results)")
    p.add_argument("--out", default="docs/RESULTS.md",
                   help="Markdown report to write (plots go to its folder's results/); a report this command wrote "
                        "is regenerated in place, keeping the notes below its notes marker; any other existing file "
                        "needs --force")
    p.add_argument("--force", action="store_true", help="overwrite --out even if it is not a report this command wrote")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report from the cached cells")
    p.add_argument("--jobs", type=int_in(1, 256), default=None,
                   help="cells in parallel worker processes, one torch thread each (default: 1; with --backend ray Ray "
                        "decides how many run at once); the numbers are the same for any N")
    add_backend_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@_command(
    "results",
    "run the results grid (environments x wishes x strategies) and write docs/RESULTS.md",
    "Each cell: the simulated user labels the shipped trajectories with the preset wish, an\n"
    "intent model is trained (cached), and task, intent, static, dynamic, retrain and the\n"
    "markov-query dynamic play the same held-out episodes.\n\n"
    "Trained models are cached under --work, keyed by all their inputs (seed included), and\n"
    "reused only when complete and intact; evaluations are played again on every run. After\n"
    "Ctrl-C the command exits 130 naming the cell it was in; rerunning it redoes that cell.\n\n"
    "examples:\n"
    "  dpf results                                   # the full grid of docs/RESULTS.md\n"
    "  dpf results --envs gridnav --episodes 20      # a quick look\n"
    "  dpf results --report-only                     # rewrite the report from the cache",
    _build_results,
)
def cmd_results(args: argparse.Namespace) -> int:
    import platform
    import time

    from dpf_gui.envs import env_class
    from dpf_gui.results import (
        CUSTOM,
        MODES,
        NOTES_MARKER,
        keep_job_result,
        run_cell,
        run_efficiency,
        run_results_job,
        write_report,
    )

    envs = [e.strip() for e in args.envs.split(",") if e.strip()]
    efficiency = [e.strip() for e in args.efficiency.split(",") if e.strip()]
    for e in envs + efficiency:
        env_class(e)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES + (CUSTOM,)]
    if bad:
        raise UserError(f"unknown wish {bad[0]!r}; allowed: {', '.join(MODES + (CUSTOM,))}")
    work, out = Path(args.work), Path(args.out)
    if work.exists() and not work.is_dir():
        raise UserError(f"--work {work} is a file, not a folder of results (give a folder; it is created if missing)")
    if args.report_only and not work.is_dir():
        raise UserError(f"--work {work}: no such folder of results (run `dpf results` without --report-only first)")
    # checked before the cells run, not after an hour of them
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give the Markdown file to write")
    _existing_folder(out.parent, f"--out {out.name}")
    if out.is_file() and not args.force and NOTES_MARKER not in out.read_text(encoding="utf-8", errors="replace"):
        raise UserError(f"--out {out} exists and is not a report `dpf results` wrote (no notes marker); "
                        "pass --force to overwrite it")
    if not args.report_only:
        use_backend(args)
        jobs = [(f"cell {env_name}/{mode}", run_cell, env_name, mode,
                 args.highway_episodes if env_name == "highway" else args.episodes) for env_name in envs for mode in modes]
        jobs += [(f"label efficiency {env_name}/mixed", run_efficiency, env_name, "mixed", args.efficiency_episodes)
                 for env_name in efficiency]
        where = "the cells running"
        try:
            if args.jobs > 1 or args.backend == "ray":  # the bar counts the cells and shows the time left
                from dpf_gui.parallel import map_jobs

                items = [(run, env_name, mode, episodes, args.seed, work) for _what, run, env_name, mode, episodes in jobs]
                outs = map_jobs(run_results_job, items, jobs=args.jobs, progress=not args.quiet, desc="dpf results",
                                unit="cell", backend=args.backend,
                                on_result=(lambda i, out: keep_job_result(items[i], out)) if args.backend == "ray" else None)
                for (what, *_), cell_out in zip(jobs, outs):
                    print(f"{what}: {cell_out.get('total_s', 0):.0f} s", flush=True)
            else:
                done: list[tuple[str, float]] = []
                for k, (what, run, env_name, mode, episodes) in enumerate(jobs):
                    t0, where = time.time(), what
                    run(env_name, mode, episodes, args.seed, work, progress=not args.quiet)
                    done.append((env_name, time.time() - t0))
                    left = remaining_seconds(done, [job[2] for job in jobs[k + 1:]])
                    eta = f"; about {_duration(left)} left, judged by the cells done so far" if left > 0 else ""
                    print(f"{what}: {done[-1][1]:.0f} s ({k + 1} of {len(jobs)} done{eta})", flush=True)
        except KeyboardInterrupt:
            print(f"dpf results: interrupted in {where} (seed {args.seed}): its unfinished work was discarded and no "
                  "report written; rerun the command to redo it (finished intent models are reused)", file=sys.stderr)
            return 130
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, CPU only"
    path, unreadable = write_report(work, out, ["gridnav", "highway", "pong"], "dpf results", machine)
    for bad_file in unreadable:
        print(f"dpf results: left out {bad_file}: unreadable or incomplete; rerun that cell to redo it", file=sys.stderr)
    print(f"wrote {path}")
    return 0


def remaining_seconds(done: Sequence[tuple[str, float]], remaining_envs: Sequence[str]) -> float:
    """A rough time left for ``dpf results``: each remaining cell takes the mean time of the finished cells of
    its environment (environments differ by minutes), or of all finished cells where none of its own is done."""
    if not done:
        return 0.0
    overall = sum(t for _e, t in done) / len(done)
    per_env: dict[str, list[float]] = {}
    for env_name, t in done:
        per_env.setdefault(env_name, []).append(t)
    return float(sum(sum(per_env[e]) / len(per_env[e]) if e in per_env else overall for e in remaining_envs))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


# --- dpf benchmark -----------------------------------------------------------------
def _csv(allowed: Sequence[str] | None, what: str) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
        bad = [t for t in items if allowed is not None and t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown {what} {bad[0] if bad else text!r}; allowed: {', '.join(allowed or ())}")
        return items

    return parse


def _budgets(text: str) -> tuple[int | None, ...]:
    out = []
    for t in (t.strip() for t in text.split(",") if t.strip()):
        if t == "all":
            out.append(None)
            continue
        try:
            value = int(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"label budget {t!r} is not a whole number or 'all'") from None
        if not 2 <= value <= 1_000_000:
            raise argparse.ArgumentTypeError(f"label budget {t} is out of range; allowed: 2..1000000 or 'all'")
        out.append(value)
    if not out:
        raise argparse.ArgumentTypeError("no label budget given; e.g. 10,25,100,all")
    return tuple(dict.fromkeys(out))


def _build_benchmark(p: argparse.ArgumentParser) -> None:
    from dpf_gui.benchmark import LABEL_TYPES, ROWS, SELECTIONS, SPLITS

    p.add_argument("--envs", type=_csv(("gridnav", "highway", "pong"), "environment"), default=("gridnav", "highway", "pong"),
                   help="comma-separated environments (default: all three)")
    p.add_argument("--wishes", type=int_in(1, 64), default=8, help="generated wishes per environment (default: 8)")
    g = p.add_argument_group("the cells of every wish (default: 10 and 25 exact and binary, 25 active exact and "
                                 "binary, 100 and every label exact; giving any of these runs their product)")
    g.add_argument("--budgets", type=_budgets, default=None, help="label budgets, 'all' = every trajectory (e.g. 10,25,all)")
    g.add_argument("--labels", type=_csv(LABEL_TYPES, "label type"), default=None,
                   help=f"label types: {', '.join(LABEL_TYPES)}")
    g.add_argument("--select", type=_csv(SELECTIONS, "selection"), default=None,
                   help=f"which trajectories get labelled: {', '.join(SELECTIONS)}")
    p.add_argument("--rows", type=_csv(ROWS, "row"), default=ROWS, help=f"rows per cell (default: {','.join(ROWS)})")
    p.add_argument("--split", choices=tuple(SPLITS), default="report",
                   help="report: wishes, labels and episodes never used for tuning (default); dev: the tuning split")
    p.add_argument("--episodes", type=_csv(None, "episodes"), default=(),
                   help="held-out episodes per row as ENV=N, comma-separated (default: gridnav=100,highway=30,pong=300)")
    p.add_argument("--quick", action="store_true", help="a look in a few minutes: gridnav, 3 wishes, 25 exact labels")
    p.add_argument("--jobs", type=int_in(1, 256), default=None,
                   help="cells in parallel processes (default: 1; with --backend ray Ray decides how many run at once)")
    add_backend_options(p)
    p.add_argument("--work", default="runs/benchmark", help="cache folder of the cells (default: runs/benchmark)")
    p.add_argument("--out", default="docs/RESULTS.md", help="Markdown file whose benchmark section is (re)written")
    p.add_argument("--keep-other-envs", action="store_true",
                   help="keep the section's cells of environments this run leaves out (from results/benchmark.json "
                        "next to --out), so an environment can be (re)run on its own grid")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@_command(
    "benchmark",
    "the unseen-wish benchmark: generated wishes x label budgets x label types, the strict claim per cell",
    "Each cell: a generated wish (not a preset), a simulated user labels `budget` stored\n"
    "trajectories, intent models are trained on those labels only, and the rows (static, dynamic,\n"
    "calibrated and the paper's configuration) play the same held-out episodes as the task agent.\n"
    "Writes the benchmark section of --out (between its markers; the rest is kept), and\n"
    "results/benchmark.png and results/benchmark.json next to it. Cells are cached in --work\n"
    "by every input and the code, so a rerun redoes only what changed.\n\n"
    "examples:\n"
    "  dpf benchmark --quick                      # a few minutes: gridnav, 3 wishes, 25 exact labels\n"
    "  dpf benchmark --jobs 2                     # the table of docs/RESULTS.md\n"
    "  dpf benchmark --envs pong --budgets 25 --labels binary --select random,active --jobs 16\n"
    "  dpf benchmark --backend ray --address ray://head:10001  # on a Ray cluster (pip install 'dpf-gui[ray]')",
    _build_benchmark,
)
def cmd_benchmark(args: argparse.Namespace) -> int:
    import platform
    import time

    from dpf_gui.benchmark import DEFAULT_COMBOS, EPISODES, BenchmarkSpec, run_benchmark
    from dpf_gui.benchmark_report import kept_from_previous, write_report

    out = Path(args.out)
    if out.exists() and not out.is_file():
        raise UserError(f"--out {out} is not a file")
    _existing_folder(out.parent, f"--out {out.name}")
    _writable_folder(out.parent if str(out.parent) else Path("."))
    work = Path(args.work)
    if work.exists() and not work.is_dir():
        raise UserError(f"--work {work} is a file; give a folder for the cache")
    episodes = dict(EPISODES)
    for item in args.episodes:
        env, _, n = item.partition("=")
        if env not in episodes or not n.isdigit() or not 1 <= int(n) <= 100_000:
            raise UserError(f"--episodes {item!r}: write ENV=N with ENV one of {', '.join(episodes)} and N in 1..100000")
        episodes[env] = int(n)
    product = any(x is not None for x in (args.budgets, args.labels, args.select))
    spec = BenchmarkSpec(envs=tuple(args.envs), wishes=args.wishes, budgets=tuple(args.budgets or (10, 25, None)),
                         label_types=tuple(args.labels or ("exact",)), selections=tuple(args.select or ("random",)),
                         combos=None if product else DEFAULT_COMBOS, rows=tuple(args.rows), split=args.split,
                         episodes=episodes)
    if args.quick:
        spec = BenchmarkSpec(envs=("gridnav",), wishes=3, budgets=(25,), label_types=("exact",), selections=("random",),
                             rows=("dynamic", "calibrated"), split=args.split, episodes=episodes)
    if args.keep_other_envs:
        kept_from_previous(out, spec)  # a damaged previous report is refused before hours of cells
    workers = use_backend(args)
    t0 = time.time()
    results = run_benchmark(spec, work, jobs=args.jobs, progress=not args.quiet, backend=args.backend)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}, CPU only"
    command = "dpf benchmark " + " ".join(a for a in sys.argv[2:] if a) if sys.argv[1:2] == ["benchmark"] else "dpf benchmark"
    path = write_report(results, spec, out, command.strip(), machine, time.time() - t0, workers,
                        keep_other_envs=args.keep_other_envs, backend=args.backend)
    met = {r: sum(bool(c["claim"][r]["met"]) for c in results if r in c["claim"]) for r in spec.rows}
    print(f"{len(results)} cells; claim met: " + ", ".join(f"{r} {n}" for r, n in met.items()))
    print(f"wrote {path}")
    return 0


# --- dpf study ---------------------------------------------------------------------
STUDY_ACTIONS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def _study_action(name: str, help: str, epilog: str, build: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Callable[[argparse.Namespace], int]):
        STUDY_ACTIONS[name] = (help, epilog, build, fn)
        return fn

    return register


def _build_study(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study_action", metavar="ACTION", parser_class=Parser)
    for name, (help_text, epilog, build, fn) in STUDY_ACTIONS.items():
        q = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text, epilog=epilog,
                           formatter_class=_formatter)
        build(q)
        q.set_defaults(_study_run=fn)


@_command(
    "study",
    "user studies: make a study from a protocol, pilot it with simulated participants, export its data",
    "A study folder is made from a protocol file (TOML: the wish, conditions, order, phase\n"
    "texts, questionnaire; docs/STUDY.md, docs/study_example.toml). Participants get a folder\n"
    "each with an append-only event log; a pilot runs the whole protocol with simulated\n"
    "participants; the export is CSV an analyst can open, with a README of every column.\n\n"
    "examples:\n"
    "  dpf study init docs/study_example.toml --out runs/study\n"
    "  dpf study pilot runs/study --participants 6 --seed 0\n"
    "  dpf study status runs/study\n"
    "  dpf study export runs/study --out runs/study_export.zip\n"
    "  dpf study withdraw runs/study --participant P07",
    _build_study,
)
def cmd_study(args: argparse.Namespace) -> int:
    run = getattr(args, "_study_run", None)
    if run is None:
        raise UserError("give an action: init, pilot, status, export, add or withdraw (see dpf study --help)")
    return int(run(args) or 0)


def _build_study_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("protocol", metavar="PROTOCOL.toml", help="the protocol file (docs/STUDY.md)")
    p.add_argument("--out", required=True, metavar="STUDY_DIR", help="the study folder to make (new or empty)")


@_study_action(
    "init",
    "check a protocol file and make a study folder from it",
    "Every field of the protocol is checked (unknown keys, environments, strategies, orders that\n"
    "cannot be counterbalanced, missing texts, wish expressions, budgets larger than the data);\n"
    "the first mistake is one line naming the field and what is allowed.\n\n"
    "examples:\n"
    "  dpf study init docs/study_example.toml --out runs/study",
    _build_study_init,
)
def cmd_study_init(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import init_study
    from dpf_gui.studies.order import rows_needed

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder; give a new folder for the study")
    _writable_folder(out.absolute().parent)
    study = init_study(args.protocol, out)
    pr = study.protocol
    print(f"made study {out}: {pr.title!r}, {pr.env}, conditions {', '.join(c.name for c in pr.conditions)} "
          f"(order {pr.order}; a balanced set every {rows_needed(pr.order, len(pr.conditions))} participants)")
    if not pr.has_wish_expression:
        print("note: the wish has no region expressions: outcomes are task success only, and a pilot cannot "
              "simulate participants")
    return 0


def _build_study_pilot(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--participants", type=int_in(1, 1000), required=True, metavar="N",
                   help="simulated participants that should have finished (unfinished ones are resumed)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="pilot seed: each simulated participant's seed comes from it")
    add_noise_options(p, "the simulated users' feedback noise (as dpf label; all seeded)")
    p.add_argument("--quiet", action="store_true", help="print nothing but the summary")


@_study_action(
    "pilot",
    "run the whole protocol headless with simulated participants (marked simulated everywhere)",
    "Each simulated participant (sim-001, ...) gets its own seed; a simulated user labels with\n"
    "the protocol's wish expressions at each condition's budget, the intent model trains, the\n"
    "agent plays the watch phase, and a seeded responder answers the questionnaire from what\n"
    "the participant watched (docs/STUDY.md). Interrupted (Ctrl-C, kill), rerun it: each\n"
    "participant continues at the phase it was in. People's data is never touched.\n\n"
    "examples:\n"
    "  dpf study pilot runs/study --participants 6 --seed 0\n"
    "  dpf study pilot runs/study --participants 4 --binary --flip 0.1 --seed 3",
    _build_study_pilot,
)
def cmd_study_pilot(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study
    from dpf_gui.studies.simulate import pilot

    study = Study(args.study)
    noise = noise_from_args(args)
    report = None if args.quiet else (lambda line: print(f"pilot: {line}", flush=True))
    ids = pilot(study, args.participants, seed=args.seed, noise=noise, report=report)
    print(f"{len(ids)} simulated participants finished in {args.study}: {', '.join(ids)}")
    return 0


def _build_study_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--out", required=True, metavar="BUNDLE.zip|DIR", help="a .zip bundle, or a folder (new or empty)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


@_study_action(
    "export",
    "write the study's data as CSV files (results, participants, order, events, marks, answers) with a README",
    "results.csv has one row per participant x condition: outcomes of that participant's agent\n"
    "(scored only by the protocol's wish) and every questionnaire answer. The README in the\n"
    "export describes every column. Safe while participants are in a session (it only reads).\n\n"
    "examples:\n"
    "  dpf study export runs/study --out runs/study_export.zip\n"
    "  dpf study export runs/study --out runs/study_export --force",
    _build_study_export,
)
def cmd_study_export(args: argparse.Namespace) -> int:
    from dpf_gui.studies.export import check_export_out, export_study
    from dpf_gui.studies.folder import Study

    study = Study(args.study)
    out = check_export_out(args.out, args.force)
    _writable_folder(out.absolute().parent)
    path = export_study(study, out, force=args.force)
    print(f"wrote {path}: {len(study.participants())} participants")
    return 0


def _build_study_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")


@_study_action(
    "status",
    "list the study's participants and where each one is",
    "examples:\n  dpf study status runs/study",
    _build_study_status,
)
def cmd_study_status(args: argparse.Namespace) -> int:
    from dpf_gui.studies.export import collect
    from dpf_gui.studies.folder import Study

    study = Study(args.study)
    pr = study.protocol
    print(f"{pr.title} ({pr.env}; conditions {', '.join(c.name for c in pr.conditions)}; order {pr.order})")
    rows = collect(study)["tables"]["participants.csv"][1]
    if not rows:
        print("no participants yet")
    for r in rows:
        kind = "simulated" if r["simulated"] else "person"
        print(f"  {r['number']:>3}  {r['participant']:<12} {kind:<9} order {r['order'].replace(';', ', '):<24} "
              f"{r['status']} ({r['steps_done']}/{r['steps_total']} steps, {r['sessions']} session(s))")
    withdrawn = study.withdrawn()
    if withdrawn:
        print(f"withdrawn (data deleted): {', '.join(str(p['number']) for p in withdrawn)}")
    return 0


def _build_study_summary(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also draw each measure per condition (PNG)")
    p.add_argument("--who", choices=("auto", "people", "pilot"), default="auto",
                   help="whose data: people, the pilot's simulated participants, or auto (people if any; default)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the summary as JSON")
    p.add_argument("--force", action="store_true", help="overwrite --plot / --json if they exist")


@_study_action(
    "summary",
    "per condition: means and 95 % intervals of the outcomes and of each questionnaire item",
    "One value per participant and condition (finished conditions only); Student's t interval\n"
    "over participants. People and simulated participants are never pooled.\n\n"
    "examples:\n"
    "  dpf study summary runs/study --plot runs/study_summary.png\n"
    "  dpf study summary runs/study --who pilot --json summary.json",
    _build_study_summary,
)
def cmd_study_summary(args: argparse.Namespace) -> int:
    from dpf_gui.fileio import write_json_atomic
    from dpf_gui.studies.folder import Study
    from dpf_gui.studies.summary import plot_summary, summarise_study, summary_table

    plot = _check_file_out(args.plot, args.force) if args.plot else None
    json_out = _check_file_out(args.json, args.force) if args.json else None
    study = Study(args.study)
    summary = summarise_study(study, simulated={"auto": None, "people": False, "pilot": True}[args.who])
    print(f"{study.protocol.title}: {summary['who']}, n = {summary['participants']}")
    print(summary_table(summary))
    if plot is not None:
        print(f"wrote {plot_summary(summary, plot, study.protocol.title)}")
    if json_out is not None:
        print(f"wrote {write_json_atomic(json_out, summary)}")
    return 0


def _build_study_participant(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--participant", required=True, metavar="ID", help="pseudonymous participant id (no names)")


@_study_action(
    "add",
    "add a participant (a pseudonymous id); prints their number and condition order",
    "examples:\n  dpf study add runs/study --participant P01",
    _build_study_participant,
)
def cmd_study_add(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study

    p = Study(args.study).add_participant(args.participant)
    print(f"added participant {p['id']}: number {p['number']}, order {', '.join(p['order'])}")
    return 0


@_study_action(
    "withdraw",
    "withdraw a participant: their data is deleted, the withdrawal logged",
    "examples:\n  dpf study withdraw runs/study --participant P01",
    _build_study_participant,
)
def cmd_study_withdraw(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study

    p = Study(args.study).withdraw(args.participant)
    print(f"withdrew participant {p['id']} (number {p['number']}): their data was deleted; the study log "
          "keeps the withdrawal")
    return 0


# --- entry point -------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dpf",
        description="Dynamic Policy Fusion: personalise a trained RL agent from trajectory feedback.",
        epilog="Run `dpf COMMAND --help` for a command's options and examples.",
        formatter_class=_formatter,
    )
    from dpf_gui import __version__

    parser.add_argument("--version", action="version", version=f"dpf-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, fn in COMMANDS.items():
        help_text, epilog, build = fn.cli_spec  # type: ignore[attr-defined]
        # argparse %-formats a command's help line (not its description): "95 % intervals" must not be a format code
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text, epilog=epilog,
                           formatter_class=_formatter)
        build(p)
        p.set_defaults(_run=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command not in ("envs", "merge"):
            # Our networks are tiny: one torch thread is fastest (two were up to 15x
            # slower on a loaded 2-core machine). DPF_TORCH_THREADS overrides.
            import torch

            torch.set_num_threads(_torch_threads())
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"dpf {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"dpf {args.command}: interrupted", file=sys.stderr)
        return 130


def _torch_threads() -> int:
    text = os.environ.get("DPF_TORCH_THREADS", "1")
    try:
        return int_in(1, 1024)(text)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"DPF_TORCH_THREADS={text}: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())

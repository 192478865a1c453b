"""The data commands: ``dpf rollout`` records trajectories, ``dpf label`` has a simulated user label them,
``dpf merge`` joins datasets and carries their labels over, ``dpf suggest`` says which to label next."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dpf_gui.cli.options import (
    MAX_EPISODES,
    SHIPPED_DATA,
    add_noise_options,
    add_wish_options,
    check_file_out,
    command,
    counted,
    episode_count,
    noise_from_args,
    nonneg_int,
    note_unreached,
    pos_int,
    warn_lopsided,
    wish_from_args,
)
from dpf_gui.errors import UserError
from dpf_gui.paths import dataset_path, task_path


# --- dpf rollout ---------------------------------------------------------------
def _build_rollout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="an environment: gridnav, highway, pong or a registered one (dpf envs)")
    p.add_argument("--policy", default="random",
                   help="'random', a task-agent checkpoint directory, or an environment name for its shipped agent "
                        "(default: random)")
    p.add_argument("--episodes", type=episode_count, default=10,
                   help=f"number of episodes, 1..{MAX_EPISODES} (default: 10)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="run seed: fixes every episode's reset seed (default: 0)")
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


@command(
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
    out = check_file_out(args.out, args.force, npz=True)
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
    print(f"wrote {path}: {counted(len(data), 'trajectory')}, {counted(int(data.lengths.sum()), 'decision')}, "
          f"task success {succ:.0%}")
    return 0


# --- dpf label -------------------------------------------------------------------
def _build_label(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help=f"trajectory dataset (.npz) to label; {SHIPPED_DATA}")
    add_wish_options(p, required=True)
    add_noise_options(p, "feedback noise (all seeded)")
    g = p.add_argument_group("a few labels, as a person gives them (default: every trajectory is labelled)")
    g.add_argument("--budget", type=pos_int, default=None, metavar="K", help="label only K trajectories")
    g.add_argument("--select", choices=SELECT_CHOICES, default=None,
                   help="which K: random (seeded), first (dataset order, walking the list) or active (the app's "
                        "suggestions: varied trajectories first, then where the intent models disagree; with "
                        "--feedback ranks the varied ones only, ranked in the order suggested); default: random")
    g.add_argument("--rounds", type=pos_int, default=None, metavar="R",
                   help="label the K in R batches; with active the intent model is retrained after each batch and "
                        "suggests the next (default: with active one batch per 5 marks, as the benchmark and a "
                        "study's participants label; else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (active selection's rounds)")
    g = p.add_argument_group("what the user gives")
    g.add_argument("--feedback", choices=FEEDBACK_CHOICES, default="scores",
                   help="scores: one score per trajectory (default); pairs: comparisons of two trajectories "
                        "('this one is better'), answered from the scores with the noise above; ranks: groups of "
                        "--group trajectories watched together and put in order (every pair within a group a "
                        "comparison; --flip swaps neighbours); segments: a few "
                        "marked stretches per trajectory, as a person marks them in the app (at most 2 per "
                        "trajectory, their ends off by up to one decision; the noise options do not apply)")
    g.add_argument("--pairs", type=pos_int, default=None, metavar="P",
                   help="with --feedback pairs: how many comparisons (default: one per trajectory to choose from)")
    g.add_argument("--group", type=pos_int, default=None, metavar="G",
                   help="with --feedback ranks: trajectories ranked together (default: 5; 25 runs make 5 rankings, "
                        "50 comparisons)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="noise and selection seed (default: 0)")
    p.add_argument("--out", required=True, help="label file to write (.npz)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


SELECT_CHOICES = ("random", "first", "active")  # dpf_gui.selection.SELECT_MODES (checked by a test)
FEEDBACK_CHOICES = ("scores", "pairs", "ranks", "segments")


@command(
    "label",
    "label a dataset's trajectories with a simulated user",
    "A step is marked +1 when it leads into a preferred region, -1 into an\n"
    "avoided one; a trajectory's score is the sum of its marks.\n\n"
    "Region expressions: NAME=V, NAME=V1,V2, NAME=LO..HI (LO.. or ..HI open),\n"
    "terms joined with '&', alternatives with '|'; see `dpf envs` for names and ranges.\n\n"
    "Before labelling, the coverage of each region of the wish is printed: how many\n"
    "stored trajectories enter it; a region (almost) no trajectory enters cannot be\n"
    "learned from labels, and a warning says how to record more varied data.\n\n"
    "examples:\n"
    "  dpf label --data gridnav --preset mixed --seed 0 --out labels.npz\n"
    "  dpf label --data hw.npz --avoid lane=0 --prefer 'lane=2&speed=..25' --out hw_labels.npz\n"
    "  dpf label --data pong.npz --preset avoid --binary --flip 0.1 --skip 0.2 --seed 3 --out l.npz\n"
    "  dpf label --data gridnav --preset mixed --budget 25 --select active \\\n"
    "      --rounds 3 --out few.npz\n"
    "  dpf label --data gridnav --preset avoid --feedback pairs --budget 25 --pairs 40 --flip 0.1 --out pairs.npz\n"
    "  dpf label --data pong --preset avoid --feedback ranks --budget 25 --flip 0.1 --out ranks.npz\n"
    "  dpf label --data gridnav --prefer 'x=6..7&y=8..9' --feedback segments --budget 25 --select active --out s.npz",
    _build_label,
)
def cmd_label(args: argparse.Namespace) -> int:
    from dpf_gui.coverage import everywhere_note, thin_warning, unavoidable_note, wish_coverage
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.registry import DEFAULT_KIND, config_for
    from dpf_gui.oracles import label_dataset

    named, args.data = args.data, str(dataset_path(args.data))
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
    if args.feedback == "ranks" and args.rounds is not None:
        raise UserError("--rounds retrains the suggestions on the scores of each round, and rankings give none: "
                        "drop --rounds (--select active ranks the runs suggested for their variety, in groups)")
    if args.pairs is not None and args.feedback != "pairs":
        raise UserError("--pairs counts comparisons: give --feedback pairs too")
    if args.group is not None and args.feedback != "ranks":
        raise UserError("--group sizes the rankings: give --feedback ranks too")
    if args.group == 1:
        raise UserError("--group 1 ranks each trajectory alone, which compares nothing: give 2 or more (default 5)")
    if args.feedback == "ranks" and (args.binary or args.skip or args.sigma or args.myopic < 1 or args.equal
                                     or args.stochastic):
        raise UserError("--binary, --skip, --sigma, --myopic, --equal and --stochastic change scores; --feedback "
                        "ranks puts runs in order by their scores, with --flip the chance of swapping neighbours "
                        "(drop them, or use --feedback scores or pairs)")
    if args.feedback == "segments" and (args.binary or args.flip or args.skip or args.sigma or args.myopic < 1
                                        or args.equal or args.stochastic):
        raise UserError("--binary, --flip, --skip, --sigma, --myopic, --equal and --stochastic change scores; "
                        "--feedback segments marks stretches exactly (drop them, or use --feedback scores)")
    out = check_file_out(args.out, args.force, npz=True)
    noise = noise_from_args(args)
    for region in wish_coverage(data, wish) if len(data) else []:  # no data: labelling says so
        print(f"coverage: {region.text()}")
        if region.thin:
            print(f"dpf label: warning: {thin_warning(region, data.env_name, named)}", file=sys.stderr)
        elif region.everywhere and args.binary and not args.relative:
            print(f"dpf label: warning: {everywhere_note(region)}: add --relative (signs against a typical "
                  "trajectory), drop --binary (scores count the decisions inside) or use --feedback segments",
                  file=sys.stderr)
        if region.unavoidable:
            print(f"dpf label: warning: {unavoidable_note(region)}", file=sys.stderr)
    if args.feedback == "pairs":
        labels, how = _label_pairs(args, data, wish, noise)
    elif args.feedback == "ranks":
        labels, how = _label_ranks(args, data, wish, noise)
    elif args.feedback == "segments":
        labels, how = _label_segments(args, data, wish)
    elif args.budget is None:
        labels = label_dataset(data, wish, noise, args.seed)
        how = wish.mode
    else:
        from dpf_gui.selection import select_and_label

        select, rounds = _selection(args)
        labels = select_and_label(data, wish, noise, args.budget, select=select, rounds=rounds, seed=args.seed,
                                  progress=not args.quiet)
        how = f"{wish.mode}; {select} selection" + (f" in {rounds} rounds" if rounds > 1 else "")
    labels.meta["data_path"] = str(args.data)
    path = labels.save(out)
    if labels.pairs is not None:
        ties = int((labels.prefer == 0.5).sum())
        print(f"wrote {path}: {len(labels.pairs)} comparisons of {labels.count} trajectories ({how}); {ties} ties")
        print(f"next: dpf train-intent --data {named} --labels {path} --out DIR")
        return 0
    s = labels.scores[labels.labelled]
    print(
        f"wrote {path}: {labels.count} of {len(labels)} trajectories labelled ({how}); "
        f"{len(set(s.tolist()))} different scores, "
        f"mean {s.mean() if len(s) else 0:.2f}, min {s.min() if len(s) else 0:.2f}, max {s.max() if len(s) else 0:.2f}"
    )
    warn_lopsided("dpf label", labels)
    note_unreached("dpf label", data, labels, config_for(DEFAULT_KIND)(),
                   f"an intent trained on these labels as dpf train-intent does by default ({DEFAULT_KIND})")
    print(f"next: dpf train-intent --data {named} --labels {path} --out DIR")
    return 0


def _selection(args: argparse.Namespace) -> tuple[str, int]:
    """``--select`` and ``--rounds`` with their defaults: active selection retrains after every 5 marks, as the
    benchmark's ``active`` cells and a study's participants do (:func:`dpf_gui.selection.active_rounds`)."""
    from dpf_gui.selection import active_rounds

    select = args.select or "random"
    return select, args.rounds or (active_rounds(args.budget) if select == "active" else 1)


def _label_pairs(args: argparse.Namespace, data, wish, noise):
    """Comparisons among every trajectory, or among the --budget chosen by --select (random or first)."""
    from dpf_gui.oracles import label_pairs

    among, selection, how = _compared_among(args, data, wish, noise, f"{wish.mode}; comparisons")
    labels = label_pairs(data, wish, noise, args.seed, count=args.pairs, among=among)
    if selection is not None:
        labels.meta["selection"] = selection
    return labels, how


def _label_ranks(args: argparse.Namespace, data, wish, noise):
    """Every trajectory, or the --budget chosen by --select, ranked in groups of --group: random or first runs
    shuffled into groups; active, the runs "label this next" suggests for their variety, grouped in its order."""
    import numpy as np

    from dpf_gui.oracles import RANK_GROUP, label_ranking, rank_groups
    from dpf_gui.selection import variety_groups

    size = args.group or RANK_GROUP
    if args.select == "active":
        groups = variety_groups(data, args.budget, args.seed, size)
        chosen = [int(i) for group in groups for i in group]
        selection = {"select": "active", "budget": len(chosen), "chosen": chosen, "order": "variety, no model"}
        how = f"{wish.mode}; rankings of {size} among {len(chosen)} suggested for their variety, in the order suggested"
    else:
        among, selection, how = _compared_among(args, data, wish, noise, f"{wish.mode}; rankings of {size}")
        groups = rank_groups(np.arange(len(data)) if among is None else among, size, args.seed)
    labels = label_ranking(data, wish, groups, args.flip, args.seed)
    if selection is not None:
        labels.meta["selection"] = selection
    return labels, how


def _compared_among(args: argparse.Namespace, data, wish, noise, how: str):
    """The trajectories comparisons are drawn among: (None for every one, or the --budget chosen by --select
    random or first; the selection's record or None; ``how`` with the selection said)."""
    from dpf_gui.oracles import label_dataset
    from dpf_gui.selection import keep_chosen

    if args.budget is None:
        return None, None, how
    select = args.select or "random"
    kept = keep_chosen(data, label_dataset(data, wish, noise, args.seed), args.budget, select, 1, args.seed)
    selection = kept.meta["selection"]
    return selection["chosen"], selection, f"{how} among {args.budget} chosen by {select} selection"


def _label_segments(args: argparse.Namespace, data, wish):
    """Marked segments on every trajectory, or on the --budget chosen by --select in --rounds."""
    from dpf_gui.oracles import label_segments
    from dpf_gui.selection import keep_chosen

    labels, how = label_segments(data, wish, args.seed), f"{wish.mode}; marked segments"
    if args.budget is not None:
        select, rounds = _selection(args)
        labels = keep_chosen(data, labels, args.budget, select, rounds, args.seed, progress=not args.quiet)
        how += f"; {select} selection" + (f" in {rounds} rounds" if rounds > 1 else "")
    return labels, how


# --- dpf merge -------------------------------------------------------------------
def _build_merge(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="FILE",
                   help="trajectory dataset (.npz) to merge; give two or more, in the order they are stored; "
                        f"{SHIPPED_DATA}")
    p.add_argument("--out", required=True, help="merged dataset file to write (.npz)")
    p.add_argument("--labels", action="append", default=None, metavar="FILE",
                   help="labels of one of the --data datasets, carried over to the merged one (needs --labels-out)")
    p.add_argument("--labels-out", default=None, metavar="FILE", help="label file to write for the merged dataset")
    p.add_argument("--force", action="store_true", help="overwrite --out and --labels-out if they exist")


@command(
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
    if args.labels is not None and len(args.labels) > 1:  # the last one was carried over, the others dropped silently
        raise UserError(f"--labels given {len(args.labels)} times: a merge carries over the labels of one of its "
                        "inputs; give --labels once")
    args.labels = args.labels[0] if args.labels else None
    if (args.labels is None) != (args.labels_out is None):
        raise UserError("--labels and --labels-out go together: the labels to carry over and where to write them")
    out = check_file_out(args.out, args.force, npz=True)
    labels_out = check_file_out(args.labels_out, args.force, npz=True) if args.labels_out else None
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
    counts = ", ".join(f"{len(p)} from {f}" for p, f in zip(parts, args.data, strict=True))
    print(f"wrote {path}: {counted(len(merged), 'trajectory')} ({counts}), fingerprint {merged.fingerprint()[:12]}")
    if carried is not None:
        carried.meta["data_path"] = str(path)
        print(f"wrote {carried.save(labels_out)}: {carried.count} of {len(carried)} trajectories labelled "
              f"(carried over from {args.labels})")
    return 0


# --- dpf suggest -----------------------------------------------------------------
def _build_suggest(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help=f"trajectory dataset (.npz); {SHIPPED_DATA}")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="the labels so far (a label file of this dataset: the app's Export labels, dpf label, "
                        "dpf merge); they are never suggested again (default: nothing labelled yet)")
    p.add_argument("--intent", default=None, metavar="DIR",
                   help="the intent model trained so far: the trajectories its ensemble's members disagree about "
                        "join the ranking, as in the app after Train (default: none, variety only)")
    p.add_argument("--count", type=pos_int, default=10, help="how many suggestions (default: 10)")
    p.add_argument("--seed", type=nonneg_int, default=0,
                   help="selection seed (default: 0, the app's; dpf label --select active's first round with the "
                        "same seed labels the same trajectories)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")


@command(
    "suggest",
    "list the trajectories most worth labelling next, and why (the app's 'label this next')",
    "The ranking of the app's Annotate view (Enter, the Suggested list, the reason\n"
    "over the player), for a person labelling outside the app or a script studying\n"
    "what the app would have shown: before any label, the most typical run of each of\n"
    "the data's main kinds of run; then runs unlike every labelled one, and, with\n"
    "--intent, runs its ensemble disagrees about (docs/SELECTION.md).\n\n"
    "examples:\n"
    "  dpf suggest --data gridnav\n"
    "  dpf suggest --data gridnav --labels my_labels.npz --intent runs/intent --count 5\n"
    "  dpf suggest --data pong --labels l.npz --json > next.json",
    _build_suggest,
)
def cmd_suggest(args: argparse.Namespace) -> int:
    import json

    from dpf_gui.data.labels import Labels
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.registry import load_intent
    from dpf_gui.selection import suggest

    named, args.data = args.data, str(dataset_path(args.data))
    data = TrajectoryDataset.load(args.data)
    labels = Labels.load(args.labels) if args.labels else None
    if labels is not None:
        labels.check_matches(data, f"labels {args.labels}")
    model = load_intent(args.intent, expect_env=data.env_name)[0] if args.intent else None
    items = suggest(data, labels, model, args.count, seed=args.seed)
    if args.json:
        print(json.dumps([{"rank": r, "trajectory": s.index, "decisions": int(data.lengths[s.index]),
                           "kind": s.kind, "reason": s.reason} for r, s in enumerate(items, 1)], indent=2))
        return 0
    labelled = labels.count if labels is not None else 0
    if not items:
        print(f"nothing to suggest: every trajectory of {named} with decisions is labelled ({labelled})")
        return 0
    print(f"label this next ({named}: {labelled} of {counted(len(data), 'trajectory')} labelled"
          f"{'; with the intent model ' + args.intent if model is not None else ''}):")
    width = len(str(len(data) - 1))
    for r, s in enumerate(items, 1):
        print(f"{r:>3}. trajectory {s.index:>{width}} ({int(data.lengths[s.index])} decisions, {s.kind}): {s.reason}")
    if model is not None and not hasattr(model, "utilities"):
        print("dpf suggest: note: the intent model has no ensemble (the LSTM kind): ranked by variety only",
              file=sys.stderr)
    return 0

"""The commands that play one episode and write it down: ``dpf trace`` (its per-decision traces as CSV) and
``dpf record`` (what the app's Play view shows, as a GIF or MP4)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from dpf_gui.cli.fusion_options import add_fusion_options, calibrated, fusion_overrides
from dpf_gui.cli.options import (
    add_agent_options,
    add_wish_options,
    check_file_out,
    command,
    env_of,
    float_in,
    int_in,
    nonneg_int,
    wish_of_run,
)
from dpf_gui.errors import UserError
from dpf_gui.paths import task_path
from dpf_gui.recorder import mp4_available


# --- the options both commands take ------------------------------------------------
def add_episode_options(p: argparse.ArgumentParser) -> None:
    """Which agents play which episode, the wish it is measured on, and the fusion options."""
    from dpf_gui.strategies import names

    add_agent_options(p, live=True)
    p.add_argument("--strategy", choices=names(live=True),
                   help="strategy to play (default: dynamic with --intent, else task)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="the episode's reset seed (default: 0)")
    add_wish_options(p, required=False)
    add_fusion_options(p)


def _played_agents(args: argparse.Namespace):
    """The task agent, the wish and the fusion parameters' overrides the options give (calibrated first with
    ``--calibrate``), with ``args.env`` and ``args.strategy`` filled in."""
    from dpf_gui.envs import env_class
    from dpf_gui.episode import initial_strategy
    from dpf_gui.pipeline import INTENT_TIP, load_task_agent
    from dpf_gui.strategies import require_intent

    args.env = env_of(args)
    env_class(args.env)
    task = load_task_agent(args.env, task_path(args.task) if args.task else None)
    wish = wish_of_run(args, task)
    overrides = fusion_overrides(args)
    if args.calibrate or args.recalibrate:
        overrides.update(calibrated(args, task, overrides))
    args.strategy = args.strategy or initial_strategy("dynamic", args.intent is not None)
    require_intent([args.strategy], args.intent is not None, INTENT_TIP)
    return task, wish, overrides


# --- dpf trace -------------------------------------------------------------------
def _build_trace(p: argparse.ArgumentParser) -> None:
    add_episode_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="CSV file to write (-: on stdout)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


@command(
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
    if args.out != "-":
        return _trace(args, sys.stdout)
    # --out -: the CSV alone on stdout, for a pipe; everything said on the way goes to stderr
    csv_out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        return _trace(args, csv_out)


def _trace(args: argparse.Namespace, csv_out) -> int:
    from dpf_gui.pipeline import build_agents
    from dpf_gui.trace import play_trace

    out = None if args.out == "-" else check_file_out(args.out, args.force, kind=("CSV", ".csv"))
    task, wish, overrides = _played_agents(args)
    agent = build_agents(task, [args.strategy], intent_dir=args.intent, overrides=overrides, markov=args.markov,
                         progress=False)[args.strategy]
    trace = play_trace(args.env, agent, args.seed, env_config=task.env_config, wish=wish)
    said = (f"{len(trace.rows)} decisions of {args.strategy} on {args.env} (seed {args.seed}), task return "
            f"{sum(r['task_reward'] for r in trace.rows):.2f}")
    if out is None:
        csv_out.write(trace.csv_text())
        print(f"dpf trace: {said}")
    else:
        print(f"wrote {trace.write_csv(out)}: {said}")
    return 0


# --- dpf record ------------------------------------------------------------------
def _build_record(p: argparse.ArgumentParser) -> None:
    add_episode_options(p)
    g = p.add_argument_group("the recording")
    g.add_argument("--episodes", type=int_in(1, 100), default=1,
                   help="episodes to record, one after another, from --seed, --seed + 1, ... (default: 1)")
    g.add_argument("--fps", type=float_in(1.0, 50.0), default=15.0,
                   help="frames per second of the file (1-50; default: 15)")
    g.add_argument("--every", type=int_in(1, 1000), default=1,
                   help="record every N-th decision (and each episode's end): a shorter, faster film of a long "
                        "episode such as Pong's (default: 1, every decision)")
    g.add_argument("--no-overlay", action="store_true",
                   help="the picture alone, without the wish's regions and the intent's saliency drawn over it")
    g.add_argument("--max-frames", type=int_in(10, 20000), default=3000,
                   help="stop the recording after this many frames; a GIF keeps its frames in memory until it is "
                        "written, about 0.3 MB each for Pong (default: 3000)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write: .gif, or .mp4 where the imageio-ffmpeg package is installed")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


@command(
    "record",
    "play episodes and write them as the app's Play view shows them, to an animated GIF (or MP4)",
    "Each frame is the environment's picture with the Play view's overlay (the wish's regions, the intent's\n"
    "saliency) over a strip saying what the fusion did at that decision: strategy, decision, task return, the\n"
    "fusion weight w, the temperature T_psi, the collected intent reward G_t and the task's (blue), the\n"
    "intent's (orange) and the fused (green) action distributions, the action taken in bold. The episodes are\n"
    "the ones `dpf trace` and the app's Play view play from the same seeds. Without a display, without Qt.\n\n"
    "examples:\n"
    "  dpf record --env gridnav --intent runs/intent --preset avoid --seed 3 --out avoid.gif\n"
    "  dpf record --env pong --strategy task --every 4 --out pong_task.gif\n"
    "  dpf record --intent runs/intent --strategy static --episodes 3 --out three.gif",
    _build_record,
)
def cmd_record(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from dpf_gui.back_steps import dithers
    from dpf_gui.episode import EpisodeRunner
    from dpf_gui.episode_recording import record_episodes
    from dpf_gui.intent.registry import load_intent
    from dpf_gui.pipeline import fusion_params

    suffix = Path(args.out).suffix.lower()
    if suffix != ".gif" and (suffix != ".mp4" or not mp4_available()):
        allowed = ".gif or .mp4" if mp4_available() else ".gif (.mp4 needs the imageio-ffmpeg package)"
        raise UserError(f"{Path(args.out).name}: this writes an animated GIF or an MP4 film; give a file name "
                        f"ending in {allowed}")
    out = check_file_out(args.out, args.force)
    task, wish, overrides = _played_agents(args)
    intent = sidecar = None
    if args.intent:
        intent, sidecar = load_intent(args.intent, expect_env=task.env_name)
    runner = EpisodeRunner(args.env, task.env_config, task, intent, sidecar, args.strategy,
                           fusion_params(task, overrides), wish=wish, markov=args.markov)
    seeds = range(args.seed, args.seed + args.episodes)
    try:
        with tqdm(desc=f"recording {args.strategy} on {args.env}", unit=" decisions", leave=False) as bar:
            done = record_episodes(runner, seeds, out, fps=args.fps, every=args.every, overlay=not args.no_overlay,
                                   max_frames=args.max_frames, progress=bar.update)
    finally:
        runner.close()
    for ep in done.episodes:
        ended = {True: "task done", False: "task failed", None: "cut short"}[ep["task_success"]]
        shares = ""
        for part, word in (("prefer", "preferred"), ("avoid", "avoided")):
            share = ep.get(f"{part}_fraction")
            if wish is not None and getattr(wish, part) and share is not None:
                shares += f", {ep[f'{part}_steps']} ({share:.2f}) in {word} regions"
        if dithers(ep["back_steps"], ep["steps"]):  # as the Play view's metrics line says it
            shares += f", back and forth {ep['back_steps']}"
        print(f"seed {ep['seed']}: {ep['steps']} decisions, task return {ep['task_return']:.2f}, {ended}{shares}")
    said = f"wrote {done.path}: {done.frames} frames of {len(done.episodes)} episode(s) of {args.strategy}"
    print(said + (f" (stopped: {done.stopped_because})" if done.stopped_because else ""))
    return 0

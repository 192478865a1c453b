"""The commands that play strategies and report: ``dpf evaluate``, ``dpf results`` and ``dpf benchmark``, with
where their work runs (``--jobs``, ``--backend``); the fusion options and ``--calibrate`` are
:mod:`dpf_gui.cli.fusion_options`, one episode played and written down (``dpf trace``, ``dpf record``)
:mod:`dpf_gui.cli.episodes`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dpf_gui.cli.evaluate_notes import say_against_wish, say_longer_episodes, say_uncalibrated
from dpf_gui.cli.fusion_options import add_fusion_options, add_fusion_parameters, calibrated, fusion_overrides
from dpf_gui.cli.options import (
    MAX_JOBS,
    add_agent_options,
    add_wish_options,
    check_file_out,
    check_markdown_out,
    command,
    env_of,
    episode_count,
    int_in,
    machine_text,
    nonneg_int,
    pos_int,
    regenerate_command,
    wish_of_run,
)
from dpf_gui.cli.run_inputs import (
    budgets,
    csv_of,
    data_files,
    draws,
    episodes_per_env,
    own_wish_lines,
    task_folders,
)
from dpf_gui.errors import UserError
from dpf_gui.paths import task_path

# --- dpf evaluate -----------------------------------------------------------------
#: the benchmark's rows that are no strategy of their own here, and how dpf evaluate plays them
BENCHMARK_ROWS = {"calibrated": "--strategies dynamic --calibrate", "paper": "--strategies dynamic --paper"}


def _strategies(text: str) -> list[str]:
    from dpf_gui.strategies import names as strategy_names

    allowed = strategy_names()
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        row = BENCHMARK_ROWS.get(bad[0]) if bad else None
        hint = f" (the benchmark's {bad[0]} row is {row})" if row else ""
        raise argparse.ArgumentTypeError(f"unknown strategy {bad[0] if bad else text!r}; allowed: "
                                         f"{', '.join(allowed)}{hint}")
    return list(dict.fromkeys(names))


#: what ``dpf evaluate --intent DIR`` plays without ``--strategies``: the paper's comparison, the intent at work
DEFAULT_WITH_INTENT = ("task", "static", "dynamic")


# --- where evaluate, results and benchmark run: --jobs, --backend, --address --------
def add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: --jobs worker processes here (default); ray: every cell or chunk of episodes a Ray "
                        "task, on a cluster with --address (needs pip install 'dpf-gui[ray]'); "
                        "the numbers are the same")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --backend ray, the cluster: ray://HEAD:10001 (Ray Client), HEAD:6379 on one of its "
                        "nodes, or auto (`ray start` on this machine); default: a Ray instance started here with "
                        "--jobs CPUs (all without --jobs)")


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says it, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_backend(args: argparse.Namespace, cells: str | None = None) -> int:
    """Connect ``--backend ray`` before any work (no Ray, a bad address: one line, exit 2) and fill in
    ``--jobs`` (local: 1; ray: the cluster's CPUs, which is how many chunks ``dpf evaluate`` splits episodes
    into). Returns how many items run at once: ``--jobs``, or the cluster's CPUs. For a long run of ``cells``
    left at one worker on a machine with more cores, one line on stderr says that ``--jobs`` would use them
    (``dpf results`` from scratch: 36 min of cells, 5.5 min with ``--jobs 14`` on 16 cores)."""
    if args.address is not None and args.backend != "ray":
        raise UserError("--address names a Ray cluster: give --backend ray too")
    if args.backend != "ray":
        cores = usable_cores()
        if cells and args.jobs is None and cores > 1 and not getattr(args, "quiet", False):
            print(f"dpf {args.command}: one {cells} at a time; this machine has {cores} cores, and --jobs {cores} "
                  f"runs that many at once (the same numbers)", file=sys.stderr)
        args.jobs = args.jobs or 1
        return args.jobs
    from dpf_gui.ray_jobs import connect

    cpus = connect(args.address, cpus=args.jobs if args.address is None else None)
    args.jobs = args.jobs or cpus
    return cpus


def _build_evaluate(p: argparse.ArgumentParser) -> None:
    from dpf_gui.strategies import names

    add_agent_options(p, live=None)
    p.add_argument("--strategies", type=_strategies, default=None,
                   help=f"comma-separated: {','.join(names())} (default: {','.join(DEFAULT_WITH_INTENT)} with "
                        "--intent, else task)")
    p.add_argument("--episodes", type=episode_count, default=100,
                   help="evaluation episodes per strategy (default: 100)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="evaluation seed (held-out episode seeds; default: 0)")
    add_wish_options(p, required=False)
    add_fusion_options(p)
    p.add_argument("--baselines", action="store_true",
                   help="add the environment's baseline rows (highway: constant actions, pong: follow-ball)")
    p.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=None, metavar="N",
                   help=f"worker processes, 1..{MAX_JOBS} (default: 1; with --backend ray the episode chunks, default: "
                        "the cluster's CPUs); the results are the same for any N")
    add_backend_options(p)
    p.add_argument("--json", default=None, metavar="OUT", help="also write the table as JSON")
    p.add_argument("--force", action="store_true", help="overwrite --json if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "evaluate",
    "play strategies on the same held-out episodes and print metrics with 95 % intervals",
    "Metrics: task_success (gridnav goal, highway no crash, pong point won), task_return,\n"
    "length; with a wish prefer_fraction / avoid_fraction (share of decisions leading into\n"
    "the region; the wish given here, else the one recorded with --intent's labels); for fused\n"
    "strategies fusion_weight. JSON: {env, episodes, seed,\n"
    "strategies: {NAME: {METRIC: {mean, ci95: [lo, hi]}}}}.\n\n"
    "examples:\n"
    "  dpf evaluate --env gridnav --strategies task --episodes 100 --seed 0\n"
    "  dpf evaluate --env highway --strategies task --preset avoid --json hw.json\n"
    "  dpf evaluate --env gridnav --intent runs/intent --preset avoid\n"
    "  dpf evaluate --intent runs/intent --calibrate   # the environment and wish the intent was made for",
    _build_evaluate,
)
def cmd_evaluate(args: argparse.Namespace) -> int:
    from dpf_gui.back_steps import time_cost_remedy
    from dpf_gui.checkpoints import read_sidecar
    from dpf_gui.envs import env_class
    from dpf_gui.evaluate import evaluate
    from dpf_gui.pipeline import build_agents, load_task_agent

    args.env = env_of(args)
    env_class(args.env)
    json_out = check_file_out(args.json, args.force, kind=("JSON", ".json")) if args.json else None
    use_backend(args)
    task = load_task_agent(args.env, task_path(args.task) if args.task else None)
    wish = wish_of_run(args, task)
    overrides = fusion_overrides(args)
    if args.calibrate or args.recalibrate:
        overrides.update(calibrated(args, task, overrides))
    strategies = args.strategies or (list(DEFAULT_WITH_INTENT) if args.intent else ["task"])
    agents = build_agents(task, strategies, intent_dir=args.intent, overrides=overrides, markov=args.markov,
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
    from dpf_gui.strategies import get, names

    # what each row is, for a reader who has not read METHOD.md (static fusion losing every Pong point reads as
    # the method failing unless the table says static is the fixed-weight baseline)
    print("rows: " + "; ".join(f"{name}: {get(name).title}" if name in names() else name
                               for name in result.strategies))
    say_against_wish(result.strategies)
    say_longer_episodes(result.strategies, time_cost_remedy(read_sidecar(args.intent)) if args.intent else None)
    say_uncalibrated(args, task, overrides, result.strategies)
    if json_out is not None:
        print(f"wrote {result.save(json_out)}")
    return 0


# --- dpf results ------------------------------------------------------------------
def _build_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--envs", default="gridnav,highway,pong", help="comma-separated environments (default: all three)")
    p.add_argument("--modes", default="avoid,prefer,mixed,custom",
                   help="comma-separated wishes: the presets avoid, prefer, mixed and 'custom' (a non-preset wish per "
                        "environment, see dpf_gui/results.py); default: all four")
    p.add_argument("--episodes", type=pos_int, default=200, help="evaluation episodes per strategy (default: 200)")
    p.add_argument("--highway-episodes", type=pos_int, default=60,
                   help="episodes per strategy on highway (slow simulator; default: 60)")
    p.add_argument("--efficiency", default="gridnav,highway",
                   help="environments for the label-efficiency study ('' for none; default: gridnav,highway)")
    p.add_argument("--efficiency-episodes", type=pos_int, default=30,
                   help="episodes per label-efficiency point (default: 30)")
    p.add_argument("--seed", type=nonneg_int, default=0,
                   help="labels, intent training and evaluation seed (default: 0)")
    p.add_argument("--work", default="runs/results",
                   help="cache folder for intent models, retrained references and cell results (default: runs/results)")
    p.add_argument("--out", default="docs/RESULTS.md",
                   help="Markdown report to write (plots go to its folder's results/); a report this command wrote "
                        "is regenerated in place, keeping the notes below its notes marker; any other existing file "
                        "needs --force")
    p.add_argument("--force", action="store_true", help="overwrite --out even if it is not a report this command wrote")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report from the cached cells")
    p.add_argument("--task", action="append", default=[], metavar="ENV=DIR",
                   help="run the grid on your own task agent of ENV (a checkpoint folder with its trajectories, as "
                        "`dpf train-task` writes) instead of the shipped one; repeat for several environments (Ray "
                        "tasks get a copy of the folder)")
    p.add_argument("--jobs", type=int_in(1, 256), default=None,
                   help="cells in parallel worker processes, one torch thread each (default: 1; with --backend ray Ray "
                        "decides how many run at once); the numbers are the same for any N")
    add_backend_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@command(
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
    import time

    from dpf_gui.benchmark_report import duration
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
    if not envs and not efficiency and not args.report_only:  # it ran nothing, then blamed --report-only
        raise UserError("--envs and --efficiency name no environment: nothing to run (name at least one, e.g. "
                        "--envs gridnav)")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in (*MODES, CUSTOM)]
    if bad:
        raise UserError(f"unknown wish {bad[0]!r}; allowed: {', '.join((*MODES, CUSTOM))}")
    work = Path(args.work)
    if work.exists() and not work.is_dir():
        raise UserError(f"--work {work} is a file, not a folder of results (give a folder; it is created if missing)")
    if args.report_only and not work.is_dir():
        raise UserError(f"--work {work}: no such folder of results (run `dpf results` without --report-only first)")
    # checked before the cells run, not after an hour of them
    out, text = check_markdown_out(args.out, "dpf results")
    if text and not args.force and NOTES_MARKER not in text:
        raise UserError(f"--out {out} exists and is not a report `dpf results` wrote (no notes marker); "
                        "pass --force to overwrite it")
    tasks = task_folders(args.task, list(dict.fromkeys(envs + efficiency)))
    if tasks and args.report_only:
        raise UserError("--task chooses the agent the cells run with; --report-only runs none (leave one out)")
    if not args.report_only:
        use_backend(args, cells="cell")
        jobs = [(f"cell {env_name}/{mode}", run_cell, env_name, mode,
                 args.highway_episodes if env_name == "highway" else args.episodes)
                for env_name in envs for mode in modes]
        jobs += [(f"label efficiency {env_name}/mixed", run_efficiency, env_name, "mixed", args.efficiency_episodes)
                 for env_name in efficiency]
        where = "the cells running"
        try:
            if args.jobs > 1 or args.backend == "ray":  # the bar counts the cells and shows the time left
                from dpf_gui.parallel import map_jobs

                items = [(run, env_name, mode, episodes, args.seed, work, tasks.get(env_name))
                         for _what, run, env_name, mode, episodes in jobs]
                outs = map_jobs(run_results_job, items, jobs=args.jobs, progress=not args.quiet, desc="dpf results",
                                unit="cell", backend=args.backend, shared=tuple(tasks.values()),
                                on_result=((lambda i, out: keep_job_result(items[i], out))
                                           if args.backend == "ray" else None))
                for (what, *_), cell_out in zip(jobs, outs, strict=True):
                    print(f"{what}: {cell_out.get('total_s', 0):.0f} s", flush=True)
            else:
                done: list[tuple[str, float]] = []
                for k, (what, run, env_name, mode, episodes) in enumerate(jobs):
                    t0, where = time.time(), what
                    run(env_name, mode, episodes, args.seed, work, progress=not args.quiet,
                        task_dir=tasks.get(env_name))
                    done.append((env_name, time.time() - t0))
                    left = remaining_seconds(done, [job[2] for job in jobs[k + 1:]])
                    eta = f"; about {duration(left)} left, judged by the cells done so far" if left > 0 else ""
                    print(f"{what}: {done[-1][1]:.0f} s ({k + 1} of {len(jobs)} done{eta})", flush=True)
        except KeyboardInterrupt:
            print(f"dpf results: interrupted in {where} (seed {args.seed}): its unfinished work was discarded and no "
                  "report written; rerun the command to redo it (finished intent models are reused)", file=sys.stderr)
            return 130
    path, unreadable = write_report(work, out, ["gridnav", "highway", "pong"], "dpf results", machine_text())
    for bad_file in unreadable:
        print(f"dpf results: left out {bad_file}: unreadable or incomplete; rerun that cell to redo it",
              file=sys.stderr)
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


# --- dpf benchmark -----------------------------------------------------------------
#: where ``dpf benchmark`` writes its section by default: the results page of a clone of this repository
BENCHMARK_OUT = "docs/RESULTS.md"


def benchmark_out(path: str) -> Path:
    """``--out`` of ``dpf benchmark``, checked before any cell runs (:func:`check_markdown_out`); outside a clone the
    default page's folder is missing, and the message says it was the default."""
    if path == BENCHMARK_OUT and not Path(path).parent.is_dir():
        raise UserError(f"--out defaults to {BENCHMARK_OUT} (the results page of a clone of this repository) and "
                        f"there is no {Path(path).parent} folder here: give --out FILE.md")
    return check_markdown_out(path, "dpf benchmark")[0]


def _build_benchmark(p: argparse.ArgumentParser) -> None:
    from dpf_gui.benchmark import BASELINE_EPISODES, EPISODES, LABEL_TYPES, ROWS, SELECTIONS, SPLITS

    p.add_argument("--envs", type=csv_of(("gridnav", "highway", "pong"), "environment"),
                   default=None, help="comma-separated environments (default: all three)")
    p.add_argument("--wishes", type=int_in(1, 64), default=None,
                   help="generated wishes per environment (default: 8)")
    g = p.add_argument_group("the cells of every wish (default: 10 and 25 exact and binary, 25 active exact and "
                                 "binary, 100 and every label exact; giving any of these runs their product)")
    g.add_argument("--budgets", type=budgets, default=None,
                   help="label budgets, 'all' = every trajectory (e.g. 10,25,all)")
    g.add_argument("--labels", type=csv_of(LABEL_TYPES, "label type"), default=None,
                   help=f"label types: {', '.join(LABEL_TYPES)}")
    g.add_argument("--select", type=csv_of(SELECTIONS, "selection"), default=None,
                   help=f"which trajectories get labelled: {', '.join(SELECTIONS)}")
    p.add_argument("--rows", type=csv_of(ROWS, "row"), default=None, help=f"rows per cell (default: {','.join(ROWS)})")
    p.add_argument("--split", choices=tuple(SPLITS), default="report",
                   help="report: wishes, labels and episodes never used for tuning (default); dev: the tuning split")
    p.add_argument("--episodes", type=csv_of(None, "episodes"), default=(),
                   help="held-out episodes per row as ENV=N, comma-separated "
                        f"(default: {','.join(f'{env}={n}' for env, n in EPISODES.items())})")
    p.add_argument("--baseline", type=csv_of(None, "baseline"), default=(),
                   help="the task agent's held-out episodes behind the claim's baseline as ENV=N, the rows' episodes "
                        "first and never fewer (default: "
                        f"{','.join(f'{env}={n}' for env, n in BASELINE_EPISODES.items())})")
    p.add_argument("--draw", type=draws, default=(0,), metavar="D",
                   help="other draws of the simulated user's labels, of the trajectories chosen for them and of "
                        "the seeds that train and calibrate on them, the wishes and held-out episodes the same: how "
                        "much a cell's result owes to its draw. One, a list or a range (1, 0,1,2 or 0-2): each "
                        "draw is a cell of its own and the report adds their counts up (default: 0, the published "
                        "draw)")
    p.add_argument("--task", action="append", default=[], metavar="ENV=DIR",
                   help="benchmark your own task agent of ENV (a checkpoint folder with its trajectories, as "
                        "`dpf train-task` writes) instead of the shipped one; repeat for several environments (Ray "
                        "tasks get a copy of the folder)")
    p.add_argument("--data", action="append", default=[], metavar="ENV=FILE",
                   help="label and train on these trajectories of ENV instead of the task agent's own (e.g. the "
                        "shipped ones merged with more varied ones: `dpf rollout --explore`, `dpf merge`); repeat for "
                        "several environments (Ray tasks get a copy of the file)")
    p.add_argument("--wish", action="append", default=[], metavar="WISH",
                   help="your own wish instead of generated ones, as `dpf envs` writes a wish on one line ('prefer "
                        "lane=2; avoid lane=0 | speed=..20') or a preset's name; repeat for several; one environment "
                        "in --envs (not with --wishes, which counts generated wishes)")
    p.add_argument("--quick", action="store_true", help="a look in a few minutes: gridnav, 3 wishes, 25 exact labels")
    add_fusion_parameters(p, "fusion parameters of the static, dynamic and calibrated rows, in every cell (default: "
                             "stored with each task agent; the paper row keeps the paper's; calibrated chooses its "
                             "own strength and c)")
    p.add_argument("--intent-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the additive intent's config in every cell, as dpf train-intent --set "
                        "does (repeatable), e.g. time_cost=0.5; the paper row's LSTM keeps its own")
    p.add_argument("--jobs", type=int_in(1, 256), default=None,
                   help="cells in parallel processes (default: 1; with --backend ray Ray decides how many run at once)")
    add_backend_options(p)
    p.add_argument("--work", default="runs/benchmark", help="cache folder of the cells (default: runs/benchmark)")
    p.add_argument("--out", default=BENCHMARK_OUT, help=f"Markdown file whose benchmark section is (re)written "
                                                        f"(default: {BENCHMARK_OUT}, this repository's results page)")
    p.add_argument("--keep-other-envs", action="store_true",
                   help="keep the section's cells of environments this run leaves out (from results/benchmark.json "
                        "next to --out), so an environment can be (re)run on its own grid")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def intent_overrides(sets: list[str]) -> dict[str, Any]:
    """``--intent-set`` as the additive intent config's changed fields, typed and checked before any cell runs."""
    from dpf_gui.intent.additive_config import AdditiveConfig
    from dpf_gui.overrides import config_from_sets, parse_sets

    given = parse_sets(sets, "--intent-set")
    config = config_from_sets(AdditiveConfig, given, what="--intent-set: additive intent config")
    return {key: getattr(config, key) for key in given}


@command(
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
    import time

    from dpf_gui.benchmark import (
        BASELINE_EPISODES,
        DEFAULT_COMBOS,
        EPISODES,
        ROWS,
        BenchmarkSpec,
        run_benchmark,
    )
    from dpf_gui.benchmark_report import kept_from_previous, misses_line, write_report
    from dpf_gui.fusion_params import FusionParams

    out = benchmark_out(args.out)
    work = Path(args.work)
    if work.exists() and not work.is_dir():
        raise UserError(f"--work {work} is a file; give a folder for the cache")
    episodes = episodes_per_env("--episodes", args.episodes, EPISODES)
    baseline = episodes_per_env("--baseline", args.baseline, BASELINE_EPISODES)
    product = any(x is not None for x in (args.budgets, args.labels, args.select))
    if args.wish and args.wishes is not None:
        raise UserError("--wishes counts generated wishes and --wish gives your own: use one of them")
    grid = [option for option, value in (("--envs", args.envs), ("--wishes", args.wishes), ("--budgets", args.budgets),
                                         ("--labels", args.labels), ("--select", args.select), ("--rows", args.rows))
            if value is not None]
    if args.quick and grid:  # --quick's grid replaced them silently: --quick --envs pong ran gridnav
        raise UserError(f"--quick is its own grid (gridnav, 3 wishes, 25 exact labels, rows dynamic and calibrated) "
                        f"and would ignore {', '.join(grid)}: leave out --quick to choose the grid, or those options")
    intent = intent_overrides(args.intent_set)
    spec = BenchmarkSpec(envs=tuple(args.envs or ("gridnav", "highway", "pong")), wishes=args.wishes or 8,
                         budgets=tuple(args.budgets or (10, 25, None)),
                         label_types=tuple(args.labels or ("exact",)), selections=tuple(args.select or ("random",)),
                         combos=None if product else DEFAULT_COMBOS, rows=tuple(args.rows or ROWS), split=args.split,
                         episodes=episodes, baseline=baseline, fusion=fusion_overrides(args), draws=args.draw,
                         intent=intent)
    if "pairs" in spec.label_types and "active" in spec.selections:
        raise UserError("--labels pairs draws its comparisons among randomly chosen trajectories and cannot go with "
                        "--select active (\"label this next\" ranks trajectories to score): use --select random")
    if args.quick:
        spec = BenchmarkSpec(envs=("gridnav",), wishes=3, budgets=(25,), label_types=("exact",), selections=("random",),
                             rows=("dynamic", "calibrated"), split=args.split, episodes=episodes, baseline=baseline,
                             fusion=fusion_overrides(args), draws=args.draw, intent=intent)
    spec.tasks = task_folders(args.task, spec.envs)
    spec.data = data_files(args.data, spec)
    spec.own_wishes = own_wish_lines(args.wish, spec, args.quick)
    FusionParams().with_overrides(spec.fusion)  # a value out of range is said now, not in the first cell
    if args.keep_other_envs:
        kept_from_previous(out, spec)  # a damaged previous report is refused before hours of cells
    workers = use_backend(args, cells="cell")
    t0 = time.time()
    cached: dict[str, int] = {}
    try:
        results = run_benchmark(spec, work, jobs=args.jobs, progress=not args.quiet, backend=args.backend,
                                cached=cached)
    except KeyboardInterrupt:
        print(f"dpf benchmark: interrupted: the cells that finished are cached in {work}, the unfinished ones were "
              "discarded and no report was written; run the same command again to go on (finished cells are read "
              "back, not recomputed)", file=sys.stderr)
        return 130
    command = regenerate_command(getattr(args, "_argv", ["benchmark"]))
    path = write_report(results, spec, out, command, machine_text(), time.time() - t0, workers,
                        keep_other_envs=args.keep_other_envs, backend=args.backend, cached=cached)
    met = {r: sum(bool(c["claim"][r]["met"]) for c in results if r in c["claim"]) for r in spec.rows}
    print(f"{len(results)} cells; claim met: " + ", ".join(f"{r} {n}" for r, n in met.items()))
    if line := misses_line(results, spec.rows):
        print(line)
    print(f"wrote {path}")
    return 0


# --- dpf study ---------------------------------------------------------------------

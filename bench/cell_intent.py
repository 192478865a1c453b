"""A benchmark cell's intent, trained outside the benchmark exactly as ``dpf benchmark`` trains it (for bench
scripts that replay or probe one cell; nothing cached)."""

from __future__ import annotations


def split_wishes(env: str, split: str, count: int):
    """``(task, data, wishes)``: the shipped task agent, its stored trajectories and the split's ``count``
    generated wishes by name, as ``dpf benchmark`` generates them (from the task agent's probe episodes)."""
    from dpf_gui import benchmark as B
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.evaluate import play_records
    from dpf_gui.fusion import FusedAgent
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.rollout import episode_seeds

    task = load_task_agent(env)
    data = TrajectoryDataset.load(task.dataset_path, expect_env=env)
    probe = play_records(env, FusedAgent(task, "task"),
                         episode_seeds(B.SPLITS[split].probe_seed, B.PROBE_EPISODES[env], held_out=True),
                         task.env_config)
    return task, data, {w.name: w for w in B.split_wishes(env, data, probe, count, split)}


def train_cell_intent(task, data, generated, split: str, budget: int, labels: str, select: str = "random",
                      draw: int = 0):
    """``(wish, seed, chosen, trained)``: the cell's wish, its label seed, the labels of the trajectories chosen
    by ``select`` (on draw ``draw`` of labels) and the additive intent trained on them, as ``dpf_gui.benchmark``
    computes a cell."""
    from dpf_gui.benchmark import cell_labels
    from dpf_gui.intent.additive import AdditiveConfig
    from dpf_gui.intent.registry import train_intent

    wish, seed, chosen = cell_labels(task, data, generated, split, budget, labels, select, draw)
    return wish, seed, chosen, train_intent(data, chosen, seed, config=AdditiveConfig(), progress=False)


def fused_agent(task, trained, params, seed: int):
    """Dynamic fusion of ``task`` with a :func:`train_cell_intent` model at ``params``."""
    from dpf_gui.fusion import FusedAgent, intent_scale, intent_unit

    return FusedAgent(task, "dynamic", params, intent=trained.model, intent_scale=intent_scale(trained.sidecar),
                      intent_unit=intent_unit(trained.sidecar), seed=seed)


def add_cell_arguments(parser, episodes: int) -> None:
    """The options naming one benchmark cell and the strength and c to play its intent at (bench scripts that
    replay a calibrated cell share them)."""
    parser.add_argument("--env", default="highway")
    parser.add_argument("--split", default="dev", choices=("dev", "report"))
    parser.add_argument("--wishes", type=int, default=8)
    parser.add_argument("--wish", required=True, help="the cell's wish name, e.g. w03-avoid")
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument("--labels", default="exact")
    parser.add_argument("--strength", type=float, required=True)
    parser.add_argument("--c", type=float, required=True)
    parser.add_argument("--episodes", type=int, default=episodes)
    parser.add_argument("--work", default="runs/benchmark", help="the benchmark's cache (the task agent's episodes)")


def cell_agents(args, fusion: dict | None = None):
    """``(ctx, fused)``: the benchmark's context for ``args.env`` and the cell's intent (trained as the benchmark
    trains it) fused with its task agent at ``args.strength`` and ``args.c`` (and the ``fusion`` overrides)."""
    from dataclasses import replace
    from pathlib import Path

    from dpf_gui import benchmark as B
    from dpf_gui.pipeline import fusion_params

    spec = B.BenchmarkSpec(envs=(args.env,), split=args.split, wishes=args.wishes, budgets=(args.budget,),
                           label_types=(args.labels,), selections=("random",), rows=("calibrated",),
                           fusion=fusion or {})
    ctx = B.env_context(args.env, spec, Path(args.work))
    cell = next(c for c in B.cells_of(ctx, spec) if c.wish.name == args.wish)
    _, seed, _, trained = train_cell_intent(ctx.task, ctx.data, cell.wish, args.split, args.budget, args.labels)
    params = replace(fusion_params(ctx.task, spec.fusion), strength=args.strength, c=args.c)
    return ctx, fused_agent(ctx.task, trained, params, seed)

"""What ``dpf results`` and ``dpf benchmark`` are given, parsed and checked before any cell runs: lists of
environments, budgets and draws, a lab's own task agents (``--task``) and trajectories (``--data``), wishes a
person wrote (``--wish``) and per-environment episode counts. A mistake is one line (exit 2), not an hour of cells
later."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dpf_gui.errors import UserError


def csv_of(allowed: Sequence[str] | None, what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type for a comma-separated list, each item one of ``allowed`` (any when None), repeats dropped."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
        bad = [t for t in items if allowed is not None and t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown {what} {bad[0] if bad else text!r}; "
                                             f"allowed: {', '.join(allowed or ())}")
        return items

    return parse


def budgets(text: str) -> tuple[int | None, ...]:
    """``--budgets``: label counts, ``all`` for every trajectory (None)."""
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


def draws(text: str) -> tuple[int, ...]:
    """Draws of labels: ``D``, a comma-separated list or a range ``A-B``, each 0..999."""
    out: list[int] = []
    for t in (t.strip() for t in text.split(",") if t.strip()):
        first, dash, last = t.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise argparse.ArgumentTypeError(f"label draw {t!r} is not a whole number or a range A-B; "
                                             "e.g. 1, 0,1,2 or 0-2")
        lo, hi = int(first), int(last) if dash else int(first)
        if not 0 <= lo <= hi <= 999:
            raise argparse.ArgumentTypeError(f"label draw {t!r} is out of range; allowed: 0..999, a range low to "
                                             "high")
        out += range(lo, hi + 1)
    if not out:
        raise argparse.ArgumentTypeError("no label draw given; e.g. 1, 0,1,2 or 0-2")
    return tuple(dict.fromkeys(out))


def _env_items(option: str, items: Sequence[str], envs: Sequence[str], value: str, what: str, one: str,
               check: Callable[[str, str], None]) -> dict[str, str]:
    """``ENV=VALUE`` items of ``option``: each ENV one of ``envs``, once, and ``check(env, value)`` passing (a
    UserError it raises is named after its item); ``{env: resolved path}``."""
    out: dict[str, str] = {}
    for item in items:
        env, _, given = item.partition("=")
        if env not in envs or not given:
            raise UserError(f"{option} {item!r}: write ENV={value} with ENV one of this run's environments "
                            f"({', '.join(envs)}) and {value} {what}")
        if env in out:
            raise UserError(f"{option} names {env} twice; give {one} per environment")
        try:
            check(env, given)
        except UserError as exc:
            raise UserError(f"{option} {item}: {exc}") from None
        out[env] = str(Path(given).resolve())
    return out


def task_folders(items: Sequence[str], envs: Sequence[str]) -> dict[str, str]:
    """``--task ENV=DIR`` items: each ENV one of the run's environments, once, and DIR a task agent of ENV (loaded
    now, so that a wrong folder is said before any cell runs)."""
    from dpf_gui.pipeline import load_task_agent

    return _env_items("--task", items, envs, "DIR", "a task-agent folder", "one task agent", load_task_agent)


def data_files(items: Sequence[str], spec) -> dict[str, str]:
    """``--data ENV=FILE`` items: each ENV one of the run's environments, once, and FILE trajectories of ENV that
    its task agent can be fused over (loaded now, so that a wrong file is said before any cell runs)."""
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.session.workspace import check_task_matches

    def check(env: str, path: str) -> None:
        check_task_matches(load_task_agent(env, spec.tasks.get(env)), TrajectoryDataset.load(path, expect_env=env),
                           path)

    return _env_items("--data", items, spec.envs, "FILE", "a trajectory file (.npz)", "one trajectory file", check)


def own_wish_lines(lines: Sequence[str], spec, quick: bool) -> tuple[str, ...]:
    """``--wish`` lines, checked now against the run's one environment (a mistake is said before any cell runs);
    a region few stored trajectories enter gets a warning, since few labels can then say anything about it."""
    from dpf_gui.benchmark import own_wishes
    from dpf_gui.coverage import THIN_TRAJECTORIES
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.pipeline import load_task_agent

    if not lines:
        return ()
    if quick:
        raise UserError("--quick plays generated wishes; leave it out to benchmark your own with --wish")
    if len(spec.envs) != 1:
        raise UserError(f"--wish is about one environment: give it with --envs (this run has {', '.join(spec.envs)})")
    env = spec.envs[0]
    task = load_task_agent(env, spec.tasks.get(env))
    data = TrajectoryDataset.load(spec.data.get(env) or task.dataset_path, expect_env=env)
    for wish in own_wishes(env, data, lines):
        for region, seen in wish.coverage.items():
            if seen["trajectories"] < THIN_TRAJECTORIES:
                print(f"dpf benchmark: warning: {wish.name} ({wish.text()}): {seen['trajectories']} of "
                      f"{seen['of_trajectories']} stored trajectories enter {region}, so its labels can hardly "
                      "teach it", file=sys.stderr)
    return tuple(lines)


def episodes_per_env(option: str, items: Sequence[str], defaults: dict[str, int]) -> dict[str, int]:
    """``ENV=N`` items over the defaults, N in 1..100000."""
    out = dict(defaults)
    for item in items:
        env, _, n = item.partition("=")
        if env not in out or not n.isdigit() or not 1 <= int(n) <= 100_000:
            raise UserError(f"{option} {item!r}: write ENV=N with ENV one of {', '.join(out)} and N in 1..100000")
        out[env] = int(n)
    return out

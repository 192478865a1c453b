"""How much can a yes/no mark say? The share of stored trajectories at the most common sign of each benchmark
wish's true score, and of its relative marks (``--binary --relative``: the sign against a typical trajectory).

A binary label is the sign of the score (-1, 0, +1), one in ten flipped (a flip leaves 0 at 0). Where the
common sign is -1 or +1 and covers about 90 % of the data or more, 25 random marks hold about as many flipped
marks as true marks of the other kind, so they teach mostly the flips (docs/EXPERIMENTS.md, "Binary
labels, 10 labels and every label on today's code"). Generates the wishes as the benchmark does, playing the
task agent's probe and held-out episodes into ``--work`` (6.5 min from scratch for all three on the 2-core AMD
EPYC beside other work, most of it highway; seconds with ``--work runs/benchmark`` after a benchmark run); no
training.

    python bench/label_signs.py                         # report split, all three environments
    python bench/label_signs.py --envs pong --split dev --work runs/benchmark
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from dpf_gui.benchmark import SPLITS, BenchmarkSpec, env_context
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.pipeline import task_region_features


def _shares(signs: np.ndarray) -> dict[int, float]:
    values, counts = np.unique(signs, return_counts=True)
    return {int(v): float(c) / len(signs) for v, c in zip(values, counts, strict=True)}


def sign_shares(env_name: str, split: str, wishes: int,
                work: Path) -> list[tuple[str, dict[int, float], dict[int, float]]]:
    """(wish name, share at each sign, share at each relative sign) for the split's generated wishes, noise-free."""
    ctx = env_context(env_name, BenchmarkSpec(envs=(env_name,), split=split, wishes=wishes), work)
    features = task_region_features(ctx.task)
    rows = []
    for w in ctx.wishes:
        wish = w.wish(features)
        plain = label_dataset(ctx.data, wish, FeedbackNoise(binary=True), 0).scores
        relative = label_dataset(ctx.data, wish, FeedbackNoise(binary=True, relative=True), 0).scores
        rows.append((w.name, _shares(plain), _shares(relative)))
    return rows


def _text(shares: dict[int, float]) -> str:
    each = ", ".join(f"{'+' if v > 0 else '-' if v < 0 else '0'} {s:.3f}" for v, s in shares.items())
    return f"{max(shares.values()):.2f} ({each})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default="gridnav,highway,pong", help="comma-separated environments")
    ap.add_argument("--split", choices=sorted(SPLITS), default="report")
    ap.add_argument("--wishes", type=int, default=8)
    ap.add_argument("--work", default=None, help="cache folder (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        for env_name in args.envs.split(","):
            for name, plain, relative in sign_shares(env_name, args.split, args.wishes, work):
                print(f"{env_name} {name}: most common sign {_text(plain)}; relative {_text(relative)}")


if __name__ == "__main__":
    main()

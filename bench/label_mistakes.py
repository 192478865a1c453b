"""How often does a simulated yes/no teacher mark a trajectory the wrong way round? Uniform flips (the benchmark's
``binary``, 10 %) against mistakes on close calls (``FeedbackNoise.stochastic`` T, B-Pref's stochastic teacher).

The share of the stored trajectories whose given sign differs from the sign of their true score, per generated
wish of the split, for the label seed the benchmark's cells use. The benchmark's ``binary-stochastic`` temperature
(``benchmark.STOCHASTIC_T``) was chosen with this on the dev split only. Plays the task agent's probe episodes
(the wish generator reads them) into ``--work``; seconds on gridnav and Pong, a minute on highway.

    python bench/label_mistakes.py --envs gridnav,pong --split dev
    python bench/label_mistakes.py --temperatures 0.1,0.2 --work runs/benchmark
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from dpf_gui.benchmark import PROBE_EPISODES, SPLITS, split_wishes
from dpf_gui.cache import code_fingerprint
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.evaluate import task_records
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.pipeline import load_task_agent, task_region_features


def mistake_shares(env_name: str, split: str, wishes: int, temperatures: list[float],
                   work: Path) -> list[tuple[str, float, list[float]]]:
    """(wish name, share wrong with 10 % flips, share wrong at each temperature) for the split's wishes."""
    task = load_task_agent(env_name)
    data = TrajectoryDataset.load(task.dataset_path, expect_env=env_name)
    base = {"env": env_name, "task": task.sidecar.get("weights_sha256"), "data": data.fingerprint(),
            "code": code_fingerprint()}
    s = SPLITS[split]
    probe = task_records(env_name, task, s.probe_seed, PROBE_EPISODES[env_name], work, base, False)
    features = task_region_features(task)
    rows = []
    for w in split_wishes(env_name, data, probe, wishes, split):
        wish = w.wish(features)

        def wrong(noise: FeedbackNoise, wish=wish) -> float:
            labels = label_dataset(data, wish, noise, s.label_seed)
            return float(np.mean(labels.scores != np.sign(labels.true_scores)))

        rows.append((w.name, wrong(FeedbackNoise(binary=True, flip=0.1)),
                     [wrong(FeedbackNoise(binary=True, stochastic=t)) for t in temperatures]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default="gridnav,highway,pong", help="comma-separated environments")
    ap.add_argument("--split", choices=sorted(SPLITS), default="dev")
    ap.add_argument("--wishes", type=int, default=8)
    ap.add_argument("--temperatures", default="0.05,0.1,0.2,0.3", help="comma-separated values of T")
    ap.add_argument("--work", default=None, help="cache folder (default: a temporary one)")
    args = ap.parse_args()
    temperatures = [float(t) for t in args.temperatures.split(",")]
    print(f"share of trajectories marked the wrong way round ({args.split} split): 10 % flips | "
          + " | ".join(f"T {t:g}" for t in temperatures))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        for env_name in args.envs.split(","):
            for name, flips, stochastic in mistake_shares(env_name, args.split, args.wishes, temperatures, work):
                print(f"{env_name} {name}: {flips:.3f} | " + " | ".join(f"{x:.3f}" for x in stochastic))


if __name__ == "__main__":
    main()

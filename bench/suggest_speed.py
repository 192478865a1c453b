"""How long the Annotate view would wait for "label this next" suggestions.

Target (issue 11): under 1 s for 2000 trajectories on a 2-core CPU. Pong's
shipped dataset is the large case (2000 trajectories of about 230 decisions).
For each shipped dataset we time, with one torch thread as the app uses:

* cold: a freshly loaded dataset, so its summaries are computed, then 25 suggestions;
* warm: 25 more suggestions (summaries cached), and the whole list ranked;
* with a model: 25 suggestions from the ensemble's disagreement, the model's
  predicted scores computed (cold) or cached (warm).

The model is an untrained additive ensemble of the default architecture with
random output weights: the cost of its predicted scores does not depend on what
it has learnt, and training one on pong would take minutes.

    python bench/suggest_speed.py [--repeats 5] [--envs gridnav,highway,pong]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.intent.additive import (
    AdditiveArch,
    AdditiveConfig,
    AdditiveIntent,
    region_code_width,
)
from dpf_gui.selection import suggest
from dpf_gui.threads import limit_threads


def random_ensemble(data: TrajectoryDataset, seed: int) -> AdditiveIntent:
    cfg = AdditiveConfig()
    arch = AdditiveArch(n_features=data.features.shape[1], n_actions=data.legal.shape[1],
                        n_code=region_code_width(data.region_features), members=cfg.members, hidden=cfg.hidden)
    torch.manual_seed(seed)
    model = AdditiveIntent(arch)
    with torch.no_grad():
        model.utility.weights[-1].normal_(0, 0.1)  # members that disagree
    model.set_normalisation(data.features.mean(0), data.features.std(0), 1.0)
    return model.eval()


def timed(*args, **kwargs) -> float:
    """Seconds one ``suggest(*args, **kwargs)`` takes."""
    t0 = time.perf_counter()
    suggest(*args, **kwargs)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--envs", default="gridnav,highway,pong")
    args = ap.parse_args()
    limit_threads(1)
    print(f"{platform.machine()}, {os.cpu_count()} cores, one torch thread; "
          f"median (max) of {args.repeats} runs, seconds")
    print("| dataset | trajectories | decisions | cold: summaries + 25 | warm: 25 | warm: rank all | "
          "model cold: 25 | model warm: 25 |")
    print("|---|---|---|---|---|---|---|---|")
    for env in [e.strip() for e in args.envs.split(",") if e.strip()]:
        path = f"models/{env}/trajectories.npz"
        rows: dict[str, list[float]] = {k: [] for k in ("cold", "warm", "all", "mcold", "mwarm")}
        for r in range(args.repeats):
            data = TrajectoryDataset.load(path)  # a new object: nothing cached
            model = random_ensemble(data, r)
            rows["cold"].append(timed(data, count=25, seed=r))
            rows["warm"].append(timed(data, count=25, seed=r + 1))
            rows["all"].append(timed(data, count=len(data), seed=r))
            rows["mcold"].append(timed(data, model=model, count=25, seed=r))
            rows["mwarm"].append(timed(data, model=model, count=25, seed=r + 1))
        cells = " | ".join(f"{np.median(v):.3f} ({max(v):.3f})" for v in rows.values())
        print(f"| {env} | {len(data)} | {int(data.lengths.sum())} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

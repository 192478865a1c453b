"""How far apart do two CPUs' float kernels train the same additive intent?

Learned figures differ between CPUs (docs/ROBUSTNESS.md, section 4): MKL, oneDNN and torch's own vectorised
kernels pick their code by CPU, and one seed trains other weights on an Intel Xeon than on an AMD EPYC. This
trains one intent twice on this machine, once with the libraries' default code and once with the code an
AVX2 machine runs (``MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``), each in a process of
its own (the switches are read when the libraries load), and prints how far apart the two came out:

* the largest difference of any weight, and of the intent value Q_u(s, a) on 2000 stored states, beside Q_u's
  largest size there;
* on what share of those states the two pick the same best action by the members' mean Q_u.

The labels: the environment's avoid preset, 25 exact marks chosen at random (as ``dpf label --preset avoid
--budget 25 --seed 3``), training seed 0. ``--adam-eps`` sets ``AdditiveConfig.adam_eps``; ``--float64``
fits in float64 (the model cast to double while it trains; what is saved is not changed). ``--kind lstm``
trains the paper's LSTM of the first-wave grid's avoid cell instead (every stored trajectory labelled, as
``dpf results`` does; ``IntentConfig.adam_eps``) and prints its weights' and held-out fits' parting.
docs/EXPERIMENTS.md, section 91, has the figures.

    python bench/kernel_drift.py --env pong [--adam-eps 1e-4] [--float64]
    python bench/kernel_drift.py --env gridnav --kind lstm [--adam-eps 1e-4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the kernels an AVX2 machine runs, as far as the libraries let a bigger CPU be held to them
AVX2_KERNELS = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
STATES = 2000


def _flat_weights(model):
    """Every parameter of ``model`` in one float64 array, in a fixed order (the two codes' runs compare them)."""
    import torch

    return torch.cat([p.detach().flatten().double() for p in model.parameters()]).numpy()


def train_lstm(env: str, adam_eps: float, out: Path) -> None:
    """Fit the first-wave grid's avoid cell's LSTM in this process; save its weights and held-out fit to ``out``."""
    import dataclasses

    import numpy as np

    from bench.cpu_fingerprint import first_wave_avoid_cell
    from dpf_gui.intent.registry import train_intent
    from dpf_gui.results import INTENT_CONFIG

    data, labels = first_wave_avoid_cell(env)
    start = time.perf_counter()
    result = train_intent(data, labels, 0, config=dataclasses.replace(INTENT_CONFIG, adam_eps=adam_eps),
                          progress=False)
    wall = time.perf_counter() - start
    weights = _flat_weights(result.model)
    np.savez(out, weights=weights, corr=result.metrics["held_out"]["corr"], best_epoch=result.best_epoch, wall=wall)


def train(env: str, adam_eps: float, float64: bool, out: Path) -> None:
    """Fit the intent in this process and save its weights and Q_u on fixed stored states to ``out``."""
    import numpy as np
    import torch

    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.envs import env_spec
    from dpf_gui.intent import additive
    from dpf_gui.intent.additive_config import AdditiveConfig
    from dpf_gui.intent.registry import train_intent
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.selection import keep_chosen
    from dpf_gui.wish import make_wish

    if float64:
        built = additive.AdditiveIntent.__init__

        def in_double(self, arch):
            built(self, arch)
            self.double()
        additive.AdditiveIntent.__init__ = in_double
        torch.set_default_dtype(torch.float64)
    task = load_task_agent(env)
    data = TrajectoryDataset.load(task.dataset_path, expect_env=env)
    wish = make_wish(data.region_features, preset=env_spec(env).preset("avoid"))
    labels = keep_chosen(data, label_dataset(data, wish, FeedbackNoise(), 3), 25, "random", 1, 3)
    start = time.perf_counter()
    model = train_intent(data, labels, 0, config=AdditiveConfig(adam_eps=adam_eps), progress=False).model
    wall = time.perf_counter() - start
    rows = np.random.default_rng(0).choice(len(data.features), size=min(STATES, len(data.features)), replace=False)
    with torch.no_grad():
        q = model.value(model.standardise(data.features[rows]).to(torch.get_default_dtype()))
        q = q[..., model.arch.n_actions:].double().numpy()
    weights = _flat_weights(model)
    np.savez(out, q=q, weights=weights, wall=wall)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="pong", choices=("gridnav", "highway", "pong"))
    p.add_argument("--adam-eps", type=float, default=1e-8)
    p.add_argument("--float64", action="store_true")
    p.add_argument("--kind", default="additive", choices=("additive", "lstm"))
    p.add_argument("--one", metavar="OUT", help=argparse.SUPPRESS)  # a child: train once, save to OUT
    args = p.parse_args()
    if args.kind == "lstm" and args.float64:
        p.error("--float64 is for the additive kind only")
    if args.one:
        if args.kind == "lstm":
            train_lstm(args.env, args.adam_eps, Path(args.one))
        else:
            train(args.env, args.adam_eps, args.float64, Path(args.one))
        return 0
    import numpy as np

    from dpf_gui.threads import limit_threads

    limit_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, switches in (("default", {}), ("AVX2", AVX2_KERNELS)):
            out = Path(tmp) / f"{name}.npz"
            child = [sys.executable, __file__, "--env", args.env, "--adam-eps", str(args.adam_eps), "--kind", args.kind,
                     "--one", str(out)]
            subprocess.run(child + (["--float64"] if args.float64 else []), check=True,
                           env={**os.environ, **switches})
            runs[name] = np.load(out)
        a, b = runs["default"], runs["AVX2"]
        if args.kind == "lstm":
            print(f"{args.env} LSTM, adam_eps {args.adam_eps:g}: weights apart by "
                  f"{np.abs(a['weights'] - b['weights']).max():.1e}; held-out fit {float(a['corr']):.3f} and "
                  f"{float(b['corr']):.3f}, best epoch {int(a['best_epoch'])} and {int(b['best_epoch'])}; fit "
                  f"{float(a['wall']):.0f} s and {float(b['wall']):.0f} s")
            return 0
        same = float(np.mean(a["q"].mean(0).argmax(1) == b["q"].mean(0).argmax(1)))
        print(f"{args.env}, adam_eps {args.adam_eps:g}, {'float64' if args.float64 else 'float32'}: "
              f"weights apart by {np.abs(a['weights'] - b['weights']).max():.1e}, Q_u by "
              f"{np.abs(a['q'] - b['q']).max():.1e} (its size {np.abs(a['q']).max():.1e}); the same best action on "
              f"{100 * same:.2f} % of {a['q'].shape[1]} stored states; fit {float(a['wall']):.0f} s and "
              f"{float(b['wall']):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

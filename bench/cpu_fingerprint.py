"""Does this machine train intents to the floats the published figures were made with?

Learned figures differ between CPUs: torch's products run in Intel's MKL and oneDNN, which pick their code by
CPU, so one seed trains other weights on an Intel Xeon than on the AMD EPYCs that made docs/RESULTS.md and
docs/results/ (docs/ROBUSTNESS.md, section 4; docs/EXPERIMENTS.md, section 90). Two fingerprints, about 30 s on
2 cores, each printed beside what the AMD EPYCs measured:

* the held-out fit of the first-wave grid's gridnav avoid intent (the paper's LSTM, as ``dpf results`` trains
  it for that cell): AMD EPYCs, with or without AVX-512, corr 0.983 and sign accuracy 1.000 (RESULTS.md);
* the cells where the lesson's static agent paces at the end of its episode (the demo's intent from the 20
  suggested marks, as ``tests/test_lesson.py`` trains it): AMD EPYCs (7, 3) and (8, 3).

A machine that prints both as the AMD's trains like it: its benchmark and results figures should be the
published ones. One that does not will print other learned figures (an Intel Xeon with AVX-512: 17 of 24 cells
on issue 10's 25-exact row against 18). Try the libraries' switches in the environment, e.g.
``MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/cpu_fingerprint.py``.

    python bench/cpu_fingerprint.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AMD_FIT = (0.983, 1.000)
AMD_PACING = {(7, 3), (8, 3)}


def first_wave_avoid_cell(env: str):
    """The stored trajectories and the labels of the first-wave grid's avoid cell (every trajectory, as ``dpf
    results`` labels them): ``(data, labels)``."""
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.results import cell_wish

    task = load_task_agent(env)
    data = TrajectoryDataset.load(task.dataset_path, expect_env=env)
    return data, label_dataset(data, cell_wish(env, task, "avoid"), FeedbackNoise(), 0)


def first_wave_fit(folder: Path) -> tuple[float, float]:
    """The held-out fit of the first-wave gridnav avoid cell's intent."""
    from dpf_gui.intent.registry import train_intent
    from dpf_gui.results import INTENT_CONFIG

    data, labels = first_wave_avoid_cell("gridnav")
    fit = train_intent(data, labels, 0, out_dir=folder, config=INTENT_CONFIG, progress=False).metrics["held_out"]
    return round(fit["corr"], 3), round(fit["sign_acc"], 3)


def lesson_pacing(folder: Path) -> set[tuple[int, int]]:
    """The cells of the lesson's static episode's last 20 decisions."""
    from dpf_gui import lesson
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.envs import env_spec
    from dpf_gui.episode import EpisodeRunner
    from dpf_gui.intent.registry import load_intent, train_intent
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.paths import shipped_model
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.selection import keep_chosen
    from dpf_gui.session.training import TRAIN_SEED, small_config
    from dpf_gui.wish import make_wish

    data = TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz")
    wish = make_wish(data.region_features, preset=env_spec("gridnav").preset(lesson.PRESET))
    full = label_dataset(data, wish, FeedbackNoise(), lesson.LABEL_SEED)
    labels = keep_chosen(data, full, lesson.SIMULATED_MARKS, select="active", rounds=1, seed=0)
    train_intent(data, labels, seed=TRAIN_SEED, out_dir=folder, config=small_config(), progress=False)
    runner = EpisodeRunner("gridnav", None, load_task_agent("gridnav"), *load_intent(folder), strategy="static",
                           wish=wish, saliency=False)
    runner.reset(lesson.SEED)
    while not runner.done:
        runner.advance()
    return {(int(r["region:x"]), int(r["region:y"])) for r in runner.trace.rows[-20:]}


def main() -> int:
    from dpf_gui.threads import limit_threads

    limit_threads(1)
    import torch

    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}")
    with tempfile.TemporaryDirectory() as tmp:
        fit = first_wave_fit(Path(tmp) / "fit")
        pacing = lesson_pacing(Path(tmp) / "lesson")
    print(f"first-wave gridnav avoid intent, held-out fit: corr {fit[0]:.3f}, sign accuracy {fit[1]:.3f} "
          f"(AMD EPYCs: {AMD_FIT[0]:.3f}, {AMD_FIT[1]:.3f}) {'same' if fit == AMD_FIT else 'DIFFERENT'}")
    print(f"lesson's static agent paces on {sorted(pacing)} (AMD EPYCs: {sorted(AMD_PACING)}) "
          f"{'same' if pacing == AMD_PACING else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

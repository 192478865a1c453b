"""Frames per second of the play view with every plot live, and the longest event-loop stall.

Usage: ``python bench/play_fps.py [--seconds 5] [--envs gridnav,pong,highway] [--threads 1] [--load 2] [--repeats 3]
[--calibrating thread|process]``

For each environment the play view runs dynamic fusion as fast as it can
(speed "max", saliency and overlays on, no pause between episodes) while a
10 ms ``QTimer`` records the gap between its own ticks: the longest gap minus
10 ms is the longest time the event loop was blocked (what a user feels as a
frozen window). Runs offscreen. Also printed: where the environment was
stepped (the UI thread, a worker thread, or highway's worker process) and how
long the first frame took after loading the agents (for highway, the first
time in a run, that includes starting the worker process).

``--calibrating thread|process`` measures while the view's *Calibrate strength* runs (started before the
warm-up, cancelled after the measurement; the task agent's reference episodes keep it busy throughout on
highway and Pong), in a worker thread of the view's process (how it ran before 2026-12-02) or in a process of
its own (:mod:`dpf_gui.calibration_process`, how highway's and Pong's run now); what it plays goes to a
temporary data folder.

``--load N`` starts N CPU-bound processes (a busy Python loop each) for the
whole measurement and stops them at the end, so "under load" means the same
thing on every machine (on top of whatever else runs there: the load average
is printed before and after). ``--repeats R`` measures each environment R
times, one row per run.

Agents: the shipped task agent where there is one (gridnav), otherwise a
randomly initialised Q-network of the right shape; the intent model is a
randomly initialised one of the default architecture (speed does not depend
on what the weights say). gridnav's intent model is trained for a few
seconds on its shipped trajectories when ``--train`` is given.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import torch
from event_gaps import GapProbe  # this folder: a bench script's own


def random_agents(env_name: str, seed: int = 0):
    """(task agent, intent model, intent sidecar) of the right shapes for ``env_name``."""
    from dpf_gui.agents.dqn import QNetwork
    from dpf_gui.agents.task_agent import TaskAgent
    from dpf_gui.checkpoints import is_checkpoint
    from dpf_gui.envs import env_spec
    from dpf_gui.intent.model import IntentArch, IntentModel
    from dpf_gui.paths import shipped_model

    spec = env_spec(env_name)
    torch.manual_seed(seed)
    try:
        from dpf_gui.pipeline import load_task_agent

        task = load_task_agent(env_name) if is_checkpoint(shipped_model(env_name)) else None
    except Exception:  # noqa: BLE001 (any failure to load the shipped agent: a random network serves the bench)
        task = None
    if task is None:
        net = QNetwork(spec.n_features, spec.n_actions)
        sidecar = {"env": env_name, "env_config": {}, "action_names": list(spec.action_names),
                   "observation": {"features": list(spec.feature_names), "n_features": spec.n_features}}
        task = TaskAgent(net, sidecar)
    model = IntentModel(IntentArch(spec.n_features, spec.n_actions))
    with torch.no_grad():
        for p in (model.head.weight, model.head.bias):
            p.normal_(0.0, 0.3)
    model.eval()
    preset = spec.preset("mixed") if any(p.name == "mixed" for p in spec.presets) else spec.presets[0]
    intent_sidecar = {"reward_scale": 1.0,
                      "labels": {"wish": {"prefer": list(preset.prefer), "avoid": list(preset.avoid)}}}
    return task, model, intent_sidecar


def measure(env_name: str, seconds: float, app, calibrating: str | None = None) -> dict:
    import dpf_gui.calibration_process as calibration_process
    from dpf_gui.app.play_view import PlayView

    task, model, sidecar = random_agents(env_name)
    view = PlayView()
    view.resize(1400, 850)
    view.show()
    t_load = time.perf_counter()
    view.set_agents(env_name, None, task, model, sidecar, seed=0)
    view.driver.episode_pause_s = 0.0
    view.set_speed(0)
    if calibrating:
        calibration_process.runs_in_a_process = lambda _env: calibrating == "process"
        assert view.calibrate(), "the calibration did not start"

    probe = GapProbe()

    frames = [0]
    first_frame = [None]

    def shown(_snap) -> None:
        frames[0] += 1
        if first_frame[0] is None:
            first_frame[0] = time.perf_counter() - t_load

    view.snapshotShown.connect(shown)
    # warm up (the first frames build caches, the first torch calls are slow; highway's worker process starts)
    view.play()
    end = time.perf_counter() + 1.0
    while (time.perf_counter() < end or frames[0] < 5) and time.perf_counter() < end + 120:
        app.processEvents()
    frames[0] = 0
    probe.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
    elapsed = time.perf_counter() - t0
    probe.stop()
    view.pause()
    fps_meter = view.fps()
    calibrated = view.is_calibrating()  # still running when the measurement ended (it should be)
    if calibrating:
        view.cancel_calibration()
        end = time.perf_counter() + 120
        while view.is_calibrating() and time.perf_counter() < end:
            app.processEvents()
    where = ("process" if type(view.runner).__name__ == "RemoteRunner" else
             "thread" if view.driver.threaded else "UI thread")
    view.shutdown()
    view.deleteLater()
    g = np.array(probe.gaps) * 1000.0
    return {
        "env": env_name,
        "frames/s": frames[0] / elapsed,
        "fps()": fps_meter,
        "max stall ms": float(g.max() - 10.0) if len(g) else float("nan"),
        "p99 gap ms": float(np.percentile(g, 99)) if len(g) else float("nan"),
        "stalls > 100 ms": int((g - 10.0 > 100.0).sum()),
        "first frame s": first_frame[0],
        "where": where + (f", calibrating in a {calibrating}" + ("" if calibrated else " (ended early)")
                          if calibrating else ""),
    }


@contextmanager
def cpu_load(processes: int):
    """``processes`` busy-looping Python processes for the duration of the block (stopped however it ends)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--envs", default="gridnav,pong,highway")
    p.add_argument("--threads", type=int, default=1, help="threads of torch and numpy's BLAS (1 is fastest)")
    p.add_argument("--load", type=int, default=0, help="CPU-bound processes to run beside the view (0: none)")
    p.add_argument("--repeats", type=int, default=1, help="measure each environment this many times")
    p.add_argument("--calibrating", choices=("thread", "process"), default=None,
                   help="measure while Calibrate strength runs, in a worker thread or a process of its own")
    args = p.parse_args(argv)
    if args.calibrating:
        import tempfile

        os.environ["DPF_GUI_DATA"] = tempfile.mkdtemp(prefix="play-fps-")  # its reference episodes go there
    from dpf_gui.threads import limit_threads

    limit_threads(args.threads)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    names = [name.strip() for name in args.envs.split(",") if name.strip()]
    before = os.getloadavg()
    with cpu_load(args.load):
        rows = [measure(name, args.seconds, app, args.calibrating) for name in names
                for _ in range(max(args.repeats, 1))]
    after = os.getloadavg()
    print(f"{'env':<9} {'frames/s':>9} {'fps()':>7} {'max stall ms':>13} {'p99 gap ms':>11} {'>100 ms':>8} "
          f"{'first frame s':>14}  stepped in")
    for r in rows:
        print(f"{r['env']:<9} {r['frames/s']:>9.1f} {r['fps()']:>7.1f} {r['max stall ms']:>13.1f} "
              f"{r['p99 gap ms']:>11.1f} {r['stalls > 100 ms']:>8d} {r['first frame s']:>14.2f}  {r['where']}")
    print(f"(cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, load generator: {args.load} "
          f"busy processes, load average before: {' '.join(f'{x:.2f}' for x in before)}, "
          f"after: {' '.join(f'{x:.2f}' for x in after)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

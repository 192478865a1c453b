"""Where does the main window stop answering while a person goes through it? The longest event-loop stall per step.

Opens the main window (offscreen, 1280x720) on each environment and does what
a person does first: waits for the suggestions, labels 10 suggested
trajectories from the keyboard (Enter, then P / A / N), opens the Train tab,
trains the default intent model (a small one on highway and Pong, as the demo
trains it, so the probe ends in minutes), opens the Play tab and plays for a
few seconds, opens the Compare tab and plays a pair for a few seconds. A 10 ms
timer measures the event loop's gaps; each step prints its longest gap and
how many were over 100 ms. One step repaints the trajectory list while
another thread runs pure Python: what a repaint costs beside the replay,
ranking or training threads the app runs. A gap is the window not answering: a click or a
key waits that long. Training and playing run in worker threads and
processes, so what shows here is work done on the UI thread.

Then (``--switches``) it opens one window, shows each tab once, goes back to Annotate and switches
environments with the toolbar's chooser as a person does (gridnav -> pong -> highway -> gridnav), each
switch measured until the new environment's list, first frame and suggestions are shown.

    python bench/flow_stalls.py [--envs gridnav,pong,highway] [--play-s 5] [--switches gridnav,pong,highway,gridnav]
    python bench/flow_stalls.py --envs "" --repeat 3      # the switches only, three windows

Offscreen by default; ``QT_QPA_PLATFORM=xcb DISPLAY=:99`` with ``Xvfb :99`` runs a real window.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time

from event_gaps import GapProbe, idle  # this folder: a bench script's own

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("DPF_GUI_DATA", tempfile.mkdtemp(prefix="dpf-stalls-data-"))  # no settings of yours are read


def flow(env: str, play_s: float) -> list[tuple[str, float, int, float]]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from dpf_gui.app.window import MainWindow
    from dpf_gui.session.training import small_config

    app = QApplication.instance() or QApplication([])
    rows = []
    probe = GapProbe().start()

    def step(name: str, action, settle: float = 0.3, until=None, limit: float = 600.0) -> None:
        t0 = time.perf_counter()
        action()
        idle(app, limit if until is not None else settle, until)
        if until is not None:
            idle(app, settle)
        gap, over = probe.take()
        rows.append((name, gap, over, time.perf_counter() - t0))

    window = None

    def open_window():
        nonlocal window
        window = MainWindow(store_dir=tempfile.mkdtemp(prefix="dpf-stalls-"), env=env)
        window.resize(1280, 720)
        window.show()
        window.activateWindow()  # under a real X server (Xvfb) the keys go to the active window only

    step("open the window", open_window, until=lambda: window.annotate.suggestions.ready, limit=60)
    keys = [Qt.Key.Key_P, Qt.Key.Key_A, Qt.Key.Key_N]

    def label_ten():
        for k in range(10):
            QTest.keyClick(window, Qt.Key.Key_Return)
            idle(app, 0.2)
            QTest.keyClick(window, keys[k % 3])
            idle(app, 0.3)

    step("10 suggested trajectories labelled (Enter, P/A/N)", label_ten)

    def repaint_beside_python():
        """The list repainted 10 times while another thread runs pure Python (as a replay or a ranking does)."""
        stop = threading.Event()

        def busy():
            x = 0
            while not stop.is_set():
                for i in range(1000):
                    x += i

        worker = threading.Thread(target=busy, daemon=True)
        worker.start()
        try:
            for _ in range(10):
                window.annotate.table.viewport().repaint()
                idle(app, 0.02)
        finally:
            stop.set()
            worker.join()

    step("the list repainted 10 times beside a thread running Python", repaint_beside_python, settle=0.1)
    step("Train tab first shown", lambda: window.tabs.setCurrentIndex(1))
    train = window.train
    config = None if env == "gridnav" else small_config()  # the demo's model: a minute, not several
    finished = []
    train.trainingFinished.connect(lambda ok, msg: finished.append((ok, msg)))
    step("training (worker thread)", lambda: train.train(config), until=lambda: bool(finished), limit=900)
    if not finished or not finished[0][0]:
        print(f"  training did not finish: {finished}", file=sys.stderr)
    step("Play tab first shown", lambda: window.tabs.setCurrentIndex(2), settle=1.0)
    play = window.play
    step(f"playing {play_s:g} s", lambda: play.play_button.click(), settle=play_s)
    play.play_button.click()
    step("Compare tab first shown", lambda: window.tabs.setCurrentIndex(3), settle=1.0)
    compare = window.compare
    step(f"comparing {play_s:g} s", lambda: compare.play_button.click(), settle=play_s)
    compare.play_button.click()
    step("window closed", window.close, settle=0.5)
    probe.stop()
    return rows


def switches(envs: list[str]) -> list[tuple[str, float, int, float]]:
    """Open the window on ``envs[0]``, show each tab once, then choose each next environment in the toolbar's
    chooser; a switch ends when the window shows that environment, its first frame and its suggestions."""
    from PySide6.QtWidgets import QApplication

    from dpf_gui.app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(store_dir=tempfile.mkdtemp(prefix="dpf-stalls-"), env=envs[0])
    window.resize(1280, 720)
    window.show()
    idle(app, 60, lambda: window.annotate.suggestions.ready)
    for tab in [*range(window.tabs.count()), 0]:  # every view built, as after a first hour; Annotate shown
        window.tabs.setCurrentIndex(tab)
        idle(app, 1.0)
    annotate, chooser = window.annotate, window.env_combo
    probe, rows = GapProbe().start(), []
    for env in envs[1:]:
        t0 = time.perf_counter()
        chooser.setCurrentIndex(chooser.findData(env))
        idle(app, 60, lambda env=env: (window.env_name == env and annotate.suggestions.ready
                                       and annotate.player.ready))
        took = time.perf_counter() - t0
        idle(app, 0.5)
        gap, over = probe.take()
        rows.append((f"switched to {env} (env chooser)", gap, over, took))
    probe.stop()
    window.close()
    idle(app, 0.5)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default="gridnav,pong,highway")
    ap.add_argument("--play-s", type=float, default=5.0)
    ap.add_argument("--switches", default="gridnav,pong,highway,gridnav",
                    help="environments chosen one after another in one window ('' skips)")
    ap.add_argument("--repeat", type=int, default=1, help="windows that go through the switches")
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; "
          f"Python {platform.python_version()}")
    print("| env | step | longest stall (ms) | stalls > 100 ms | step took (s) |\n|---|---|---|---|---|")
    for env in [e.strip() for e in args.envs.split(",") if e.strip()]:
        for name, gap, over, took in flow(env, args.play_s):
            print(f"| {env} | {name} | {gap:.0f} | {over} | {took:.1f} |", flush=True)
    chosen = [e.strip() for e in args.switches.split(",") if e.strip()]
    for _ in range(args.repeat if len(chosen) > 1 else 0):
        for name, gap, over, took in switches(chosen):
            print(f"| {chosen[0]} | {name} | {gap:.0f} | {over} | {took:.1f} |", flush=True)


if __name__ == "__main__":
    main()

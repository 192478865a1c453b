"""Does the study's Annotate page stall while "label this next" trains its suggestion model?

After every 5 marks (``selection.ROUND_MARKS``) the page trains an intent model on
the marks so far in a worker thread. This opens a participant window (offscreen) on
the example protocol with the given environment and suggestions on, marks 5 trips
the way a participant does (Enter, then P / A / N), and while the model trains
moves down the trip list every 200 ms (each move loads a trip into the player). A
10 ms timer measures the event loop's gaps: during the training, then for 8 s
after it. Each Enter (half a second after the mark before it, as a participant
glances at the list) is timed too: the window's time in it, the ranking included
when it was not ready. A gap over 80 ms is printed with where the other threads (the training, the
player's rollout) were when it ended. The first environment also pays the
process's first optimizer construction (torch imports ``torch._dynamo``, about 1 s).

    python bench/study_suggestion_stall.py [--envs gridnav,highway,pong]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from event_gaps import GapProbe, idle  # this folder: a bench script's own

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "study_example.toml"
WISHES = {"gridnav": ('avoid = ["terrain=toll"]', 'prefer = ["terrain=scenic"]'),
          "highway": ('avoid = ["lane=0"]', 'prefer = ["lane=2"]'),
          "pong": ('avoid = ["paddle=..0.15"]', 'prefer = ["paddle=0.35..0.65"]')}


def protocol(env: str, folder: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    avoid, prefer = WISHES[env]
    for old, new in (('env = "gridnav"', f'env = "{env}"'), ('avoid = ["terrain=toll"]', avoid),
                     ('prefer = ["terrain=scenic"]', prefer), ("# suggestions = true", "suggestions = true")):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "protocol.toml"
    path.write_text(text, encoding="utf-8")
    return path


#: how long a participant takes between a mark and the next key, at the least (a glance at the list)
PAUSE_S = 0.5


def gaps_while(app, page, until, t0: float) -> list[float]:
    """Event-loop gaps (s) of a 10 ms timer, the trip list moving every 200 ms, until ``until()``."""
    from PySide6.QtCore import QTimer

    def where(gap: float) -> None:
        for tid, frame in sys._current_frames().items():
            if tid != threading.main_thread().ident:
                stack = traceback.StackSummary.extract(traceback.walk_stack(frame), limit=3, lookup_lines=False)
                at = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stack)
                print(f"  gap {gap * 1e3:.0f} ms at {time.perf_counter() - t0:.1f} s; other thread at {at}")

    probe, mover = GapProbe(on_long_gap=where), QTimer()
    mover.timeout.connect(lambda: page._move(1))
    probe.start()
    mover.start(200)
    idle(app, float("inf"), until)
    probe.stop()
    mover.stop()
    return sorted(probe.gaps)


def summary(gaps: list[float]) -> str:
    return (f"gap p50 {gaps[len(gaps) // 2] * 1e3:.0f} ms, p99 {gaps[int(len(gaps) * 0.99)] * 1e3:.0f} ms, "
            f"max {gaps[-1] * 1e3:.0f} ms")


def run(env: str, folder: Path) -> None:
    from PySide6.QtWidgets import QApplication, QPushButton

    from dpf_gui.app.study_mode import StudyWindow
    from dpf_gui.selection import ROUND_MARKS
    from dpf_gui.studies.folder import init_study

    app = QApplication.instance() or QApplication([])
    init_study(protocol(env, folder), folder / "study").add_participant("P01")
    window = StudyWindow(folder / "study", "P01")
    window.show()
    for name in ("consentAgree", "continueButton"):
        window.findChild(QPushButton, name).click()
        app.processEvents()
    page = window.page
    presses = []  # seconds the window spent in each Enter ("Label this next")

    def press() -> None:
        idle(app, PAUSE_S)  # the participant looks at the trip, or at the list, before the next key
        t = time.perf_counter()
        page.next_suggested()
        presses.append(time.perf_counter() - t)
        app.processEvents()

    for value in [1, -1, 1, -1, 0][:ROUND_MARKS]:
        press()
        page.mark(value)
        app.processEvents()
    t0 = time.perf_counter()
    during = gaps_while(app, page, lambda: page.suggestion_round >= 1 or time.perf_counter() - t0 > 300, t0)
    print(f"{env}: trained in {time.perf_counter() - t0:.1f} s; during training: {summary(during)}")
    t1 = time.perf_counter()
    after = gaps_while(app, page, lambda: time.perf_counter() - t1 > 8, t1)
    print(f"{env}: 8 s after it: {summary(after)}")
    press()  # the first suggestion of the new model
    print(f"{env}: Enter, {PAUSE_S:g} s after the last mark or model: "
          + ", ".join(f"{x * 1e3:.0f}" for x in presses) + " ms (the last with the model)")
    window.operator_exit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="gridnav,highway,pong")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for env in args.envs.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            run(env, Path(tmp))


if __name__ == "__main__":
    main()

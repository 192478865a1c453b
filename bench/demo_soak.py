"""Does ``dpf-gui --demo ENV --loop`` run all day? Memory, threads, files, disk and stalls, minute by minute.

Runs the lab demo in this process, offscreen, exactly as ``dpf-gui --demo ENV --loop --quit-after S`` does
(:func:`dpf_gui.app.main.main`: label, train, calibrate, then episode after episode, dynamic and static fusion
taking turns), its data folder (``DPF_GUI_DATA``) and its temporary study folder in a fresh temporary folder.
Every ``--every`` seconds a Qt timer samples, from ``/proc``: the resident memory (RSS) of this process and of
its child processes (highway's and Pong's worker, the calibration process), the thread count, the open file
descriptors; the size of the data folder and of the temporary folder; the episodes played (the demo's own
count); the Qt objects under the window and the items in its plots' scenes. A 10 ms timer
(``event_gaps.GapProbe``) measures the event loop's gaps: the longest per minute is the longest the window did
not answer. At the end one row per minute (the last sample of the minute) and the growth from the first minute
of play to the last: a leak is a column that keeps growing while the episodes repeat.

    python bench/demo_soak.py --env gridnav --minutes 12
    python bench/demo_soak.py --env pong --minutes 10 --census     # + the Python objects that grew, by type

``--census`` counts ``gc.get_objects()`` by type at each minute of play (a few hundred ms each, left out of the
stalls) and prints the types that grew most from the first to the last. Counting the window's Qt objects
(``findChildren``) gives each one a Python wrapper, and wrappers of Qt's short-lived objects (``QTextFrame`` of a
rich-text label, ``QPropertyAnimation`` of the style) then pile up in that census: ``--no-qt-count`` leaves the
count out, and without it they never appear. ``pyqtgraph.Point`` grows to a few hundred, held by pyqtgraph's own
``LRU(100)`` caches of its items' pixel vectors: bounded. ``--csv FILE`` writes every sample.
``--keep`` keeps the temporary folder (deleted at the end otherwise).
``--speed N`` as the demo's (default: as fast as it goes offscreen, so an hour of a 15/s demo passes sooner).
Use ``taskset -c 0`` to keep it on one core.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from event_gaps import GapProbe  # this folder: a bench script's own

ROOT = Path(tempfile.mkdtemp(prefix="dpf-soak-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("DPF_GUI_DATA", str(ROOT / "data"))  # no settings or caches of yours are read
TMP = ROOT / "tmp"
TMP.mkdir(parents=True, exist_ok=True)
tempfile.tempdir = str(TMP)  # the demo's throw-away study folder lands here, to be measured too

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children(pid: int) -> list[int]:
    """The descendants of ``pid`` (any depth), from ``/proc/*/stat``."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def folder_mb(path: Path) -> float:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / 2**20


def census() -> Counter:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


class Sampler:
    def __init__(self, every_s: float, do_census: bool, qt_count: bool = True):
        from PySide6.QtCore import QTimer

        self.t0 = time.perf_counter()
        self.rows: list[dict] = []
        self.minute_stalls: dict[int, tuple[float, int]] = {}
        self.probe = GapProbe().start()
        self.do_census, self.qt_count = do_census, qt_count
        self.census_first: Counter | None = None
        self.census_last: Counter | None = None
        self.census_minute: int | None = None
        self.t_play: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(int(every_s * 1000))
        self.timer.timeout.connect(self.sample)
        self.timer.start()

    def demo(self):
        from PySide6.QtWidgets import QApplication

        from dpf_gui.app.demo import Demo

        for w in QApplication.topLevelWidgets():
            for d in w.findChildren(Demo):
                return d
        return None

    def sample(self) -> None:
        from PySide6.QtCore import QObject
        from PySide6.QtWidgets import QGraphicsView

        t = time.perf_counter() - self.t0
        minute = int(t // 60)
        longest, over = self.probe.take()
        old = self.minute_stalls.get(minute, (0.0, 0))
        self.minute_stalls[minute] = (max(old[0], longest), old[1] + over)
        d = self.demo()
        window = d.window if d is not None else None
        if d is not None and d.t_play is not None and self.t_play is None:
            self.t_play = t
        qobjects = scene_items = 0
        if window is not None and self.qt_count:
            qobjects = len(window.findChildren(QObject))
            scene_items = sum(len(v.scene().items()) for v in window.findChildren(QGraphicsView)
                              if v.scene() is not None)
        kids = children(os.getpid())
        row = {"t_s": round(t, 1), "minute": minute, "rss_mb": round(rss_mb(), 1),
               "child_rss_mb": round(sum(rss_mb(k) for k in kids), 1), "children": len(kids),
               "threads": threads(), "fds": fds(),
               "data_mb": round(folder_mb(Path(os.environ["DPF_GUI_DATA"])), 2),
               "tmp_mb": round(folder_mb(TMP), 2),
               "episodes": d.finished_episodes if d is not None else 0,
               "frames": d.frames if d is not None else 0,
               "qobjects": qobjects, "scene_items": scene_items,
               "longest_gap_ms": round(longest, 1)}
        self.rows.append(row)
        if self.do_census and self.t_play is not None and self.census_minute != minute:
            self.census_minute = minute
            if self.census_first is None:
                self.census_first = census()
            else:
                self.census_last = census()
            self.probe.take()  # the census's own pause is not the app's:
            self.probe.last = time.perf_counter()  # the gap it made ends here, not at the next tick


def report(s: Sampler, env: str, args) -> None:
    by_min: dict[int, dict] = {}
    for row in s.rows:
        by_min[row["minute"]] = row
    play_min = int(s.t_play // 60) if s.t_play is not None else 0
    print(f"\n{env}: {len(s.rows)} samples every {args.every} s; playing from {s.t_play or 0:.0f} s "
          f"({platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()})")
    cols = ["rss_mb", "child_rss_mb", "children", "threads", "fds", "data_mb", "tmp_mb", "episodes", "frames",
            "qobjects", "scene_items"]
    print(f"{'min':>3} " + " ".join(f"{c:>12}" for c in cols) + f" {'stall_ms':>9} {'>100ms':>6}")
    for m in sorted(by_min):
        row = by_min[m]
        stall, over = s.minute_stalls.get(m, (0.0, 0))
        print(f"{m + 1:>3} " + " ".join(f"{row[c]:>12}" for c in cols) + f" {stall:>9.0f} {over:>6}")
    first = by_min.get(play_min + 1) or by_min.get(play_min)
    last = by_min[max(by_min)] if by_min else None
    if first and last and first is not last:
        grow = ", ".join(f"{c} {last[c] - first[c]:+.1f}" for c in cols if c not in ("episodes", "frames"))
        print(f"growth from minute {first['minute'] + 1} to {last['minute'] + 1} "
              f"({last['episodes'] - first['episodes']} episodes): {grow}")
    if s.census_first is not None and s.census_last is not None:
        diff = Counter({k: s.census_last[k] - s.census_first.get(k, 0) for k in s.census_last})
        print("Python objects that grew most between the first and last minute of play:")
        for name, n in diff.most_common(15):
            if n > 0:
                print(f"  {name:<40} +{n}  ({s.census_last[name]} in all)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="gridnav")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--speed", type=int, default=None, help="decisions per second (default: the demo's)")
    ap.add_argument("--census", action="store_true", help="count Python objects by type each minute of play")
    ap.add_argument("--no-qt-count", action="store_true",
                    help="do not count the window's Qt objects (findChildren gives each a Python wrapper)")
    ap.add_argument("--csv", default=None, help="write every sample to this CSV file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder (its path is printed)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from dpf_gui.app.main import main as app_main

    app = QApplication.instance() or QApplication(sys.argv[:1])
    sampler = Sampler(args.every, args.census, not args.no_qt_count)
    argv = ["--demo", args.env, "--loop", "--quit-after", str(args.minutes * 60)]
    if args.speed is not None:
        argv += ["--speed", str(args.speed)]
    print(f"dpf-gui {' '.join(argv)}  (in process; data in {ROOT})", flush=True)
    code = app_main(argv)
    sampler.timer.stop()
    report(sampler, args.env, args)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(sampler.rows[0]))
            w.writeheader()
            w.writerows(sampler.rows)
    print(f"exit code {code}")
    if not args.keep:
        shutil.rmtree(ROOT, ignore_errors=True)
    del app  # (kept alive until here: the sampler's timers belong to it)


if __name__ == "__main__":
    main()

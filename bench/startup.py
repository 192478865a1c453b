"""Start to first frame: seconds from launching ``dpf-gui --env ENV`` to its main window's first painted frame.

Each run is a fresh Python process (interpreter start, imports, the window,
opening the environment's shipped agent and data, the first paint), timed by
this process from just before the launch to the moment the child reports that
the first paint of its main window has finished. The child is ``dpf-gui``'s
own ``main()`` with a watcher on the application's events; it quits right
after. All runs share one study folder, created by an untimed first run, so
every timed run is a returning user's start (the label store exists, the
window reopens on the tab it was closed on: ``--tab``). Offscreen by default.

    python bench/startup.py [--env gridnav] [--runs 5] [--tab Annotate] [--screenshot first.png]

Prints every run, the median and the machine's load average (other jobs on
the machine slow every start; note it with the figures).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
screenshot = sys.argv[1]

class FirstFrame(QObject):
    '''Reports once the first paint pass of the main window has run, then closes it.'''

    seen = False

    def eventFilter(self, obj, event):
        if (not self.seen and event.type() == QEvent.Type.Paint and obj.isWidgetType()
                and obj.window().objectName() == "mainWindow"):
            self.seen = True
            QTimer.singleShot(0, lambda: self.done(obj.window()))  # after the whole paint pass
        return False

    def done(self, window):
        print(f"FIRST_FRAME {time.time():.6f}", flush=True)
        if screenshot:
            window.grab().save(screenshot)
        window.close()
        app.quit()

watcher = FirstFrame()
app.installEventFilter(watcher)
from dpf_gui.app.main import main
sys.exit(main(sys.argv[2:]))
"""


def one_run(env: str, data_dir: str, screenshot: str = "") -> float:
    """Seconds from launch to the end of the first paint of the main window."""
    environ = {**os.environ, "DPF_GUI_DATA": data_dir}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, screenshot, "--env", env], env=environ,
                         capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_FRAME "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no first frame (exit {out.returncode}): {out.stderr.strip()[-2000:]}")


def set_tab(data_dir: str, tab: str) -> None:
    """Make the next start open on ``tab`` (what the window restores from its settings)."""
    from PySide6.QtCore import QSettings

    from dpf_gui.app.tabs import TABS

    titles = [title for title, _ in TABS]
    settings = QSettings(str(Path(data_dir) / "gui.ini"), QSettings.Format.IniFormat)
    settings.setValue("tab", titles.index(tab))
    settings.sync()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="gridnav")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--tab", default="Annotate", help="the tab the window opens on (default: Annotate)")
    p.add_argument("--screenshot", default="", help="save the first frame of the last run here")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    with tempfile.TemporaryDirectory(prefix="dpf-startup-") as data_dir:
        one_run(args.env, data_dir)  # creates the label store; warms the file cache
        set_tab(data_dir, args.tab)
        times = []
        for i in range(args.runs):
            times.append(one_run(args.env, data_dir, args.screenshot if i == args.runs - 1 else ""))
            set_tab(data_dir, args.tab)
            print(f"run {i + 1}: {times[-1]:.2f} s", flush=True)
    load = os.getloadavg()
    print(f"{args.env}, {args.tab} tab: first frame after {statistics.median(times):.2f} s median of {args.runs} "
          f"(min {min(times):.2f}, max {max(times):.2f}); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

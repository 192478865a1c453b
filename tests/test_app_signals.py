"""``dpf-gui`` as a process: SIGTERM and SIGINT close it the normal way, and nothing modal holds up --quit-after.

Each test runs the real app in a subprocess (offscreen, its own data folder),
because a signal handler, SDL's handlers and a modal dialog in the window's
constructor only show their effect on a whole process.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import HANG_S

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parent.parent


def start_app(data: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SDL_VIDEODRIVER="dummy", DPF_GUI_DATA=str(data),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SDL_NO_SIGNAL_HANDLERS", None)  # as a person's shell has it
    return subprocess.Popen([sys.executable, "-m", "dpf_gui.app.main", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_open(proc: subprocess.Popen, store: Path, timeout: float = HANG_S) -> None:
    """Until the window has opened an environment (it then records where it is in the label store)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                if db.execute("SELECT COUNT(*) FROM state WHERE key='resume/env'").fetchone()[0]:
                    time.sleep(0.5)  # the event loop is running and SDL is up by now
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the app did not open in time")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_closes_the_app(tmp_path, sig):
    proc = start_app(tmp_path, "--env", "gridnav")
    wait_until_open(proc, tmp_path / "labels.sqlite")
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running {HANG_S} s after {sig.name}")
    print(f"\n{sig.name}: closed in {time.monotonic() - t0:.2f} s")
    assert proc.returncode == 128 + sig, out
    assert "Traceback" not in out, out
    assert (tmp_path / "gui.ini").is_file()  # closed the normal way: the window saved its settings


def test_an_unusable_study_folder_does_not_hold_up_quit_after(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = start_app(tmp_path / "data", "--study", str(blocker / "study"), "--env", "gridnav", "--quit-after", "2")
    try:
        out, _ = proc.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("--quit-after was held up")
    assert proc.returncode == 0 and "Traceback" not in out, out
    assert (tmp_path / "data" / "labels.sqlite").is_file()  # it labelled into the default folder meanwhile

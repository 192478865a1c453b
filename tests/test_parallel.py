"""The local process pool's workers end with the process that started them, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc")

MAIN = textwrap.dedent("""
    import time
    from dpf_gui.parallel import map_jobs

    if __name__ == "__main__":
        print("started", flush=True)
        map_jobs(time.sleep, [120.0] * 4, jobs=2)
""")


def parents() -> dict[int, int]:
    """pid -> parent pid of every live process (zombies count as gone)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(stat.parent.name)] = int(fields[1])
    return out


def descendants(pid: int) -> set[int]:
    found, frontier = set(), {pid}
    tree = parents()
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def test_pool_workers_end_when_the_main_process_is_killed(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(MAIN)
    main = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    workers: set[int] = set()
    try:
        assert main.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 120
        # the fork server and its two workers (each past its initializer: busy in time.sleep)
        while len(descendants(main.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = descendants(main.pid)
        assert len(workers) >= 3, "the pool never started its workers"
        time.sleep(1.0)
        assert main.poll() is None, "the main process ended before it was killed"
        main.send_signal(signal.SIGKILL)
        main.wait()
        deadline = time.monotonic() + 20
        while workers & set(parents()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not workers & set(parents()), "pool workers outlived the process that started them"
    finally:
        main.kill()
        main.wait()
        for pid in workers & set(parents()):
            os.kill(pid, signal.SIGKILL)

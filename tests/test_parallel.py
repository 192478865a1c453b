"""The local process pool's workers end with the run that started them: Ctrl-C stops it in seconds, and a killed
main process takes its workers with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_episode_worker import alive, wait_gone

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc")

#: a run of long items on two workers (the items' length stands for benchmark cells of minutes)
MAIN = textwrap.dedent("""
    import signal
    import sys
    import time
    from dpf_gui.parallel import map_jobs

    if __name__ == "__main__":
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the test runs with SIGINT ignored
        print("started", flush=True)
        map_jobs(time.sleep, [float(x) for x in sys.argv[1:]] or [120.0] * 6, jobs=2)
""")


def parents() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            out[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # ended meanwhile
            continue
    return out


def descendants(pid: int) -> set[int]:
    found, frontier = set(), {pid}
    tree = parents()
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.fixture
def run(tmp_path):
    """A main process in a session of its own, busy with its pool; its processes are killed at the end."""
    script = tmp_path / "main.py"
    script.write_text(MAIN)
    main = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    started: set[int] = set()
    try:
        assert main.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 120
        # the fork server and its two workers (then past their start-up: busy in time.sleep)
        while len(descendants(main.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        started |= descendants(main.pid)
        assert len(started) >= 3, "the pool never started its workers"
        time.sleep(1.0)
        assert main.poll() is None, "the main process ended before the test acted"
        yield main, started
    finally:
        main.kill()
        main.wait()
        for pid in filter(alive, started):
            os.kill(pid, signal.SIGKILL)


def gone_within(pids: set[int], seconds: float) -> bool:
    return all(wait_gone(pid, seconds) for pid in pids)


def test_pool_workers_end_when_the_main_process_is_killed(run):
    main, workers = run
    main.send_signal(signal.SIGKILL)
    main.wait()
    assert gone_within(workers, 20), "pool workers outlived the process that started them"


@pytest.mark.parametrize("to", ["the terminal's process group", "the main process alone"])
def test_ctrl_c_stops_the_run_in_seconds_without_running_the_queued_items(run, to):
    """Each worker has its next item queued before the current one ends; Ctrl-C must stop that one too."""
    main, workers = run
    if to == "the main process alone":
        main.send_signal(signal.SIGINT)
    else:
        os.killpg(main.pid, signal.SIGINT)
    try:
        rc = main.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the run went on after Ctrl-C")
    assert rc != 0 and "KeyboardInterrupt" in main.stderr.read()
    assert gone_within(workers, 10)


def test_an_items_error_ends_the_run_without_waiting_for_the_others(tmp_path):
    """time.sleep(-1) raises at once, beside a worker busy for two minutes and items queued behind both."""
    script = tmp_path / "main.py"
    script.write_text(MAIN)
    main = subprocess.Popen([sys.executable, str(script), "120", "-1", "120", "120", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True)
    try:
        rc = main.wait(timeout=60)  # the workers' start (importing torch in the fork server) included
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited for the other items after an error")
    finally:
        main.kill()
        main.wait()
        with contextlib.suppress(ProcessLookupError):  # its workers, if any are left
            os.killpg(main.pid, signal.SIGKILL)
    assert rc != 0 and "ValueError: sleep length must be non-negative" in main.stderr.read()

"""The episode worker process (dpf_gui.episode_worker): same episodes as in-process, clear errors, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dpf_gui.envs import env_spec
from dpf_gui.episode import EpisodeRunner
from dpf_gui.episode_worker import EpisodeProcess, RemoteRunner
from dpf_gui.errors import UserError, WorkerError
from dpf_gui.intent.model import IntentArch, IntentModel
from dpf_gui.pipeline import load_task_agent


def random_agents(env_name: str):
    """The shipped task agent and a random intent model with a recorded wish (what it says does not matter)."""
    spec = env_spec(env_name)
    torch.manual_seed(0)
    model = IntentModel(IntentArch(spec.n_features, spec.n_actions)).eval()
    preset = spec.preset("mixed")
    sidecar = {"reward_scale": 1.0, "labels": {"wish": {"prefer": list(preset.prefer), "avoid": list(preset.avoid)}}}
    return load_task_agent(env_name), model, sidecar


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def wait_gone(pid: int, timeout: float = 300.0) -> bool:  # a hang guard: it returns once the process is gone
    end = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    return not alive(pid)


@pytest.fixture()
def process():
    proc = EpisodeProcess("test simulator")
    yield proc
    proc.close()


def assert_same(a, b) -> None:
    """Two snapshots show the same thing: frame, decision, attribution, overlay, metrics."""
    assert ((a.t, a.done, a.seed, a.strategy, a.reward, a.metrics)
            == (b.t, b.done, b.seed, b.strategy, b.reward, b.metrics))
    assert np.array_equal(a.frame, b.frame)
    for x, y in ((a.attribution, b.attribution), (a.value_map, b.value_map)):
        assert (x is None) == (y is None) and (x is None or np.array_equal(x, y, equal_nan=True))
    assert (a.decision is None) == (b.decision is None)
    if a.decision is not None:
        for f in fields(a.decision):
            x, y = getattr(a.decision, f.name), getattr(b.decision, f.name)
            assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), f.name
    for f in fields(a.overlay):
        x, y = getattr(a.overlay, f.name), getattr(b.overlay, f.name)
        assert type(x) is type(y), f.name
        assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y, f.name


@pytest.mark.parametrize("env_name, steps", [("gridnav", 200), ("highway", 12)])
def test_remote_episodes_equal_in_process_ones(process, env_name, steps):
    """The worker plays exactly what an in-process runner plays: every frame, decision, attribution and overlay, with
    a strategy switch and a parameter change mid-episode, over two episodes in the same (reused) process."""
    task, model, sidecar = random_agents(env_name)
    here = EpisodeRunner(env_name, None, task, model, sidecar)
    there = RemoteRunner(process, env_name, None, task, model, sidecar)
    assert there.wish == here.wish and there.wish is not None
    assert (there.feature_names, there.action_names) == (here.feature_names, here.action_names)
    assert (there.intent_scale, there.intent_unit, there.params) == (here.intent_scale, here.intent_unit, here.params)
    pid = None
    for seed in (3, 4):
        assert_same(there.reset(seed), here.reset(seed))
        pid = pid or process.pid
        for t in range(steps):
            if t == 4:
                for r in (here, there):
                    r.set_strategy("static")
                    r.set_params(replace(r.params, strength=2.0))
            if here.done:
                break
            assert_same(there.advance(), here.advance())
            assert (there.t, there.done, there.seed) == (here.t, here.done, here.seed)
        assert there.trace.rows == here.trace.rows and len(here.trace.rows) > 4
        for r in (here, there):
            r.set_strategy("dynamic")
    assert process.pid == pid  # one process for both episodes
    here.close()


def test_new_agents_reuse_the_process(process):
    task, model, sidecar = random_agents("gridnav")
    first = RemoteRunner(process, "gridnav", None, task, model, sidecar)
    first.reset(0)
    pid = process.pid
    second = RemoteRunner(process, "gridnav", None, task, None, None, strategy="dynamic")
    assert second.strategy == "task"  # no intent model: the task agent alone, as in-process
    snap = second.reset(1)
    assert process.pid == pid and snap.decision.p_intent is None and snap.seed == 1
    with pytest.raises(WorkerError, match="lost this episode"):  # the worker now holds the second runner's episode
        first.advance()
    assert first.reset(0).seed == 0 and process.pid == pid  # a reset opens it there again


def test_mistakes_and_failures_come_back_as_one_line(process):
    task, model, sidecar = random_agents("gridnav")
    with pytest.raises(UserError, match="unknown config key 'nope'"):  # refused here, before the worker starts
        RemoteRunner(process, "gridnav", {"nope": 1}, task, model, sidecar)
    with pytest.raises(UserError, match="needs an intent model"):
        RemoteRunner(process, "gridnav", None, task, None, None).set_strategy("dynamic")
    assert process.pid is None
    with pytest.raises(UserError, match="unknown environment 'atari'"):  # a UserError in the worker stays one
        process.call("open", {"env_name": "atari", "env_config": {}, "task": task})
    with pytest.raises(WorkerError, match=r"^the test simulator process failed: RuntimeError: 'advance' before any "):
        process.call("advance", [])
    with pytest.raises(WorkerError, match="cannot send 'pid'"):  # cannot be pickled: nothing was sent
        process.call("pid", lambda: None)
    assert process.call("pid") == process.pid  # the worker survived all of it


def test_a_killed_worker_is_said_and_replaced(process):
    task, model, sidecar = random_agents("gridnav")
    runner = RemoteRunner(process, "gridnav", None, task, model, sidecar)
    runner.reset(0)
    pid = process.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerError, match=r"^the test simulator process stopped unexpectedly \(exit code -9\)$"):
        runner.advance()
    assert process.pid is None
    with pytest.raises(WorkerError, match="lost this episode: restart it"):
        runner.advance()
    assert runner.reset(0).t == 0 and process.pid not in (None, pid)  # opened again in a fresh process


def test_close_ends_the_worker():
    proc = EpisodeProcess("test simulator")
    pid = proc.call("pid")
    proc.close()
    assert proc.pid is None and not alive(pid)
    proc.close()  # twice is fine
    with pytest.raises(WorkerError, match="was closed"):
        proc.call("pid")


def test_close_does_not_wait_for_a_request_in_flight():
    """Closing while the worker is still starting (importing torch and highway-env for its first request): the
    worker is terminated, the request fails with one line, nothing is left."""
    import threading

    task, model, sidecar = random_agents("highway")
    proc = EpisodeProcess("test simulator")
    failed = []

    def first_request():
        try:
            proc.call("open", {"env_name": "highway", "env_config": {}, "task": task, "intent": model,
                               "intent_sidecar": sidecar})
        except WorkerError as exc:
            failed.append(str(exc))

    thread = threading.Thread(target=first_request)
    thread.start()
    while proc.pid is None and thread.is_alive():
        time.sleep(0.001)
    pid = proc.pid
    proc.close()
    thread.join()
    assert failed and failed[0].startswith("the test simulator process stopped unexpectedly (exit code")
    assert proc.pid is None and not alive(pid)


def test_no_orphan_when_the_app_is_killed(tmp_path):
    """A worker whose app dies without closing it (SIGKILL) ends by itself: its pipe closes."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from dpf_gui.episode_worker import EpisodeProcess

        if __name__ == "__main__":
            proc = EpisodeProcess("orphan test")
            print(proc.call("pid"), flush=True)
            time.sleep(120)
    """))
    repo = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        worker = int(app.stdout.readline())
        assert alive(worker)
    finally:
        app.kill()
        app.wait()
    assert wait_gone(worker), f"worker {worker} outlived its app"


def test_a_script_without_the_main_guard_is_told_what_to_write(tmp_path):
    """A script that starts the worker at its top level: the worker imports it again, starts one of its own while
    starting and fails (Python's bootstrapping RuntimeError); the line the script gets names the guard it needs.
    The same script with the guard gets its answer."""
    repo = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    body = textwrap.dedent("""
        from dpf_gui.episode_worker import EpisodeProcess
        from dpf_gui.errors import WorkerError
        try:
            print("pid", EpisodeProcess("guard test").call("pid") > 0, flush=True)
        except WorkerError as exc:
            print("said:", exc, flush=True)
    """)
    guarded = 'if __name__ == "__main__":\n' + textwrap.indent(body, "    ")
    said = {}
    for name, text in (("unguarded", body), ("guarded", guarded)):
        script = tmp_path / f"{name}.py"
        script.write_text(text)
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
        said[name] = [line for line in out.stdout.splitlines() if line.startswith(("said:", "pid"))]
    assert said["unguarded"] == [
        f"said: the guard test process stopped unexpectedly (exit code 1): {tmp_path / 'unguarded.py'} starts "
        "dpf-gui's processes at its top level; put that under `if __name__ == \"__main__\":` (each process imports "
        "the script again)"], said
    assert said["guarded"] == ["pid True"], said

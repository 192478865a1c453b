"""--backend ray: the same episode chunks and benchmark cells as Ray tasks give what the local run gives.

On a local Ray instance of 2 CPUs, started by the backend itself (what a cluster runs, in miniature). The
Ray tests are skipped only when Ray (the ``ray`` extra) is not installed; the refusals (no Ray, a bad
--address) are tested either way and start no Ray.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

import pytest

from dpf_gui import benchmark as bm
from dpf_gui.benchmark_report import write_report
from dpf_gui.cli import main
from dpf_gui.errors import UserError
from dpf_gui.evaluate import _play_chunk, play_agents
from dpf_gui.fusion import FusedAgent, FusionParams
from dpf_gui.intent.additive import AdditiveConfig
from dpf_gui.parallel import map_jobs
from dpf_gui.pipeline import load_task_agent
from dpf_gui.ray_jobs import pack_shared, place_shared
from dpf_gui.results import keep_job_result, read_results, run_cell, run_efficiency
from tests.test_batched_eval import (
    SCALE,
    additive_intent,
    assert_same_records,
    lstm_intent,
)

NO_RAY = "Ray is not installed (the ray extra: pip install -e '.[ray]'), so the Ray backend cannot be tested"


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason=NO_RAY)
    from dpf_gui.ray_jobs import connect

    assert connect(cpus=2) == 2  # the backend's own start: a local instance, the workers checked
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def gridnav():
    return load_task_agent("gridnav")


def test_evaluation_chunks_as_ray_tasks_play_the_local_episodes(ray_cluster, gridnav):
    agents = {
        "task": FusedAgent(gridnav, "task"),
        "dynamic": FusedAgent(gridnav, "dynamic", FusionParams(sample=True), intent=additive_intent(gridnav),
                              intent_scale=SCALE, seed=4),
        "static-lstm": FusedAgent(gridnav, "static", intent=lstm_intent(gridnav), intent_scale=SCALE),
    }
    seeds = list(range(9000, 9013))
    local = play_agents("gridnav", agents, seeds)
    on_ray = play_agents("gridnav", agents, seeds, jobs=3, backend="ray")  # chunks of 5, 4 and 4 episodes
    assert list(on_ray) == list(agents)
    for name in agents:
        assert_same_records(local[name], on_ray[name])


def test_cli_evaluate_on_ray_writes_the_local_table(ray_cluster, tmp_path, capsys):
    outs = []
    for extra in ([], ["--backend", "ray"]):  # ray without --jobs: a chunk per CPU of the instance
        out = tmp_path / f"eval{len(extra)}.json"
        assert main(["evaluate", "--env", "gridnav", "--strategies", "task", "--episodes", "9", "--seed", "5",
                     "--preset", "avoid", "--json", str(out), "--quiet", *extra]) == 0
        outs.append(out.read_text())
    capsys.readouterr()
    assert outs[0] == outs[1]


def test_a_task_error_comes_back_as_one_line(ray_cluster, gridnav):
    agent = FusedAgent(gridnav, "task")
    items = [("gridnav", agent, [1], None, None), ("no-such-env", agent, [2], None, None)]
    with pytest.raises(UserError, match="unknown environment 'no-such-env'") as info:
        map_jobs(_play_chunk, items, backend="ray")
    assert "\n" not in str(info.value)


def test_benchmark_cells_as_ray_tasks_equal_the_local_cells(ray_cluster, tmp_path: Path):
    spec = bm.BenchmarkSpec(envs=("gridnav",), wishes=2, budgets=(25,), label_types=("exact",), rows=("dynamic",),
                            split="dev", episodes={"gridnav": 6, "highway": 2, "pong": 2}, baseline={"gridnav": 10},
                            intent=AdditiveConfig(utility_steps=60, value_steps=150, members=2, hidden=16).to_dict())
    local = bm.run_benchmark(spec, tmp_path / "local", progress=False)
    on_ray = bm.run_benchmark(spec, tmp_path / "ray", progress=False, backend="ray")

    def timeless(cells):
        return [{k: v for k, v in c.items() if k != "wall_s"} for c in cells]

    assert len(local) == 2 and timeless(on_ray) == timeless(local)
    assert len(list((tmp_path / "ray" / "gridnav" / "cells").glob("*/cell.json"))) == 2  # kept by this process
    out = tmp_path / "RESULTS.md"
    write_report(on_ray, spec, out, "dpf benchmark --backend ray", "test machine", 120.0, 2, backend="ray")
    assert "took 2 min wall as Ray tasks on 2 CPUs" in out.read_text()


def test_a_task_finds_the_folders_this_process_made_where_its_node_has_none(ray_cluster, tmp_path: Path,
                                                                           monkeypatch):
    """A cluster's nodes need not share the work folder: folders and files passed as ``shared`` are placed where a
    task runs before it starts. Here they are relative and this process has moved on to another working folder than
    the one Ray's workers started in, so they resolve them where nothing of them is, as a node of a cluster does."""
    monkeypatch.chdir(tmp_path)
    made = Path(f"placed-by-test-{secrets.token_hex(4)}") / "gridnav" / "task-seed1-n2"
    (made / "sub").mkdir(parents=True)
    (made / "records.json").write_text("[1, 2]")
    (made / "sub" / "more.bin").write_bytes(bytes(range(256)))
    own = made.parent / "data" / "mine.npz"  # a user's file (dpf benchmark --data), in a folder the node lacks
    own.parent.mkdir()
    own.write_bytes(b"trajectories")

    def read(path: str) -> tuple[str, bytes]:
        return os.getcwd(), Path(path).read_bytes()

    got = map_jobs(read, [str(made / "records.json"), str(made / "sub" / "more.bin"), str(own)], backend="ray",
                   shared=[made, own])
    (where, first), (_, second), (_, third) = got
    try:
        assert Path(where).resolve() != tmp_path.resolve()  # the tasks did not read this process's copy
        assert (first, second, third) == (b"[1, 2]", bytes(range(256)), b"trajectories")
        assert not [p for p in (Path(where) / made.parent).iterdir() if p.name.startswith(".")]  # nothing half-placed
    finally:
        shutil.rmtree(Path(where) / made.parts[0], ignore_errors=True)


def test_placing_leaves_a_folder_or_file_that_is_there_alone(tmp_path: Path):
    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "a.json").write_text("mine")
    file = tmp_path / "data" / "mine.npz"
    file.parent.mkdir()
    file.write_bytes(b"trajectories")
    packed = pack_shared([folder, tmp_path / "never-made", file])
    assert list(packed) == [str(folder), str(file)]  # what is not there is not packed
    (folder / "a.json").write_text("changed since")
    file.write_bytes(b"changed since")
    place_shared(packed)
    assert (folder / "a.json").read_text() == "changed since" and file.read_bytes() == b"changed since"
    shutil.rmtree(folder)
    shutil.rmtree(file.parent)
    place_shared(packed)
    assert (folder / "a.json").read_text() == "mine" and file.read_bytes() == b"trajectories"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "entry"]  # nothing half-placed beside them
    assert [p.name for p in file.parent.iterdir()] == ["mine.npz"]


def test_results_kept_by_the_driver_are_where_the_report_reads_them(tmp_path: Path):
    cell = {"wish": {"prefer": []}, "episodes": 3, "seed": 0, "strategies": {"task": {}, "dynamic": {}}}
    study = {"env": "gridnav", "mode": "mixed", "episodes": 3, "total_s": 1.0, "rows": []}
    keep_job_result((run_cell, "gridnav", "avoid", 3, 0, tmp_path, None), cell)
    keep_job_result((run_efficiency, "gridnav", "mixed", 3, 0, tmp_path, None), study)
    grid, efficiency, unreadable = read_results(tmp_path, ["gridnav"])
    assert grid["gridnav"] == {"avoid": cell} and efficiency == [study] and unreadable == []


# --- refusals: one line, exit 2, no Ray started -----------------------------------------------------------
def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


@pytest.mark.parametrize("argv, fragment", [
    (["--backend", "ray", "--address", "head"], "--address 'head' is not a Ray address; write ray://HEAD:10001"),
    (["--backend", "ray", "--address", "ray://127.0.0.1:{port}"], "nothing answers at 127.0.0.1:{port}"),
    (["--backend", "ray", "--address", "127.0.0.1:{port}"], "is the cluster's head node running"),
    (["--address", "auto"], "--address names a Ray cluster: give --backend ray too"),
])
def test_a_bad_address_is_one_line_exit_2(argv, fragment, tmp_path, capsys):
    port = _refused_port()
    argv = [a.format(port=port) for a in argv]
    for command in (["evaluate", "--env", "gridnav", "--episodes", "2"],
                    ["benchmark", "--quick", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "R.md")],
                    ["results", "--envs", "gridnav", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "R.md")]):
        assert main([*command, *argv]) == 2
        err = capsys.readouterr().err
        assert fragment.format(port=port) in err and err.count("\n") == 1, err
    assert not (tmp_path / "w").exists() and not (tmp_path / "R.md").exists()


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["evaluate", "--env", "gridnav", "--episodes", "2", "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert err == "dpf evaluate: error: --backend ray needs Ray, which is not installed: pip install 'dpf-gui[ray]'\n"

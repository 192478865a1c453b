"""Durability of every file dpf-gui writes: a failure mid-write leaves the old file whole (dpf_gui/fileio.py)."""

import os

import numpy as np
import pytest

from dpf_gui.fileio import file_mode, write_atomic, write_json_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.json"
    write_json_atomic(target, {"kept": True})

    def half_then_crash(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write('{"half": ')
        raise KeyboardInterrupt  # Ctrl-C, a kill or a full disk in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_crash)
    assert target.read_text() == '{\n  "kept": true\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.json"]


def test_written_files_get_the_mode_of_a_plain_open(tmp_path):
    path = write_json_atomic(tmp_path / "x.json", [1])
    assert (path.stat().st_mode & 0o777) == file_mode()


def test_a_dataset_save_interrupted_midway_keeps_the_previous_dataset(tmp_path, monkeypatch):
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.rollout import random_policy, rollout

    data = rollout("gridnav", random_policy(0), 3, seed=0, progress=False)
    path = data.save(tmp_path / "d.npz")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError):
        rollout("gridnav", random_policy(1), 5, seed=1, progress=False).save(path)
    assert path.read_bytes() == before and len(TrajectoryDataset.load(path)) == 3
    assert os.listdir(tmp_path) == ["d.npz"]

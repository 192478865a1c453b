"""``dpf-gui --demo`` and ``--lesson --present`` through ``main()``: label, train, play and screenshot, hands-off
(run in-process, offscreen).

Every test that runs the app's ``main()`` in-process lives here, and tests/conftest.py runs this file last: once an
``exec()`` has ended with its last window closed, offscreen Qt in this process no longer activates new windows nor
readies their players, so a window test that follows one fails (those using ``open_window``)."""

import time

import numpy as np
import pytest
import torch
from PIL import Image

from dpf_gui.app.calibrating import AUTO_LEAD
from dpf_gui.app.main import main


@pytest.fixture()
def torch_threads():
    threads = torch.get_num_threads()  # main() sets one thread, as the app does
    yield
    torch.set_num_threads(threads)


def test_demo_gridnav_runs_and_writes_a_screenshot(qapp, tmp_path, capsys, monkeypatch, torch_threads):
    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "data"))
    shot = tmp_path / "demo.png"
    assert main(["--demo", "gridnav", "--quit-after", "300", "--screenshot", str(shot)]) == 0
    out = capsys.readouterr().out
    assert "intent model trained" in out and "frames/s" in out and "1 episode(s) played" in out
    assert f"demo gridnav: {AUTO_LEAD}: strength" in out and "kept from an earlier calibration" not in out, out
    assert shot.stat().st_size > 10_000
    with Image.open(shot) as im:
        assert im.size[0] >= 800 and len(np.unique(np.asarray(im.convert("L")))) > 20  # not blank
    # the second demo finds its intent model in the cache; its labels never reached the user's store
    shot.unlink()
    assert main(["--demo", "gridnav", "--quit-after", "300", "--screenshot", str(shot), "--strategy", "static"]) == 0
    out = capsys.readouterr().out
    assert "from the demo cache" in out and "(static)" in out and shot.is_file()
    assert "kept from an earlier calibration on this machine" in out, out  # calibrated once per machine
    assert not (tmp_path / "data" / "labels.sqlite").exists()
    # --loop keeps playing until closed, dynamic and static taking turns (presentation mode); the test stops it
    # after three episodes, however long they take on this machine (--quit-after 300 only guards against a hang)
    from dpf_gui.app.demo import Demo

    episode = Demo._episode

    def stop_after_three(self, metrics):
        episode(self, metrics)
        if self.finished_episodes == 3:
            self.finish("three episodes seen")

    monkeypatch.setattr(Demo, "_episode", stop_after_three)
    assert main(["--demo", "gridnav", "--loop", "--present", "--quit-after", "300"]) == 0
    out = capsys.readouterr().out
    assert "episode 1 (dynamic)" in out and "episode 2 (static)" in out and "episode 3 (dynamic)" in out, out
    assert "three episodes seen" in out, out
    # and --quit-after ends a loop that nothing else ends
    monkeypatch.setattr(Demo, "_episode", episode)
    assert main(["--demo", "gridnav", "--loop", "--quit-after", "0.5"]) == 0
    assert "--quit-after reached" in capsys.readouterr().out


def test_demo_arguments_are_checked(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--strategy", "static"])
    assert exc.value.code == 2 and "only work with --demo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--demo", "chess"])
    with pytest.raises(SystemExit) as exc:
        main(["--loop"])
    assert exc.value.code == 2 and "--loop only work with --demo" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--demo", "gridnav", "--loop", "--episodes", "3"])
    assert exc.value.code == 2 and "give --episodes N or --loop, not both" in capsys.readouterr().err


def test_demo_without_a_writable_data_folder_says_so_and_exits_2(qapp, tmp_path, capsys, monkeypatch, torch_threads):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DPF_GUI_DATA", str(blocker / "data"))
    t0 = time.perf_counter()
    assert main(["--demo", "gridnav", "--quit-after", "60"]) == 2
    assert time.perf_counter() - t0 < 20  # no stall until --quit-after
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("dpf-gui: error: the demo cannot write in") and str(blocker) in err, err
    assert "\n" not in err and "Traceback" not in captured.err and captured.out == ""


def test_dpf_gui_lesson_present_opens_and_closes(qapp, tmp_path, monkeypatch, capsys):
    """``dpf-gui --lesson --present``: the lesson in presentation mode; its scratch folder is gone afterwards."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "data"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    shot = tmp_path / "lesson.png"
    try:
        assert main(["--lesson", "--present", "--quit-after", "2", "--screenshot", str(shot)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert shot.stat().st_size > 10_000 and list(scratch.iterdir()) == []
    assert not (tmp_path / "data" / "labels.sqlite").exists()  # the person's own labels untouched

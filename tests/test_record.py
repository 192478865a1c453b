"""``dpf record``: the Play view's picture, overlay and fusion readings written to a GIF from the command line."""

import csv
import os
import stat

import numpy as np
import pytest
from PIL import Image

from tests.test_cli import assert_user_error, run
from tests.test_saliency import train_tiny_additive_avoid_toll_intent


@pytest.fixture(scope="module")
def intent_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("record") / "gridnav"
    train_tiny_additive_avoid_toll_intent(folder)
    return folder


def frame_durations(path) -> list[int]:
    with Image.open(path) as gif:
        out = []
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append(int(gif.info["duration"]))
        return out


def test_record_films_the_episode_dpf_trace_plays(capsys, tmp_path, intent_dir):
    """One frame per decision (each says its decision, so none merge) and the end held a second; the same
    episode as ``dpf trace`` from the same seed; a file others may open (mkstemp alone makes it 0600)."""
    from dpf_gui.fileio import file_mode

    gif, table = tmp_path / "avoid.gif", tmp_path / "avoid.csv"
    code, said, _ = run(capsys, "record", "--intent", str(intent_dir), "--seed", "3", "--fps", "10", "--out", str(gif))
    assert code == 0, said
    code, _, _ = run(capsys, "trace", "--intent", str(intent_dir), "--seed", "3", "--out", str(table))
    assert code == 0
    with open(table, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["strategy"] for r in rows} == {"dynamic"}  # the default with an intent model, in both
    task_return = sum(float(r["task_reward"]) for r in rows)
    assert f"seed 3: {len(rows)} decisions, task return {task_return:.2f}" in said
    avoided = sum(int(r["in_avoid"]) for r in rows)  # the wish recorded with the intent's labels
    assert f"{avoided} ({avoided / len(rows):.2f}) in avoided regions" in said and f"wrote {gif}: " in said
    durations = frame_durations(gif)
    assert len(durations) == len(rows) + 1 and durations[-1] == 1000 and set(durations[:-1]) == {100}
    assert stat.S_IMODE(os.stat(gif).st_mode) == file_mode()
    with Image.open(gif) as first:
        width, height = first.size
    assert width == 400 and height > 400  # gridnav's picture over the strip


def test_record_every_nth_decision_of_several_episodes(capsys, tmp_path):
    gif = tmp_path / "task.gif"
    code, said, _ = run(capsys, "record", "--env", "gridnav", "--strategy", "task", "--episodes", "2",
                        "--every", "3", "--seed", "5", "--no-overlay", "--out", str(gif))
    assert code == 0
    steps = [int(line.split()[2]) for line in said.splitlines() if line.startswith("seed ")]
    assert len(steps) == 2 and "seed 5:" in said and "seed 6:" in said
    # decisions 0, 3, 6, ... of each episode, then its end (held: one frame, a second long)
    assert len(frame_durations(gif)) == sum(-(-n // 3) + 1 for n in steps)


@pytest.mark.parametrize("argv, fragment", [
    (["--env", "gridnav", "--strategy", "dynamic"], "strategy 'dynamic' needs an intent model: pass --intent DIR"),
    (["--env", "gridnav", "--out", "film.png"], "give a file name ending in .gif"),
    (["--env", "gridnav", "--every", "0"], "argument --every: 0 is out of range"),
    (["--env", "gridnav", "--fps", "100"], "argument --fps: 100 is out of range"),
    (["--env", "gridnav", "--out", "here.gif"], "already exists; pass --force"),
])
def test_record_refuses_in_one_line(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.gif").write_bytes(b"the person's own file")
    if "--out" not in argv:
        argv = [*argv, "--out", "new.gif"]
    assert_user_error(capsys, fragment, "record", *argv)
    assert (tmp_path / "here.gif").read_bytes() == b"the person's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.gif"]  # nothing half-written


def test_the_strip_says_how_the_episode_ended():
    from dpf_gui.episode import EpisodeRunner
    from dpf_gui.episode_recording import recording_frame, strip_lines
    from dpf_gui.pipeline import load_task_agent

    runner = EpisodeRunner("gridnav", None, load_task_agent("gridnav"), strategy="task")
    try:
        snap = runner.reset(3)
        first = strip_lines(snap, None, runner.action_names)
        assert first[0] == "task · seed 3 · decision 0 · task return 0.00" and first[1].startswith("next: ")
        while not snap.done:
            snap = runner.advance()
        assert strip_lines(snap, "wish: x", runner.action_names)[-1] == \
            f"episode over: task done after {snap.t} decisions"
        frame = recording_frame(snap, runner.action_names, "wish: x")
        assert frame.dtype == np.uint8 and frame.shape[1] == 400 and frame.shape[0] > 400
    finally:
        runner.close()


def test_the_painter_without_qt_draws_what_the_play_view_draws(qapp, intent_dir):
    """The overlay drawn by Pillow (dpf record) against the app's QPainter, on gridnav's richest overlay
    (the intent's value map, the wish's dashed cells, the next move): the same picture but for antialiased
    edges (1 % of the pixels more than 8 of 255 off, measured). Without the overlay 5 % are, and 4.9 % without
    the value map alone."""
    from dpf_gui.app.overlays import compose, qimage_to_array
    from dpf_gui.episode import EpisodeRunner
    from dpf_gui.frame_paint import paint
    from dpf_gui.intent.registry import load_intent
    from dpf_gui.pipeline import load_task_agent

    intent, sidecar = load_intent(intent_dir, expect_env="gridnav")
    runner = EpisodeRunner("gridnav", None, load_task_agent("gridnav"), intent, sidecar, "dynamic")
    try:
        snap = runner.reset(3)
        for _ in range(2):
            snap = runner.advance()
    finally:
        runner.close()
    kinds = {type(s).__name__ for s in snap.overlay.shapes}
    assert {"Heat", "Layer", "Line"} <= kinds
    qt = qimage_to_array(compose(snap.frame, snap.overlay)).astype(int)
    def share_off(overlay) -> float:
        return float((np.abs(qt - paint(snap.frame, overlay).astype(int)).max(axis=-1) > 8).mean())

    assert share_off(snap.overlay) < 0.02
    assert share_off(None) > 3 * share_off(snap.overlay)

"""The app never gets stuck and never swaps in something broken (damaged files, saved state, the label store).

``DAMAGED`` is a table: each row makes one damaged file in the test and
names how the app opens it. Append rows for more cases; every row must be
refused with one message while what was open stays open and keeps working.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from dpf_gui.data.study import LabelStore
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.paths import shipped_model
from tests.qt_helpers import WAIT_MS, open_window


# --- what the damaged files are made from --------------------------------------------------------
def gridnav_data() -> TrajectoryDataset:
    return TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz").subset(range(12))


def damaged_dataset(**arrays) -> Callable[[Path, Path], Path]:
    """A gridnav dataset file with some arrays replaced (written raw: the saver would refuse them)."""
    def make(tmp: Path, _intent: Path) -> Path:
        data = gridnav_data()
        out = {k: getattr(data, k) for k in ("features", "legal", "regions", "actions", "rewards", "lengths", "seeds",
                                             "terminated", "success", "episodes")}
        out.update({k: f(data) for k, f in arrays.items()})
        meta = dict(data.meta, format="dpf-trajectories", format_version=1, count=len(data))
        out["meta"] = np.array(json.dumps(meta))
        path = tmp / "damaged.npz"
        np.savez(path, **out)
        return path
    return make


def damaged_checkpoint(source: str, *edits: Callable[[dict], None]) -> Callable[[Path, Path], Path]:
    """A copy of the shipped gridnav task agent (``source`` "task") or of a good intent model ("intent"),
    its model.json edited."""
    def make(tmp: Path, intent: Path) -> Path:
        folder = tmp / f"damaged-{source}"
        shutil.copytree(shipped_model("gridnav") if source == "task" else intent, folder)
        meta = json.loads((folder / "model.json").read_text())
        for edit in edits:
            edit(meta)
        (folder / "model.json").write_text(json.dumps(meta))
        return folder
    return make


def damaged_labels(tmp: Path, _intent: Path) -> Path:
    """A label file for the shipped gridnav data whose scores are words."""
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.wish import make_wish

    data = TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz")
    good = label_dataset(data, make_wish(data.region_features, avoid=["terrain=toll"]), FeedbackNoise(), 0)
    path = good.save(tmp / "labels.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["scores"] = np.full(arrays["scores"].shape, "good")
    np.savez(path, **arrays)
    return path


def put(path: str, value) -> Callable[[dict], None]:
    """Set ``a.b.c`` in a sidecar."""
    def edit(meta: dict) -> None:
        *parents, last = path.split(".")
        for p in parents:
            meta = meta.setdefault(p, {})
        meta[last] = value
    return edit


def drop(key: str) -> Callable[[dict], None]:
    return lambda meta: meta.pop(key, None)


@pytest.fixture(scope="module")
def good_intent(tmp_path_factory) -> Path:
    """A real (small) gridnav intent checkpoint: what is open before a damaged file is tried."""
    from dpf_gui.intent.train import IntentConfig, train_intent
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.wish import make_wish

    data = TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz").subset(range(0, 1495, 15))
    labels = label_dataset(data, make_wish(data.region_features, avoid=["terrain=toll"]), FeedbackNoise(), 0)
    out = tmp_path_factory.mktemp("good") / "intent"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_intent(data, labels, seed=0, out_dir=out, progress=False,
                     config=IntentConfig(embed=16, hidden=16, max_epochs=2, patience=2))
    finally:
        torch.set_num_threads(threads)
    return out


@dataclass(frozen=True)
class Damaged:
    name: str
    kind: str  # how the app opens it: "dataset", "task", "intent" or "labels" (see OPEN)
    make: Callable[[Path, Path], Path]  # (test folder, a good intent checkpoint) -> the damaged file it wrote
    says: str  # a piece of the one-line message


OPEN = {
    "dataset": lambda window, path: window.open_dataset(path),
    "task": lambda window, path: window.open_checkpoint(path),
    "intent": lambda window, path: window.train.load_intent_dir(path),
    "labels": lambda window, path: window.import_labels(path),
}

DAMAGED = [
    Damaged("regions narrower than the features", "dataset", damaged_dataset(regions=lambda d: d.regions[:, :1]),
            "regions has 1 columns"),
    Damaged("all-NaN regions", "dataset", damaged_dataset(regions=lambda d: np.full_like(d.regions, np.nan)),
            "regions holds NaN or infinite values"),
    Damaged("string actions", "dataset", damaged_dataset(actions=lambda d: d.actions.astype(str)), "actions"),
    Damaged("action 99", "dataset",
            damaged_dataset(actions=lambda d: np.where(np.arange(len(d.actions)) == 3, 99, d.actions)),
            "an action is outside 0..3"),
    Damaged("string features", "dataset", damaged_dataset(features=lambda d: d.features.astype(str)), "features"),
    Damaged("inf features", "dataset", damaged_dataset(features=lambda d: np.full_like(d.features, np.inf)),
            "features holds NaN or infinite values"),
    Damaged("2 feature columns", "dataset", damaged_dataset(features=lambda d: d.features[:, :2]),
            "features has 2 columns"),
    Damaged("fusion T_phi 'hot'", "task", damaged_checkpoint("task", put("fusion.T_phi", "hot")), "fusion"),
    Damaged("fusion T_min above T_max", "task", damaged_checkpoint("task", put("fusion.T_min", 50.0)), "T_min"),
    Damaged("q_scale 'big'", "task", damaged_checkpoint("task", put("metrics.q_scale.legal_std", "big")), "q_scale"),
    Damaged("intent reward_scale 'x' (no candidate_spread)", "intent",
            damaged_checkpoint("intent", drop("candidate_spread"), put("reward_scale", "x")), "reward_scale"),
    Damaged("intent candidate_spread 'wide'", "intent", damaged_checkpoint("intent", put("candidate_spread", "wide")),
            "candidate_spread"),
    Damaged("label file with words for scores", "labels", damaged_labels, "labels.npz"),
]


# --- damaged files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", DAMAGED, ids=[c.name for c in DAMAGED])
def test_a_damaged_file_is_refused_and_what_was_open_stays_working(qtbot, tmp_path, messages, good_intent, case):
    window = open_window(qtbot, tmp_path / "study", env="gridnav")
    assert window.train.load_intent_dir(good_intent)
    ws, intent = window.workspace, window.workspace.intent
    window.annotate.prefer()
    path = case.make(tmp_path, good_intent)

    assert not OPEN[case.kind](window, path)
    assert len(messages) == 1, messages
    message = messages[0][1]
    assert case.says in message and "\n" not in message and "Traceback" not in message, message

    # what was open stays open, and works: marking, the timeline, Play with dynamic fusion
    assert window.workspace is ws and ws.intent is intent
    window.annotate.next_unlabelled()
    window.annotate.avoid()
    assert ws.labels().count == 2 and window.annotate.progress.value() == 2
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    assert play.runner is not None and play.runner.strategy == "dynamic"
    assert play.run_decisions(3) == 3
    assert len(messages) == 1


# --- saved state that cannot be restored ---------------------------------------------------------------
def test_a_saved_state_that_cannot_be_restored_gives_a_clean_start(qtbot, tmp_path, messages, good_intent):
    """The crash loop: the Play tab saved with a now-damaged agent and intent model must not stop the next start."""
    bad_task = damaged_checkpoint("task", put("fusion.T_phi", "hot"))(tmp_path, good_intent)
    bad_intent = damaged_checkpoint("intent", drop("candidate_spread"), put("reward_scale", "x"))(tmp_path, good_intent)
    study = tmp_path / "study"
    study.mkdir()
    settings = QSettings(str(study / "gui.ini"), QSettings.Format.IniFormat)
    settings.setValue("tab", 2)  # Play
    settings.sync()
    fingerprint = TrajectoryDataset.load(shipped_model("gridnav") / "trajectories.npz").fingerprint()
    with LabelStore.in_dir(study) as store:
        store.set("resume/env", "gridnav")
        store.set("resume/gridnav", {"task_dir": str(bad_task), "dataset_path": None, "fingerprint": fingerprint,
                                     "trajectory": "seven", "frame": -3})
        store.set(f"intent/{fingerprint}", {"dir": str(bad_intent), "env": "gridnav"})

    window = open_window(qtbot, study)
    ws = window.workspace
    assert ws is not None and ws.env_name == "gridnav" and ws.task_dir == shipped_model("gridnav")
    assert window.tabs.currentWidget() is window.annotate  # a clean start
    titles = [t for t, _ in messages]
    assert "Could not reopen where you left off" in titles
    assert "The intent model used last time was not loaded" in titles
    said = dict(messages)
    assert "fusion" in said["Could not reopen where you left off"] and "shipped gridnav agent" in said[
        "Could not reopen where you left off"]
    assert "reward_scale" in said["The intent model used last time was not loaded"]
    assert ws.intent is None
    window.tabs.setCurrentWidget(window.play)
    assert window.play.runner is not None and window.play.run_decisions(2) == 2
    window.close()
    # and the start after that is clean too (nothing damaged was saved)
    again = open_window(qtbot, study)
    assert again.workspace.task_dir == shipped_model("gridnav")


# --- the label store in the window ------------------------------------------------------------------------
def test_a_damaged_mark_is_skipped_and_reported_while_the_others_show(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    for _ in range(3):
        window.annotate.prefer()
        window.annotate.next_unlabelled()
    window.close()
    db = sqlite3.connect(str(tmp_path / "labels.sqlite"))
    action = db.execute("INSERT INTO actions (dataset, kind, source, created) VALUES (?, 'mark', 'person', 0)",
                        (ws.fingerprint,)).lastrowid
    bad = db.execute("INSERT INTO marks (action, dataset, traj, kind, t0, t1, value) "
                     "VALUES (?, ?, 1, 'segment', NULL, 4, 1)",
                     (action, ws.fingerprint)).lastrowid
    db.commit()
    db.close()

    window = open_window(qtbot, tmp_path)
    assert window.annotate.progress.value() == 3 and window.workspace.labels().count == 3
    assert messages == [("Damaged marks skipped", messages[0][1])] and f"mark id {bad}" in messages[0][1]


def test_two_windows_on_one_study_folder_never_undo_each_others_marks(qtbot, tmp_path, messages):
    first = open_window(qtbot, tmp_path, env="gridnav")
    first.annotate.prefer()
    second = open_window(qtbot, tmp_path, env="gridnav")
    assert not first.store.read_only and second.store.read_only
    assert messages[-1][0] == "The labels can only be read" and "another dpf-gui" in messages[-1][1]
    assert "read-only" in second.store_label.text() and "read-only" not in first.store_label.text()
    assert second.workspace.labels().count == 1  # the first window's mark is shown
    second.annotate.undo()  # Ctrl+Z in the second window ...
    assert messages[-1][0] == "Nothing can be undone" and "read-only" in messages[-1][1]
    second.annotate.avoid()
    assert messages[-1][0] == "Cannot mark"
    assert first.workspace.labels().count == 1  # ... never touches the first one's marks
    first.annotate.undo()
    assert first.workspace.labels().count == 0


def test_an_unusable_study_folder_is_said_and_stays_on_screen(qtbot, tmp_path, messages):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    window = open_window(qtbot, blocker / "study", env="gridnav")
    assert window.store.path == tmp_path / "user-data" / "labels.sqlite"  # the default folder (DPF_GUI_DATA)
    assert messages[0][0] == "Labels are not kept in the chosen study folder"
    assert str(blocker / "study") in messages[0][1] and str(window.store.path) in messages[0][1]
    shown = window.store_label
    assert shown.isVisible() and "NOT the chosen study folder" in shown.text()
    assert "user-data/labels.sqlite" in shown.text()
    assert str(window.store.path) in shown.toolTip() and str(blocker / "study") in shown.toolTip()
    window.statusBar().showMessage("something else", 100)  # temporary messages come and go; this one stays
    qtbot.wait(200)
    assert "NOT the chosen study folder" in shown.text() and shown.isVisible()


# --- every malformed file of the CLI's bad-input table, opened through the app ------------------------
def _bad_files():
    from tests import bad_inputs as bad

    for kind, table in (("dataset", bad.BAD_DATASETS), ("labels", bad.BAD_LABELS), ("task", bad.BAD_TASKS),
                        ("intent", bad.BAD_INTENTS)):
        for name, (build, _) in sorted(table.items()):
            yield pytest.param(kind, build, id=f"{kind}-{name}")


@pytest.mark.parametrize("kind, build", list(_bad_files()))
def test_every_malformed_file_of_the_cli_table_is_refused_by_the_app_too(qtbot, tmp_path, messages, kind, build):
    """The files tests/test_bad_inputs.py feeds the CLI, opened through the app's own open functions: one line,
    no traceback, and what was open stays open."""
    window = open_window(qtbot, tmp_path / "study", env="gridnav")
    ws, intent = window.workspace, window.workspace.intent
    (tmp_path / "bad").mkdir()
    path = build(tmp_path / "bad")
    assert not OPEN[kind](window, path)
    assert len(messages) == 1, messages
    message = messages[0][1]
    assert message and "\n" not in message and "Traceback" not in message, message
    assert window.workspace is ws and ws.intent is intent
    window.annotate.prefer()
    assert ws.labels().count == 1


# --- Play's Record and File > Export labels: where the files go ---------------------------------------------
def _play(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path / "study", env="gridnav")
    window.tabs.setCurrentWidget(window.play)
    qtbot.waitUntil(lambda: window.play.runner is not None and window.play.snapshot() is not None, timeout=WAIT_MS)
    return window, window.play


def test_recording_into_a_read_only_folder_is_refused_when_it_starts(qtbot, tmp_path, messages, monkeypatch):
    """It was accepted, recorded for as long as the person played, and failed only at Stop (every frame lost),
    saying 'PermissionError: ... x.gif.part.gif'."""
    from dpf_gui.app import save_dialog
    from dpf_gui.errors import UserError
    from tests.test_study_store import read_only

    _window, play = _play(qtbot, tmp_path)
    folder = tmp_path / "talk"
    folder.mkdir()
    with read_only(folder):
        with pytest.raises(UserError, match="cannot be written"):
            play.start_recording(folder / "x.gif")
        assert not play.is_recording()
        monkeypatch.setattr(save_dialog.QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, **k: (str(folder / "x.gif"), "GIF (*.gif)")))
        play.record_button.click()  # the Record button, through its dialog
        said = play.status_label.text()
        assert not play.is_recording() and not play.record_button.isChecked()
        assert said.startswith(f"cannot record to {folder / 'x.gif'}: the folder cannot be written"), said
        assert "Traceback" not in said and "Error" not in said
    assert list(folder.iterdir()) == []
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):  # was a FileExistsError out of a Qt slot
        play.start_recording(blocker / "x.gif")


def test_a_recording_that_fails_after_stop_is_said_in_a_notice(qtbot, tmp_path, messages):
    """The folder removed while recording: the file cannot be written at Stop. Only the view's status line said
    so, and the next status message replaced it; now a notice says it (Play's and Compare's Record alike)."""
    import shutil

    window, play = _play(qtbot, tmp_path)
    folder = tmp_path / "talk"
    folder.mkdir()
    play.start_recording(folder / "x.gif", fps=10)
    play.run_decisions(3)
    shutil.rmtree(folder)
    play.stop_recording()
    qtbot.waitUntil(lambda: bool(messages), timeout=WAIT_MS)
    title, text = messages[-1]
    assert title == "Recording failed" and text.startswith(f"Recording to {folder / 'x.gif'} failed: "), text
    assert "Traceback" not in text
    assert play.status_label.text().startswith("recording failed")
    compare = window.view("Compare")  # Compare's Record is heard too (its recorder's signal, as at Stop)
    compare.recordingFinished.emit(str(folder / "pair.gif"), "cannot write it: No space left on device")
    assert messages[-1] == ("Recording failed", f"Recording to {folder / 'pair.gif'} failed: cannot write it: "
                                                "No space left on device")
    compare.recordingFinished.emit(str(folder / "ok.gif"), "")  # a recording written: no notice
    assert len(messages) == 2


def test_switching_environment_while_recording_stops_it_and_says_why(qtbot, tmp_path, messages):
    """Every frame after the switch was dropped in silence: a 1-frame GIF, and 'recorded ...'."""
    from PIL import Image

    window, play = _play(qtbot, tmp_path)
    gif = tmp_path / "talk.gif"
    play.start_recording(gif, fps=10)
    play.run_decisions(4)
    assert play.is_recording()
    window.open_env("pong")
    qtbot.waitUntil(lambda: play.runner is not None and play.runner.env_name == "pong"
                    and play.snapshot() is not None, timeout=WAIT_MS)
    assert not play.is_recording() and not play.record_button.isChecked()  # at pong's first frame
    qtbot.waitUntil(lambda: "recorded" in play.status_label.text(), timeout=WAIT_MS)
    said = play.status_label.text()
    assert said.startswith(f"recorded 5 frames to {gif}") and "another environment" in said, said
    with Image.open(gif) as im:
        assert im.n_frames == 5


def test_closing_right_after_stop_recording_keeps_the_file(qtbot, tmp_path, messages, monkeypatch):
    """Stop recording, then close the window at once: the file was still being encoded in a daemon thread, which
    the process's exit killed: nothing written."""
    import time

    from PIL import Image

    from dpf_gui.app import recording

    encode = recording.Recorder._encode_gif

    def slow(self):  # a long recording takes a while to encode
        time.sleep(1.0)
        encode(self)

    monkeypatch.setattr(recording.Recorder, "_encode_gif", slow)
    window, play = _play(qtbot, tmp_path)
    gif = tmp_path / "talk.gif"
    play.start_recording(gif, fps=10)
    play.run_decisions(3)
    play.stop_recording()  # Stop recording ...
    window.close()  # ... and close the window at once
    assert gif.is_file()
    with Image.open(gif) as im:
        assert im.n_frames == 4
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


@pytest.mark.parametrize("answer", ["Yes", "No"])
def test_a_name_typed_without_its_suffix_never_replaces_a_file_silently(qtbot, tmp_path, messages, monkeypatch,
                                                                         answer):
    """'labels' typed in Export labels' dialog wrote labels.npz over an earlier export without asking (the dialog
    asked about 'labels', which did not exist); the same for Record's '.gif'."""
    from PySide6.QtWidgets import QMessageBox

    from dpf_gui.app import save_dialog
    from dpf_gui.data.labels import Labels

    window = open_window(qtbot, tmp_path / "study", env="gridnav")
    window.annotate.prefer()
    earlier = tmp_path / "labels.npz"
    earlier.write_bytes(b"an hour of work, exported yesterday")
    asked = []
    monkeypatch.setattr(save_dialog.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "labels"), "dpf labels (*.npz)")))
    monkeypatch.setattr(save_dialog.QMessageBox, "question",
                        staticmethod(lambda parent, title, text, *a: asked.append(text)
                                     or getattr(QMessageBox.StandardButton, answer)))
    window._ask_export_labels()
    assert asked == [f"labels.npz already exists in {tmp_path}. Replace it?"]
    assert not (tmp_path / "labels").exists()
    if answer == "No":
        assert earlier.read_bytes() == b"an hour of work, exported yesterday"
    else:
        assert Labels.load(earlier).count == 1
    # a new name gets its suffix, without a question
    monkeypatch.setattr(save_dialog.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "talk"), "GIF (*.gif)")))
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    qtbot.waitUntil(lambda: play.snapshot() is not None, timeout=WAIT_MS)
    play.record_button.click()
    assert play.is_recording(), play.status_label.text()  # was refused: 'recording talk: use a .gif ... name'
    play.stop_recording(wait=True)
    assert (tmp_path / "talk.gif").is_file() and len(asked) == 1


@pytest.mark.parametrize("choice", ["Keep my marks", "Use the file's", "Cancel"])
def test_importing_labels_over_marks_already_made_asks_first(qtbot, tmp_path, messages, monkeypatch, choice):
    """File > Import labels replaced the marks a person had made on every trajectory the file labels, without a
    word (one Ctrl+Z undid it only if nothing was marked since)."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from dpf_gui.data.study import AVOIDED, SIMULATED, UNLABELLED
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.wish import make_wish

    window = open_window(qtbot, tmp_path / "study", env="gridnav")
    ws = window.workspace
    file = label_dataset(ws.dataset, make_wish(ws.dataset.region_features, prefer=["terrain=toll"]), FeedbackNoise(),
                         0).save(tmp_path / "labels.npz")  # labels every trajectory
    ws.mark(0, -1)
    ws.mark(1, -1)
    asked = []

    def answer(box) -> int:
        asked.append(box.text())
        if choice == "Cancel":
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            next(b for b in box.buttons() if b.text() == choice).click()
        return 0

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(file), "")))
    monkeypatch.setattr(QMessageBox, "exec", answer)
    window._ask_import_labels()
    assert len(asked) == 1 and asked[0].startswith("2 of the trajectories this file labels are marked here already")
    states, _ = ws.summary()
    if choice == "Use the file's":
        assert states[0] == SIMULATED and states[1] == SIMULATED
    else:
        assert states[0] == AVOIDED and states[1] == AVOIDED  # the person's marks kept
    assert (states[2:] == (UNLABELLED if choice == "Cancel" else SIMULATED)).all()
    assert messages == []


def test_a_comparison_file_imports_as_rankings_without_asking_and_trains_on_them(qtbot, tmp_path, messages,
                                                                                 monkeypatch):
    """*Import labels file* with a `dpf label --feedback ranks` file: its comparisons are stored as rankings of two
    beside the marks (nothing replaced, so nothing asked), the list reads them as ranked, the Train tab as
    comparisons."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from dpf_gui.data.study import AVOIDED, RANKED
    from dpf_gui.oracles import label_ranking, rank_groups
    from dpf_gui.wish import make_wish

    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    wish = make_wish(ws.dataset.region_features, prefer=["terrain=toll"])
    file = label_ranking(ws.dataset, wish, rank_groups(list(range(10, 20)), 5, 0), 0.0, 0).save(tmp_path / "r.npz")
    ws.mark(0, -1)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(file), "")))
    monkeypatch.setattr(QMessageBox, "exec", lambda box: pytest.fail(f"asked: {box.text()}"))
    window._ask_import_labels()
    states, _ = ws.summary()
    assert states[0] == AVOIDED and (states[10:20] == RANKED).all() and (states[1:10] == 0).all()
    assert len(ws.store.rankings(ws.fingerprint)) == 2 * 10  # two rankings of five: ten comparisons each
    assert ws.labels().feedback_kind() == "pairs" and messages == []


def test_export_trace_adds_the_suffix_and_asks_before_replacing(qtbot, tmp_path, messages, monkeypatch):
    """'trace' typed in Export trace's dialog wrote a file named 'trace' (and would have replaced trace.csv)."""
    from PySide6.QtWidgets import QMessageBox

    from dpf_gui.app import save_dialog

    _window, play = _play(qtbot, tmp_path)
    play.step_button.click()
    qtbot.waitUntil(lambda: play.runner.trace is not None and bool(play.runner.trace.rows), timeout=WAIT_MS)
    monkeypatch.setattr(save_dialog.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "trace"), "CSV (*.csv)")))
    asked = []
    monkeypatch.setattr(save_dialog.QMessageBox, "question",
                        staticmethod(lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.No))
    play._ask_trace()
    assert (tmp_path / "trace.csv").is_file() and not (tmp_path / "trace").exists() and asked == []
    (tmp_path / "trace.csv").write_text("kept")
    play._ask_trace()
    assert asked == [f"trace.csv already exists in {tmp_path}. Replace it?"]
    assert (tmp_path / "trace.csv").read_text() == "kept"

"""The Annotate view, driven like a person drives it: keys, buttons, a restart, mistakes."""

import json
import shutil
from dataclasses import fields

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from dpf_gui.data.study import SEGMENTS, UNLABELLED
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.oracles import NOISE_HELP, FeedbackNoise
from dpf_gui.paths import shipped_model
from tests.qt_helpers import WAIT_MS, open_window


def keys(qtbot, window, *seq):
    for k in seq:
        mod = Qt.KeyboardModifier.NoModifier
        if isinstance(k, tuple):
            k, mod = k
        qtbot.keyClick(window, k, mod)


def test_label_ten_by_keyboard_and_find_them_after_restart(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path)
    chooser = window.findChild(type(window.env_combo), "envChooser")
    chooser.setCurrentIndex(chooser.findData("gridnav"))
    view = window.annotate
    assert window.workspace.env_name == "gridnav"
    # nothing labelled yet: the view moves to the first suggestion as soon as the suggestions arrive
    qtbot.waitUntil(lambda: view.suggestions.ready, timeout=WAIT_MS)
    first = view.suggestions.items[0].index
    assert first != 0 and view.current == first  # not dataset order: trajectory 0 is a 100-step failure
    assert view.reason_label.text().startswith("Suggested #1 (")
    given = {}
    pressed = [Qt.Key.Key_P, Qt.Key.Key_A, Qt.Key.Key_N] * 3 + [Qt.Key.Key_P]
    for k, value in zip(pressed, [1, -1, 0] * 3 + [1], strict=True):
        given[view.current] = value
        keys(qtbot, window, k, Qt.Key.Key_Return)
    assert len(given) == 10
    assert view.progress.value() == 10 and view.progress.text() == "10 of 1495 labelled"
    last = view.current
    qtbot.waitUntil(lambda: view.player.ready, timeout=WAIT_MS)
    keys(qtbot, window, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_End,
         Qt.Key.Key_Home, Qt.Key.Key_Right, Qt.Key.Key_Right)
    assert view.player.position == 2
    shown = view.player.view.image()
    assert shown is not None and not shown.isNull()
    window.close()

    again = open_window(qtbot, tmp_path)
    assert again.workspace.env_name == "gridnav"
    qtbot.waitUntil(lambda: again.annotate.suggestions.ready, timeout=WAIT_MS)
    assert again.annotate.current == last and again.annotate.player.position == 2  # where the person left off
    labels = again.workspace.labels()
    assert labels.count == 10 and labels.meta["source"] == "person"
    lengths = again.workspace.dataset.lengths
    for i, value in given.items():
        assert labels.labelled[i] and labels.scores[i] == pytest.approx(value * np.sqrt(lengths[i]))  # a judgement
    assert again.annotate.progress.value() == 10
    # the list shows it too: filter to the preferred ones
    view = again.annotate
    view.state_filter.setCurrentIndex(view.state_filter.findText("preferred"))
    assert view.proxy.rowCount() == sum(v == 1 for v in given.values())
    assert messages == []


def test_segments_undo_redo_and_playback(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    i = int(np.flatnonzero(np.asarray(ws.dataset.lengths) >= 14)[0])  # room for both segments below
    view.go_to(i)
    keys(qtbot, window, *[Qt.Key.Key_Right] * 5, Qt.Key.Key_BracketLeft, *[Qt.Key.Key_Right] * 3)
    assert view.segment() == (4, 7)  # frame 5 shows decision 4's result; the segment follows the frame
    keys(qtbot, window, Qt.Key.Key_BracketRight, Qt.Key.Key_Right, Qt.Key.Key_P)
    marks = ws.marks(i)
    assert marks.state == SEGMENTS and view.segment() is None
    assert np.flatnonzero(marks.marks).tolist() == [4, 5, 6, 7] and marks.marks[4] == 1
    keys(qtbot, window, Qt.Key.Key_BracketLeft, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_A)
    assert ws.marks(i).marks[8:11].tolist() == [-1, -1, -1] and ws.marks(i).score == 4 - 3
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))
    assert ws.marks(i).score == 4
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))
    assert ws.marks(i).state == UNLABELLED and view.redo_button.isEnabled()
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
    assert ws.marks(i).score == 4
    keys(qtbot, window, (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier))
    assert ws.marks(i).score == 1
    assert view.undo_button.isEnabled() and not view.redo_button.isEnabled()
    # undo from another trajectory brings the person back to where it happened
    keys(qtbot, window, Qt.Key.Key_Return)
    assert view.current != i
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))
    assert view.current == i and ws.marks(i).score == 4
    # speed and playback
    player = view.player
    keys(qtbot, window, Qt.Key.Key_Plus, Qt.Key.Key_Plus, Qt.Key.Key_Plus)
    assert player.speed == 4.0
    keys(qtbot, window, Qt.Key.Key_Minus)
    assert player.speed == 2.0
    qtbot.waitUntil(lambda: player.ready, timeout=WAIT_MS)
    keys(qtbot, window, Qt.Key.Key_Home, Qt.Key.Key_Space)
    assert player.is_playing
    qtbot.waitUntil(lambda: player.position >= 2, timeout=WAIT_MS)
    keys(qtbot, window, Qt.Key.Key_Space)
    assert not player.is_playing
    # cheat sheet and overlay toggles
    visible = view.cheatsheet.isVisible()
    keys(qtbot, window, Qt.Key.Key_F1)
    assert view.cheatsheet.isVisible() != visible
    sheet = [label.text().replace("\u200b", "") for label in view.cheatsheet.findChildren(QLabel)]
    assert "<b>In every tab</b>" in sheet and "<b>Alt+3</b>" in sheet and "the Play tab" in sheet  # not only here
    assert player.overlay_check.isChecked()
    keys(qtbot, window, Qt.Key.Key_O)
    assert not player.overlay_check.isChecked()
    player.set_step_values(np.linspace(-1, 1, ws.length(i)))  # the strip for the intent model's rewards
    player.timeline.grab()
    assert messages == []


def test_an_empty_wish_is_no_mistake_until_labelling_needs_one(qtbot, tmp_path, messages):
    """My wish opens empty: a hint, not an error in red; the simulated user, who needs a wish, says so in words
    of the dialog (no command-line flags)."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    mine = view.open_wish_dialog()
    assert mine.fields.is_empty() and not mine.fields.error.isVisible()
    assert "no wish yet" in mine.fields.preview.text()
    mine.close()
    sim = view.open_simulated_user_dialog()
    sim.preset.setCurrentIndex(sim.preset.findData(""))
    assert not sim.error.isVisible() and "no wish yet" in sim.preview.text()
    qtbot.mouseClick(sim.ok_button, Qt.MouseButton.LeftButton)
    assert sim.isVisible() and ws.labels().count == 0
    assert sim.error.isVisible() and "regions to prefer or avoid" in sim.error.text() and "--" not in sim.error.text()
    sim.close()


def test_simulated_user_dialog(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    keys(qtbot, window, Qt.Key.Key_A)  # the person's own mark stays
    mine = view.current
    qtbot.mouseClick(window.findChild(type(view.sim_button), "simulatedUserButton"), Qt.MouseButton.LeftButton)
    dialog = view.sim_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.prefer.setText("lane=2")  # not a gridnav feature: said inline, nothing labelled
    assert dialog.error.isVisible() and "unknown region feature" in dialog.error.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and ws.labels().count == 1
    dialog.prefer.setText("x=3..5&y=0..4")
    assert not dialog.error.isVisible()
    assert not dialog.relative.isEnabled()  # signs against a typical run: only for binary marks
    dialog.binary.setChecked(True)
    assert dialog.relative.isEnabled()
    dialog.relative.setChecked(True)
    assert dialog.build()[1].relative
    dialog.relative.setChecked(False)
    assert dialog.build()[1].myopic == 1.0 and dialog.build()[1].equal == 0.0  # as `dpf label` by default
    assert dialog.build()[1].stochastic == 0.0
    for f in fields(FeedbackNoise):  # every choice says what it does, in the words of `dpf label --help`
        assert getattr(dialog, f.name).toolTip().startswith(NOISE_HELP[f.name][:20])
    dialog.myopic.setValue(0.9)
    dialog.equal.setValue(2.0)
    dialog.stochastic.setValue(0.2)
    assert (dialog.build()[1].myopic, dialog.build()[1].equal, dialog.build()[1].stochastic) == (0.9, 2.0, 0.2)
    dialog.myopic.setValue(1.0)
    dialog.equal.setValue(0.0)
    dialog.stochastic.setValue(0.0)
    dialog.skip.setValue(0.5)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    labels = ws.labels()
    assert 600 < labels.count < 900  # about half skipped
    assert labels.scores[mine] == pytest.approx(-np.sqrt(ws.length(mine)))  # kept
    sim = np.flatnonzero(labels.labelled & ~np.isnan(labels.true_scores))
    assert set(np.unique(labels.scores[sim])) <= {-1.0, 0.0, 1.0}
    assert view.progress.value() == labels.count
    assert view.wish_combo.currentText() == "simulated user"
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))  # the batch is one undo step
    assert ws.labels().count == 1 and view.progress.value() == 1
    assert messages == []


def test_the_simulated_user_labels_a_few_as_dpf_label_chooses_them(qtbot, tmp_path, messages):
    # the few-labels setting in the app: K runs at random (those `dpf label --select random` takes with the same
    # seed), the best K suggestions, or K ranked in fives; each one undoable batch
    from dpf_gui.selection import random_order, select_and_label
    from tests.test_app_suggestions import settle_suggestions

    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    qtbot.waitUntil(lambda: view.suggestions.ready, timeout=WAIT_MS)
    dialog = view.open_simulated_user_dialog()
    assert not dialog.choose.isEnabled() and dialog.count.text() == "every trajectory"
    dialog.seed.setValue(3)
    dialog.count.setValue(12)
    assert dialog.choose.isEnabled() and dialog.choose.currentData() == "random"
    wish, before = dialog.build()[0], view.suggestions.computations
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    labels = ws.labels()
    cli = select_and_label(ws.dataset, wish, FeedbackNoise(), 12, select="random", seed=3)
    assert labels.count == 12 and np.array_equal(labels.labelled, cli.labelled)
    assert np.array_equal(labels.scores[labels.labelled], cli.scores[cli.labelled])
    settle_suggestions(qtbot, view, before)  # ranked again after the batch: nothing arrives while the dialog applies
    best = [s.index for s in view.suggestions.items[:5]]
    dialog = view.open_simulated_user_dialog()
    dialog.count.setValue(5)
    dialog.choose.setCurrentIndex(dialog.choose.findData("suggested"))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert ws.labels().count == 17 and ws.labels().labelled[best].all()
    dialog = view.open_simulated_user_dialog()
    dialog.rank.setChecked(True)
    dialog.count.setValue(5)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    free = [i for i in random_order(len(ws), 0) if not labels.labelled[i] and i not in best][:5]
    assert ws.labels().count == 22 and ws.labels().labelled[free].all()
    view.undo()  # each batch is one undo step
    assert ws.labels().count == 17
    assert messages == []


def test_errors_keep_the_app_and_the_labels(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view = window.annotate
    keys(qtbot, window, Qt.Key.Key_P)
    before = window.workspace

    # a checkpoint trained for pong, while gridnav is open
    pong = tmp_path / "pong-agent"
    shutil.copytree(shipped_model("gridnav"), pong)
    meta = json.loads((pong / "model.json").read_text())
    meta["env"] = "pong"
    (pong / "model.json").write_text(json.dumps(meta))
    assert not window.open_checkpoint(pong)
    assert len(messages) == 1 and "pong" in messages[-1][1]

    # a damaged dataset file, and an empty one
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    assert not window.open_dataset(bad)
    assert len(messages) == 2 and "bad.npz" in messages[-1][1]
    empty = TrajectoryDataset.from_trajectories(before.dataset.meta, []).save(tmp_path / "empty.npz")
    assert not window.open_dataset(empty)
    assert "no trajectories" in messages[-1][1]

    # nothing lost: same workspace, same view, the mark is there, keys still work
    assert window.workspace is before and window.isVisible()
    assert before.labels().count == 1
    keys(qtbot, window, Qt.Key.Key_Return, Qt.Key.Key_A)
    assert before.labels().count == 2 and view.progress.value() == 2

    # a study folder of its own starts empty; going back finds the labels; export gives training labels
    assert window.choose_study_folder(tmp_path / "study-b")
    assert window.workspace.labels().count == 0 and view.progress.value() == 0
    assert window.choose_study_folder(tmp_path)
    assert view.progress.value() == 2
    from dpf_gui.data.labels import Labels

    out = window.export_labels(tmp_path / "mine.npz")
    exported = Labels.load(out)
    exported.check_matches(window.workspace.dataset)
    assert exported.count == 2 and exported.meta["source"] == "person"
    assert len(messages) == 3


def test_saving_the_resume_state_survives_a_full_disk_but_not_a_bug(qtbot, tmp_path, messages, monkeypatch):
    """A store that cannot write (full disk) is said in the status bar; a value JSON cannot hold is a bug and
    raises, instead of being swallowed every second by the resume timer."""
    import sqlite3

    window = open_window(qtbot, tmp_path, env="gridnav")
    store = window.store

    def full(key, value):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "set", full)
    window.save_resume()
    assert "could not save the resume state: database or disk is full" in window.statusBar().currentMessage()
    monkeypatch.undo()
    monkeypatch.setattr(window.annotate, "current", np.int64(3))  # json.dumps cannot write a numpy int
    with pytest.raises(TypeError):
        window.save_resume()
    monkeypatch.undo()  # the window saves again as it closes


def test_the_timeline_draws_its_strip_once_and_only_the_position_line_per_frame(qtbot, monkeypatch):
    # drawn afresh at every frame of playback, a long trajectory's strip was ~1000 Python-to-Qt calls a frame
    from dpf_gui.app.timeline import Timeline

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(400, 64)
    drawn = []
    original = Timeline._draw_strip
    monkeypatch.setattr(Timeline, "_draw_strip", lambda self, target: (drawn.append(1), original(self, target)))
    timeline.set_steps(200)
    timeline.set_marks(np.repeat([1, -1, 0, 1], 50), labelled=True)
    first = timeline.grab().toImage()
    for frame in (10, 50, 120):
        timeline.set_position(frame)
        moved = timeline.grab().toImage()
    assert len(drawn) == 1 and moved != first  # the line moved; the strip was not drawn again
    timeline.set_position(0)
    assert timeline.grab().toImage() == first
    timeline.set_marks(np.repeat([-1, 1], 100), labelled=True)
    assert timeline.grab().toImage() != first and len(drawn) == 2  # new marks: drawn again
    timeline.resize(300, 64)
    timeline.grab()
    assert len(drawn) == 3


def test_a_replay_pauses_now_and_then_so_the_window_gets_the_gil(qtbot, monkeypatch):
    # a Pong replay stepping the emulator kept the UI thread from the GIL for up to 280 ms at a time
    import time

    from dpf_gui.app import player
    from dpf_gui.pipeline import load_task_agent
    from dpf_gui.threads import UI_PAUSE_EVERY, UI_PAUSE_S

    pauses = []
    sleep = time.sleep
    monkeypatch.setattr(player.time, "sleep", lambda s: (pauses.append(s), sleep(s)))
    task = load_task_agent("gridnav")
    data = TrajectoryDataset.load(task.dataset_path)
    i = int(np.argmax(data.lengths))
    assert data.lengths[i] >= 2 * UI_PAUSE_EVERY
    cache = player.FrameCache()
    ready = []
    cache.ready.connect(ready.append)
    cache.request(("longest", i), "gridnav", task.env_config, data[i])
    qtbot.waitUntil(lambda: bool(ready), timeout=WAIT_MS)
    frames = cache.get(("longest", i))
    cache.shutdown()
    assert len(frames) == data.lengths[i] + 1
    assert pauses.count(UI_PAUSE_S) == len(frames) // UI_PAUSE_EVERY


def test_preferred_and_avoided_look_the_same_in_every_view_and_the_timeline_says_so(qtbot, tmp_path, messages):
    # the UX review (s55): Annotate tinted avoided regions red (highway's "crashed" red) and preferred ones green,
    # while its own legend, Play and Compare showed orange and teal; the timeline's colours had no legend
    from PySide6.QtWidgets import QLabel

    from dpf_gui.app.overlays import legend_html
    from dpf_gui.palette import AVOID, PREFER, ROLES

    def hexed(rgb):
        return "#" + "".join(f"{c:02x}" for c in rgb)

    window = open_window(qtbot, tmp_path, env="gridnav")
    player = window.annotate.player
    window.annotate.set_overlay_wish(window.workspace.wish("mixed"), "mixed")
    layer = player._layer(player.frames[player.position])
    tints = {tuple(int(c) for c in rgb) for rgb in layer[layer[..., 3] > 0][:, :3]}
    assert tints == {PREFER, AVOID}, tints  # Annotate's tint
    assert ROLES["good"] == PREFER and ROLES["bad"] == AVOID  # Play's and Compare's outlines, every legend
    for env in ("gridnav", "highway", "pong"):
        for filled in (True, False):
            legend = legend_html(env, overlay=False, regions=True, filled_regions=filled)
            assert hexed(PREFER) in legend and hexed(AVOID) in legend, (env, legend)
    assert "#ff6464" in legend_html("highway") and hexed(AVOID) != "#ff6464"  # not the crashed car's colour
    # the timeline: the marks in the same colours, and a line under it that says what they are
    timeline = player.timeline
    timeline.set_steps(4)
    timeline.set_marks(np.array([1, 1, -1, -1]), labelled=True)
    image = timeline.grab().toImage()
    y = 2 + timeline.MARK_H // 2
    seen = {image.pixelColor(round(timeline._x(t)), y).getRgb()[:3] for t in (0.5, 2.5)}
    assert seen == {PREFER, AVOID}, seen
    legend = window.findChild(QLabel, "timelineLegend")
    assert legend is not None and legend.isVisible()
    for word in ("preferred", "avoided", "neutral", "your marks", "the wish's regions", hexed(PREFER), hexed(AVOID)):
        assert word in legend.text(), word
    for size in ((1024, 768), (1280, 720)):  # one line: the frame above keeps its height
        window.resize(*size)
        qtbot.wait(20)
        assert legend.height() < 2 * legend.fontMetrics().lineSpacing(), size
    assert "red avoided" not in timeline.toolTip() and "orange avoided" in timeline.toolTip()


def test_rank_the_runs_watched_by_keyboard_take_it_back_and_train_on_rankings(qtbot, tmp_path, messages):
    """R offers the last runs shown, in the order watched; Alt+Up moves one, = ties it with the one above, Enter
    saves one undoable ranking; the list says "ranked", Ctrl+Z takes the ranking back, and the Train tab trains the
    additive kind on the rankings' comparisons."""
    from dpf_gui.data.study import RANKED

    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, view = window.workspace, window.annotate
    view.go_to(5)
    view.watched = [5]  # the runs shown so far, whatever the window opened on
    keys(qtbot, window, Qt.Key.Key_R)
    assert view.rank_dialog is None or not view.rank_dialog.isVisible()  # one run: nothing to rank, said so
    for i in (7, 9, 5):  # 5 again: watched once, its latest showing counts
        view.go_to(i)
    keys(qtbot, window, Qt.Key.Key_R)
    dialog = view.rank_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    assert [dialog.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(3)] == [7, 9, 5]
    dialog.list.setCurrentRow(2)
    assert view.current == 5  # the run selected is shown in the player, to be watched again
    dialog.list.setCurrentRow(0)
    assert view.current == 7 and [dialog.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(3)] == [7, 9, 5]
    dialog.list.setCurrentRow(2)
    qtbot.keyClick(dialog.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # 5 above 9
    qtbot.keyClick(dialog.list, Qt.Key.Key_Equal)  # 5 as good as 7
    assert dialog.levels() == [(7, 0), (5, 0), (9, 1)]
    assert [dialog.list.item(r).text().split()[0] for r in range(3)] == ["1.", "=", "2."]
    qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert view.current == 5  # Enter saved the ranking; the window's Enter (next suggestion) did not fire too
    assert ws.store.rankings(ws.fingerprint) == [[(5, 0), (7, 0), (9, 1)]]
    assert [int(view.model.states[i]) for i in (5, 7, 9)] == [RANKED] * 3 and view.progress.value() == 3
    keys(qtbot, window, (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier))
    assert ws.store.rankings(ws.fingerprint) == [] and view.progress.value() == 0
    # two rankings of four, then Train: comparisons only, so the additive kind with the pairs objective
    ws.rank([(10, 0), (11, 1), (12, 2), (13, 3)])
    ws.rank([(20, 0), (21, 1), (22, 1), (23, 2)])
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert "2</b> rankings" in train.labels_label.text() and "(8 only ranked)" in train.labels_label.text()
    train.set_config(members=2, hidden=16, utility_steps=40, value_steps=40)
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        assert train.train()
    assert done.args == [True, ""], done.args
    assert train.result.sidecar["objective"] == "pairs" and train.result.metrics["held_out"]["pref_acc"] is not None
    assert "comparisons ordered as given" in train.fit_label.text()  # no correlation with scores nobody gave
    assert "trained on comparisons" in train.fit_plot.note.text()
    assert messages == []


def test_the_simulated_user_ranks_in_groups_of_five_as_one_undoable_batch(qtbot, tmp_path, messages):
    """*Simulated user…* with "rank them in groups of five": the unlabelled runs ranked in fives, one batch, the
    score noise greyed out; the labels are its comparisons, recorded as a simulated user's with its wish."""
    from dpf_gui.data.study import RANKED
    from dpf_gui.session.training import labels_for_training

    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, view = window.workspace, window.annotate
    ws.mark(3, +1)  # kept: only the unlabelled trajectories are ranked
    dialog = view.open_simulated_user_dialog()
    dialog.preset.setCurrentIndex(dialog.preset.findData("avoid"))
    dialog.rank.setChecked(True)
    assert not dialog.binary.isEnabled() and not dialog.sigma.isEnabled() and dialog.flip.isEnabled()
    dialog.flip.setValue(0.1)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    rankings = ws.store.rankings(ws.fingerprint)
    assert len(rankings) == -(-(len(ws) - 1) // 5) and all(4 <= len(r) <= 5 for r in rankings)
    assert 3 not in {t for r in rankings for t, _ in r} and int(view.model.states[3]) != RANKED
    labels = labels_for_training(ws)
    assert labels.meta["source"] == "person+simulated-user" and labels.meta["wish"]["avoid"] == ["terrain=toll"]
    assert len(labels.pairs) > 2 * len(rankings)
    assert ws.undo() and ws.store.rankings(ws.fingerprint) == [] and view.progress.value() == 1
    # a ranking dialog left open when another environment opens closes with its data (its runs are not the new ones)
    for i in (4, 5, 6):
        view.go_to(i)
    ranking = view.rank_watched()
    chooser = window.findChild(type(window.env_combo), "envChooser")
    chooser.setCurrentIndex(chooser.findData("pong"))
    qtbot.waitUntil(lambda: window.workspace.env_name == "pong", timeout=WAIT_MS)
    assert not ranking.isVisible() and view.rank_dialog is None and view.watched == [view.current]
    assert messages == []


def test_a_ranking_that_cannot_be_saved_says_why_and_stays_open(qtbot):
    """A read-only study folder refuses the ranking: the dialog shows the reason and keeps the order given."""
    from dpf_gui.app.rank_dialog import RankDialog
    from dpf_gui.errors import UserError

    def refuse(levels):
        raise UserError("labels.sqlite is read-only: marks cannot be saved")

    dialog = RankDialog(None, [(4, "trajectory 4"), (2, "trajectory 2")], refuse)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.move_selected(+1)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and not dialog.error.isHidden() and "read-only" in dialog.error.text()
    assert dialog.levels() == [(2, 0), (4, 1)]


def test_the_list_keeps_the_trajectory_shown_in_sight_when_the_window_shrinks(qtbot, tmp_path):
    """A lower window (or presentation mode's taller rows) left the row of the trajectory shown below the list's
    last visible row; the list scrolls it back into sight."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.resize(1024, 768)
    view = window.annotate
    qtbot.waitUntil(lambda: view.suggestions.ready and view.current == view.suggestions.items[0].index,
                    timeout=WAIT_MS)
    table = view.table

    def in_sight() -> bool:
        return table.viewport().rect().contains(table.visualRect(table.currentIndex()))

    view.go_to(0)
    rows = table.viewport().height() // table.rowHeight(0)
    view.go_to(rows - 2)  # the shown trajectory's row near the bottom of the visible rows, the list at its top
    qtbot.waitUntil(in_sight, timeout=WAIT_MS)
    assert table.rowAt(0) == 0
    window.resize(1024, 480)
    qtbot.waitUntil(in_sight, timeout=WAIT_MS)
    window.resize(1024, 768)
    qtbot.waitUntil(in_sight, timeout=WAIT_MS)

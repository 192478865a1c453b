"""Label this next, in the app: Enter goes through the suggested trajectories with their reasons, training
changes the suggestions, a wish the data cannot show is said, and more varied trajectories can be collected."""

import threading
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from dpf_gui.app.trajectory_table import COL_FROM, COL_NEXT, COL_SHUFFLED
from dpf_gui.data.study import UNLABELLED
from tests.helpers import HANG_S
from tests.qt_helpers import WAIT_MS, open_window

#: a quick additive model: enough members to disagree, few steps (about 1-2 s on gridnav)
SMALL = {"members": 4, "hidden": 32, "utility_steps": 100, "value_steps": 100}
TOLL, SCENIC = 3, 4  # gridnav terrain codes


def press(qtbot, window, *keys):
    for k in keys:
        qtbot.keyClick(window, k)


def settle_suggestions(qtbot, view, since: int) -> None:
    """Wait until the suggestions were ranked again after ``since`` rankings (they rank in the background)."""
    qtbot.waitUntil(lambda: view.suggestions.computations > since and not view.suggestions._timer.isActive()
                    and not (view.suggestions._thread and view.suggestions._thread.is_alive()), timeout=WAIT_MS)


def mark_key(ws, i: int):
    """What a person who likes the scenic route and hates the toll road presses for trajectory ``i``."""
    terrain = ws.dataset.next_state_regions()[ws.dataset.step_slice(i), 2]
    if (terrain == TOLL).any():
        return Qt.Key.Key_A
    return Qt.Key.Key_P if (terrain == SCENIC).any() else Qt.Key.Key_N


def test_enter_labels_the_suggestions_train_updates_them_and_collect_adds_varied_trajectories(qtbot, tmp_path,
                                                                                                messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    qtbot.waitUntil(lambda: view.suggestions.ready, timeout=WAIT_MS)
    assert len(view.suggestions.items) == 100 and view.model.ranks.max() == 100

    # --- the first suggestion is shown on opening; label it, Enter to the next: 10 times; each with its reason ----
    shown, kinds = [], []
    for _ in range(10):
        settle_suggestions(qtbot, view, view.suggestions.computations - 1)
        top = view.suggestions.items[0]
        assert view.current == top.index and view.model.states[top.index] == UNLABELLED
        reason = view.findChild(QWidget, "suggestionReason")
        assert reason.isVisible() and top.reason in reason.text() and f"Suggested #1 ({top.kind})" in reason.text()
        shown.append(view.current)
        kinds.append(top.kind)
        before = view.suggestions.computations
        press(qtbot, window, mark_key(ws, view.current))
        settle_suggestions(qtbot, view, before)
        press(qtbot, window, Qt.Key.Key_Return)
    assert view.current == view.suggestions.items[0].index and view.current not in shown  # the 10th Enter too
    assert len(set(shown)) == 10 and shown != list(range(10)) and kinds[0] == "typical"
    labels = ws.labels()
    assert labels.count == 10 and len(np.unique(labels.scores[labels.labelled])) >= 3  # varied, so trainable
    # the list sorts by suggestion: the best first
    view.findChild(QWidget, "sortSuggestedButton").click()
    first_row = view.proxy.mapToSource(view.proxy.index(0, 0)).row()
    assert first_row == view.suggestions.items[0].index
    assert view.proxy.index(0, COL_NEXT).data() == "1"

    # --- train (the default, additive kind): the suggestions now weigh the members' disagreement ---------------
    untrained = [s.index for s in view.suggestions.items[:10]]
    assert all(s.kind != "disagreement" for s in view.suggestions.items)
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert train.kind() == "additive" and not train.loss_plot.isVisible()
    train.set_config(**SMALL)
    before = view.suggestions.computations
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(train.train_button, Qt.MouseButton.LeftButton)
    assert done.args == [True, ""], done.args
    assert ws.intent.model is train.result.model and train.progress.value() == train.progress.maximum()
    settle_suggestions(qtbot, view, before)
    trained = [s.index for s in view.suggestions.items[:10]]
    assert trained != untrained
    assert any(s.kind == "disagreement" and "intent models disagree" in s.reason for s in view.suggestions.items)
    window.tabs.setCurrentWidget(view)
    shown_unlabelled = view.current  # Enter leaves it unlabelled: skipped, not suggested again
    press(qtbot, window, Qt.Key.Key_Return)
    assert view.current == next(i for i in trained if i != shown_unlabelled) and view.reason_label.isVisible()
    watched = view.current

    # --- collect 50 more varied trajectories: a new dataset, the marks and the model carried over -------------
    old_path, old_fp, old_n = ws.dataset_path, ws.fingerprint, len(ws)
    old_marks = ws.labels()
    dialog = view.open_collect_dialog()
    assert dialog is view.findChild(QWidget, "collectDialog") and dialog.random_start.isChecked()
    dialog.episodes.setValue(50)
    with qtbot.waitSignal(dialog.collected, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.workspace is not ws, timeout=WAIT_MS)
    new = window.workspace
    assert len(new) == old_n + 50 and new.fingerprint != old_fp and new.dataset_path != old_path
    assert new.dataset_path.parent == tmp_path / "data"
    collected = new.collected()
    assert collected[old_n:].all() and not collected[:old_n].any()
    # ... found in the list, marked as such
    assert not view.table.isColumnHidden(COL_FROM)
    from_column = [view.model.index(i, COL_FROM).data() for i in (0, old_n, old_n + 49)]
    assert from_column == ["stored", "collected", "collected"]
    # ... the marks kept, the old data and its marks untouched, the model still in use
    carried = new.labels()
    assert carried.count == 10 and np.array_equal(carried.scores[:old_n], old_marks.scores)
    assert not carried.labelled[old_n:].any()
    assert ws.store.to_labels(ws.dataset, old_fp).count == 10
    assert new.intent is not None and new.intent.directory == ws.intent.directory
    assert view.progress.value() == 10 and view.current == watched
    qtbot.waitUntil(lambda: view.suggestions.ready, timeout=WAIT_MS)
    assert messages == []


def test_a_wish_the_data_cannot_show_is_said_before_labelling_and_when_training_refuses(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view = window.annotate
    # "my wish": a corner of the map no stored trajectory enters
    dialog = view.open_wish_dialog()
    dialog.fields.prefer.setText("x=7&y=8")
    assert "entered by 0 of 1495 stored trajectories" in dialog.fields.coverage.text()
    assert "No stored trajectory enters the preferred region x=7&amp;y=8" in dialog.fields.coverage.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and view.wish_combo.currentText() == "my wish"
    window.activateWindow()  # the offscreen platform leaves the closed dialog active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    coverage = view.findChild(QWidget, "coverageLabel").text()
    assert "No stored trajectory enters the preferred region" in coverage and "my wish" in coverage
    assert "color: #b00020" in view.collect_button.styleSheet()  # the remedy stands out
    # five neutral marks: nothing to learn from, and the Train tab says why in plain words
    for _ in range(5):
        press(qtbot, window, Qt.Key.Key_N, Qt.Key.Key_Return)
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert "No stored trajectory enters the preferred region x=7&amp;y=8" in train.labels_label.text()
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        train.train()
    assert done.args[0] is False and "same score" in done.args[1]
    assert "No stored trajectory enters the preferred region x=7&y=8" in done.args[1]
    assert "Collect more varied trajectories" in done.args[1]
    assert messages[-1][0] == "Cannot train the intent model"
    # the wish is kept with the labels' environment: it comes back after a restart
    window.close()
    again = open_window(qtbot, tmp_path)
    assert again.annotate.wish_combo.currentText() == "my wish"
    assert again.workspace.typed_wish().describe() == {"prefer": ["x=7&y=8"], "avoid": []}
    again.close()


def test_a_wish_every_trajectory_touches_gets_advice_on_marking_it(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view = window.annotate
    dialog = view.open_wish_dialog()
    dialog.fields.avoid.setText("x=0..")  # the whole map: every stored trajectory enters it
    advice = "Nearly every stored trajectory (1495 of 1495) enters the avoided region x=0.."
    assert advice in dialog.fields.coverage.text() and "color:#8a5a00" in dialog.fields.coverage.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    assert advice in view.findChild(QWidget, "coverageLabel").text()
    # a person's marks: the Train tab repeats it (whole marks hardly tell these trajectories apart)
    for i in range(4):
        window.workspace.mark(i, -1 if i % 2 else 1)
    window.tabs.setCurrentWidget(window.train)
    assert advice in window.train.labels_label.text()
    # in the dialogs' amber, not the red of what cannot work (it is advice on marking; s56's first-hour walk)
    assert f"<span style='color:#8a5a00'>{advice}" in window.train.labels_label.text()
    assert messages == []
    window.close()


def test_an_avoided_region_no_run_goes_round_is_said_and_the_dialog_grows_to_show_it(qtbot, tmp_path, messages):
    """Every way to gridnav's goal crosses the wall's gaps at x=4: the dialog says so in red as the wish is typed,
    and grows so that the whole warning is read, not its first line."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    dialog = window.annotate.open_wish_dialog()
    before = dialog.height()
    dialog.fields.avoid.setText("x=4")
    warning = "Every stored trajectory that succeeds enters the avoided region x=4"
    assert f"<span style='color:#b00020'><b>{warning}" in dialog.fields.coverage.text()
    layout = dialog.layout()
    qtbot.waitUntil(lambda: dialog.height() >= layout.totalHeightForWidth(dialog.width()), timeout=5000)
    assert dialog.height() > before
    dialog.reject()
    assert messages == []
    window.close()


def test_marks_nearly_all_alike_are_said_in_the_train_tab(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    # eight avoided and one preferred, on trajectories of different lengths (a whole mark is worth +-sqrt(T), so
    # their scores differ): the one carries all the model could learn, and the Train tab says so
    lengths = ws.dataset.lengths
    picked = [int(np.flatnonzero(lengths == n)[0]) for n in np.unique(lengths)[:11]]
    assert len(picked) == 11
    for i in picked[:8]:
        ws.mark(i, -1)
    ws.mark(picked[8], +1)
    train = window.train
    window.tabs.setCurrentWidget(train)
    text = train.labels_label.text()
    assert "8 of the 9 labelled trajectories are marked avoided" in text and "the one other carries" in text
    # the places none of the nine reaches: the additive kind assumes them slightly bad (most marks say avoid),
    # the LSTM knows nothing of them, and the tab says which
    assert "none of the 9 labelled trajectories reaches: the intent treats them as slightly bad" in text
    train.kind_combo.setCurrentIndex(train.kind_combo.findData("lstm"))
    assert "none of the 9 labelled trajectories reaches: the intent knows nothing about them" in \
        train.labels_label.text()
    train.kind_combo.setCurrentIndex(train.kind_combo.findData("additive"))
    # two more preferred, with the keys: 8 of 11 is not lopsided, and the note goes
    window.tabs.setCurrentWidget(window.annotate)
    for i in picked[9:]:
        window.annotate.go_to(i)
        press(qtbot, window, Qt.Key.Key_P)
    window.tabs.setCurrentWidget(train)
    assert "<b>11</b> of" in train.labels_label.text()
    assert "marked avoided" not in train.labels_label.text()
    assert messages == []
    window.close()


def test_a_request_while_the_finished_worker_is_still_alive_is_not_dropped(qtbot, monkeypatch):
    # The worker thread lives on for a moment after its answer is handled; a request in that moment was
    # remembered for "after the running ranking", which had already arrived, so the suggestions went stale.
    import threading
    import time

    from dpf_gui import selection
    from dpf_gui.app.suggestions import Suggestions

    monkeypatch.setattr(selection, "suggest", lambda *args, **kwargs: [])

    class Workspace:
        dataset, intent = None, None

        def labels(self):
            return None

    suggestions = Suggestions()
    suggestions.set_workspace(Workspace())
    qtbot.waitUntil(lambda: suggestions.computations == 1, timeout=WAIT_MS)
    lingering = threading.Thread(target=time.sleep, args=(1.0,))
    lingering.start()
    suggestions._thread = lingering  # as if the finished worker had not exited yet
    suggestions.request(now=True)
    qtbot.waitUntil(lambda: suggestions.computations == 2, timeout=WAIT_MS)
    lingering.join()
    suggestions.shutdown()


def test_the_marks_are_read_off_the_ui_thread_and_a_failing_store_keeps_the_last_ranking(qtbot, monkeypatch):
    # Reading the marks took 33 ms of a Pong switch on the UI thread; the ranking's thread reads them now.
    import threading

    from dpf_gui import selection
    from dpf_gui.app.suggestions import Suggestions
    from dpf_gui.errors import UserError

    monkeypatch.setattr(selection, "suggest", lambda *args, **kwargs: ["ranked"])
    readers, broken = [], []

    class Workspace:
        dataset, intent = None, None

        def labels(self):
            readers.append(threading.current_thread())
            if broken:
                raise UserError("the label store failed: disk full")

    suggestions = Suggestions()
    suggestions.set_workspace(Workspace())
    qtbot.waitUntil(lambda: suggestions.computations == 1, timeout=WAIT_MS)
    assert suggestions.items == ["ranked"] and readers and threading.main_thread() not in readers
    broken.append(True)
    suggestions.request(now=True)
    qtbot.waitUntil(lambda: not suggestions._running, timeout=WAIT_MS)
    assert suggestions.note == "the label store failed: disk full" and suggestions.items == ["ranked"]
    assert suggestions.computations == 1 and suggestions.ready
    suggestions.shutdown()


def test_closing_the_collect_dialog_mid_episode_does_not_wait_and_changes_nothing(qtbot, tmp_path, messages,
                                                                                 monkeypatch):
    """Esc while an episode is being played: the dialog closes at once (it used to wait for the episode on the UI
    thread, seconds on highway), the episode ends in the background, nothing is written or opened, and closing
    the window waits for it (no thread outlives the app)."""
    import dpf_gui.rollout as rollout_module

    started, release, ended = threading.Event(), threading.Event(), threading.Event()
    play = rollout_module.play_episode

    def long_episode(*args, **kw):
        started.set()
        release.wait(HANG_S)
        try:
            return play(*args, **kw)
        finally:
            ended.set()

    monkeypatch.setattr(rollout_module, "play_episode", long_episode)
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    before = sorted(tmp_path.rglob("*.npz"))
    dialog = view.open_collect_dialog()
    dialog.episodes.setValue(5)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert started.wait(HANG_S)
    running = dialog.worker
    t0 = time.monotonic()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert time.monotonic() - t0 < 2.0 and not dialog.isVisible() and dialog.worker is None
    assert running.isRunning() and not ended.is_set()  # the episode goes on in the background
    threading.Timer(0.5, release.set).start()
    window.close()  # waits for the collection still ending
    assert ended.is_set()
    assert window.workspace is ws and sorted(tmp_path.rglob("*.npz")) == before
    assert messages == []


def test_painting_and_sorting_the_list_run_no_python(qtbot, tmp_path, messages):
    # A repaint that calls into Python takes the GIL once per call (a Python table model: thousands of times),
    # so beside any thread running Python (the player's replay, a ranking, a training) it stalled the window
    # for 0.1-2 s. The cells live in Qt's item store instead; this fails if Python creeps back into the path.
    window = open_window(qtbot, tmp_path, env="gridnav")
    view = window.annotate
    qtbot.waitUntil(lambda: view.suggestions.ready, timeout=WAIT_MS)
    press(qtbot, window, Qt.Key.Key_P, Qt.Key.Key_Return, Qt.Key.Key_A)
    assert view.proxy.index(view.proxy.mapFromSource(view.model.index(view.current, 0)).row(), 1).data() == "avoided"
    called = []

    def profile(frame, event, arg):
        if event == "call" and "dpf_gui" in frame.f_code.co_filename:
            called.append(frame.f_code.co_name)

    import sys

    sys.setprofile(profile)
    try:
        view.table.viewport().repaint()
        view.table.sortByColumn(COL_NEXT, Qt.SortOrder.AscendingOrder)
        view.table.viewport().repaint()
    finally:
        sys.setprofile(None)
    assert called == []
    assert view.proxy.index(0, COL_NEXT).data() == "1"  # sorted by suggestion, in C++


def test_shuffled_walks_the_runs_dpf_label_select_random_takes(qtbot, tmp_path, messages):
    # A person who wants the data as it is (on highway, whole runs scored at random taught more than the
    # suggestions): Shuffled orders the list as `dpf label --select random --seed 0` labels, Shift+Enter walks it.
    from dpf_gui.oracles import FeedbackNoise
    from dpf_gui.selection import select_and_label
    from dpf_gui.wish import make_wish

    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    assert view.table.isColumnHidden(COL_SHUFFLED)
    view.findChild(QWidget, "sortShuffledButton").click()
    walked = [view.current]
    for _ in range(3):
        press(qtbot, window, Qt.Key.Key_P)
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        walked.append(view.current)
    wish = make_wish(ws.dataset.region_features, prefer=["terrain=scenic"])
    cli = select_and_label(ws.dataset, wish, FeedbackNoise(), 4, select="random", seed=0).meta["selection"]["chosen"]
    assert walked == cli and walked != sorted(walked)
    assert [view.proxy.mapToSource(view.proxy.index(r, 0)).row() for r in range(4)] == cli
    # marked runs are passed over: Shuffled again opens the first unlabelled one in the same order
    view.findChild(QWidget, "sortShuffledButton").click()
    assert view.current == walked[-1] and ws.labels().count == 3
    assert messages == []

"""A participant who ranks (a condition with ``feedback = "ranks"``, docs/STUDY.md) in the real app: the page
offers R instead of the mark keys, R ranks the last five trips watched, Enter saves within the budget (refused
past it, said in the dialog), Ctrl+Z takes a ranking back, and every step is logged."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from dpf_gui.studies.events import EventLog
from dpf_gui.studies.folder import Study, init_study
from tests.qt_helpers import WAIT_MS
from tests.study_helpers import ONE_RANKS, tiny_protocol
from tests.test_app_study import click, open_participant, press

_TRAJ = Qt.ItemDataRole.UserRole


def _watch(qtbot, page, trips) -> None:
    for t in trips:
        page.list.setCurrentRow(t)
        qtbot.waitUntil(lambda: page.player.ready, timeout=WAIT_MS)


def _has_the_keys(qtbot, dialog) -> None:
    """The dialog shown and active, its list with the keyboard focus: as on a participant's screen (the offscreen
    platform activates no new window by itself)."""
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=WAIT_MS)
    dialog.list.setFocus()


def test_a_participant_ranks_the_trips_watched_by_keyboard(qtbot, tmp_path):
    edits = {**ONE_RANKS, "budget = 8": "budget = 6",
             'feedback = "ranks"\n': 'feedback = "ranks"\nannotate_text = "Rank the trips you watched."\n'}
    init_study(tiny_protocol(tmp_path, edits), tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page = window.page
    assert window.session.current().key == "ranked/annotate" and page.ranks
    assert window.findChild(QPushButton, "preferButton") is None  # no mark keys: this condition collects rankings
    assert page.findChild(QLabel, "rankHelp").text().startswith("Watch a few trips")
    assert page.findChild(QLabel, "phaseText").text() == "Rank the trips you watched."  # the condition's own words
    assert window.header.text().startswith("Rank the trips  ·  step 3 of")
    assert not page.player.timeline_legend.isVisible()
    press(qtbot, window, Qt.Key.Key_P)  # the mark key does nothing here
    assert window.session.labelled("ranked") == 0
    press(qtbot, window, Qt.Key.Key_R)  # one trip shown: nothing to rank, said so
    assert page.rank_dialog is None and "Watch two or more trips first" in page.message.text()
    _watch(qtbot, page, [1, 2, 3, 4, 5, 6, 2])  # the last five watched, each once: 3 4 5 6 2
    press(qtbot, window, Qt.Key.Key_R)
    dialog = page.rank_dialog
    _has_the_keys(qtbot, dialog)
    assert [dialog.list.item(r).data(_TRAJ) for r in range(5)] == [3, 4, 5, 6, 2]
    assert dialog.list.item(0).text() == "1.  Trip 4"  # the participant's numbering, from 1
    dialog.list.setCurrentRow(4)
    assert page.current == 2  # the trip selected is shown in the player
    qtbot.keyClick(dialog.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(dialog.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(dialog.list, Qt.Key.Key_Equal)  # trip 3 (index 2) as good as the one above it
    assert dialog.levels() == [(3, 0), (4, 1), (2, 1), (5, 2), (6, 3)]
    qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert page.count.text() == "5 of 6 trips ranked" and page.list.item(3).text() == "Trip 4  (ranked)"
    assert "Ranking of 5 trips saved" in page.message.text()
    # two more trips would be seven: refused in the dialog, which stays open with the order given
    _watch(qtbot, page, [10, 11])
    press(qtbot, window, Qt.Key.Key_R)
    second = page.rank_dialog
    _has_the_keys(qtbot, second)
    assert [second.list.item(r).text() for r in range(5)] == [
        "1.  Trip 6  (ranked before)", "2.  Trip 7  (ranked before)", "3.  Trip 3  (ranked before)", "4.  Trip 11",
        "5.  Trip 12"]
    qtbot.keyClick(second.list, Qt.Key.Key_Return)
    assert second.isVisible() and second.error.text() == ("this would give feedback on 7 trajectories; the label "
                                                          "budget of this condition is 6")
    qtbot.keyClick(second.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not second.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)  # the page has the keys again
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert page.count.text() == "0 of 6 trips ranked"
    click(qtbot, window, "annotateDone")
    assert "You have ranked 0 of 6 trips. Press Done again to finish ranking" in page.message.text()
    window.operator_exit()
    with EventLog(Study(tmp_path / "s").participant_dir("P01") / "events.sqlite", read_only=True) as log:
        got = log.events()
    kinds = [e["kind"] for e in got if e["kind"] in ("ranking_opened", "rank", "ranking_left", "undo")]
    assert kinds == ["ranking_opened", "rank", "ranking_opened", "ranking_left", "undo"]
    keys = [e["data"]["key"] for e in got if e["kind"] == "key"]
    assert keys.count("R") == 3 and keys.count("Alt+Up") == 2 and keys.count("=") == 1  # the dialog's keys too
    assert keys.count("Return") == 2 and keys.count("Esc") == 1
    assert [e["data"]["levels"] for e in got if e["kind"] == "rank"] == [[[3, 0], [4, 1], [2, 1], [5, 2], [6, 3]]]
    assert [e["data"]["trajectories"] for e in got if e["kind"] == "ranking_opened"] == [[3, 4, 5, 6, 2],
                                                                                          [5, 6, 2, 10, 11]]


def test_the_ranking_closes_when_the_annotation_time_is_up(qtbot, tmp_path, monkeypatch):
    """Time up while the ranking is open: the dialog goes (a ranking saved now would be refused), R and Undo are
    disabled, and the page says to press Done."""
    from dpf_gui.studies.session import Session

    init_study(tiny_protocol(tmp_path, ONE_RANKS), tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page = window.page
    _watch(qtbot, page, [1, 2, 3])
    page.open_ranking()
    dialog = page.rank_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    monkeypatch.setattr(Session, "time_left", lambda self, step: 0.0)
    page._tick()
    assert not dialog.isVisible() and page.message.text() == "The time is up. Press Done."
    assert not window.findChild(QPushButton, "rankButton").isEnabled()
    assert not window.findChild(QPushButton, "undoButton").isEnabled()
    assert window.session.labelled("ranked") == 0
    window.operator_exit()

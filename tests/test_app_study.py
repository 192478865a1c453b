"""Study mode in the real app (pytest-qt): two participants walk the participant screens from consent to the
end, one of them killed (SIGKILL, in another process) mid-annotation and resumed; the export has every event,
in order, with the counterbalanced orders, and nothing of a withdrawn participant."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QRadioButton, QSlider, QWidget

from dpf_gui.app.study_mode import SUGGESTION_WORDS, WATCH_TO_THE_END, reflow
from dpf_gui.studies.export import export_study
from dpf_gui.studies.folder import Study, init_study
from tests.helpers import HANG_S
from tests.qt_helpers import WAIT_MS
from tests.study_helpers import tiny_protocol

ROOT = Path(__file__).resolve().parent.parent


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name) or window.findChild(QRadioButton, name)
    assert button is not None and button.isVisible() and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def press(qtbot, window, key) -> None:
    qtbot.keyClick(window.focusWidget() or window, key)


def annotate(qtbot, window, marks: list[tuple[int, int]]) -> None:
    page = window.page
    for traj, value in marks:
        page.list.setCurrentRow(traj)
        qtbot.waitUntil(lambda: page.player.ready, timeout=WAIT_MS)
        press(qtbot, window, {1: Qt.Key.Key_P, -1: Qt.Key.Key_A, 0: Qt.Key.Key_N}[value])


def walk(qtbot, window) -> bool:
    """Drive the screens like a participant, from where the session is to the end; True when finished."""
    while True:
        step = window.session.current()
        if step is None:
            return True
        phase = step.phase
        if phase == "consent":
            click(qtbot, window, "consentAgree")
        elif phase == "instructions":
            shown = window.page.findChild(type(window.header), "wishInstruction").text()
            assert reflow(window.study.protocol.instruction) in shown and "\n" not in shown
            click(qtbot, window, "continueButton")
        elif phase == "annotate":
            page = window.page
            assert not page.player.overlay_check.isVisible() and page.player.wish is None  # no regions, no preset
            # the legend names only what the participant sees: their marks, never the hidden wish
            legend = page.findChild(QLabel, "timelineLegend")
            assert legend.isVisible() and "your marks" in legend.text() and "wish" not in legend.text()
            # the second agent's trips start unmarked: the page says it is a new agent, the marks before are kept
            k = [s.condition for s in window.session.steps if s.phase == "annotate"].index(step.condition) + 1
            assert f"agent {k} of 2" in window.header.text()
            told = page.findChild(QLabel, "agentRound")
            assert (told is not None) == (k == 2)
            assert told is None or told.text().startswith("Agent 2 of 2: a new agent")
            click(qtbot, window, "annotateDone")  # below the budget with time left: asks first, stays
            assert window.session.current() == step and "Press Done again" in page.message.text()
            done = sum(1 for i in range(page.list.count()) if "(" in page.list.item(i).text())
            annotate(qtbot, window, [(0, 1), (1, -1), (2, 1), (3, -1), (4, 0), (5, 1)][done:])
            click(qtbot, window, "annotateDone")
        elif phase == "train":
            qtbot.waitUntil(lambda: window.session.current() is None or window.session.current().phase != "train",
                            timeout=WAIT_MS)
        elif phase == "watch":
            page = window.page
            qtbot.waitUntil(lambda page=page: page.episodes is not None, timeout=WAIT_MS)
            for i in range(len(page.episodes)):
                qtbot.waitUntil(lambda i=i, page=page: page.player.index == i and page.player.ready, timeout=WAIT_MS)
                assert page.label.text() == f"Episode {i + 1} of 2" and not page.next.isEnabled()
                assert page.hint.text() == WATCH_TO_THE_END  # why Next is disabled
                assert not page.findChild(QLabel, "timelineLegend").isVisible()  # nothing drawn on the timeline
                page.player.slider.setValue(page.player.last_frame)  # dragged to the end (playing takes seconds)
                qtbot.waitUntil(lambda page=page: page.next.isEnabled(), timeout=WAIT_MS)
                timed_out = not page.episodes.dataset.terminated[i]
                assert page.hint.text().startswith("The episode's time ran out." if timed_out else
                                                   "The episode is over.")
                click(qtbot, window, "watchNext")
        elif phase == "questionnaire":
            click(qtbot, window, "questionnaireDone")  # nothing answered: refused, stays
            assert window.session.current() == step and "answer every question" in window.page.message.text()
            click(qtbot, window, "item_did_what_i_asked_6")
            click(qtbot, window, "item_still_did_its_job_2")
            window.page.texts["comments"].setPlainText("it went round the long way")
            click(qtbot, window, "questionnaireDone")
        elif phase == "nasa_tlx":
            for slider in window.page.findChildren(QSlider):
                slider.setValue(slider.value() + 1)
            click(qtbot, window, "questionnaireDone")
        else:
            pytest.fail(f"unexpected phase {phase}")
        qtbot.waitUntil(lambda step=step: window.session.current() != step, timeout=WAIT_MS)


def open_participant(qtbot, folder, pid):
    from dpf_gui.app.study_mode import StudyWindow

    window = StudyWindow(folder, pid)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # as on a participant's screen: without it the offscreen platform fires no shortcut
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    return window


def test_two_participants_through_the_screens_one_resumed(qtbot, tmp_path):
    from dpf_gui.app.study_mode import OperatorWindow

    study = init_study(tiny_protocol(tmp_path, {"budget = 8": "budget = 6", "nasa_tlx = true": "nasa_tlx = false"}),
                       tmp_path / "s")
    operator = OperatorWindow(tmp_path / "s")
    qtbot.addWidget(operator)
    operator.show()
    for pid in ("P01", "P02", "P03"):
        operator.new_id.setText(pid)
        click(qtbot, operator, "addParticipant")
    operator.new_id.setText("Jane Doe")
    click(qtbot, operator, "addParticipant")
    assert "is not allowed" in operator.message.text() and operator.list.count() == 3

    # P01 starts in another dpf-gui process, marks three trips and is killed (SIGKILL) mid-annotation
    code = (
        "import os, signal\n"
        "from PySide6.QtWidgets import QApplication, QPushButton\n"
        "app = QApplication([])\n"
        "from dpf_gui.app.study_mode import StudyWindow\n"
        f"w = StudyWindow({str(tmp_path / 's')!r}, 'P01')\n"
        "w.show()\n"
        "w.findChild(QPushButton, 'consentAgree').click()\n"
        "w.findChild(QPushButton, 'continueButton').click()\n"
        "for trip, value in ((0, 1), (1, -1), (2, 1)):\n"
        "    w.page.list.setCurrentRow(trip)\n"
        "    w.page.mark(value)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=HANG_S,
                          check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    operator.refresh()
    operator.list.setCurrentRow(0)
    again = operator.start()  # resumes in the annotate phase, the three marks kept
    qtbot.addWidget(again)
    assert again.session.current().key == "static/annotate"
    assert sum(1 for i in range(again.page.list.count()) if "(" in again.page.list.item(i).text()) == 3
    assert walk(qtbot, again) is True
    assert again.page.findChild(type(again.header), "phaseText").text() == reflow(study.protocol.texts["end"])
    again.close()  # the participant cannot close it
    assert again.isVisible() and again.session is not None
    again.operator_exit()
    assert not again.isVisible()

    second = open_participant(qtbot, tmp_path / "s", "P02")
    assert walk(qtbot, second) is True
    second.operator_exit()
    operator.refresh()
    operator.list.setCurrentRow(2)
    click(qtbot, operator, "withdrawParticipant")  # asks first
    assert "Press Withdraw again" in operator.message.text() and (tmp_path / "s/participants/P03").exists()
    click(qtbot, operator, "withdrawParticipant")
    assert not (tmp_path / "s/participants/P03").exists()

    out = export_study(Study(tmp_path / "s"), tmp_path / "export")
    events = list(csv.DictReader((out / "events.csv").open()))
    for pid, order in (("P01", ["static", "dynamic"]), ("P02", ["dynamic", "static"])):
        mine = [e for e in events if e["participant"] == pid]
        assert [int(e["event"]) for e in mine] == sorted(int(e["event"]) for e in mine)
        ends = [e["data"] for e in mine if e["kind"] == "phase_end"]
        assert len(ends) == 2 + 4 * len(order) + 1
        kinds = {e["kind"] for e in mine}
        assert {"consent", "mark", "key", "trajectory", "seek", "episode_end", "answer", "trained"} <= kinds
        starts = [e["condition"] for e in mine if e["kind"] == "phase_end" and e["phase"] == "annotate"]
        assert starts == order
    sessions = [(r["participant"], r["session"], r["started_at"])
                for r in csv.DictReader((out / "sessions.csv").open())]
    assert sessions == [("P01", "1", "consent"), ("P01", "2", "static/annotate"), ("P02", "1", "consent")]
    p01 = [e for e in events if e["participant"] == "P01"]
    assert max(int(e["session"]) for e in p01) == 2
    resumed = [e for e in p01 if e["kind"] == "phase_start" and e["phase"] == "annotate" and e["condition"] == "static"]
    assert ['"resumed": true' in e["data"] for e in resumed] == [False, True]
    assert sum(1 for e in p01 if e["kind"] == "mark" and e["condition"] == "static") == 6
    results = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["participant"], r["condition"], r["labelled"], r["q_did_what_i_asked"]) for r in results] == [
        ("P01", "static", "6", "6"), ("P01", "dynamic", "6", "6"),
        ("P02", "dynamic", "6", "6"), ("P02", "static", "6", "6")]
    assert all(r["simulated"] == "0" and r["q_comments"] == "it went round the long way" for r in results)
    assert all(0 < float(r["annotate_s"]) < HANG_S for r in results)  # people's time marking, in the summary too
    from dpf_gui.studies.summary import summarise_study

    people = summarise_study(Study(tmp_path / "s"), simulated=False)
    assert "annotate_s" in people["measures"] and people["conditions"]["static"]["annotate_s"]["n"] == 2
    for f in out.rglob("*"):
        if f.is_file() and f.name != "study_events.csv":
            assert b"P03" not in f.read_bytes(), f
    operator.refresh()
    assert operator.list.count() == 2 and "finished" in operator.list.item(0).text()
    QApplication.processEvents()


def test_the_next_suggestion_is_ranked_before_enter_and_is_the_one_enter_would_rank(qtbot, tmp_path, monkeypatch):
    """Enter finds the next suggestion ranked in the background for the marks and model it would rank with (the
    participant's window never waits on it), and a mark makes it rank again."""
    import dpf_gui.selection as selection

    init_study(tiny_protocol(tmp_path, {"# suggestions = true": "suggestions = true"}),
               tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page = window.page

    def ranked_for_the_marks_now() -> bool:
        return page._ranking is None and page._next is not None and page._next[0] == page._suggestion_inputs(
            page.ws.labels())

    def no_ranking_here(*a, **k):
        raise AssertionError("Enter ranked on the UI thread")

    seen = []
    for _ in range(2):
        qtbot.waitUntil(ranked_for_the_marks_now, timeout=WAIT_MS)
        expected = selection.suggest(page.ws.dataset, page.ws.labels(), None, count=1, seed=0)[0].index
        monkeypatch.setattr(selection, "suggest", no_ranking_here)
        click(qtbot, window, "suggestNext")
        monkeypatch.undo()
        assert page.current == expected
        seen.append(page.current)
        page.mark(1)  # the marks change: the next suggestion is ranked again, for them
    assert seen[0] != seen[1]
    qtbot.waitUntil(ranked_for_the_marks_now, timeout=WAIT_MS)


def test_annotate_page_suggestions_parts_budget_and_keys(qtbot, tmp_path):
    init_study(tiny_protocol(tmp_path, {"budget = 8": "budget = 2", "# suggestions = true": "suggestions = true"}),
               tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page = window.page
    assert window.session.current().key == "static/annotate" and page.player.wish is None
    click(qtbot, window, "suggestNext")
    suggested = page.current
    assert page.message.text() == "Suggested: a typical trip, to start with"  # in a participant's words
    qtbot.waitUntil(lambda: page.player.ready, timeout=WAIT_MS)
    page.player.seek(3)
    page.start_segment()
    page.player.seek(6)
    page.end_segment()
    assert page.selection == (2, 5)
    page.mark(-1)  # the part, avoided
    page.list.setCurrentRow(suggested + 1)
    page.mark(1)
    page.list.setCurrentRow(suggested + 2)
    page.mark(1)  # over the budget of 2
    assert "budget of this condition (2 trajectories) is used up" in page.message.text()
    assert page.count.text() == "2 of 2 trips marked"
    page.list.setCurrentRow(suggested)
    page.mark(0)  # a trip already marked may be marked again
    window.operator_exit()
    events = Study(tmp_path / "s")
    from dpf_gui.studies.events import EventLog

    with EventLog(events.participant_dir("P01") / "events.sqlite", read_only=True) as log:
        got = log.events()
    marks = [(e["data"]["traj"], e["data"]["value"], e["data"]["t0"], e["data"]["t1"])
             for e in got if e["kind"] == "mark"]
    assert marks == [(suggested, -1, 2, 5), (suggested + 1, 1, None, None), (suggested, 0, None, None)]
    assert [e["data"]["trajectory"] for e in got if e["kind"] == "suggestion"] == [suggested]
    assert got[-1]["kind"] == "operator_exit"


def test_the_list_of_trips_is_shuffled_per_participant_and_kept_on_resuming(qtbot, tmp_path):
    """The default trip order: a participant going down the list meets trips in a seeded order of their own
    (gridnav's stored order begins with 35 alike failures), the marks name the trajectory, a suggestion is
    found in the list, and the order is the same when the participant comes back."""
    study = init_study(tiny_protocol(tmp_path, {'trip_order = "stored"': 'trip_order = "shuffled"',
                                                "# suggestions = true": "suggestions = true"}), tmp_path / "s")
    study.add_participant("P01")
    study.add_participant("P02")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page, name = window.page, window.session.current().condition
    order = window.session.trip_order(name)
    assert sorted(order.tolist()) == list(range(len(page.ws))) and order[:10].tolist() != list(range(10))
    assert page.current == order[0] and page.list.item(0).text() == "Trip 1"
    qtbot.waitUntil(lambda: page.player.ready, timeout=WAIT_MS)
    press(qtbot, window, Qt.Key.Key_Down)
    assert page.current == order[1]
    page.mark(1)
    assert page.list.item(1).text().startswith("Trip 2  (") and window.session.labelled(name) == 1
    assert bool(page.ws.labels().labelled[order[1]])  # stored on the trajectory shown, not on row 1
    click(qtbot, window, "suggestNext")
    suggested = page.current
    assert page.list.currentRow() == int(np.flatnonzero(order == suggested)[0])
    window.operator_exit()
    again = open_participant(qtbot, tmp_path / "s", "P01")
    assert again.session.trip_order(name).tolist() == order.tolist() and again.page.current == order[0]
    assert again.page.list.item(1).text().startswith("Trip 2  (")
    again.operator_exit()
    from dpf_gui.studies.session import Session

    with Session(Study(tmp_path / "s"), "P02") as other:  # another participant, another order
        assert other.trip_order(name).tolist() != order.tolist()


def test_suggestions_are_ranked_by_a_model_of_the_marks_after_each_round(qtbot, tmp_path):
    """As the pilot's simulated participants: after every ROUND_MARKS marks an intent model is trained in the
    background on the marks so far, and "label this next" ranks with it (logged with the round)."""
    from dpf_gui.selection import ROUND_MARKS, suggest

    init_study(tiny_protocol(tmp_path, {"budget = 8": "budget = 12", "# suggestions = true": "suggestions = true"}),
               tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    click(qtbot, window, "consentAgree")
    click(qtbot, window, "continueButton")
    page = window.page  # keyboard-first, as a participant: Enter, then P / A / N
    keys = [Qt.Key.Key_P, Qt.Key.Key_A, Qt.Key.Key_P, Qt.Key.Key_A, Qt.Key.Key_N]
    for key in keys[:ROUND_MARKS - 1]:
        press(qtbot, window, Qt.Key.Key_Return)
        press(qtbot, window, key)
    assert page.suggestion_model is None and page._training is None  # no round complete: variety only
    press(qtbot, window, Qt.Key.Key_Return)
    press(qtbot, window, keys[ROUND_MARKS - 1])
    qtbot.waitUntil(lambda: page.suggestion_round == 1, timeout=HANG_S * 1000)
    assert page.suggestion_model is not None
    labels = page.ws.labels()
    picked = suggest(page.ws.dataset, labels, page.suggestion_model, count=1, seed=1)[0]
    with_model = picked.index
    without = suggest(page.ws.dataset, labels, None, count=1, seed=1)[0].index
    press(qtbot, window, Qt.Key.Key_Return)
    assert page.current == with_model
    assert page.message.text() == f"Suggested: {SUGGESTION_WORDS[picked.kind]}"  # a participant's words
    assert with_model != without  # on this data the model's disagreement changes the pick (so the check can fail)
    window.operator_exit()
    from dpf_gui.studies.events import EventLog

    with EventLog(Study(tmp_path / "s").participant_dir("P01") / "events.sqlite", read_only=True) as log:
        got = log.events()
    trained = [e["data"] for e in got if e["kind"] == "suggestion_model"]
    assert trained == [{"model_round": 1, "note": f"trained on {ROUND_MARKS} labels"}]
    assert [e["data"]["model_round"] for e in got if e["kind"] == "suggestion"] == [0] * ROUND_MARKS + [1]


def test_protocol_texts_read_as_paragraphs_not_as_the_toml_files_lines():
    """Lines broken in the protocol file join (the window wraps them to its width); a blank line is a paragraph."""
    text = "\nThis study is about teaching. You will mark some of its\ntrips as good or bad.\n\n  Thank you.  \n"
    assert reflow(text) == "This study is about teaching. You will mark some of its trips as good or bad.\n\nThank you."
    assert reflow("one line") == "one line" and reflow("") == ""


def test_the_operator_screen_says_how_to_start_and_acts_only_on_a_chosen_participant(qtbot, tmp_path):
    # the UX review (s55): the header wrapped at ~530 px mid-parenthesis, an empty list said nothing, and Start /
    # resume and Withdraw looked usable with no participant chosen
    from PySide6.QtWidgets import QLabel

    from dpf_gui.app.study_mode import OperatorWindow

    init_study(tiny_protocol(tmp_path), tmp_path / "s")
    operator = OperatorWindow(tmp_path / "s")
    qtbot.addWidget(operator)
    operator.resize(1280, 720)
    operator.show()
    qtbot.waitExposed(operator)
    title = operator.findChild(QLabel, "studyTitle")
    assert title.height() < 2 * title.fontMetrics().lineSpacing(), title.text()  # one line at 1280 px
    hint = operator.findChild(QLabel, "participantHint")
    start, withdraw = (operator.findChild(QPushButton, n) for n in ("startSession", "withdrawParticipant"))
    assert hint.isVisible() and "press Add" in hint.text()
    assert not start.isEnabled() and not withdraw.isEnabled()
    operator.new_id.setText("P01")
    click(qtbot, operator, "addParticipant")  # the one added is chosen
    assert not hint.isVisible() and start.isEnabled() and withdraw.isEnabled()
    operator.list.setCurrentRow(-1)
    assert not start.isEnabled() and not withdraw.isEnabled()


def test_closing_a_participants_screen_keeps_them_chosen_and_says_where_they_are(qtbot, tmp_path):
    # the study walk (s56): the operator screen lost the chosen participant when their screen closed and kept the
    # message from before the session
    from dpf_gui.app.study_mode import OperatorWindow

    init_study(tiny_protocol(tmp_path), tmp_path / "s")
    operator = OperatorWindow(tmp_path / "s")
    qtbot.addWidget(operator)
    operator.show()
    qtbot.waitExposed(operator)
    for pid in ("P01", "P02"):
        operator.new_id.setText(pid)
        click(qtbot, operator, "addParticipant")
    operator.list.setCurrentRow(0)
    window = operator.start()
    qtbot.addWidget(window)
    window.operator_exit()  # Ctrl+Shift+Q: the participant's screen refuses any other close
    qtbot.waitUntil(lambda: "P01's screen was closed" in operator.message.text(), timeout=WAIT_MS)
    assert operator.list.currentItem().data(Qt.ItemDataRole.UserRole) == "P01"
    assert "Start / resume" in operator.message.text() and operator.statuses["P01"] in operator.message.text()


class _TlxWindow(QWidget):
    """What a questionnaire page needs of its window, for the NASA-TLX step alone (the real walk reaches it after
    two trainings): the real Session's items and refusal, answers kept in a list."""

    def __init__(self):
        from types import SimpleNamespace

        from dpf_gui.studies.session import Session, Step

        super().__init__()
        self.step = Step("nasa_tlx", "static")
        self.study = SimpleNamespace(protocol=SimpleNamespace(texts={"questionnaire": "About the agent you watched"}))
        self.logged: list[tuple[str, int]] = []
        self.advanced = False
        session = self

        class _Session:
            items = Session.items
            missing_answers = Session.missing_answers

            def answer(self, item_id, value):
                session.logged.append((item_id, value))

            def answers(self, step):
                return dict(session.logged)

        self.session = _Session()

    def advance(self):
        from dpf_gui.errors import UserError

        if self.session.missing_answers(self.step):
            raise UserError("required items unanswered")
        self.advanced = True


def _click_at(qtbot, slider, fraction: float) -> None:
    """A click on the scale's groove, ``fraction`` of the way from its low end."""
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(round(slider.width() * fraction),
                                                                   slider.height() // 2))


def test_tlx_scales_show_no_handle_until_answered_and_the_refusal_names_the_open_ones(qtbot):
    """A scale shows no handle until answered (a handle waiting mid-scale looked like an answer of 50, s56) and
    says "not answered"; a click anywhere on the groove answers there (a plain slider stepped a page towards it:
    a click at 20 % answered 0), keys answer from the middle, Space the middle itself; the mouse wheel scrolls the
    page and never answers. Continue names the questions still open, and the list shrinks as they are answered.
    The lead-in is about the participant's own workload, not the agent."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    from dpf_gui.app.study_mode import NOT_ANSWERED, TLX_LEAD, QuestionnairePage
    from dpf_gui.studies.session import TLX_IDS, TLX_SCALES

    window = _TlxWindow()
    qtbot.addWidget(window)
    page = QuestionnairePage(window, "nasa_tlx")
    page.resize(1000, 700)
    page.show()
    qtbot.waitExposed(page)
    assert page.findChild(QLabel, "phaseText").text() == reflow(TLX_LEAD)
    assert all(page.values[i].text() == NOT_ANSWERED and not page.values[i].isEnabled() for i in TLX_IDS)
    mental = page.sliders["tlx_mental"]
    looks = mental.grab().toImage()
    mental.blockSignals(True)
    mental.setValue(0)  # where the hidden handle waits does not show
    assert mental.grab().toImage() == looks
    mental.setValue(10)
    mental.blockSignals(False)
    wheel = QWheelEvent(QPointF(mental.width() / 2, mental.height() / 2), QPointF(mental.mapToGlobal(QPoint(5, 5))),
                        QPoint(0, 0), QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(mental, wheel)  # scrolling the page past it
    assert window.logged == [] and mental.value() == 10
    _click_at(qtbot, mental, 0.2)
    assert window.logged == [("tlx_mental", 20)] and page.values["tlx_mental"].text() == "20"
    assert page.values["tlx_mental"].isEnabled() and mental.grab().toImage() != looks  # its handle shows now
    _click_at(qtbot, page.sliders["tlx_physical"], 0.5)  # the middle: an answer of 50, though the value is unchanged
    page.sliders["tlx_temporal"].setFocus()
    qtbot.keyClick(page.sliders["tlx_temporal"], Qt.Key.Key_Right)  # from the middle
    page.done()
    refusal = page.message.text()
    assert not window.advanced and "Not answered yet" in refusal
    for (_scale, question, _lo, _hi), item in zip(TLX_SCALES, TLX_IDS, strict=True):
        assert (question in refusal) == (item not in ("tlx_mental", "tlx_physical", "tlx_temporal")), item
    page.sliders["tlx_performance"].setFocus()
    qtbot.keyClick(page.sliders["tlx_performance"], Qt.Key.Key_Space)  # the middle, by keyboard
    assert TLX_SCALES[3][1] not in page.message.text() and TLX_SCALES[4][1] in page.message.text()
    _click_at(qtbot, mental, 0.2)  # again where it is: no second answer
    assert window.logged == [("tlx_mental", 20), ("tlx_physical", 50), ("tlx_temporal", 55),
                             ("tlx_performance", 50)]
    for item in TLX_IDS[4:]:
        _click_at(qtbot, page.sliders[item], 0.0)
    assert page.message.text() == ""  # nothing open: the refusal is gone
    page.done()
    assert window.advanced and [v for _, v in window.logged[4:]] == [0, 0]


def key(k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """``k`` pressed where the keyboard focus is (the active window when nothing has it), as a real key press."""
    from PySide6.QtTest import QTest

    QTest.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, modifier)


def focused() -> str:
    w = QApplication.focusWidget()
    return "" if w is None else w.objectName()


def test_a_participant_without_a_mouse_goes_through_every_page_with_tab_space_and_enter(qtbot, tmp_path):
    """A keyboard-only walk (s57) found: the consent page opened with an unmarked focus on "I do not agree", so a
    first Space declined; Enter pressed no button anywhere; on Watch, Space on the Next that Tab reached played the
    episode instead (Next could not be pressed at all); the questionnaire's scroll area took a Tab stop for nothing
    and its comment box typed Tab as a character, so Continue was out of reach. Now each page opens with the focus
    on itself, Tab goes through its controls only, and Enter or Space presses the one Tab reached."""
    from PySide6.QtWidgets import QPlainTextEdit

    T, BT, SPACE, ENTER = Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Space, Qt.Key.Key_Return
    init_study(tiny_protocol(tmp_path, {"budget = 8": "budget = 2"}), tmp_path / "s").add_participant("P01")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    session = window.session

    def phase() -> str:
        return session.current().key

    # consent: nothing is pressed before Tab shows where the keys go
    assert QApplication.focusWidget() is window.page
    key(SPACE)
    key(ENTER)
    assert phase() == "consent" and session.log.events("consent") == []
    key(T)
    assert focused() == "consentDecline"
    key(T)
    assert focused() == "consentAgree"
    key(ENTER)
    assert phase() == "instructions" and QApplication.focusWidget() is window.page
    key(T)
    assert focused() == "continueButton"
    key(ENTER)
    assert phase() == "static/annotate"
    # annotate: the keys mark, Tab reaches the buttons and Space presses the one it reached (it played before)
    page = window.page
    qtbot.waitUntil(lambda: page.player.ready, timeout=WAIT_MS)
    key(Qt.Key.Key_P)
    key(Qt.Key.Key_Down)
    key(Qt.Key.Key_A)
    assert page.marked == 2
    for _ in range(8):
        if focused() == "annotateDone":
            break
        key(T)
    assert focused() == "annotateDone"
    key(SPACE)
    assert phase() == "static/train"  # the budget is used: Done ends marking at the first press
    qtbot.waitUntil(lambda: phase() == "static/watch", timeout=WAIT_MS)
    # watch: Next, reached with Tab once the episode was watched to its end, is pressed with Space or Enter
    page = window.page
    qtbot.waitUntil(lambda: page.episodes is not None and page.player.ready, timeout=WAIT_MS)
    assert QApplication.focusWidget() is page
    page.player.slider.setValue(page.player.last_frame)  # watched to the end (playing takes seconds)
    qtbot.waitUntil(lambda: page.next.isEnabled(), timeout=WAIT_MS)
    key(T)
    assert focused() == "watchNext"
    key(SPACE)
    assert page.index == 1 and phase() == "static/watch"
    # Next is disabled again (the focus leaves it): Space plays and pauses this episode
    qtbot.waitUntil(lambda: page.player.ready and page.player.is_playing, timeout=WAIT_MS)
    key(SPACE)
    assert not page.player.is_playing
    page.player.slider.setValue(page.player.last_frame)
    qtbot.waitUntil(lambda: page.next.isEnabled(), timeout=WAIT_MS)
    key(T)
    key(ENTER)
    assert phase() == "static/questionnaire"
    # questionnaire: Tab goes from question to question (no stop on the scroll area), the arrows choose, Space
    # answers, Tab leaves the comment box (it typed a tab), Enter presses Continue
    key(T)
    assert focused() == "item_did_what_i_asked_1"
    for _ in range(5):
        key(Qt.Key.Key_Right)
    key(SPACE)
    key(T)
    assert focused() == "item_still_did_its_job_1"
    key(SPACE)
    key(T)
    comments = window.page.findChild(QPlainTextEdit, "item_comments")
    assert QApplication.focusWidget() is comments
    from PySide6.QtTest import QTest

    QTest.keyClicks(comments, "ok")
    key(T)
    assert focused() == "questionnaireDone" and comments.toPlainText() == "ok"
    key(BT, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is comments
    key(T)
    key(ENTER)
    assert phase() == "static/nasa_tlx"
    assert session.answers(session.steps[5]) == {"did_what_i_asked": 6, "still_did_its_job": 1, "comments": "ok"}
    # NASA-TLX: Tab from scale to scale, the arrows answer, Enter on Continue
    page = window.page
    for item in page.sliders:
        key(T)
        assert focused() == f"item_{item}"
        key(Qt.Key.Key_Left)
    key(T)
    assert focused() == "questionnaireDone"
    key(ENTER)
    assert phase() == "dynamic/annotate"
    window.operator_exit()



def _active_operator(qtbot, folder):
    """The operator's window of the study in ``folder``, shown and active (keys go to it)."""
    from dpf_gui.app.study_mode import OperatorWindow

    operator = OperatorWindow(folder)
    qtbot.addWidget(operator)
    operator.show()
    qtbot.waitExposed(operator)
    operator.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is operator, timeout=WAIT_MS)
    return operator

def test_the_operator_screen_works_from_the_keyboard(qtbot, tmp_path):
    """The keyboard-only walk (s57): Enter in the id field added no one and Enter pressed none of the buttons
    Tab reached (only Space did); now Enter adds, starts and, pressed twice, withdraws."""

    init_study(tiny_protocol(tmp_path), tmp_path / "s")
    operator = _active_operator(qtbot, tmp_path / "s")
    operator.new_id.setFocus()
    for pid in ("P01", "P02"):
        from PySide6.QtTest import QTest

        QTest.keyClicks(operator.new_id, pid)
        key(Qt.Key.Key_Return)
    assert operator.list.count() == 2 and operator.new_id.text() == ""
    key(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert focused() == "participantList"
    key(Qt.Key.Key_Up)  # P01
    for _ in range(4):
        if focused() == "withdrawParticipant":
            break
        key(Qt.Key.Key_Tab)
    key(Qt.Key.Key_Return)  # asks first
    assert "Withdraw again" in operator.message.text() and (tmp_path / "s/participants/P01").exists()
    key(Qt.Key.Key_Return)
    assert not (tmp_path / "s/participants/P01").exists() and operator.list.count() == 1
    operator.list.setFocus()
    key(Qt.Key.Key_Down)  # P02
    for _ in range(4):
        if focused() == "startSession":
            break
        key(Qt.Key.Key_Tab)
    key(Qt.Key.Key_Return)
    window = operator.participant_window
    assert window is not None and window.session.pid == "P02"
    qtbot.addWidget(window)
    window.operator_exit()


def _at(study, pid: str, phase: str) -> None:
    """Participant ``pid`` moved on to the first ``phase`` step without the screens: consent given, nothing
    marked (so training is quick: the condition plays the task agent), every questionnaire item answered."""
    from dpf_gui.studies.session import Session

    with Session(study, pid) as session:
        while session.current().phase != phase:
            step = session.begin()
            if step.phase == "consent":
                session.consent(True)
            elif step.phase == "train":
                session.train(step.condition)
            for item, kind, *_ in session.items(step):
                session.answer(item, {"likert": 4, "tlx": 50}.get(kind, "-"))
            session.end(step)


def _left_edge(widget):
    """The colour of the widget's left edge, half-way down, as drawn now."""
    image = widget.grab().toImage()
    return image.pixelColor(0, image.height() // 2)


def test_the_tlx_scale_with_the_keyboard_focus_is_framed_answered_or_not(qtbot, tmp_path):
    """A second keyboard walk: once a scale was answered its focus mark was the style's, a faint outline of the
    handle, so a participant tabbing through could not see which scale the arrow keys would answer. Now the
    scale with the focus is framed in the selection's colour, as the app's lists are, answered or not."""
    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")
    study.add_participant("P01")
    _at(study, "P01", "nasa_tlx")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    window.resize(1024, 768)
    page = window.page
    mental, physical = page.sliders["tlx_mental"], page.sliders["tlx_physical"]
    highlight = mental.palette().highlight().color()
    assert _left_edge(mental) != highlight  # no scale has the focus as the page opens
    key(Qt.Key.Key_Tab)
    assert focused() == "item_tlx_mental" and not mental.answered
    assert _left_edge(mental) == highlight and _left_edge(physical) != highlight
    key(Qt.Key.Key_Right)  # answered from the middle: its handle shows, and the frame stays
    assert mental.answered and page.given["tlx_mental"] == 55
    assert _left_edge(mental) == highlight
    key(Qt.Key.Key_Tab)
    assert focused() == "item_tlx_physical"
    assert _left_edge(physical) == highlight and _left_edge(mental) != highlight  # answered, without the focus
    window.operator_exit()


def test_the_questionnaire_shows_no_scroll_bar_while_its_items_fit(qtbot, tmp_path):
    """A second keyboard walk: the questionnaire opened with both scroll bars at 1024x768 although its items fit.
    Qt decides them from the size the scroll area has when its items arrive (a new widget's 100 x 30 pixels: both)
    and takes them away only at the event loop's next turn, so whatever looked at the page as it opened (a grab,
    a screenshot after the key that opened it) saw both. Now neither shows, on the questionnaire and on the
    NASA-TLX, at 1024x768 and 1280x720; the vertical one shows when the items do not fit."""
    from PySide6.QtWidgets import QScrollArea

    from dpf_gui.app.study_mode import StudyWindow

    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")

    def bars(window) -> tuple[bool, bool]:
        area = window.page.findChild(QScrollArea)
        return area.horizontalScrollBar().isVisible(), area.verticalScrollBar().isVisible()

    for pid, size in (("P01", (1024, 768)), ("P02", (1280, 720))):
        study.add_participant(pid)
        _at(study, pid, "questionnaire")
        window = StudyWindow(tmp_path / "s", pid)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        assert bars(window) == (False, False), size  # as it opens, before any event is handled
        qtbot.waitExposed(window)
        qtbot.wait(50)
        assert bars(window) == (False, False), size
        for name in ("item_did_what_i_asked_6", "item_still_did_its_job_2"):
            window.findChild(QRadioButton, name).click()  # (a click at a wide button's middle misses its circle)
        click(qtbot, window, "questionnaireDone")
        assert window.session.current().phase == "nasa_tlx" and bars(window) == (False, False), size
        qtbot.wait(50)
        assert bars(window) == (False, False), size
        window.resize(size[0], 420)  # the six scales do not fit: the vertical bar, not the horizontal one
        qtbot.waitUntil(lambda window=window: bars(window) == (False, True), timeout=WAIT_MS)
        window.operator_exit()


def test_the_operators_and_the_participants_lists_show_when_they_have_the_keyboard_focus(qtbot, tmp_path):
    """A second keyboard walk: the operator's participant list (Up / Down choose in it only while it has the
    keyboard focus) and the participant's list of trips looked the same with and without the focus. They are
    framed in the selection's colour while they have it, as the main window's trajectory list is."""

    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")
    operator = _active_operator(qtbot, tmp_path / "s")
    operator.new_id.setFocus()
    highlight = operator.list.palette().highlight().color()
    plain = _left_edge(operator.list)
    key(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert focused() == "participantList"
    assert _left_edge(operator.list) == highlight and plain != highlight
    operator.close()
    study.add_participant("P01")
    _at(study, "P01", "annotate")
    window = open_participant(qtbot, tmp_path / "s", "P01")
    trips = window.page.list
    plain = _left_edge(trips)  # the page has the focus as it opens
    for _ in range(12):
        key(Qt.Key.Key_Tab)
        if focused() == "trajList":
            break
    assert focused() == "trajList"
    assert _left_edge(trips) == highlight and plain != highlight
    window.operator_exit()

"""Regenerate docs/STUDY.md's screenshots of study mode (offscreen): ``python assets/make_study_screenshots.py``.

Writes ``assets/screenshots/study_*.png`` (or into ``--out DIR``): the operator screen, then one
participant (P01) through every phase of docs/study_example.toml as shipped,
driven through the real windows: consent, instructions, annotate (20 trips
marked with the keys: preferred when the trip uses the scenic route more than
the toll road, avoided when the other way round, neutral otherwise: what a
person following the instruction would do), learning, watch, questions,
workload (NASA-TLX), end. Then a participant of docs/study_ranks_example.toml
ranking five trips watched (``study_rank.png``: the ranking dialog drawn where
it opens, over the list of trips). The study folders are temporary. Takes
about a minute.

``--protocol FILE`` walks another protocol through the same screens (e.g. one on highway or Pong: each
trajectory is marked by the wish's regions as above), ``--size WxH`` sizes the participant window.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from make_screenshots import SIZE, save, screenshot_parser, settle, wait  # noqa: E402


def main(argv=None) -> int:
    p = screenshot_parser(__doc__)
    p.add_argument("--protocol", default=str(HERE.parent / "docs" / "study_example.toml"),
                   help="the study protocol to walk through (default: docs/study_example.toml); its wish's regions "
                        "decide the marks, so it needs a [wish] with prefer or avoid")
    p.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}",
                   help=f"the participant window, WxH (default: {SIZE[0]}x{SIZE[1]})")
    args = p.parse_args(argv)
    out = Path(args.out)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    import numpy as np
    import torch
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QRadioButton, QSlider

    from dpf_gui.app.study_mode import OperatorWindow
    from dpf_gui.studies.folder import init_study

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        study = init_study(Path(args.protocol), Path(tmp) / "study")
        for pid in ("P01", "P02", "P03"):
            study.add_participant(pid)
        operator = OperatorWindow(study.folder)
        operator.resize(900, 420)
        operator.show()
        operator.list.setCurrentRow(0)
        save(operator, app, out / "study_operator.png")
        window = operator.start()
        window.resize(*size)

        def at(phase: str) -> None:
            assert wait(app, lambda: window.session.current() is not None and window.session.current().phase == phase,
                        300), phase
            settle(app, 0.5)

        def click(name: str) -> None:
            QTest.mouseClick(window.findChild(object, name), Qt.MouseButton.LeftButton)

        at("consent")
        save(window, app, out / "study_consent.png")
        click("consentAgree")
        at("instructions")
        save(window, app, out / "study_instructions.png")
        click("continueButton")
        at("annotate")
        page = window.page
        wish = study.wish
        data = study.data
        for i in range(20):
            regions = data[i].regions[1:]
            score = int(wish.in_prefer(regions).sum()) - int(wish.in_avoid(regions).sum())
            page.list.setCurrentRow(i)
            assert wait(app, lambda: page.player.ready)
            page.mark(int(np.sign(score)))
        page.list.setCurrentRow(3)
        assert wait(app, lambda: page.player.ready)
        page.player.seek(6)
        save(window, app, out / "study_annotate.png")
        click("annotateDone")
        at("train")
        save(window, app, out / "study_train.png")
        at("watch")
        watch = window.page
        assert wait(app, lambda: watch.episodes is not None and watch.player.ready, 120)
        watch.player.pause()
        watch.player.slider.setValue(8)
        save(window, app, out / "study_watch.png")
        for i in range(len(watch.episodes)):
            assert wait(app, lambda i=i: watch.player.index == i and watch.player.ready, 60)
            watch.player.slider.setValue(watch.player.last_frame)
            click("watchNext")
        at("questionnaire")
        for name in ("item_did_what_i_asked_6", "item_still_did_its_job_7"):
            window.findChild(QRadioButton, name).click()
        window.page.texts["comments"].setPlainText("It went the long way round, through the green strip.")
        save(window, app, out / "study_questionnaire.png")
        click("questionnaireDone")
        at("nasa_tlx")
        for slider, value in zip(window.page.findChildren(QSlider), (8, 2, 5, 4, 7, 3), strict=True):
            slider.setValue(value)
        window.activateWindow()  # the third scale has the keyboard focus, as after Tab, Tab, Tab: it is framed
        assert wait(app, lambda: app.activeWindow() is window, 10)
        window.page.sliders["tlx_temporal"].setFocus(Qt.FocusReason.TabFocusReason)
        save(window, app, out / "study_tlx.png")
        click("questionnaireDone")
        while window.session.current() is not None and window.session.current().phase != "end":  # 2nd condition
            step = window.session.current()
            phase = step.phase
            if phase == "annotate":
                for i in range(20, 40):
                    regions = data[i].regions[1:]
                    window.page.list.setCurrentRow(i)
                    inside = int(wish.in_prefer(regions).sum()) - int(wish.in_avoid(regions).sum())
                    window.page.mark(int(np.sign(inside)))
                click("annotateDone")
            elif phase == "watch":
                w = window.page
                assert wait(app, lambda w=w: w.episodes is not None, 120)
                for i in range(len(w.episodes)):
                    shown = wait(app, lambda w=w, i=i: w.player.index == i and w.player.ready, 60)
                    assert shown, (i, w.player.index, w.player.ready, w.label.text())
                    w.player.slider.setValue(w.player.last_frame)
                    click("watchNext")
            elif phase == "questionnaire":
                for name in ("item_did_what_i_asked_5", "item_still_did_its_job_7"):
                    window.findChild(QRadioButton, name).click()
                click("questionnaireDone")
            elif phase == "nasa_tlx":
                for slider in window.page.findChildren(QSlider):
                    slider.setValue(slider.value() + 1)
                click("questionnaireDone")
            assert wait(app, lambda step=step: window.session.current() != step, 300), step
        assert wait(app, lambda: window.session.current() is None, 300)  # the end page ends the last step
        settle(app, 0.5)
        save(window, app, out / "study_end.png")
        window.operator_exit()
        operator.refresh()
        save(operator, app, out / "study_operator.png")
        operator.close()
    if Path(args.protocol) == HERE.parent / "docs" / "study_example.toml":
        ranking_screen(app, out, size)
    return 0


class _WithDialog:
    """A window with a dialog of its drawn where it is (an offscreen grab of the window leaves its dialogs out)."""

    def __init__(self, window, dialog):
        self.window, self.dialog = window, dialog

    def grab(self):
        from PySide6.QtGui import QPainter

        shot = self.window.grab()
        painter = QPainter(shot)
        painter.drawPixmap(self.window.mapFromGlobal(self.dialog.pos()), self.dialog.grab())
        painter.end()
        return shot


def ranking_screen(app, out: Path, size: tuple[int, int]) -> None:
    """``study_rank.png``: participant P02 of docs/study_ranks_example.toml (rankings first in the Latin square)
    has watched five trips and ranks them: the fourth moved up one place, the third made as good as the one above."""
    from dpf_gui.app.study_mode import StudyWindow
    from dpf_gui.studies.folder import init_study

    with tempfile.TemporaryDirectory() as tmp:
        study = init_study(HERE.parent / "docs" / "study_ranks_example.toml", Path(tmp) / "study")
        study.add_participant("P01")
        study.add_participant("P02")
        window = StudyWindow(study.folder, "P02")
        window.resize(*size)
        window.show()
        window.session.consent(True)
        window.advance()  # consent
        window.advance()  # instructions
        page = window.page
        assert page.ranks, window.session.current()
        for i in (1, 4, 7, 9, 12):
            page.list.setCurrentRow(i)
            assert wait(app, lambda: page.player.ready)
        page.open_ranking()
        dialog = page.rank_dialog
        dialog.list.setCurrentRow(3)
        dialog.move_selected(-1)
        dialog.list.setCurrentRow(2)
        dialog.toggle_tie()
        save(_WithDialog(window, dialog), app, out / "study_rank.png")
        dialog.reject()
        window.operator_exit()


if __name__ == "__main__":
    sys.exit(main())

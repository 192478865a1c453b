"""Every visible label, button and combo box of every tab fits its text, at a projector's 1024x768 and at
1280x720, in the normal and in the presentation look (issue 15: text cut at 1024 px and at the default size).

A widget fits when its text's width (``fontMetrics``) is within the room the widget gives it: a label's
contents rectangle, a button's width less its padding, a combo box's edit field. A label that wraps
(``wordWrap``) fits by definition: it grows downwards instead of cutting its text.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QComboBox,
    QLabel,
    QPushButton,
    QStyle,
    QStyleOptionComboBox,
)

from dpf_gui.app.plots import PlotText
from tests.qt_helpers import WAIT_MS, open_window
from tests.test_saliency import train_tiny_additive_avoid_toll_intent

SIZES = ((1024, 768), (1280, 720))


def _plain(text: str) -> list[str]:
    if "<" in text:
        doc = QTextDocument()
        doc.setHtml(text)
        text = doc.toPlainText()
    return [line for line in text.replace("&&", "&").splitlines() if line.strip()]


def _room_and_need(w) -> tuple[int, int] | None:
    """(room, needed) in pixels for a widget's text; None when there is nothing to measure or it wraps."""
    fm = w.fontMetrics()
    if isinstance(w, QLabel):
        if w.pixmap() is not None and not w.pixmap().isNull():
            return None
        lines = _plain(w.text())
        if w.wordWrap():  # wraps between words: its longest word must fit
            lines = [word for line in lines for word in line.split()]
        return (w.contentsRect().width() - 2 * w.margin() - w.indent() if w.indent() > 0 else
                w.contentsRect().width() - 2 * w.margin(), max((fm.horizontalAdvance(t) for t in lines), default=0))
    if isinstance(w, QPushButton):
        lines = _plain(w.text().replace("&", ""))
        icon = w.iconSize().width() + 4 if not w.icon().isNull() else 0
        return w.width() - 8 - icon, max((fm.horizontalAdvance(t) for t in lines), default=0)
    if isinstance(w, QComboBox):
        opt = QStyleOptionComboBox()
        w.initStyleOption(opt)
        field = w.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                         QStyle.SubControl.SC_ComboBoxEditField, w)
        return field.width(), fm.horizontalAdvance(w.currentText())
    return None


def clipped(root) -> list[str]:
    """Every visible label, button and combo box under ``root`` whose text does not fit, and every plot cut
    off (its contents wider than the plot, or the plot pushed past the window's edge)."""
    out = []
    for plot in root.findChildren(PlotText):
        if not plot.isVisible():
            continue
        inner = plot.getPlotItem().geometry().width()
        port = plot.viewport()  # (the view itself is all covered by its viewport)
        seen = port.visibleRegion().boundingRect().width()
        if inner > plot.width() + 1 or seen < port.width() - 1:
            out.append(f"{plot.objectName()}: plot cut off ({inner:.0f} px of plot, {plot.width()} px widget, "
                       f"{seen} px shown)")
    for cls in (QLabel, QPushButton, QComboBox):
        for w in root.findChildren(cls):
            if not w.isVisible() or w.width() <= 0:
                continue
            measured = _room_and_need(w)
            if measured is None:
                continue
            room, need = measured
            # what the parents show of it: a label in a scroll area may be wide enough and still cut off
            seen = w.visibleRegion().boundingRect()
            if seen.isEmpty():
                if not _in_scroll_area(w):  # pushed out of the window by what does not fit beside it
                    out.append(f"{_name(w)}: not shown at all (outside its parent)")
                continue
            room -= w.width() - seen.width()
            if need > room:
                text = w.currentText() if isinstance(w, QComboBox) else " / ".join(_plain(w.text()))
                out.append(f"{_name(w)}: {text!r} needs {need} px, has {room}")
    return out


def _name(w) -> str:
    text = w.currentText() if isinstance(w, QComboBox) else (_plain(w.text()) or [""])[0]
    return w.objectName() or f"{type(w).__name__}({text!r})"


def _in_scroll_area(w) -> bool:
    """Whether ``w`` lies in a scroll area (where being scrolled out of view is fine)."""
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QAbstractScrollArea):
            return True
        p = p.parentWidget()
    return False


@pytest.fixture(scope="module")
def intent_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit-intent") / "gridnav"
    train_tiny_additive_avoid_toll_intent(out)
    return out


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presentation"])
def test_every_tab_fits_its_text(qtbot, tmp_path, messages, intent_dir, present):
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    wish = ws.wish("mixed")
    ws.label_with_simulated_user(wish, seed=0)
    window.annotate.set_overlay_wish(wish, "simulated user")  # as the demo does
    assert window.train.load_intent_dir(intent_dir)
    if present:
        window.set_presentation(True)
        assert window.play.params_panel.isHidden()  # until the Parameters button shows it
    problems = []
    # presentation mode hides the fusion parameters of Play and Compare until asked for: both ways must fit
    shown = [False, True] if present else [True]
    for size, params in ((size, params) for params in shown for size in SIZES):
        window.resize(*size)
        for toggle in (window.play.params_toggle, window.compare.params_toggle):
            toggle.setChecked(params)
        for i in range(window.tabs.count()):
            window.tabs.setCurrentIndex(i)
            qtbot.wait(50)
            if (window.width(), window.height()) != size:  # the window cannot be made that small
                problems.append(f"{size[0]}x{size[1]} {window.tabs.tabText(i)}: the window is "
                                f"{window.width()}x{window.height()} (at least {window.minimumSizeHint().width()}x"
                                f"{window.minimumSizeHint().height()}; tabs at least "
                                + ", ".join(f"{window.tabs.tabText(j)} {t.width()}x{t.height()}" for j, t in
                                            enumerate(window.tabs.widget(j).minimumSizeHint()
                                                      for j in range(window.tabs.count()))) + ")")
            where = f"{size[0]}x{size[1]} {window.tabs.tabText(i)}{'' if params else ' (parameters hidden)'}"
            problems += [f"{where}: {p}" for p in clipped(window)]
    # while recording, the Record buttons of Play and Compare say "Stop recording"
    for view, name in ((window.play, "Play"), (window.compare, "Compare")):
        window.tabs.setCurrentWidget(view)
        view.start_recording(tmp_path / "r.gif", fps=10)
        for size in SIZES:
            window.resize(*size)
            qtbot.wait(50)
            problems += [f"{size[0]}x{size[1]} {name} (recording): {p}" for p in clipped(window)]
        view.stop_recording(wait=True)
    assert not problems, "text cut off:\n" + "\n".join(problems)


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presentation"])
def test_the_lesson_fits_its_text(qtbot, tmp_path, messages, intent_dir, present):
    """The guided lesson (``--lesson``): at every step, its panel and the tab under it fit, at both sizes."""
    from dpf_gui.app.lesson import add_lesson

    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    ws.label_with_simulated_user(ws.wish("mixed"), seed=0)  # what the steps after the marks and the training need
    assert window.train.load_intent_dir(intent_dir)
    panel = add_lesson(window, "gridnav")
    if present:
        window.set_presentation(True)
    problems = []
    for size in SIZES:
        window.resize(*size)
        for i, step in enumerate(panel.lesson.steps):
            panel.show_step(i)
            if step.key == "why":
                panel.run_action()  # an experiment's note after the text
            # presentation mode hides Play's parameters in the lesson; the Parameters button shows them
            for params in ([False, True] if present and step.key == "why" else [None]):
                if params is not None:
                    window.play.params_toggle.setChecked(params)
                qtbot.wait(50)
                where = (f"{size[0]}x{size[1]} lesson step {i + 1} ({step.key})"
                         + ("" if params is None else f", parameters {'shown' if params else 'hidden'}"))
                if (window.width(), window.height()) != size:
                    problems.append(f"{where}: the window is {window.width()}x{window.height()}")
                problems += [f"{where}: {p}" for p in clipped(window)]
    assert not problems, "text cut off:\n" + "\n".join(problems)


def _luminance(colour) -> float:
    """WCAG relative luminance of a QColor."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_presentation_mode_is_high_contrast_and_goes_back(qtbot, tmp_path, messages):
    """Presentation mode turns the widgets high-contrast (palette, dark frames) and turning it off restores the
    application's own style and palette."""
    import numpy as np
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from dpf_gui.app.overlays import qimage_to_array
    from dpf_gui.app.presentation import FramedStyle
    from dpf_gui.app.trajectory_table import COL_LABEL

    window = open_window(qtbot, tmp_path, env="gridnav")
    app = QApplication.instance()
    Role, Group = QPalette.ColorRole, QPalette.ColorGroup
    before = app.palette()
    style = app.style().name()
    normal = {(g, r): before.color(g, r) for g in (Group.Active, Group.Disabled)
              for r in (Role.Window, Role.WindowText, Role.Button, Role.ButtonText, Role.Highlight)}
    button = window.annotate.prefer_button
    window.resize(1024, 768)
    window.tabs.setCurrentIndex(1)  # Train, built at the normal text size
    qtbot.waitExposed(window.train.fit_table)
    window.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    plain = qimage_to_array(button.grab().toImage())

    window.set_presentation(True)
    qtbot.wait(50)
    pal = app.palette()
    assert isinstance(app.style(), FramedStyle)
    assert _contrast(pal.color(Role.WindowText), pal.color(Role.Window)) >= 15
    assert _contrast(pal.color(Role.ButtonText), pal.color(Role.Button)) >= 12
    # disabled text stays readable (normal: about 1.4:1), a selection is dark with white text
    assert _contrast(pal.color(Group.Disabled, Role.WindowText), pal.color(Group.Disabled, Role.Window)) >= 4.5
    assert _contrast(normal[(Group.Disabled, Role.WindowText)], normal[(Group.Disabled, Role.Window)]) < 2
    assert _contrast(pal.color(Role.HighlightedText), pal.color(Role.Highlight)) >= 7
    # a button's frame, drawn on screen: dark all round its edge (normal: a pale grey)
    framed = qimage_to_array(button.grab().toImage())
    def edge(img):
        return np.concatenate([img[img.shape[0] // 2, :3], img[img.shape[0] // 2, -3:]]).mean(axis=1)
    assert edge(framed).min() < 60 and edge(plain).min() > 100, (edge(framed), edge(plain))
    # the trajectory list's columns grow with the text ("unlabelled" was cut to "unlabe...")
    table = window.annotate.table
    qtbot.waitUntil(lambda: table.horizontalHeader().sectionSize(COL_LABEL)
                    >= table.fontMetrics().horizontalAdvance("unlabelled") + 8, timeout=WAIT_MS)
    # Train's fit table shows both rows without a scroll bar (one cut its RMSE column)
    window.tabs.setCurrentIndex(1)
    fit = window.train.fit_table
    qtbot.waitExposed(fit)
    qtbot.waitUntil(lambda: fit.viewport().height() >= fit.verticalHeader().length(), timeout=WAIT_MS)

    window.set_presentation(False)
    qtbot.wait(50)
    assert app.style().name() == style and not isinstance(app.style(), FramedStyle)
    assert window.styleSheet() == ""
    after = app.palette()
    assert all(after.color(g, r) == c for (g, r), c in normal.items())
    # closing the window in presentation mode leaves the application as other windows expect it
    window.set_presentation(True)
    window.close()
    assert app.style().name() == style and app.palette().color(Role.Window) == normal[(Group.Active, Role.Window)]


@pytest.mark.parametrize("height, most", [(95, 2), (130, 3), (400, None)])
def test_a_low_time_plot_labels_no_more_y_ticks_than_fit(qtbot, height, most):
    # Compare at 1024x768 in presentation mode: six y labels overlapped on a 55 px axis
    from dpf_gui.app.plots import LivePlot

    plot = LivePlot("fusion weight w", [("left", (0, 114, 178)), ("right", (213, 94, 0))], y_range=(0, 1),
                    y_label="w (share, 0-1)")
    qtbot.addWidget(plot)
    plot.resize(330, height)
    plot.show()
    qtbot.waitExposed(plot)
    axis = plot.getPlotItem().getAxis("left")
    size = plot.getPlotItem().getViewBox().height()
    first_level = axis.tickValues(0.0, 1.0, size)[0][1]
    labels = [v for v in first_level if -1e-9 <= v <= 1 + 1e-9]
    if most is None:
        assert len(labels) >= 5  # a tall plot keeps pyqtgraph's own ticks
    else:
        assert 2 <= len(labels) <= most
        line = QFontMetrics(plot.font()).height()
        assert size / (len(labels) - 1) >= line  # and they do not overlap


def test_play_sliders_and_compare_plots_have_room_at_both_sizes(qtbot, tmp_path, messages):
    """The UX review (s55): at 1024x768 and 1280x720 Play's fusion sliders were 25-30 px long (three columns in
    half the window), and Compare's plots had about 45 px of data under the open parameters."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    problems = []
    for size in SIZES:
        window.resize(*size)
        for view in (window.play, window.compare):  # (Compare built now: in a window this short)
            window.tabs.setCurrentWidget(view)
            qtbot.wait(50)
            if view is window.play:
                problems += [f"{size}: Play's {name} slider is {c.slider.width()} px"
                             for name, c in view.params_panel.controls.items() if c.slider.width() < 80]
            else:
                assert not view.params_toggle.isChecked() and view.params_panel.isHidden()  # until asked for
                for plot in (view.weight_plot, view.temp_plot, view.collected_plot):
                    data = plot.getPlotItem().getViewBox().height()
                    if data < 80:
                        problems.append(f"{size}: Compare's {plot.objectName()} has {data:.0f} px of data")
    assert not problems, "\n".join(problems)
    # a tall window opens Compare with its parameters shown, at full width: long sliders
    tall = open_window(qtbot, tmp_path / "tall", env="gridnav")
    tall.resize(1280, 1000)
    tall.tabs.setCurrentWidget(tall.compare)
    qtbot.wait(50)
    assert tall.compare.params_toggle.isChecked() and tall.compare.params_panel.isVisible()
    assert min(c.slider.width() for c in tall.compare.params_panel.controls.values()) >= 80


def test_plays_parameters_can_be_hidden_to_give_the_picture_room(qtbot, tmp_path, messages):
    """The second UX review (s55): at 1280x720 Play's picture was the smallest thing on the screen, under the
    parameters; their button is there in every look, and hiding them gives the picture far more height."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.resize(1280, 720)
    window.tabs.setCurrentWidget(window.play)
    qtbot.wait(50)
    toggle, frame = window.play.params_toggle, window.play.frame_view
    assert toggle.isVisible() and toggle.isChecked() and window.play.params_panel.isVisible()
    shown = frame.height()
    toggle.setChecked(False)
    qtbot.wait(50)
    assert window.play.params_panel.isHidden() and frame.height() > 1.5 * shown, (shown, frame.height())


def test_presentation_keeps_plays_picture_and_scrolls_its_parameters(qtbot, tmp_path, messages, intent_dir):
    """The UX review (s56): in presentation mode with the parameters shown, Play's picture was 80 px tall at
    1280x720 and the parameters' rows were squeezed under their labels. Now the picture keeps its least height and
    the parameters scroll, every row at its full height."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    assert window.train.load_intent_dir(intent_dir)
    window.set_presentation(True)
    play = window.play
    window.tabs.setCurrentWidget(play)
    play.params_toggle.setChecked(True)
    for size in SIZES:
        window.resize(*size)
        qtbot.wait(50)
        assert window.size().toTuple() == size
        assert play.frame_view.height() >= play.PRESENT_FRAME_MIN, (size, play.frame_view.height())
        squeezed = [n for n, c in play.params_panel.controls.items() if c.height() < c.minimumSizeHint().height()]
        assert not squeezed and play.params_scroll.verticalScrollBar().maximum() > 0, (size, squeezed)
        assert not clipped(window)
    play.params_toggle.setChecked(False)
    assert play.params_panel.isHidden() and play.params_scroll.isHidden()


def test_compares_plots_are_readable_in_presentation_mode_and_the_lesson(qtbot, tmp_path, messages, intent_dir):
    """The UX review (s56): Compare's plots had 36-60 px of data at 1280x720 in presentation mode and in the
    lesson's step 5 (the pictures took the height by their images' size; leaving presentation mode showed the
    parameters again in a short window)."""
    from dpf_gui.app.lesson import add_lesson

    window = open_window(qtbot, tmp_path, env="gridnav")
    assert window.train.load_intent_dir(intent_dir)
    window.resize(1280, 720)
    compare = window.compare

    def data_heights():
        qtbot.wait(50)
        return [p.getPlotItem().getViewBox().height()
                for p in (compare.weight_plot, compare.temp_plot, compare.collected_plot)]

    window.tabs.setCurrentWidget(compare)
    window.set_presentation(True)
    assert min(data_heights()) >= 150 and compare.frames["left"].height() >= 150
    window.set_presentation(False)
    assert compare.params_panel.isHidden()  # a 720 px window: still no room for them
    assert min(data_heights()) >= 150
    panel = add_lesson(window, "gridnav")
    panel.show_step(4)
    assert window.tabs.currentWidget() is compare and min(data_heights()) >= 150

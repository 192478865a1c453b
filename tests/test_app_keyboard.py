"""The app from the keyboard alone (a presenter at a lectern, a study participant, a person labelling for an hour):
every tab and every control is reached with keys, Tab never gets stuck, Space presses the control Tab reached,
and typing in a text field types. Each key goes to the widget with the focus, as a real key press does."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from dpf_gui import lesson as plan
from dpf_gui.app.lesson import add_lesson
from dpf_gui.session import training
from tests.qt_helpers import WAIT_MS, open_window

NONE = Qt.KeyboardModifier.NoModifier
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


def press(key, modifier=NONE) -> None:
    """``key`` pressed where the focus is (the active window when nothing in it has the focus)."""
    QTest.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), key, modifier)


def focus_name() -> str:
    w = QApplication.focusWidget()
    return "" if w is None else w.objectName()


def tab_until(name: str, backwards: bool = False, most: int = 60) -> None:
    for _ in range(most):
        if focus_name() == name:
            return
        press(Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab, SHIFT if backwards else NONE)
    raise AssertionError(f"Tab never reaches {name}")


def back_to(qtbot, window) -> None:
    """The main window active again after a dialog (offscreen Qt does not reactivate it by itself)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)


def dialog_shown(qtbot, get):
    qtbot.waitUntil(lambda: get() is not None and get().isVisible(), timeout=WAIT_MS)
    dialog = get()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=WAIT_MS)
    return dialog


def test_tab_leaves_every_list_and_ctrl_tab_goes_round_the_tabs_from_anywhere(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view = window.annotate
    view.table.setFocus()
    press(Qt.Key.Key_Tab)  # Qt's default moved between the list's cells: the keyboard never left the list
    assert focus_name() != "trajectoryTable"
    view.table.setFocus()
    press(Qt.Key.Key_Tab, CTRL)  # the list kept Ctrl+Tab as well
    assert window.tabs.currentWidget() is window.train
    window.train.findChild(QWidget, "fitTable").setFocus()
    press(Qt.Key.Key_Tab)
    assert focus_name() != "fitTable"
    window.train.findChild(QWidget, "fitTable").setFocus()
    press(Qt.Key.Key_Tab, CTRL)
    assert window.tabs.currentWidget() is window.play
    press(Qt.Key.Key_PageDown, CTRL)
    assert window.tabs.currentWidget() is window.compare
    press(Qt.Key.Key_Tab, CTRL)  # round to the first
    assert window.tabs.currentIndex() == 0
    press(Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentWidget() is window.compare
    press(Qt.Key.Key_PageUp, CTRL)
    assert window.tabs.currentWidget() is window.play
    for k, title in ((Qt.Key.Key_2, "Train"), (Qt.Key.Key_1, "Annotate"), (Qt.Key.Key_4, "Compare"),
                     (Qt.Key.Key_3, "Play")):
        press(k, ALT)
        assert window.tabs.tabText(window.tabs.currentIndex()) == title
    assert messages == []


def test_annotates_tools_are_reached_with_tab_and_pressed_with_space_or_alt_letter(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    view, ws = window.annotate, window.workspace
    window.tabs.tabBar().setFocus()
    seen = []
    for _ in range(12):
        press(Qt.Key.Key_Tab)
        seen.append(focus_name())
    # in the order they are seen: the list's filters and the list, then the tools under the player
    assert seen[:10] == ["stateFilter", "successFilter", "sortSuggestedButton", "sortShuffledButton",
                         "trajectoryTable", "clearButton", "simulatedUserButton", "overlayWishCombo", "myWishButton",
                         "collectButton"]
    # Space presses the button Tab reached (not play / pause); Esc and Enter close its dialog
    tab_until("simulatedUserButton")
    press(Qt.Key.Key_Space)
    dialog = dialog_shown(qtbot, lambda: view.sim_dialog)
    assert not view.player.is_playing
    press(Qt.Key.Key_Escape)
    assert not dialog.isVisible() and ws.labels().count == 0
    back_to(qtbot, window)
    # the focus given back when the dialog closed, not by Tab: Space plays and pauses again
    qtbot.waitUntil(lambda: view.player.ready, timeout=WAIT_MS)
    press(Qt.Key.Key_Space)
    assert view.player.is_playing and not dialog.isVisible()
    press(Qt.Key.Key_Space)
    assert not view.player.is_playing
    # Alt+M: my wish, typed; P and A in its fields type (no mark), Enter keeps it
    press(Qt.Key.Key_M, ALT)
    dialog = dialog_shown(qtbot, lambda: getattr(view, "wish_dialog", None))
    prefer = dialog.findChild(QLineEdit, "myWishPreferEdit")
    prefer.setFocus()
    QTest.keyClicks(prefer, "terrain=scenic")
    press(Qt.Key.Key_Tab)
    assert focus_name() == "myWishAvoidEdit"
    QTest.keyClicks(QApplication.focusWidget(), "terrain=toll")
    press(Qt.Key.Key_P)
    press(Qt.Key.Key_Backspace)
    assert prefer.text() == "terrain=scenic" and ws.labels().count == 0
    press(Qt.Key.Key_Return)
    assert not dialog.isVisible() and view.wish_combo.findData("my wish") >= 0
    back_to(qtbot, window)
    # a control clicked keeps no focus: Space still plays and pauses
    view.table.setFocus()
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert focus_name() == "trajectoryTable"
    qtbot.waitUntil(lambda: view.player.ready, timeout=WAIT_MS)
    press(Qt.Key.Key_Space)
    assert view.player.is_playing
    press(Qt.Key.Key_Space)
    assert not view.player.is_playing
    # Alt+C: collect more, cancelled with Esc
    press(Qt.Key.Key_C, ALT)
    dialog = dialog_shown(qtbot, lambda: view.collect_dialog)
    press(Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result is None
    assert messages == []


def test_space_presses_the_play_control_tab_reached_and_plays_after_a_click(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    qtbot.waitUntil(lambda: play.play_button.isEnabled(), timeout=WAIT_MS)
    loop = play.loop_check
    looping = loop.isChecked()
    window.tabs.tabBar().setFocus()
    tab_until("loopCheck")
    press(Qt.Key.Key_Space)  # ticks the box Tab reached; it used to play instead
    assert loop.isChecked() != looping and not play.is_playing()
    tab_until("strategyCombo", backwards=True)
    press(Qt.Key.Key_Space)  # opens the list, as everywhere
    assert QApplication.activePopupWidget() is not None and not play.is_playing()
    press(Qt.Key.Key_Escape)
    # the mouse: a clicked box keeps no focus, so Space still plays and pauses
    window.tabs.tabBar().setFocus()
    qtbot.mouseClick(loop, Qt.MouseButton.LeftButton)
    assert loop.isChecked() == looping and focus_name() == "qt_tabwidget_tabbar"
    press(Qt.Key.Key_Space)
    assert play.is_playing()
    press(Qt.Key.Key_Space)
    assert not play.is_playing()
    # a spin box types: R and S do not restart or step, and Tab leaves it for the next control
    tab_until("seedSpin")
    step = play.snapshot().t if play.snapshot() is not None else 0
    press(Qt.Key.Key_S)
    press(Qt.Key.Key_R)
    assert (play.snapshot().t if play.snapshot() is not None else 0) == step
    # the plots take no focus: Tab goes from the last parameter back round to the tabs
    tab_until("resetParamsButton")
    press(Qt.Key.Key_Tab)
    assert focus_name() == "qt_tabwidget_tabbar"
    assert messages == []


def test_train_starts_and_cancels_from_the_keyboard(qtbot, tmp_path, messages):
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws = window.workspace
    ws.label_with_simulated_user(ws.wish("avoid"), None, 0, only_unlabelled=True)
    window.tabs.setCurrentWidget(window.train)
    train = window.train
    window.tabs.tabBar().setFocus()
    tab_until("trainButton")
    press(Qt.Key.Key_Space)
    assert train.is_training()
    # the focus went on to the fit table once the buttons were disabled: Shift+Tab goes back to Cancel
    tab_until("cancelTrainButton", backwards=True, most=6)
    press(Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not train.is_training(), timeout=WAIT_MS)
    assert ws.intent is None


@pytest.fixture()
def lesson_window(qtbot, tmp_path, messages, monkeypatch):
    monkeypatch.setattr(training, "DEMO_TRAINING", {"members": 2, "hidden": 8, "utility_steps": 20, "value_steps": 30})
    window = open_window(qtbot, tmp_path, env="gridnav")
    panel = add_lesson(window, "gridnav")
    qtbot.waitUntil(lambda: panel.counter.text().startswith("Step 1 of 6"), timeout=WAIT_MS)
    return window, panel


def test_the_lessons_own_button_has_a_key(qtbot, lesson_window):
    window, panel = lesson_window
    press(Qt.Key.Key_Right, ALT)
    assert panel.index == 1
    qtbot.waitUntil(lambda: panel.action_button.isEnabled(), timeout=WAIT_MS)
    assert "Alt+Enter" in panel.action_button.toolTip()
    press(Qt.Key.Key_Return, ALT)  # "Simulated user: mark 20", without the mouse
    assert window.workspace.labels().count == plan.SIMULATED_MARKS
    press(Qt.Key.Key_Right, ALT)
    assert panel.index == 2


def test_presentation_mode_marks_the_control_with_the_focus(qtbot, tmp_path, messages):
    """Presentation mode's dark frames used to cover the style's thin focus mark: at a lectern nobody could see
    which control Space or typing would go to."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.set_presentation(True, full_screen=False)
    try:
        window.tabs.tabBar().setFocus()
        tab_until("myWishButton")
        focused, other = window.annotate.my_wish_button, window.annotate.collect_button

        def frame(button):  # the colour of the frame's left edge, half-way down
            image = button.grab().toImage()
            return image.pixelColor(1, image.height() // 2)

        mark, plain = frame(focused), frame(other)
        assert plain.blue() < 60  # the dark frame
        assert mark.blue() > 150 and mark.blue() > mark.red() + 80  # a bright blue one
    finally:
        window.set_presentation(False)


def test_alt_e_opens_the_environment_chooser(qtbot, tmp_path, messages):
    """The chooser takes no keyboard focus (a click on it leaves the keys where they were), so no key reached it:
    the File menu opens agents and data, not environments (s57). Alt+E opens its list; Esc leaves it as it was."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.annotate.table.setFocus()
    press(Qt.Key.Key_E, ALT)
    assert window.env_combo.view().isVisible() and QApplication.activePopupWidget() is not None
    press(Qt.Key.Key_Escape)
    assert not window.env_combo.view().isVisible() and window.env_combo.currentData() == "gridnav"
    assert "<u>E</u>" in window.findChild(QWidget, "envLabel").text() and "Alt+E" in window.env_combo.toolTip()
    assert messages == []


def test_tab_in_train_goes_through_its_controls_only(qtbot, tmp_path, messages):
    """The left column's scroll area and the fit plot took Tab stops that did nothing (s57)."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    window.tabs.setCurrentWidget(window.train)
    window.tabs.tabBar().setFocus()
    seen = []
    for _ in range(30):
        press(Qt.Key.Key_Tab)
        if focus_name() == "qt_tabwidget_tabbar":
            break
        seen.append(focus_name())
    assert seen[0] == "intentKindCombo" and "trainButton" in seen and "loadIntentButton" in seen
    assert not {"trainLeftScroll", "lossPlot", "fitPlot"} & set(seen), seen
    assert messages == []


def test_the_trajectory_list_shows_when_it_has_the_keyboard_focus(qtbot, tmp_path, messages):
    """Up / Down move in the list only while it has the keyboard focus, and nothing showed whether it had: the
    style draws the same frame either way (s57). Now it is framed in the selection's colour."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    table = window.annotate.table

    def left_edge():
        image = table.grab().toImage()
        return image.pixelColor(0, image.height() // 2)

    window.tabs.tabBar().setFocus()
    plain = left_edge()
    tab_until("trajectoryTable")
    focused = left_edge()
    highlight = table.palette().highlight().color()
    assert focused == highlight and plain != highlight
    assert messages == []

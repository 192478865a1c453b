"""The desktop app opens (offscreen)."""

from dpf_gui.app.main import MainWindow


def test_main_window_opens(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.isVisible()
    assert "dpf-gui" in window.windowTitle()

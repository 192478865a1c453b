"""Shared pieces for tests that drive the real main window."""

from PySide6.QtWidgets import QApplication

from dpf_gui.app import window as app_window
from dpf_gui.app.window import MainWindow
from tests.helpers import HANG_S

WAIT_MS = HANG_S * 1000  # every qtbot wait for the app's work (a training, an episode, a repaint)


def record_messages(monkeypatch, tmp_path) -> list:
    """Messages the window shows, as (title, text), recorded instead of shown; no test touches the user's own data.

    Behind the ``messages`` fixture of conftest.py."""
    shown = []
    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "user-data"))
    monkeypatch.setattr(app_window, "notice_box", lambda parent, title, text: shown.append((title, text)))
    return shown


def open_window(qtbot, store_dir, **kw) -> MainWindow:
    """The main window, shown, active, with its player ready."""
    window = MainWindow(store_dir=store_dir, **kw)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.annotate.player.ready, timeout=WAIT_MS)
    return window

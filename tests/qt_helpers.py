"""Shared pieces for tests that drive the real main window."""

from PySide6.QtWidgets import QApplication

from dpf_gui.app import window as app_window
from dpf_gui.app.window import MainWindow

WAIT_MS = 600_000
"""How long a Qt test waits for what the app does (a worker's training, an episode, a repaint): a hang guard, not
a speed target. Each wait ends as soon as its condition holds, so a passing run takes no longer; a CI machine
whose cores are shared many times over is slow, and only an app that hangs should fail there."""


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

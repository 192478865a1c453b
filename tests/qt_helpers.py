"""Shared pieces for tests that drive the real main window."""

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from dpf_gui.app.main import MainWindow


@pytest.fixture()
def messages(monkeypatch, tmp_path):
    """Message boxes are recorded instead of blocking; no test touches the user's own data."""
    shown = []
    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path / "user-data"))
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, lambda *args, **kw: shown.append(args[1:3]))
    return shown


def open_window(qtbot, store_dir, **kw) -> MainWindow:
    """The main window, shown, active, with its player ready."""
    window = MainWindow(store_dir=store_dir, **kw)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    qtbot.waitUntil(lambda: window.annotate.player.ready, timeout=10000)
    return window

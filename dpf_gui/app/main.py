"""``dpf-gui`` entry point: the main window over the dpf_gui core."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from dpf_gui import __version__


class MainWindow(QMainWindow):
    """Top-level window; the views (choose, annotate, train, play, compare) land here."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(f"dpf-gui {__version__}: Dynamic Policy Fusion")
        label = QLabel("dpf-gui\n\nThe annotation, training and play views are being built.\nUse the `dpf` command line meanwhile.")
        label.setObjectName("placeholderLabel")
        label.setAlignment(Qt.AlignCenter)
        self.setCentralWidget(label)
        self.resize(960, 640)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dpf-gui", description="Dynamic Policy Fusion desktop app.")
    p.add_argument("--quit-after", type=float, default=None, metavar="SECONDS", help="close the app after this many seconds")
    p.add_argument("--screenshot", default=None, metavar="PATH", help="save a screenshot of the window before quitting")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    if args.quit_after is not None:
        def finish() -> None:
            if args.screenshot:
                window.grab().save(args.screenshot)
            window.close()
            app.quit()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

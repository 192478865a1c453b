"""What the entry point, the demo and the lesson share to start and stop a window.

A scratch window (the main window labelling into a throw-away study folder),
the demo's small quick training in the Train tab, and ``--quit-after``. They
live here, below :mod:`dpf_gui.app.main`, so that the demo and the lesson
never import the entry point that starts them (no import circle).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QTimer

from dpf_gui.session import training


def quit_later(app, window, seconds: float, screenshot: str | None = None) -> None:
    """``--quit-after``: in ``seconds``, save ``screenshot`` (if given) and close ``window`` and the app (exit
    code 2, with one line, when the screenshot could not be written)."""
    def finish() -> None:
        code = 0
        if screenshot and not window.grab().save(screenshot):
            print(f"dpf-gui: error: could not write the screenshot {screenshot}", file=sys.stderr, flush=True)
            code = 2
        getattr(window, "operator_exit", window.close)()  # a participant's screen closes only that way
        app.exit(code)

    QTimer.singleShot(int(seconds * 1000), finish)


@contextmanager
def scratch_window(study: Path, args, env: str, quiet_errors: bool) -> Iterator:
    """The main window on ``env`` (``--task`` / ``--data``), shown, labelling into the throw-away study folder
    ``study`` (deleted when the block ends), in presentation mode with ``--present``: the demo's and the
    lesson's, which never touch the person's own labels."""
    from dpf_gui.app.window import MainWindow, on_a_screen

    window = None
    try:
        window = MainWindow(store_dir=study, env=env, task_dir=args.task, dataset_path=args.data, restore=False,
                            quiet_errors=quiet_errors)
        window.show()
        if getattr(args, "present", False):
            window.set_presentation(True, full_screen=on_a_screen())
        yield window
    finally:
        if window is not None:
            window.close()
            window.deleteLater()
        shutil.rmtree(study, ignore_errors=True)


def show_small_config(train_view) -> None:
    """Fill the Train tab's form with the demo's small settings (its Train button then trains about that)."""
    train_view.set_config(kind="additive", seed=training.TRAIN_SEED, **training.DEMO_TRAINING)


def train_small(train_view, out_dir: str | os.PathLike | None = None) -> bool:
    """Train the demo's small model on the marks in the Train tab (its form shows the settings, its bar the
    progress; ``trainingFinished`` says when it is done); False if it cannot start. The demo and the lesson
    train this way: a few seconds on a busy core."""
    show_small_config(train_view)
    return train_view.train(config=training.small_config(), out_dir=out_dir)


__all__ = ["quit_later", "scratch_window", "show_small_config", "train_small"]

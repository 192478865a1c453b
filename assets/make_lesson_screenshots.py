"""Regenerate the guided lesson's screenshots (offscreen): ``python assets/make_lesson_screenshots.py``.

Writes ``assets/screenshots/`` (or ``--out DIR``):

* ``lesson_1024.png``: ``dpf-gui --lesson`` (gridnav) at a projector's
  1024x768, step 5: static against dynamic fusion, a dozen decisions in;
* ``lesson_present_1024.png``: the same lesson with ``--present`` at
  1024x768, step 6 after *Try c = 0* and *Try c = 6*.

The lesson is driven through its own buttons, as a teacher would: Next, the
simulated user's 20 marks, *Train the intent model* (the demo's small
settings), the experiments of the last step. Labels go to a temporary study
folder. Takes under a minute.
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

from make_screenshots import save, screenshot_parser, settle, wait  # noqa: E402

SIZE = (1024, 768)


def lesson_to(app, present: bool, last_step: int, study: Path):
    """A lesson window on gridnav, taken by its buttons to ``last_step`` (0-based); returns (window, panel)."""
    from dpf_gui.app.lesson import add_lesson
    from dpf_gui.app.window import MainWindow

    window = MainWindow(store_dir=study, env="gridnav", restore=False, quiet_errors=True)
    window.show()
    if present:
        window.set_presentation(True)
    window.resize(*SIZE)
    panel = add_lesson(window, "gridnav")
    assert wait(app, lambda: panel.counter.text().startswith("Step 1") and panel.next_button.isVisible(), 30)
    for i in range(1, last_step + 1):
        if i == 2:  # leaving the marks: the simulated user marks the 20 best suggestions
            assert wait(app, lambda: panel.action_button.isEnabled(), 60), "no suggestions"
            panel.action_button.click()
        if i == 3:  # leaving the training: train the intent model, wait for it
            panel.action_button.click()
            assert wait(app, lambda: panel.next_button.isEnabled(), 300), "training did not finish"
        panel.next_button.click()
        settle(app, 0.2)
    return window, panel


def main(argv=None) -> int:
    out = Path(screenshot_parser(__doc__).parse_args(argv).out)
    import torch
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        window, panel = lesson_to(app, present=False, last_step=4, study=Path(tmp) / "a")
        compare = window.compare
        compare.pause()
        compare.restart(1)
        compare.run_decisions(12)
        save(window, app, out / "lesson_1024.png")
        window.close()

        window, panel = lesson_to(app, present=True, last_step=5, study=Path(tmp) / "b")
        panel.action_button.click()  # Try c = 0
        panel.action_button.click()  # Try c = 6
        play = window.play
        play.pause()
        play.restart(1)
        play.run_decisions(9)
        save(window, app, out / "lesson_present_1024.png")
        window.set_presentation(False)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

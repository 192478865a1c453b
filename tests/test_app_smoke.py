"""The desktop app opens (offscreen)."""

import pytest

from dpf_gui.app.window import MainWindow
from tests.helpers import HANG_S


def test_main_window_opens(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.isVisible()
    assert "dpf-gui" in window.windowTitle()


def test_object_names_are_unique(qtbot, tmp_path, monkeypatch):
    """docs/GUI.md promises stable object names for scripting: each names one widget of the whole window."""
    from collections import Counter

    from PySide6.QtWidgets import QWidget

    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path))
    window = MainWindow(store_dir=tmp_path, env="gridnav")
    qtbot.addWidget(window)
    window.show()
    for i in range(window.tabs.count()):  # Play and Compare build their contents when first shown
        window.tabs.setCurrentIndex(i)
        qtbot.wait(10)
    names = Counter(w.objectName() for w in window.findChildren(QWidget)
                    if w.objectName() and not w.objectName().startswith("qt_"))
    assert [n for n, k in names.items() if k > 1] == []
    assert names["frameView"] == names["annotateFrameView"] == names["overlayCheck"] == names["regionOverlayCheck"] == 1


def test_presentation_mode_toggles_large_text_and_back(qtbot, tmp_path, monkeypatch):
    """View > Presentation mode (F11, ``--present``): large text everywhere, thick plot lines; off: as before."""
    from PySide6.QtWidgets import QWidget

    from dpf_gui.app import plots

    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path))
    window = MainWindow(store_dir=tmp_path, env="gridnav")
    qtbot.addWidget(window)
    window.show()
    action = window.present_action
    assert action.objectName() == "presentationAction" and not action.isChecked()
    button = window.findChild(QWidget, "preferButton")  # has a style sheet of its own: must grow too
    normal = button.font().pointSizeF()
    window.set_presentation(True)
    assert action.isChecked() and button.font().pointSizeF() >= 12 > normal
    assert plots.STYLE["line"] > 2 and not window.play.params_toggle.isHidden()
    window.set_presentation(False)
    assert not action.isChecked() and button.font().pointSizeF() == normal and plots.STYLE["line"] < 2
    window.set_presentation(True)
    window.close()  # the plots' shared look is left as other windows expect it
    assert plots.STYLE["line"] < 2


def test_the_window_opens_without_the_heavy_libraries(tmp_path):
    """What makes the start slow stays out of it (bench/startup.py times it): torch, pyqtgraph and the highway
    simulator are imported only when a tab or a model needs them, and the tabs beyond Annotate are built when
    first shown. A fresh interpreter: this test process has imported them all already."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import json, sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from dpf_gui.app.window import MainWindow\n"
        f"w = MainWindow(store_dir={str(tmp_path)!r}, env='gridnav')\n"
        "w.show(); app.processEvents()\n"
        "heavy = sorted(m for m in ('torch', 'pyqtgraph', 'highway_env') if m in sys.modules)\n"
        "built = sorted(w.views)\n"
        "w.tabs.setCurrentIndex(2); app.processEvents()\n"
        "print(json.dumps({'heavy': heavy, 'built': built, 'after': sorted(w.views), "
        "'page': w.tabs.currentWidget() is w.play, 'tabs': [w.tabs.tabText(i) for i in range(w.tabs.count())]}))\n"
        "w.close()\n")
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DPF_GUI_DATA": str(tmp_path), "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                         timeout=HANG_S, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == [] and got["built"] == ["Annotate"]
    assert got["after"] == ["Annotate", "Play"] and got["page"]
    assert got["tabs"] == ["Annotate", "Train", "Play", "Compare"]


def test_a_screenshot_that_cannot_be_written_is_said_before_and_after(qtbot, tmp_path, capsys, monkeypatch):
    # the UX review (s55): a missing folder, a folder, or a .txt name all exited 0 with no file and no message
    import pytest
    from PySide6.QtWidgets import QLabel

    from dpf_gui.app import launch
    from dpf_gui.app.main import parse_args

    (tmp_path / "adir").mkdir()
    for path, says in ((tmp_path / "nodir" / "x.png", "does not exist"), (tmp_path / "adir", "a folder"),
                       (tmp_path / "shot.txt", "not an image name")):
        with pytest.raises(SystemExit) as exc:
            parse_args(["--quit-after", "1", "--screenshot", str(path)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and says in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exc:
        parse_args(["--screenshot", str(tmp_path / "x.png")])  # never taken without --quit-after or --demo
    assert exc.value.code == 2 and "--quit-after" in capsys.readouterr().err
    assert parse_args(["--quit-after", "1", "--screenshot", str(tmp_path / "x.png")]).screenshot
    with pytest.raises(SystemExit) as exc:  # a misspelt option: the one meant
        parse_args(["--quit-afer", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "(for --quit-afer, dpf-gui has --quit-after)" in err, err
    # and when saving fails after all (the folder went away): one line, exit code 2
    widget = QLabel("window")
    qtbot.addWidget(widget)
    exits = []

    class App:
        def exit(self, code):
            exits.append(code)

    monkeypatch.setattr(launch.QTimer, "singleShot", lambda _ms, fn: fn())
    launch.quit_later(App(), widget, 0.1, str(tmp_path / "gone" / "x.png"))
    err = capsys.readouterr().err
    assert exits == [2] and err.count("\n") == 1 and "could not write the screenshot" in err, err
    launch.quit_later(App(), widget, 0.1, str(tmp_path / "x.png"))
    assert exits == [2, 0] and (tmp_path / "x.png").is_file()


def test_the_first_window_fits_the_screen(qtbot, tmp_path, monkeypatch):
    """On a screen smaller than the first size (a 1280x720 projector) the window opens no larger than the screen's
    free area; offscreen it keeps its size, so every test and scripted screenshot sees the same window."""
    import dpf_gui.app.window as window_module

    monkeypatch.setenv("DPF_GUI_DATA", str(tmp_path))
    window = MainWindow(store_dir=tmp_path)
    qtbot.addWidget(window)
    assert window.first_size() == MainWindow.FIRST_SIZE
    monkeypatch.setattr(window_module, "on_a_screen", lambda: True)
    room = window.screen().availableGeometry()  # offscreen: 800x800, narrower than the first size
    if room.width() >= 1280 and room.height() >= 780:
        pytest.skip("this Qt's offscreen screen is as large as the first size")
    assert window.first_size() == (min(1280, room.width()), min(780, room.height())) != MainWindow.FIRST_SIZE

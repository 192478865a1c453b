"""Regenerate the README's screenshots (offscreen): ``python assets/make_screenshots.py``.

Writes ``assets/screenshots/``:

* ``annotate.png``, ``train.png``, ``play_gridnav.png``, ``compare.png``:
  gridnav with the shipped agent as a person uses it: "my wish" written down
  (the ``mixed`` preset's regions), the first 20 suggested trajectories
  labelled with the keys (Enter to the next suggestion; the stretches on the
  scenic route marked preferred and those on the toll road avoided as
  segments with [ ] P / A; N for a trajectory entering neither),
  an intent model of the default (additive) kind trained in the Train tab
  with its default settings, its strength calibrated in the Play tab;
* ``present_annotate_1024.png``, ``present_train_1024.png``,
  ``present_play_1024.png``, ``present_compare_1024.png``: the same gridnav
  window in presentation mode at a projector's 1024x768;
* ``play_whole_view.gif``: a whole-view recording (Record with *whole view*) of
  one dynamic-fusion episode in presentation mode at 1024x768, as the app
  writes it;
* ``play_pong.png``, ``play_highway.png``: the Play tab on Pong and highway
  (every trajectory labelled by the simulated user, a small intent model
  each, as ``dpf-gui --demo`` trains it).

Everything runs through the real window, like a person would use it. Labels
go to a temporary study folder. Highway needs a task agent: the shipped one,
or ``--highway-task DIR``; without one its screenshot is skipped (said so).
Options: ``--out DIR``, ``--only gridnav,pong,highway``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

HERE = Path(__file__).resolve().parent
SIZE = (1280, 780)
MAX_BYTES = 300_000


def wait(app, condition, timeout_s: float = 120.0) -> bool:
    """Process events until ``condition()`` holds (False after ``timeout_s``)."""
    end = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > end:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def settle(app, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def save(window, app, path: Path) -> None:
    """Grab the window as PNG (best compression); fewer colours if it is still too big."""
    from PySide6.QtGui import QImage

    settle(app)
    image = window.grab().toImage()
    image.save(str(path), "PNG", 0)
    if path.stat().st_size > MAX_BYTES:
        image.convertToFormat(QImage.Format.Format_Indexed8).save(str(path), "PNG", 0)
    print(f"  {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path} "
          f"({path.stat().st_size // 1024} KB)", flush=True)


def train(window, app, config=None) -> float:
    """The Train tab trains on the marks so far (form defaults unless ``config``); returns the seconds it took."""
    window.tabs.setCurrentWidget(window.train)
    done = []
    window.train.trainingFinished.connect(lambda ok, msg: done.append((ok, msg)))
    t0 = time.perf_counter()
    if not window.train.train(config=config):
        raise SystemExit(f"cannot train: {window.train.last_error}")
    if not wait(app, lambda: done, 300):
        raise SystemExit("training did not finish in 5 minutes")
    if not done[0][0]:
        raise SystemExit(f"training failed: {done[0][1]}")
    return time.perf_counter() - t0


def label_everything_and_train(window, app, config=None, preset: str = "mixed") -> float:
    """Simulated user labels everything; the Train tab trains."""
    ws = window.workspace
    wish = ws.wish(preset)
    ws.label_with_simulated_user(wish, seed=0)
    window.annotate.set_overlay_wish(wish, "simulated user")
    return train(window, app, config)


def label_suggested(window, app, count: int, preset: str = "mixed") -> None:
    """Write the preset's regions down as "my wish", then label ``count`` suggested trajectories with the keys a
    person holding that wish would press: Enter to the next suggestion; each stretch of decisions into an avoided
    region marked as a segment with [ ] A, each into a preferred one with [ ] P; N for a trajectory entering
    neither."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    view, ws = window.annotate, window.workspace
    d = ws.wish(preset).describe()
    view._apply_wish(d["prefer"], d["avoid"])
    window.tabs.setCurrentWidget(view)
    wish = ws.typed_wish()
    regions = ws.dataset.next_state_regions()
    wait(app, lambda: view.suggestions.ready, 30)
    for _ in range(count):
        seen = view.suggestions.computations
        QTest.keyClick(window, Qt.Key.Key_Return)
        inside = regions[ws.dataset.step_slice(view.current)]
        runs = [(Qt.Key.Key_A, t0, t1) for t0, t1 in _runs(wish.in_avoid(inside))]
        runs += [(Qt.Key.Key_P, t0, t1) for t0, t1 in _runs(wish.in_prefer(inside))]
        if not runs:
            QTest.keyClick(window, Qt.Key.Key_N)
        for key, t0, t1 in runs:  # frame t + 1 shows where decision t led
            wait(app, lambda: view.player.ready, 30)
            view.player.seek(t0 + 1)
            QTest.keyClick(window, Qt.Key.Key_BracketLeft)
            view.player.seek(t1 + 1)
            QTest.keyClick(window, Qt.Key.Key_BracketRight)
            QTest.keyClick(window, key)
        wait(app, lambda seen=seen: view.suggestions.computations > seen and not view.suggestions._timer.isActive(), 30)
    settle(app, 0.5)


def _runs(mask) -> list[tuple[int, int]]:
    """(first, last) index of every run of True in ``mask``."""
    out, start = [], None
    for t, on in enumerate([*list(mask), False]):
        if on and start is None:
            start = t
        elif not on and start is not None:
            out.append((start, t - 1))
            start = None
    return out


def gridnav(window, app, out: Path) -> None:
    if not window.open_env("gridnav"):
        raise SystemExit(f"cannot open gridnav: {window.last_error}")
    window.activateWindow()
    label_suggested(window, app, 20)
    s = train(window, app)
    r = window.train.result
    fit = r.metrics["held_out"]
    print(f"  gridnav: 20 suggested trajectories labelled; Train tab defaults (additive, {r.sidecar['steps']} steps): "
          f"{s:.1f} s, out-of-bag correlation {fit['corr']:.2f} (n = {fit['n']})", flush=True)
    save(window, app, out / "train.png")

    # Annotate: the next suggestion with the new model (its reason over the player), mid-way through it
    view = window.annotate
    window.tabs.setCurrentWidget(view)
    wait(app, lambda: view.suggestions.ready and not view.suggestions._timer.isActive(), 30)
    settle(app, 1.0)
    view.next_suggested()
    wait(app, lambda: view.player.ready, 30)
    view.player.seek(max(1, view.ws.length(view.current) // 2))
    save(window, app, out / "annotate.png")

    # Play: the strength calibrated, dynamic fusion a few decisions in (the intent value map is shown)
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    play.sync()
    play.set_strategy("dynamic")
    assert play.is_calibrating() or play.calibrate()  # (Play calibrates a new gridnav intent by itself)
    wait(app, lambda: not play.is_calibrating(), 120)
    play.restart(2)
    play.run_decisions(6)
    save(window, app, out / "play_gridnav.png")

    # Compare: static vs dynamic on the same seed
    window.tabs.setCurrentWidget(window.compare)
    compare = window.compare
    compare.sync()
    compare.restart(2)
    compare.run_decisions(6)
    save(window, app, out / "compare.png")

    # presentation mode at a projector's 1024x768: every tab
    window.set_presentation(True)
    window.resize(1024, 768)
    for name, tab in (("annotate", window.annotate), ("train", window.train), ("play", play), ("compare", compare)):
        window.tabs.setCurrentWidget(tab)
        save(window, app, out / f"present_{name}_1024.png")
    whole_view_gif(window, app, out / "play_whole_view.gif")
    window.set_presentation(False)
    window.resize(*SIZE)


def whole_view_gif(window, app, path: Path) -> None:
    """One episode of the Play tab recorded with *whole view*, a decision at a time (the window repaints between
    decisions, as when it plays on its own)."""
    play = window.play
    window.tabs.setCurrentWidget(play)
    play.record_whole_check.setChecked(True)
    done = []
    play.recordingFinished.connect(lambda p, err: done.append(err))
    play.restart(2)
    settle(app)
    play.start_recording(path, fps=3)
    for _ in range(200):
        if play.run_decisions(1) == 0:
            break
        settle(app, 0.05)
    play.stop_recording(wait=True)
    wait(app, lambda: done, 60)
    play.record_whole_check.setChecked(False)
    print(f"  {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path} "
          f"({path.stat().st_size // 1024} KB)", flush=True)


def play_only(window, app, out: Path, env: str, task_dir=None, decisions: int = 30) -> None:
    from dpf_gui.session.training import small_config

    if not window.open_env(env, task_dir=task_dir):
        print(f"  {env}: skipped ({window.last_error})", flush=True)
        return
    s = label_everything_and_train(window, app, config=small_config())
    print(f"  {env}: intent model (demo settings) in {s:.1f} s", flush=True)
    window.tabs.setCurrentWidget(window.play)
    play = window.play
    play.sync()
    play.set_strategy("dynamic")
    for seed in range(1, 11):  # an episode still running after `decisions` decisions (plots well filled)
        play.restart(seed)
        if play.run_decisions(decisions) == decisions and not play.snapshot().done:
            break
    save(window, app, out / f"play_{env}.png")


def screenshot_parser(doc: str) -> argparse.ArgumentParser:
    """The scripts' common command line: ``--out`` (the README's folder by default), ``--help`` that writes nothing."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--out", default=str(HERE / "screenshots"), help="folder for the PNGs (default: assets/screenshots)")
    return p


def main(argv=None) -> int:
    p = screenshot_parser(__doc__)
    p.add_argument("--only", default="gridnav,pong,highway", help="comma-separated environments")
    p.add_argument("--highway-task", default=None, metavar="DIR", help="highway task agent (default: the shipped one)")
    args = p.parse_args(argv)
    import torch
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from dpf_gui.app.window import MainWindow

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    study = Path(tempfile.mkdtemp(prefix="dpf-gui-shots-"))
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    window = MainWindow(store_dir=study, restore=False, quiet_errors=True)
    window.resize(*SIZE)
    window.show()
    try:
        if "gridnav" in only:
            gridnav(window, app, out)
        if "pong" in only:
            play_only(window, app, out, "pong", decisions=120)
        if "highway" in only:
            play_only(window, app, out, "highway", task_dir=args.highway_task, decisions=25)
    finally:
        window.close()
        shutil.rmtree(study, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

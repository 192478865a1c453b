"""``dpf-gui`` entry point: the options, then the main window, the demo, the lesson or study mode.

The window itself is :mod:`dpf_gui.app.window`; the demo (:mod:`dpf_gui.app.demo`)
and the lesson (:mod:`dpf_gui.app.lesson`) drive it. This module only starts
one of them, so none of them needs to import it back.

SIGINT / SIGTERM close the window (marks are committed already) and exit
with 128 + the signal.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from dpf_gui.app.launch import quit_later
from dpf_gui.app.window import MainWindow, on_a_screen
from dpf_gui.envs import ENV_NAMES, env_spec
from dpf_gui.errors import UserError
from dpf_gui.threads import limit_threads


class QuitOnSignal(QObject):
    """SIGINT and SIGTERM close every window (marks are committed already) and leave the event loop with 128 + signal.

    Python runs a signal handler only when the interpreter gets control, and
    Qt's event loop runs in C++: the C-level handler writes to a socket
    (``signal.set_wakeup_fd``) watched by a QSocketNotifier, which wakes the
    loop so the Python handler runs at once. The handlers are installed before
    pygame starts SDL, which takes over only signals still at their default
    (and ``SDL_NO_SIGNAL_HANDLERS`` tells it not to at all). A second signal
    while closing exits at once. :meth:`restore` puts the previous handlers back.
    """

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.app = app
        self.code: int | None = None
        self._old: dict[int, object] = {}
        self._old_fd = -1
        self._read, self._write = socket.socketpair()
        for sock in (self._read, self._write):
            sock.setblocking(False)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        try:
            self._old_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass

    def _drain(self, *_) -> None:
        try:
            while self._read.recv(512):
                pass
        except OSError:
            pass

    def _handle(self, signum: int, _frame) -> None:
        if self.code is not None:
            os._exit(128 + signum)  # asked twice: the marks are safe on disk, go now
        self.code = 128 + signum
        QTimer.singleShot(0, self._quit)  # after the handler; at once if the loop runs, else as it starts

    def _quit(self) -> None:
        self.app.closeAllWindows()
        self.app.exit(self.code)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        if self._old:
            signal.set_wakeup_fd(self._old_fd)
        self._old = {}
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()
        self.deleteLater()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options; a mistake is one line and exit code 2, as for ``dpf`` (same parser and option types)."""
    from dpf_gui.cli import Parser, float_in, int_in
    from dpf_gui.strategies import names as strategy_names

    p = Parser(
        prog="dpf-gui", description="Dynamic Policy Fusion desktop app.",
        epilog="demo: dpf-gui --demo gridnav labels the shipped trajectories with a simulated user, trains a small "
               "intent model, plays with dynamic fusion and prints frames/s; headless: QT_QPA_PLATFORM=offscreen "
               "dpf-gui --demo highway --quit-after 60 --screenshot h.png")
    p.add_argument("--env", choices=ENV_NAMES, default=None, help="open this environment (default: where you left off)")
    p.add_argument("--task", default=None, metavar="DIR",
                   help="task agent checkpoint folder, or an environment name for its shipped agent "
                        "(default: the shipped one)")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="trajectory dataset to label, or an environment name for its shipped trajectories "
                        "(default: the agent's own)")
    p.add_argument("--study", default=None, metavar="DIR",
                   help="a study folder made by `dpf study init`: its operator screen (docs/STUDY.md); any other "
                        "folder: where labels.sqlite is kept (default: the user data dir)")
    p.add_argument("--participant", default=None, metavar="ID",
                   help="with a study folder: open this participant's screen at the phase they are in")
    p.add_argument("--quit-after", type=float_in(0, 10**6, low_open=True), default=None, metavar="SECONDS",
                   help="close the app after this many seconds")
    p.add_argument("--screenshot", default=None, metavar="PATH",
                   help="save a screenshot of the window before quitting (with --quit-after or --demo; an image "
                        "name such as window.png, in a folder that exists)")
    p.add_argument("--present", action="store_true",
                   help="presentation mode: large text and thick lines, full screen (View menu, F11, to leave it)")
    p.add_argument("--lesson", nargs="?", const="", default=None, metavar="ENV",
                   help="a guided lesson in six steps on ENV (default: --env, else gridnav), over the real tabs, "
                        "labelling into a throw-away folder; with --present for a classroom")
    demo = p.add_argument_group("demo mode")
    demo.add_argument("--demo", choices=ENV_NAMES, default=None, metavar="ENV",
                      help=f"run the whole loop hands-off on ENV ({', '.join(ENV_NAMES)}) and exit")
    demo.add_argument("--strategy", choices=strategy_names(live=True), default="dynamic",
                      help="strategy to play (default: dynamic)")
    demo.add_argument("--episodes", type=int_in(1, 10**6), default=1, metavar="N", help="episodes to play (default: 1)")
    demo.add_argument("--loop", action="store_true",
                      help="keep playing until the window is closed (or --quit-after), the strategy and its contrast "
                           "taking turns (dynamic and static fusion by default)")
    demo.add_argument("--preset", default="mixed", help="the simulated user's wish: a preset of ENV (default: mixed)")
    demo.add_argument("--speed", type=int_in(0, 240), default=None, metavar="N",
                      help="decisions per second, 0 = as fast as possible (default: 0 offscreen, else 15)")
    args = p.parse_args(argv)
    if args.screenshot is not None:
        if args.quit_after is None and args.demo is None:
            p.error("--screenshot is taken just before the app quits: give --quit-after SECONDS (or --demo ENV)")
        problem = screenshot_problem(args.screenshot)
        if problem:
            p.error(problem)
    if args.study is not None and Path(args.study).exists() and not Path(args.study).is_dir():
        p.error(f"--study {args.study} is a file; give a folder: one made by `dpf study init`, or any folder to keep "
                "the labels in")
    if args.participant is not None:
        from dpf_gui.studies.folder import is_study_folder

        if args.study is None or not is_study_folder(args.study):
            p.error("--participant needs --study STUDY_DIR, a folder made by `dpf study init`")
    from dpf_gui.errors import UserError
    from dpf_gui.paths import dataset_path, task_path

    given_task = args.task
    try:  # an environment name where a path is expected: the shipped one, when no such file is here
        args.task = str(task_path(args.task)) if args.task else None
        args.data = str(dataset_path(args.data)) if args.data else None
    except UserError as exc:
        p.error(str(exc))
    if args.lesson is not None:
        from dpf_gui.lesson import DEFAULT_ENV, check_env

        if args.demo is not None or args.study is not None:
            p.error(f"--lesson runs on its own in a throw-away folder: not with {'--demo' if args.demo else '--study'}")
        try:
            args.lesson = check_env(args.lesson or args.env or DEFAULT_ENV)
        except UserError as exc:
            p.error(str(exc))
        if args.env is not None and args.env != args.lesson:
            p.error("--env and --lesson name different environments")
    plays = args.lesson if args.lesson is not None else args.demo
    if plays is not None and args.task is not None:  # the lesson and the demo cannot play another agent
        problem = task_problem(args.task, plays, given_task)
        if problem:
            p.error(problem)
    if args.demo is None:
        given = [f"--{n}" for n, default in (("strategy", "dynamic"), ("episodes", 1), ("preset", "mixed"),
                                              ("speed", None), ("loop", False))
                 if getattr(args, n) != default]
        if given:
            p.error(f"{', '.join(given)} only work with --demo ENV")
    else:
        if args.env is not None and args.env != args.demo:
            p.error("--env and --demo name different environments")
        if args.loop and args.episodes != 1:
            p.error("--loop plays until the window is closed: give --episodes N or --loop, not both")
        presets = [q.name for q in env_spec(args.demo).presets]
        if args.preset not in presets:
            p.error(f"--preset {args.preset}: not a preset of {args.demo}; allowed: {', '.join(presets)}")
    return args


def task_problem(task: str, env: str, given: str | None = None) -> str | None:
    """Why the checkpoint folder ``task`` (``given`` so on the command line) is no task agent for ``env`` (None: it
    may be; loading it checks the rest), from its sidecar alone, before the window opens."""
    from dpf_gui.agents.task_agent import KIND
    from dpf_gui.checkpoints import kind_words, read_sidecar

    try:
        meta = read_sidecar(task)
    except UserError as exc:
        return str(exc)
    if meta.get("kind") != KIND:
        return (f"--task {given or task}: {kind_words(meta.get('kind'))}, not a task agent (a folder made by "
                "`dpf train-task`, or an environment name for the shipped one)")
    if meta.get("env") != env:
        return f"--task {given or task}: a task agent trained for {meta.get('env')!r}, not {env!r}"
    return None


def screenshot_problem(path: str) -> str | None:
    """Why ``--screenshot PATH`` could not be written (None: it can), said before the window opens: a folder, a
    name Qt writes no image for, a folder that does not exist or cannot be written into."""
    from PySide6.QtGui import QImageWriter

    from dpf_gui.cli.options import existing_folder, writable_folder

    out = Path(path)
    if out.is_dir():
        return f"--screenshot {path}: a folder; give an image file's name, such as {out / 'window.png'}"
    formats = sorted({bytes(f).decode() for f in QImageWriter.supportedImageFormats()})
    if out.suffix.lower().lstrip(".") not in formats:
        others = ", ".join(f".{f}" for f in ("jpg", "bmp", "tif", "webp") if f in formats)
        return f"--screenshot {path}: not an image name; end it with .png (or {others})"
    try:  # the checks every dpf output gets
        existing_folder(out.parent, f"--screenshot {out.name}")
        writable_folder(out.parent)
    except UserError as exc:
        return str(exc)
    return None


def _study_window(args: argparse.Namespace) -> QWidget | None:
    """Study mode (docs/STUDY.md): the operator screen, or one participant's screen (full screen, kiosk)."""
    from dpf_gui.app.study_mode import OperatorWindow, StudyWindow

    try:
        if args.participant is None:
            window = OperatorWindow(args.study)
            window.show()
        else:
            window = StudyWindow(args.study, args.participant)
            window.show() if QApplication.platformName() == "offscreen" else window.showFullScreen()
    except UserError as exc:
        print(f"dpf-gui: error: {exc}", file=sys.stderr)
        return None
    return window


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Our networks are tiny: one thread each for torch and numpy's BLAS is fastest
    # (dpf_gui.threads). DPF_TORCH_THREADS overrides, as for the CLI. torch is imported only
    # once something needs it (it takes 1-2 s) and gets its threads then.
    limit_threads(max(1, int(os.environ.get("DPF_TORCH_THREADS", "1"))))
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")  # SDL must not swallow SIGINT / SIGTERM (see QuitOnSignal)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("dpf-gui")
    app.setOrganizationName("dpf-gui")
    signals = QuitOnSignal(app)
    try:
        if args.demo is not None:
            from dpf_gui.app.demo import run_demo

            return run_demo(app, args)
        if args.lesson is not None:
            from dpf_gui.app.lesson import run_lesson

            return run_lesson(app, args)
        from dpf_gui.studies.folder import is_study_folder

        if args.study is not None and is_study_folder(args.study):
            window = _study_window(args)
            if window is None:
                return 2
        else:
            window = MainWindow(store_dir=args.study, env=args.env, task_dir=args.task, dataset_path=args.data)
            window.show()
            if args.present:
                window.set_presentation(True, full_screen=on_a_screen())
        if args.quit_after is not None:
            quit_later(app, window, args.quit_after, args.screenshot)
        return app.exec()
    finally:
        signals.restore()


if __name__ == "__main__":
    sys.exit(main())

"""``dpf-gui --demo ENV``: the whole loop, hands-off, in the real window.

Opens the environment's shipped task agent (or ``--task`` / ``--data``),
labels every trajectory with a simulated user (preset ``mixed`` unless
``--preset``), trains a small intent model of the default (additive) kind in
the Train tab's worker (progress on screen), switches to Play with the chosen strategy, calibrates the intent's
strength as *Calibrate strength* does (first on gridnav, a second; in the background while playing on highway
and Pong, a minute or two; a calibration is kept on the machine, so the next demo starts calibrated), plays
``--episodes`` episodes (or until ``--quit-after``), saves a screenshot if
asked, prints the frames per second it measured and exits 0. With ``--loop``
it keeps playing until the window is closed (or ``--quit-after``), one
episode with the chosen strategy, the next with its contrast (dynamic and
static fusion take turns), for a lab demo or a projector.

Everything goes through the same views and core functions a person uses.
Demo labels live in a throw-away study folder, never in the person's own
label store. The demo's intent model is cached under
``<data dir>/demo/intent-cache/`` (``--study DIR`` replaces the data dir),
keyed by environment, preset, dataset fingerprint and training settings, so
the second demo of an environment starts playing at once. A data folder the
demo cannot write in is one line on stderr and exit code 2, before any window
opens; a failure once it runs is printed and exits 1; nothing waits on a
dialog.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from dpf_gui.app.launch import scratch_window, train_small
from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError
from dpf_gui.fileio import cannot_write_in
from dpf_gui.session.training import DEMO_TRAINING, TRAIN_SEED, small_config

LABEL_SEED = 0


def demo_cache_root(study: str | os.PathLike | None = None) -> Path:
    from dpf_gui.data.study import default_dir

    return Path(study if study is not None else default_dir()) / "demo" / "intent-cache"


def cache_key(env: str, preset: str, fingerprint: str, config: dict[str, Any]) -> str:
    blob = json.dumps({"config": config, "label_seed": LABEL_SEED, "train_seed": TRAIN_SEED}, sort_keys=True)
    return f"{env}-{preset}-{fingerprint[:12]}-{hashlib.sha1(blob.encode()).hexdigest()[:8]}"


class Demo(QObject):
    """Drives a :class:`~dpf_gui.app.main.MainWindow` through label -> train -> play, then quits."""

    def __init__(self, window, env: str, strategy: str = "dynamic", episodes: int = 1, preset: str = "mixed",
                 speed: int | None = None, quit_after: float | None = None, screenshot: str | None = None,
                 cache_root: Path | None = None, out=None, loop: bool = False):
        super().__init__(window)
        self.window = window
        self.env, self.strategy, self.episodes, self.preset = env, strategy, max(1, int(episodes)), preset
        self.loop = bool(loop)
        #: with --loop, the strategies that take turns: the chosen one and its contrast
        self.turns = (strategy, loop_partner(strategy)) if self.loop else (strategy,)
        self.played: list[str] = []  # the strategy of every finished episode
        if speed is None:  # as fast as it goes when nobody watches; watchable on a screen
            speed = 0 if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal") else 15
        self.speed = int(speed)
        self.quit_after = quit_after
        self.screenshot = screenshot
        self.cache_root = Path(cache_root) if cache_root is not None else demo_cache_root()
        self.out = out or (lambda text: print(text, flush=True))
        self.code = 0
        self.done = False
        self.frames = 0
        self.finished_episodes = 0
        self.t0 = time.perf_counter()
        self.t_play: float | None = None
        self.cached = False
        self.train_s: float | None = None

    # --- phases ----------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._start()
        except Exception as exc:  # noqa: BLE001 (a demo must end, never stall on an error)
            self.fail(str(exc) if isinstance(exc, UserError) else f"{exc.__class__.__name__}: {exc}")

    def _start(self) -> None:
        if self.quit_after is not None:
            QTimer.singleShot(int(self.quit_after * 1000), lambda: self.finish("--quit-after reached"))
        w = self.window
        ws = w.workspace
        if ws is None or ws.env_name != self.env:  # what --task / --data gave: exit code 2, as the options' errors
            return self.fail(f"could not open {self.env}: {w.last_error or 'unknown error'}", code=2)
        if ws.task is None:
            return self.fail(f"{self.env} has no task agent to play: pass --task DIR", code=2)
        try:
            wish = ws.wish(self.preset)
        except (UserError, KeyError, ValueError):
            names = ", ".join(p.name for p in ws.spec.presets)
            return self.fail(f"unknown preset {self.preset!r}; presets of {self.env}: {names}")
        t = time.perf_counter()
        ws.label_with_simulated_user(wish, seed=LABEL_SEED)
        w.annotate.set_overlay_wish(wish, "simulated user")
        self.out(f"demo {self.env}: {len(ws)} trajectories labelled by a simulated user "
                 f"(preset {self.preset}: {_describe(wish)}) in {time.perf_counter() - t:.1f} s")
        config = small_config()
        self.cache_dir = self.cache_root / cache_key(self.env, self.preset, ws.fingerprint,
                                                     {"kind": "additive", **config.to_dict()})
        if self._cache_usable(ws) and w.train.load_intent_dir(self.cache_dir):
            self.cached = True
            self.out(f"demo {self.env}: intent model from the demo cache ({self.cache_dir})")
            QTimer.singleShot(0, self.play)
            return
        if self.cache_dir.exists():
            shutil.rmtree(self.cache_dir, ignore_errors=True)  # unusable (an interrupted save): train afresh
        w.tabs.setCurrentWidget(w.train)
        w.train.trainingFinished.connect(self._trained)
        self._t_train = time.perf_counter()
        self.cache_dir.parent.mkdir(parents=True, exist_ok=True)
        if not train_small(w.train, self.cache_dir):
            self.fail(f"training could not start: {w.train.last_error or w.last_error}")

    def _cache_usable(self, ws) -> bool:
        if not is_checkpoint(self.cache_dir):
            return False
        try:
            ws.open_intent(self.cache_dir)
        except UserError:
            return False
        return True

    def _trained(self, ok: bool, message: str) -> None:
        if self.done:
            return
        if not ok:
            return self.fail(f"training failed: {message}")
        self.train_s = time.perf_counter() - self._t_train
        r = self.window.train.result
        fit = (r.metrics.get("held_out") or {}) if r is not None else {}
        corr = fit.get("corr")
        self.out(f"demo {self.env}: intent model trained in {self.train_s:.1f} s (additive ensemble of "
                 f"{DEMO_TRAINING['members']}; out-of-bag correlation {'–' if corr is None else f'{corr:.2f}'}, "
                 f"n = {fit.get('n')})")
        self.play()

    def play(self) -> None:
        if self.done:
            return
        w = self.window
        w.tabs.setCurrentWidget(w.play)
        play = w.play
        play.sync()
        if play.runner is None:
            return self.fail(f"the Play view could not load the agents: {play.status_label.text()}")
        play.set_strategy(self.strategy)
        if play.runner.strategy != self.strategy:
            return self.fail(f"strategy {self.strategy!r} is not available: {play.status_label.text()}")
        play.set_speed(self.speed)
        play.driver.episode_pause_s = 0.0 if self.speed <= 0 else 0.8  # flat out: frames/s measures the view alone
        play.loop_check.setChecked(True)
        play.snapshotShown.connect(self._frame)
        play.episodeFinished.connect(self._episode)
        self._calibrate_and_play(play)

    def _calibrate_and_play(self, play) -> None:
        """Play at the calibrated strength, as the Play tab does by itself: the one kept from an earlier demo on
        this machine; else calibrate now, first where that takes a second (no confirmation on fresh episodes:
        gridnav), in the background while playing where it takes a minute or two (highway, Pong: the episodes
        play at the stored strength until it is done)."""
        from dpf_gui.app.params_panel import calibration_text
        from dpf_gui.calibration_process import runs_in_a_process

        if play.recalled is not None:
            self.out(f"demo {self.env}: {calibration_text(play.recalled)} (kept from an earlier calibration on this "
                     "machine)")
            return self._start_playing()
        quick = not runs_in_a_process(self.env)  # seconds (gridnav): before playing; else while it plays
        t = time.perf_counter()

        def calibrated(cal, message: str) -> None:
            play.calibrated.disconnect(calibrated)
            if self.done:
                return
            took = time.perf_counter() - t
            self.out(f"demo {self.env}: {message if cal is not None else 'calibration failed: ' + message} "
                     f"({took:.1f} s){'' if quick else '; the next decisions play with it'}")
            if quick:
                self._start_playing()

        play.calibrated.connect(calibrated)
        if not play.is_calibrating() and not play.calibrate():  # (Play starts it itself when it shows a new intent)
            play.calibrated.disconnect(calibrated)
            return self._start_playing()
        if not quick:
            self.out(f"demo {self.env}: calibrating the intent's strength in the background (a minute or two here, "
                     "once per machine); the episodes play at the stored strength until it is done")
            self._start_playing()

    def _start_playing(self) -> None:
        self.t_play = time.perf_counter()
        self.window.play.play()

    def _frame(self, _snap) -> None:
        self.frames += 1

    def _episode(self, metrics: dict) -> None:
        if self.done:
            return
        self.finished_episodes += 1
        parts = [f"seed {metrics.get('seed')}", f"{metrics.get('steps')} decisions",
                 f"return {metrics.get('task_return', 0):.2f}",
                 "success" if metrics.get("task_success") else "no success"]
        for key, name in (("prefer_fraction", "in preferred"), ("avoid_fraction", "in avoided")):
            if metrics.get(key) is not None:
                parts.append(f"{name} {100 * metrics[key]:.0f}%")
        if metrics.get("fusion_weight") is not None:
            parts.append(f"mean w {metrics['fusion_weight']:.2f}")
        played = self.window.play.runner.strategy
        self.played.append(played)
        self.out(f"demo {self.env}: episode {self.finished_episodes} ({played}): " + ", ".join(parts))
        if self.loop:  # the next episode (the driver starts it after the pause) plays the other strategy
            nxt = self.turns[self.finished_episodes % len(self.turns)]
            self.window.play.set_strategy(nxt)
            self.window.statusBar().showMessage(f"demo: next episode {nxt} fusion (--loop: "
                                                f"{' and '.join(self.turns)} take turns; close the window to stop)")
        elif self.finished_episodes >= self.episodes:
            self.finish(f"{self.finished_episodes} episode(s) played")

    # --- the end -------------------------------------------------------------------------
    def fail(self, message: str, code: int = 1) -> None:
        self.out(f"demo {self.env}: error: {message}")
        self.code = code
        self.finish("error")

    def finish(self, reason: str) -> None:
        if self.done:
            return
        self.done = True
        w = self.window
        play = w.play
        if play is not None:
            play.pause()
        fps = None
        if self.t_play is not None:
            elapsed = time.perf_counter() - self.t_play
            fps = self.frames / elapsed if elapsed > 0 else 0.0
            speed = "max" if self.speed <= 0 else f"{self.speed}/s"
            self.out(f"demo {self.env}: {self.frames} frames in {elapsed:.1f} s = {fps:.1f} frames/s "
                     f"(strategy {self.strategy}, speed {speed}, {self.finished_episodes} episode(s))")
        elif self.code == 0:
            self.out(f"demo {self.env}: stopped before playing ({reason})")
        if self.screenshot:
            Path(self.screenshot).parent.mkdir(parents=True, exist_ok=True)
            if w.grab().save(str(self.screenshot)):
                self.out(f"demo {self.env}: screenshot {self.screenshot}")
            else:
                self.out(f"demo {self.env}: error: could not write the screenshot {self.screenshot}")
                self.code = self.code or 1
        self.out(f"demo {self.env}: {reason}; {time.perf_counter() - self.t0:.1f} s in all")
        self.fps = fps
        QTimer.singleShot(0, self._quit)

    def _quit(self) -> None:
        from PySide6.QtWidgets import QApplication

        self.window.close()
        QApplication.instance().exit(self.code)


def loop_partner(strategy: str) -> str:
    """The strategy ``--loop`` alternates with ``strategy``: static for dynamic, dynamic for anything else."""
    return "static" if strategy == "dynamic" else "dynamic"


def _describe(wish) -> str:
    d = wish.describe()
    return "; ".join([*(f"prefer {e}" for e in d["prefer"]), *(f"avoid {e}" for e in d["avoid"])])


def writable_folder(path: Path) -> None:
    """Make ``path`` (and its parents) and write a file in it; OSError if that is impossible."""
    path.mkdir(parents=True, exist_ok=True)
    exc = cannot_write_in(path)
    if exc is not None:
        raise exc


def run_demo(app, args) -> int:
    """Run the demo of ``args.demo`` in ``app``; returns the exit code (2: no folder to write in)."""
    cache_root = demo_cache_root(args.study)
    try:
        writable_folder(cache_root)
        study = Path(tempfile.mkdtemp(prefix="dpf-gui-demo-"))
    except OSError as exc:
        where = exc.filename or cache_root
        print(f"dpf-gui: error: the demo cannot write in {where} ({exc.strerror or exc}); give it a writable data "
              "folder with --study DIR or DPF_GUI_DATA", file=sys.stderr, flush=True)
        return 2
    # quiet_errors: a headless demo must never wait on a message box
    with scratch_window(study, args, args.demo, quiet_errors=True) as window:
        demo = Demo(window, args.demo, strategy=args.strategy, episodes=args.episodes, preset=args.preset,
                    speed=args.speed, quit_after=args.quit_after, screenshot=args.screenshot,
                    cache_root=cache_root, loop=getattr(args, "loop", False))
        QTimer.singleShot(0, demo.start)
        return app.exec()  # demo.code, or 128 + signal when interrupted (see main.QuitOnSignal)


__all__ = ["Demo", "cache_key", "demo_cache_root", "loop_partner", "run_demo"]

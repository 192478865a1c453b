"""The main window over the dpf_gui core: environment chooser, File and View menus, the four tabs.
Long because: it is one class whose parts share its state: opening (with the fall-back to what was open), the
label store and where it is shown, resume, the file dialogs and presentation mode.

The window owns what is open (a :class:`~dpf_gui.session.workspace.Workspace`:
task agent, dataset, label store, intent model) and hands it to its tabs;
each tab is a view that may implement ``set_workspace(ws)`` (called whenever
another workspace is opened, with None when nothing is open) and
``shutdown()`` (called when the window closes). What changes within an open
workspace (the intent model) the views hear from the workspace itself, to
which they subscribe (:meth:`Workspace.on_change`). A failed open shows a
message and keeps what was open: a workspace that a view cannot show is taken
back, and the views get the old one again.

Nothing here blocks: messages are non-modal boxes shown once the event loop
runs (so ``--quit-after``, the demo and signals always get through), and what
the environment chooser and the File menu open is read in a worker thread
(:mod:`dpf_gui.app.opening`; the last one chosen wins).

The tabs are :mod:`dpf_gui.app.tabs`, the entry point :mod:`dpf_gui.app.main`.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QWidget,
)

from dpf_gui import __version__
from dpf_gui.app.opening import Opener
from dpf_gui.app.save_dialog import ask_save_path
from dpf_gui.app.shortcuts import TAB_SHORTCUTS, install, tab_leaves_lists
from dpf_gui.app.tabs import BUILT_AT_START, TABS
from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.envs import ENV_NAMES, env_spec
from dpf_gui.errors import UserError
from dpf_gui.palette import WARNING_COLOUR

#: presentation mode's text size, in points (at least 1.3 times the normal size)
PRESENT_FONT_PT = 12.0



def on_a_screen() -> bool:
    """Whether Qt draws on a real display (not offscreen, as in tests and scripted screenshots)."""
    return os.environ.get("QT_QPA_PLATFORM", "") not in ("offscreen", "minimal")


class MainWindow(QMainWindow):
    """Top-level window: environment chooser, File menu, the four tabs.

    ``store_dir``: the study folder holding ``labels.sqlite`` (default:
    ``DPF_GUI_DATA`` if set, else the folder chosen last, else the user data
    dir); with a ``store_dir`` or ``DPF_GUI_DATA`` the window settings live
    beside the labels (``gui.ini``), so tests and studies never touch the
    user's own settings. ``env`` / ``task_dir`` /
    ``dataset_path`` open that instead of resuming; ``restore=False`` opens
    nothing at start (besides what was asked for); ``quiet_errors``: errors
    are printed to stderr instead of shown in a message box.

    Every message goes through :meth:`notify` (a non-modal box, recorded in
    ``notices``); where the labels go is always on screen (``storeLabel`` in
    the status bar, red when they cannot be kept in the chosen study folder
    or only read).
    """

    workspaceChanged = Signal(object)  # the new Workspace (or None)
    #: Play calibrates a new intent model's strength as soon as it shows it, where that takes a second (gridnav);
    #: a lesson turns it off, since its steps set the parameters themselves
    calibrate_new_intents = True

    def __init__(self, store_dir: str | os.PathLike | None = None, env: str | None = None,
                 task_dir: str | os.PathLike | None = None, dataset_path: str | os.PathLike | None = None,
                 restore: bool = True, quiet_errors: bool = False) -> None:
        super().__init__()
        #: errors go to stderr and the status bar instead of a message box (headless demos and scripts)
        self.quiet_errors = quiet_errors
        self.setObjectName("mainWindow")
        self.setWindowTitle(f"dpf-gui {__version__}: Dynamic Policy Fusion")
        self.workspace = None
        self.store = None
        self.last_error: str | None = None
        #: every message shown, (title, text), oldest first
        self.notices: list[tuple[str, str]] = []
        self._damage_reported = 0  # damaged marks of the open store already reported
        self._explicit = {}  # env -> {"task_dir", "dataset_path"} the person opened (None: the shipped ones)
        self._opener = Opener(self)  # reads what the chooser and the File menu open, off the UI thread
        if store_dir is None and os.environ.get("DPF_GUI_DATA"):
            store_dir = os.environ["DPF_GUI_DATA"]  # everything under one folder (tests, kiosk set-ups)
        if store_dir is not None:
            self.settings = QSettings(str(Path(store_dir) / "gui.ini"), QSettings.Format.IniFormat)
        else:
            self.settings = QSettings("dpf-gui", "dpf-gui")
            store_dir = self.settings.value("study_folder") or None
        self._resume_timer = QTimer(self)
        self._resume_timer.setSingleShot(True)
        self._resume_timer.setInterval(1000)
        self._resume_timer.timeout.connect(self.save_resume)

        # --- environment chooser and menus ------------------------------------------
        self.env_combo = QComboBox(self)
        self.env_combo.setObjectName("envChooser")
        self.env_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for name in ENV_NAMES:
            self.env_combo.addItem(f"{name}: {env_spec(name).title}", name)
        self.env_combo.currentIndexChanged.connect(self._on_env_chosen)
        bar = QToolBar("Environment", self)
        bar.setObjectName("envToolBar")
        bar.setMovable(False)
        # Alt+E opens the chooser's list (TAB_SHORTCUTS): the chooser itself takes no keyboard focus (a click on it
        # must leave the keys where they were, and arrows on a focused combo box would switch the environment at
        # once), so a label's buddy could not reach it; the label shows the key instead
        env_label = QLabel(" <u>E</u>nvironment ", self)
        env_label.setObjectName("envLabel")
        env_label.setToolTip("choose the environment (Alt+E)")
        self.env_combo.setAccessibleName("Environment")
        self.env_combo.setToolTip("choose the environment (Alt+E)")
        bar.addWidget(env_label)
        bar.addWidget(self.env_combo)
        self.source_label = QLabel("", self)
        self.source_label.setObjectName("sourceLabel")
        bar.addWidget(QLabel("   "))
        bar.addWidget(self.source_label)
        self.addToolBar(bar)

        menu = self.menuBar().addMenu("&File")
        menu.setObjectName("fileMenu")
        self.actions_ = {}
        for key, text, slot, shortcut in (
            ("openCheckpoint", "Open task agent (checkpoint folder)…", self._ask_checkpoint, "Ctrl+O"),
            ("openDataset", "Open trajectory dataset…", self._ask_dataset, "Ctrl+Shift+O"),
            ("studyFolder", "Choose study folder…", self._ask_study_folder, None),
            ("importLabels", "Import labels file…", self._ask_import_labels, None),
            ("exportLabels", "Export labels…", self._ask_export_labels, "Ctrl+E"),
            ("resetDefaults", "Shipped agent and data", self._open_defaults, None),
            ("quit", "Quit", self.close, "Ctrl+Q"),
        ):
            act = QAction(text, self)
            act.setObjectName(key + "Action")
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            self.actions_[key] = act
        view_menu = self.menuBar().addMenu("&View")
        view_menu.setObjectName("viewMenu")
        self.present_action = QAction("Presentation mode (large text, thick lines, full screen)", self)
        self.present_action.setObjectName("presentationAction")
        self.present_action.setCheckable(True)
        self.present_action.setShortcut(QKeySequence("F11"))
        self.present_action.toggled.connect(lambda on: self.set_presentation(on, full_screen=True))
        view_menu.addAction(self.present_action)
        self.presenting = False
        self._normal_font = QFont(self.font())

        # --- tabs ------------------------------------------------------------------------------
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.views: dict[str, QWidget] = {}  # the views built so far, by tab title
        self._unbuilt: dict[str, tuple[QWidget, Callable[[MainWindow], QWidget]]] = {}
        for title, factory in TABS:
            if title in BUILT_AT_START:
                self.views[title] = page = factory(self)
                tab_leaves_lists(page)
            else:  # an empty page until the tab is first shown
                page = QWidget(self)
                self._unbuilt[title] = (page, factory)
            self.tabs.addTab(page, title)
        self.tabs.currentChanged.connect(self._build_shown)
        self.setCentralWidget(self.tabs)
        self.tab_keys = install(self, TAB_SHORTCUTS)  # Ctrl+Tab, Alt+1..4 wherever the focus is (docs/GUI.md)
        self.statusBar().setObjectName("statusBar")
        self.store_label = QLabel(self)
        self.store_label.setObjectName("storeLabel")
        self.store_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.store_label)

        geometry = self.settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*self.first_size())
        try:
            tab = int(self.settings.value("tab", 0))
        except (TypeError, ValueError):
            tab = 0
        self.tabs.setCurrentIndex(tab if 0 <= tab < self.tabs.count() else 0)

        # --- open something ---------------------------------------------------------------------
        self._set_store(store_dir)
        if self.store is None:
            return
        if env is not None or task_dir is not None or dataset_path is not None:
            ok = self.open_env(env or self.store.get("resume/env") or ENV_NAMES[0], task_dir=task_dir,
                               dataset_path=dataset_path)
            if not ok and restore:
                self._restore()  # what was asked for failed (and was said): show what worked last time
        elif restore:
            self._restore()

    # --- views ------------------------------------------------------------------------------------
    def view(self, title: str) -> QWidget | None:
        """The view of tab ``title`` (None: no such tab), built now if it was not yet, with what is open."""
        if title in self.views or title not in self._unbuilt:
            return self.views.get(title)
        page, factory = self._unbuilt.pop(title)
        self.views[title] = view = factory(self)
        tab_leaves_lists(view)
        index, current = self.tabs.indexOf(page), self.tabs.currentIndex()
        self.tabs.blockSignals(True)  # the swap is no change of tab
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, view, title)
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        page.deleteLater()
        if self.presenting and hasattr(view, "set_presentation"):
            view.set_presentation(True)
        if self.workspace is not None and hasattr(view, "set_workspace"):
            self._guard(f"The {title} view cannot show what is open", view.set_workspace, self.workspace)
        return view

    def _build_shown(self, index: int) -> None:
        page = self.tabs.widget(index)
        for title, (unbuilt, _) in list(self._unbuilt.items()):
            if unbuilt is page:
                self.view(title)

    # --- the tabs' keys (TAB_SHORTCUTS) -----------------------------------------------------------------
    def next_tab(self) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + 1) % self.tabs.count())

    def previous_tab(self) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() - 1) % self.tabs.count())

    def show_tab(self, title: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                self.tabs.setCurrentIndex(i)

    def show_annotate(self) -> None:
        self.show_tab("Annotate")

    def show_train(self) -> None:
        self.show_tab("Train")

    def show_play(self) -> None:
        self.show_tab("Play")

    def show_compare(self) -> None:
        self.show_tab("Compare")

    def choose_environment(self) -> None:
        """Alt+E: the environment chooser's list, to pick from with the arrows and Enter (Esc leaves it as it was)."""
        if self.env_combo.isEnabled():
            self.env_combo.showPopup()

    annotate = property(lambda self: self.view("Annotate"))
    train = property(lambda self: self.view("Train"))
    play = property(lambda self: self.view("Play"))
    compare = property(lambda self: self.view("Compare"))

    # --- errors ----------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """A user mistake or a failed load: say what happened; the app keeps running."""
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        self.notify(title, message)

    def notify(self, title: str, message: str) -> None:
        """Tell the person something they must not miss, without blocking anything (see :func:`notice_box`)."""
        self.notices.append((title, message))
        if self.quiet_errors:
            print(f"dpf-gui: {title}: {message}", file=sys.stderr, flush=True)
            return
        notice_box(self, title, message)

    def _guard(self, title: str, fn, *args, quiet: bool = False, **kwargs):
        """Run ``fn``; a UserError (or a bug) becomes a message box, never a crash. Returns (ok, result).

        ``quiet``: only the status bar says it (for attempts with a fallback).
        """
        try:
            return True, fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (a bug: still keep the person's work and the app)
            self._report(title, exc, quiet)
        return False, None

    def _report(self, title: str, exc: Exception, quiet: bool = False) -> None:
        """Say what went wrong (:meth:`_guard`): a UserError in its own words, a bug with its traceback."""
        if isinstance(exc, UserError):
            message = str(exc)
        else:
            traceback.print_exception(exc)
            message = f"Unexpected error ({exc.__class__.__name__}): {exc}"
        if quiet:
            self.last_error = message
            self.statusBar().showMessage(message, 10000)
        else:
            self.show_error(title, message)

    # --- store -------------------------------------------------------------------------------------
    #: the window's size the first time it opens (later: where the person left it)
    FIRST_SIZE = (1280, 780)

    def first_size(self) -> tuple[int, int]:
        """:data:`FIRST_SIZE`, no larger than the screen's free area: on a 1280x720 projector the window would
        otherwise open taller than the screen, its status bar and bottom controls off it. Offscreen (tests,
        scripted screenshots) there is no screen to fit, so the size is the same everywhere."""
        width, height = self.FIRST_SIZE
        screen = self.screen() if on_a_screen() else None
        if screen is None:
            return width, height
        room = screen.availableGeometry()
        return min(width, room.width()), min(height, room.height())

    def _set_store(self, directory) -> bool:
        """Label into ``directory`` (None: the default folder). At start, an unusable folder falls back to the
        default one, loudly; later (File menu) the store in use stays."""
        from dpf_gui.data.study import LabelStore

        ok, store = self._guard("Cannot open the label store", LabelStore.in_dir, directory, quiet=True)
        fallback = None
        if not ok:
            problem = self.last_error
            if self.store is not None or directory is None:
                self.show_error("Cannot use that study folder" if directory is not None else "No label store",
                                problem)
                self._show_store()
                return False
            ok, store = self._guard("Cannot open the label store", LabelStore.in_dir, None, quiet=True)
            if not ok:
                self.show_error("No label store", f"{problem}; the default folder cannot be used either: "
                                f"{self.last_error}")
                self._show_store()
                return False
            fallback = str(directory)
            self.notify("Labels are not kept in the chosen study folder",
                        f"The study folder {directory} cannot be used ({problem}). Labels go to {store.path} "
                        "instead, until another study folder is chosen (File > Choose study folder).")
        old, self.store = self.store, store
        if old is not None and old is not store:
            old.close()
        self._damage_reported = 0
        self._show_store(fallback)
        if store.read_only:
            self.notify("The labels can only be read",
                        f"{store.path}: {store.read_only_reason}. Its marks are shown, but none can be added or "
                        "undone here. To label, close the other dpf-gui or choose another study folder (File menu).")
        return True

    def _show_store(self, fallback: str | None = None) -> None:
        """Where the labels go, always on screen: red when not in the chosen folder, or read-only."""
        store = self.store
        path = "" if store is None else _elide(str(store.path))
        if store is None:
            text, tip, alarm = "labels: not kept (no usable study folder)", "choose a study folder (File menu)", True
        elif fallback is not None:
            text, alarm = f"labels: {path} (NOT the chosen study folder)", True
            tip = f"the chosen study folder {fallback} cannot be used"
        elif store.read_only:
            text, tip, alarm = f"labels (read-only): {path}", str(store.read_only_reason), True
        else:
            text, tip, alarm = f"labels: {path}", "every mark is saved here the moment it is given", False
        self.store_label.setText(text)
        self.store_label.setToolTip(f"{store.path}\n{tip}" if store is not None else tip)
        self.store_label.setStyleSheet(f"color: {WARNING_COLOUR}; font-weight: bold;" if alarm else "")

    def _report_damaged_marks(self) -> None:
        bad = self.store.damaged_marks if self.store is not None else []
        if len(bad) > self._damage_reported:
            self._damage_reported = len(bad)
            ids = ", ".join(map(str, bad[:10])) + (", …" if len(bad) > 10 else "")
            self.notify("Damaged marks skipped", f"{self.store.path}: {len(bad)} stored mark(s) make no sense and "
                        f"were skipped (mark id {ids}); every other mark is shown and counts.")

    def choose_study_folder(self, directory: str | os.PathLike) -> bool:
        """Label into ``directory/labels.sqlite`` from now on (the open data stays open)."""
        from dpf_gui.data.study import DB_FILE

        self.save_resume()
        if self._opener.pending is not None:  # read for the store in use: what is open stays open
            self._opener.cancel()
            self._sync_env_combo()
            self._show_source()
        if self.store is not None and (Path(directory) / DB_FILE).resolve() == self.store.path.resolve():
            self._show_store()  # already there (opening it again would find our own lock)
            self.settings.setValue("study_folder", str(directory))
            return True
        if not self._set_store(directory):
            return False
        self.settings.setValue("study_folder", str(directory))
        if self.workspace is not None:
            ok, _ = self._guard("Cannot show the labels of that study folder", self._install,
                                self.workspace.with_store(self.store), resume=True)
            return ok
        return True

    # --- opening --------------------------------------------------------------------------------------
    @property
    def env_name(self) -> str | None:
        return None if self.workspace is None else self.workspace.env_name

    def open_env(self, env_name: str, task_dir=None, dataset_path=None, resume: bool = True,
                 quiet: bool = False, later: bool = False) -> bool:
        """Open an environment's task agent and dataset (default: the shipped ones).
        False (and a message) on failure. ``later``: read them in a worker thread and show them once read, the
        window answering meanwhile (True: started; the File menu's way)."""
        self.save_resume()
        if later:
            self._open_later(env_name, [(task_dir, dataset_path)], resume)
            return True
        self._opener.cancel()  # what is opened now wins over what is being read
        ok, opened = self._guard(f"Cannot open {env_name}", _read, env_name, task_dir, dataset_path, self.store,
                                 quiet=quiet)
        ok = ok and self._show_opened(env_name, task_dir, dataset_path, opened, resume, quiet)
        self._sync_env_combo()
        return ok

    def _show_opened(self, env_name: str, task_dir, dataset_path, opened, resume: bool, quiet: bool,
                     prepared: dict | None = None) -> bool:
        """Give the views what :func:`_read` read (and what they ``prepared`` from it, by tab title); False (and a
        message) if one cannot show it."""
        ws, not_recalled = opened
        if not_recalled is not None:
            self.show_error("The intent model used last time was not loaded", not_recalled)
        before = self._explicit.get(env_name)
        self._explicit[env_name] = {"task_dir": None if task_dir is None else str(Path(task_dir).resolve()),
                                    "dataset_path": None if dataset_path is None
                                    else str(Path(dataset_path).resolve())}
        ok, _ = self._guard(f"Cannot open {env_name}", self._install, ws, resume=resume, recall=False,
                            prepared=prepared, quiet=quiet)
        if not ok:
            self._explicit[env_name] = before
        return ok

    def _open_later(self, env_name: str, attempts: list[tuple], resume: bool = True) -> None:
        """Read ``env_name``'s files in a worker thread, trying each (task_dir, dataset_path) of ``attempts`` in turn
        (all but the last quietly: what was open last time may be gone), then show the first that opens. The views
        that can (a ``prepare(ws)`` safe on any thread) make what they will show in that thread too."""
        store = self.store
        preparers = {title: view.prepare for title, view in self.views.items() if hasattr(view, "prepare")}

        def load():
            failed = []
            for k, (task_dir, data) in enumerate(attempts):
                try:
                    opened = _read(env_name, task_dir, data, store)
                except Exception as exc:
                    if k == len(attempts) - 1:
                        raise
                    failed.append(exc)  # said quietly; the next attempt follows
                    continue
                return k, opened, failed, _prepare(preparers, opened[0])

        def finish(result, error) -> None:
            if error is not None:
                self._report(f"Cannot open {env_name}", error)
            else:
                k, opened, failed, prepared = result
                for exc in failed:
                    self._report(f"Cannot open {env_name}", exc, quiet=True)
                quiet = k < len(attempts) - 1
                if not self._show_opened(env_name, *attempts[k], opened, resume, quiet, prepared) and quiet:
                    self._open_later(env_name, attempts[k + 1:], resume)
                    return
            self._sync_env_combo()
            self._show_source()

        self._opener.start(env_name, load, finish)
        self.source_label.setText(f"loading {env_name}…")
        self.source_label.setToolTip("the window answers meanwhile; what is shown stays open until it is read")

    def open_checkpoint(self, directory: str | os.PathLike, later: bool = False) -> bool:
        """Use another task agent for the current environment (a checkpoint for another one is refused)."""
        env = self.env_name or self.env_combo.currentData()
        from dpf_gui.agents.task_agent import DATASET_FILE

        data = None
        if not (Path(directory) / DATASET_FILE).is_file() and self.workspace is not None:
            data = self.workspace.dataset_path  # no trajectories beside it: keep labelling the open data
        return self.open_env(env, task_dir=directory, dataset_path=data, later=later)

    def open_dataset(self, path: str | os.PathLike, later: bool = False) -> bool:
        """Label another dataset of the current environment with the current task agent."""
        env = self.env_name or self.env_combo.currentData()
        prev = self._explicit.get(env, {}).get("task_dir")
        return self.open_env(env, task_dir=prev, dataset_path=path, later=later)

    def open_collected(self, path: str | os.PathLike) -> bool:
        """Open the dataset the Collect action made (the open one with more trajectories appended), carry the
        marks over to it, keep the intent model in use and stay on the trajectory shown."""
        old = self.workspace
        shown = self.annotate.current if self.annotate is not None else None
        if old is None or not self.open_dataset(path):
            return False
        ws = self.workspace
        self._guard("The marks could not be carried over", ws.carry_marks_from, old)
        if self.train is not None:
            kept = old.intent.directory if old.intent is not None else None
            if ws.intent is None and kept is not None and is_checkpoint(kept):
                self.train.load_intent_dir(kept)
            self.train.refresh_labels()
        if self.annotate is not None and shown is not None:
            self.annotate.go_to(shown)  # the old trajectories keep their places
        new = int(ws.collected().sum()) - int(old.collected().sum())
        self.statusBar().showMessage(f"{new} collected trajectories added: {len(ws)} in {Path(path).name}; "
                                     f"{old.dataset_path.name} and its marks are unchanged", 10000)
        return True

    def _open_defaults(self) -> bool:
        return self.open_env(self.env_name or self.env_combo.currentData(), later=True)

    def _install(self, ws, resume: bool = True, recall: bool = True, prepared: dict | None = None) -> None:
        """Show ``ws`` in every view. If one cannot, every view gets what was open before, and a UserError says why.
        ``recall``: first bring back the intent model used last with its data (:func:`_read` did already);
        ``prepared``: what views made for ``ws`` beforehand, by tab title."""
        old = self.workspace
        try:
            self._give_views(ws, resume, recall, prepared or {})
        except Exception as exc:  # noqa: BLE001 (a damaged file must never become what is open)
            title, cause = exc.args if isinstance(exc, _ViewFailed) else ("", exc)
            if not isinstance(cause, UserError):
                traceback.print_exception(cause)
            try:
                self._give_views(old, resume=True)
            except Exception:  # noqa: BLE001 (the old workspace cannot be shown either: show nothing)
                traceback.print_exc()
                self._give_views(None, resume=False)
            why = cause if isinstance(cause, UserError) else f"{cause.__class__.__name__}: {cause}"
            where = f"the {title} view cannot show it" if title else "it cannot be shown"
            raise UserError(f"{ws.dataset_path}: {where} ({why}); what was open stays open") from None
        self.workspaceChanged.emit(ws)
        self.save_resume()
        self._report_damaged_marks()

    def _give_views(self, ws, resume: bool, recall: bool = True, prepared: dict | None = None) -> None:
        """Hand ``ws`` (None: nothing) to every view, at the trajectory and frame saved for it;
        _ViewFailed if one fails."""
        self.workspace = ws
        self._sync_env_combo()
        state = self.store.get(f"resume/{ws.env_name}") if ws is not None and resume and self.store else None
        state = state if isinstance(state, dict) and state.get("fingerprint") == ws.fingerprint else {}
        traj, frame = state.get("trajectory"), state.get("frame")
        traj = traj if isinstance(traj, int) else None
        frame = frame if isinstance(frame, int) and frame >= 0 else 0
        if recall and ws is not None and ws.intent is None:  # the model used last with this data comes back
            from dpf_gui.session.intent_memory import recall

            self._guard("The intent model used last time was not loaded", recall, ws)
        for title, view in list(self.views.items()):
            setter = getattr(view, "set_workspace", None)
            if setter is None:
                continue
            kwargs = {"trajectory": traj, "frame": frame} if view is self.annotate else {}
            if prepared and title in prepared:
                kwargs["prepared"] = prepared[title]
            try:
                setter(ws, **kwargs)
            except Exception as exc:  # reported by _install
                raise _ViewFailed(title, exc) from exc
        self._show_source()

    def _show_source(self) -> None:
        """The toolbar's line saying what is open, and the window's title."""
        ws = self.workspace
        if ws is None:
            self.source_label.setText("nothing open")
            self.source_label.setToolTip("")
            self.setWindowTitle(f"dpf-gui {__version__}: Dynamic Policy Fusion")
            return
        what = "shipped agent" if ws.task_dir is None or _is_shipped(ws.task_dir) else str(ws.task_dir)
        if ws.task is None:
            what = "no task agent"
        self.source_label.setText(f"{what} · {ws.dataset_path.name} ({len(ws)} trajectories)")
        self.source_label.setToolTip(f"task agent: {ws.task_dir}\ndataset: {ws.dataset_path}\nlabels: {ws.store.path}")
        self.setWindowTitle(f"dpf-gui {__version__}: {ws.env_name}")

    def _sync_env_combo(self) -> None:
        if self.env_name is None:
            return
        i = self.env_combo.findData(self.env_name)
        if i != self.env_combo.currentIndex():
            self.env_combo.blockSignals(True)
            self.env_combo.setCurrentIndex(i)
            self.env_combo.blockSignals(False)

    def _on_env_chosen(self, _index: int) -> None:
        """Open the chosen environment as it was left (else its shipped agent), read in a worker thread."""
        name = self.env_combo.currentData()
        if name == self.env_name:
            if self._opener.pending is not None:  # chosen back before the other one was read: it stays open
                self._opener.cancel()
                self._show_source()
            return
        if self.store is None:
            self.show_error("No label store", "no label store is open: choose a study folder (File menu)")
            self._sync_env_combo()
            return
        saved = self.store.get(f"resume/{name}")
        saved = saved if isinstance(saved, dict) else {}
        attempts = [(None, None)]
        if saved.get("task_dir") or saved.get("dataset_path"):  # (gone since: the shipped agent)
            attempts.insert(0, (saved.get("task_dir"), saved.get("dataset_path")))
        self.save_resume()
        self._open_later(name, attempts)

    # --- resume ---------------------------------------------------------------------------------------
    def save_resume(self) -> None:
        """Remember env, files, trajectory and frame in the store (cheap; called often)."""
        ws = self.workspace
        if ws is None or self.store is None:
            return
        explicit = self._explicit.get(ws.env_name, {})
        view = self.annotate
        state = {
            "task_dir": explicit.get("task_dir"),
            "dataset_path": explicit.get("dataset_path"),
            "fingerprint": ws.fingerprint,
            "trajectory": getattr(view, "current", None),
            "frame": int(view.player.position) if view is not None and view.current is not None else 0,
        }
        try:
            self.store.set(f"resume/{ws.env_name}", state)
            self.store.set("resume/env", ws.env_name)
        except (OSError, sqlite3.Error, UserError) as exc:  # a full disk or a closed store must not take the app
            self.statusBar().showMessage(f"could not save the resume state: {exc}", 5000)  # down; a bug must show

    def _restore(self) -> None:
        """Reopen where the person left off. If that fails: a clean start (the shipped agent, the first tab) and a
        message, so that nothing saved can stop the app from starting."""
        env = self.store.get("resume/env")
        env = env if env in ENV_NAMES else ENV_NAMES[0]
        saved = self.store.get(f"resume/{env}")
        saved = saved if isinstance(saved, dict) else {}
        task_dir, data = saved.get("task_dir"), saved.get("dataset_path")
        task_dir, data = (p if isinstance(p, str) and p else None for p in (task_dir, data))
        if (task_dir or data) and self.open_env(env, task_dir=task_dir, dataset_path=data, quiet=True):
            return
        failed = self.last_error if task_dir or data else None
        if failed:
            self.tabs.setCurrentIndex(0)
        for name in [env, *(n for n in ENV_NAMES if n != env)]:
            if self.open_env(name, quiet=True):
                break
        if failed:
            instead = f"opened the shipped {self.env_name} agent instead" if self.workspace else "nothing is open"
            self.notify("Could not reopen where you left off", f"{failed}. A clean start: {instead}.")

    # --- file dialogs ------------------------------------------------------------------------------------
    def _ask_checkpoint(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Task agent checkpoint folder")
        if d:
            self.open_checkpoint(d, later=True)

    def _ask_dataset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Trajectory dataset", "", "dpf trajectories (*.npz)")
        if path:
            self.open_dataset(path, later=True)

    def _ask_study_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Study folder (labels are kept there)")
        if d:
            self.choose_study_folder(d)

    def _ask_import_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels file (dpf label)", "", "dpf labels (*.npz)")
        if not path or self.workspace is None:
            return
        ok, labels = self._guard("Cannot import labels", self.workspace.read_labels, path)  # read once, here
        if not ok:
            return
        overlap = self.workspace.marked_in(labels)
        keep = False
        if overlap:  # an import replaced an hour's marks without a word (one Ctrl+Z, if nothing was marked since)
            box = QMessageBox(QMessageBox.Icon.Question, "Import labels",
                              f"{overlap} of the trajectories this file labels are marked here already. Keep your "
                              "marks on them and import the file's labels of the others only, or replace your "
                              "marks with the file's?", QMessageBox.StandardButton.Cancel, self)
            box.setObjectName("importOverlapBox")
            keep_button = box.addButton("Keep my marks", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Use the file's", QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(keep_button)
            box.exec()
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Cancel):
                return
            keep = box.clickedButton() is keep_button
        self.import_labels(labels, only_unlabelled=keep)

    def _ask_export_labels(self) -> None:
        if self.workspace is None:
            return
        path = ask_save_path(self, "Export labels", f"{self.workspace.env_name}_labels.npz", "dpf labels (*.npz)")
        if path is not None:
            self.export_labels(path)

    def import_labels(self, path, only_unlabelled: bool = False) -> bool:  # a file, or the labels read from one
        if self.workspace is None:
            return False
        ok, action = self._guard("Cannot import labels", self.workspace.import_labels, path, only_unlabelled)
        if ok:  # the views follow the workspace's marks themselves
            self.statusBar().showMessage(
                "labels imported (Ctrl+Z undoes the import)" if action else "nothing to import", 5000)
        return ok

    def export_labels(self, path) -> Path | None:
        if self.workspace is None:
            return None
        def export() -> Path:
            try:
                return self.workspace.labels().save(path)
            except OSError as exc:
                raise UserError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None

        ok, out = self._guard("Cannot export labels", export)
        if ok:
            self.statusBar().showMessage(f"wrote {out}", 5000)
        return out if ok else None

    # --- closing ------------------------------------------------------------------------------------------
    # --- presentation mode ------------------------------------------------------------------------
    def set_presentation(self, on: bool, full_screen: bool = False) -> None:
        """Large text and thick plot lines, readable from the back of a room, laid out to fit 1024x768
        (``full_screen``: also fill the screen, or leave full screen). The View menu's toggle (F11) and
        ``dpf-gui --present`` call this."""
        from dpf_gui.app.plots import PlotText, set_plot_style
        from dpf_gui.app.presentation import set_look

        on = bool(on)
        self.presenting = on
        set_plot_style(on)
        set_look(self, on, max(PRESENT_FONT_PT, self._normal_font.pointSizeF() * 1.3))  # large text, high contrast
        for view in list(self.views.values()):
            arrange = getattr(view, "set_presentation", None)
            if arrange is not None:
                arrange(on)
        for plot in self.findChildren(PlotText):
            plot.restyle()
        for w in self.findChildren(QWidget):  # hidden tabs keep their old sizes until shown: forget them now
            if w.layout() is not None:
                w.layout().invalidate()
            w.updateGeometry()
        self.present_action.blockSignals(True)
        self.present_action.setChecked(on)
        self.present_action.blockSignals(False)
        if full_screen:
            self.showFullScreen() if on else self.showNormal()

    def closeEvent(self, event) -> None:
        self.save_resume()
        if self.presenting:  # the plots' and the application's look are shared: leave them as other windows expect
            from dpf_gui.app.plots import set_plot_style
            from dpf_gui.app.presentation import set_look

            set_plot_style(False)
            set_look(self, False, 0)
            self.showNormal()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("tab", self.tabs.currentIndex())
        self.settings.sync()
        self._opener.shutdown()
        for view in list(self.views.values()):
            shutdown = getattr(view, "shutdown", None)
            if shutdown is not None:
                try:
                    shutdown()
                except Exception:  # noqa: BLE001 (a view's shutdown must not stop the others')
                    traceback.print_exc()
        if self.store is not None:
            self.store.close()
            self.store = None
        super().closeEvent(event)


def _read(env_name: str, task_dir, dataset_path, store) -> tuple:
    """What :meth:`MainWindow.open_env` opens, read from the files (on any thread): (the workspace with the intent
    model used last with its data, None or why that model could not be loaded: the workspace opens without it)."""
    from dpf_gui.session.intent_memory import recall
    from dpf_gui.session.workspace import Workspace

    ws = Workspace.open(env_name, task_dir=task_dir, dataset_path=dataset_path, store=store)
    try:
        recall(ws)
    except UserError as exc:
        return ws, str(exc)
    except Exception as exc:  # noqa: BLE001 (a bug: still open the data)
        traceback.print_exc()
        return ws, f"Unexpected error ({exc.__class__.__name__}): {exc}"
    return ws, None


def _prepare(preparers: dict, ws) -> dict:
    """What each view's ``prepare(ws)`` made (on the opening thread); one that fails makes it again when shown,
    where its failure is said as any view's."""
    made = {}
    for title, prepare in preparers.items():
        try:
            made[title] = prepare(ws)
        except Exception:  # noqa: BLE001 (see above)
            continue
    return made


def _elide(text: str, most: int = 60) -> str:
    """``text`` shortened in the middle (a long study path must not widen the window)."""
    return text if len(text) <= most else text[: most // 3] + "…" + text[-(most - most // 3 - 1):]


class _ViewFailed(Exception):
    """A view could not show a workspace: (view title, the exception)."""


def notice_box(parent: QWidget, title: str, message: str) -> None:
    """A warning box that blocks nothing: non-modal, shown once the event loop runs (never inside a constructor).

    So a message can never hold up ``--quit-after``, the demo, a test or a
    signal, and the window behind it keeps working.
    """
    for box in parent.findChildren(QMessageBox, "noticeBox"):
        if box.windowTitle() == title:  # the same kind of message again: one box, the latest text
            box.setText(message)
            QTimer.singleShot(0, box, box.raise_)
            return
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("noticeBox")
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    QTimer.singleShot(0, box, box.show)


def _is_shipped(directory) -> bool:
    from dpf_gui.paths import models_root

    try:
        return Path(directory).resolve().parent == models_root().resolve()
    except OSError:
        return False


__all__ = ["MainWindow", "notice_box"]

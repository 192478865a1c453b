"""Collect more varied trajectories: the fixed task agent plays with exploration noise, in a worker thread.

A wish about a place the stored trajectories never visit cannot be learned
from labels (:mod:`dpf_gui.coverage`). The remedy needs no learning: the task
agent plays again with noise on its choices (and, where the environment can,
from random start states), and the new trajectories are appended to the data
as a *new* dataset file in the study folder (:meth:`Workspace.collect`). The
open dataset's file and marks are not touched; the main window opens the new
dataset and carries the marks over (``LabelStore.carry_marks``), so the list
shows the old trajectories as they were and the new ones as "collected".
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from dpf_gui.errors import UserError
from dpf_gui.palette import WARNING_COLOUR

#: exploration offered: kind -> (default value, low, high, step, what it means)
EXPLORATIONS = {
    "epsilon": (0.3, 0.0, 1.0, 0.05, "a random legal action with this probability, else the agent's own choice"),
    "boltzmann": (3.0, 0.1, 100.0, 0.5, ("sample from the agent's Q-values at this temperature (units of its typical "
                                         "Q spread; 1 is the fused agent's task policy, larger is more random)")),
}
DEFAULT_EPISODES = 100


class CollectWorker(QThread):
    """Runs :meth:`Workspace.collect` off the UI thread; reports through queued signals."""

    episodeDone = Signal(int)  # episodes played so far
    succeeded = Signal(object)  # the new dataset's path, or None when cancelled
    failed = Signal(str)

    def __init__(self, ws, episodes: int, exploration, random_start: bool, seed: int, out_dir: Path, parent=None):
        super().__init__(parent)
        self.ws, self.episodes, self.exploration = ws, int(episodes), exploration
        self.random_start, self.seed, self.out_dir = bool(random_start), int(seed), Path(out_dir)
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            path = self.ws.collect(self.episodes, self.exploration, self.random_start, self.seed, self.out_dir,
                                   on_episode=self.episodeDone.emit, should_stop=self._stop.is_set)
            self.succeeded.emit(path)
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 (a bug: say it, keep the app)
            traceback.print_exc()
            self.failed.emit(f"Unexpected error ({exc.__class__.__name__}): {exc}")


class CollectDialog(QDialog):
    """The settings of a collection, its progress bar and Cancel; ``collected(path)`` when the new data is saved."""

    collected = Signal(str)

    def __init__(self, parent, ws):
        super().__init__(parent)
        from dpf_gui.rollout import random_start_envs
        from dpf_gui.session.workspace import COLLECTED_DIR

        self.setObjectName("collectDialog")
        self.setWindowTitle("Collect more varied trajectories")
        self.ws = ws
        self.out_dir = Path(ws.store.path).parent / COLLECTED_DIR
        self.worker: CollectWorker | None = None
        self.result: Path | None = None
        self.last_error: str | None = None
        intro = QLabel(f"The task agent ({ws.env_name}) plays again with noise on its choices, so that its "
                       "trajectories go where its own runs never go. They are added to the open data as a new "
                       f"dataset (in {self.out_dir}); the open dataset file and your marks stay as they are, and "
                       "the new trajectories show as \"collected\" in the list. Nothing is learned, the agent "
                       "does not change.", self)
        intro.setWordWrap(True)
        self.episodes = QSpinBox(self)
        self.episodes.setObjectName("collectEpisodesSpin")
        self.episodes.setRange(1, 100_000)
        self.episodes.setValue(DEFAULT_EPISODES)
        self.episodes.setToolTip("how many new trajectories"
                                 + (" (highway plays about 1-2 episodes a second)" if ws.env_name == "highway" else ""))
        self.kind = QComboBox(self)
        self.kind.setObjectName("collectExplorationCombo")
        for name, (*_, tip) in EXPLORATIONS.items():
            self.kind.addItem(name, name)
            self.kind.setItemData(self.kind.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.value = QDoubleSpinBox(self)
        self.value.setObjectName("collectExplorationSpin")
        self.value.setDecimals(2)
        self.random_start = QCheckBox("start from random states", self)
        self.random_start.setObjectName("collectRandomStartCheck")
        can = self._can_start_anywhere = ws.env_name in random_start_envs()
        self.random_start.setEnabled(can)
        self.random_start.setChecked(can)
        self.random_start.setToolTip("every episode starts in a random open cell (not the usual start)" if can else
                                     f"{ws.env_name}'s reset seed decides the start: only "
                                     f"{', '.join(random_start_envs()) or 'no environment'} can start anywhere")
        self.seed = QSpinBox(self)
        self.seed.setObjectName("collectSeedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(len(ws))  # differs from one collection to the next, as the data grows
        self.seed.setToolTip("the same seed plays the same episodes")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("collectProgress")
        self.progress.setFormat("%v of %m episodes")
        self.progress.setVisible(False)
        self.status = QLabel("", self)
        self.status.setObjectName("collectStatus")
        self.status.setWordWrap(True)
        self.ok_button = QPushButton("Collect", self)
        self.ok_button.setObjectName("collectOkButton")
        self.ok_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("collectCancelButton")
        self.cancel_button.setToolTip("stop collecting (nothing changes) or close")

        explore = QHBoxLayout()
        explore.addWidget(self.kind)
        explore.addWidget(self.value, 1)
        form = QFormLayout()
        form.addRow("episodes", self.episodes)
        form.addRow("exploration", explore)
        form.addRow("", self.random_start)
        form.addRow("seed", self.seed)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.ok_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(520, self.sizeHint().height())

        self.kind.currentIndexChanged.connect(self._on_kind)
        self.ok_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._on_cancel)
        self._on_kind()

    def _on_kind(self, *_) -> None:
        value, low, high, step, tip = EXPLORATIONS[self.kind.currentData()]
        self.value.setRange(low, high)
        self.value.setSingleStep(step)
        self.value.setValue(value)
        self.value.setToolTip(tip)
        self.kind.setToolTip(tip)

    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        """Start collecting with the settings shown; False (and the reason shown) if it cannot start."""
        from dpf_gui.rollout import Exploration

        if self.worker is not None:
            return False
        try:
            exploration = Exploration(self.kind.currentData(), float(self.value.value()))
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except UserError as exc:
            return self._say(str(exc))
        except OSError as exc:
            return self._say(f"cannot write in {self.out_dir} ({exc.strerror or exc}); choose a study folder you can "
                             "write in (File menu)")
        n = self.episodes.value()
        self.worker = CollectWorker(self.ws, n, exploration, self.random_start.isChecked(), self.seed.value(),
                                    self.out_dir, self)
        self.worker.episodeDone.connect(self.progress.setValue)
        self.worker.succeeded.connect(self._on_done)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self.worker.deleteLater)
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setStyleSheet("")
        self.status.setText(f"collecting {n} episodes ({exploration.text()}"
                            + (", random starts" if self.random_start.isChecked() else "") + ")…")
        self._set_inputs(False)
        self.worker.start()
        return True

    def _set_inputs(self, on: bool) -> None:
        for w in (self.episodes, self.kind, self.value, self.seed, self.ok_button):
            w.setEnabled(on)
        self.random_start.setEnabled(on and self._can_start_anywhere)

    def _on_cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("cancelling…")
            self.cancel_button.setEnabled(False)
        else:
            self.reject()

    def _on_done(self, path) -> None:
        if self.sender() is not self.worker:
            return
        self.worker = None
        self.cancel_button.setEnabled(True)
        if path is None:
            self._set_inputs(True)
            self.progress.setVisible(False)
            self.status.setText("cancelled: nothing changed")
            return
        self.result = Path(path)
        self.accept()
        self.collected.emit(str(path))

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.worker:
            return
        self.worker = None
        self.cancel_button.setEnabled(True)
        self._set_inputs(True)
        self.progress.setVisible(False)
        self._say(message)

    def _say(self, message: str) -> bool:
        self.last_error = message
        self.status.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.status.setText(message)
        return False

    def done(self, result: int) -> None:
        """Closing the dialog stops a collection, which then changes nothing. It does not wait for the worker: the
        episode being played (seconds on highway) ends in the background and nothing listens to its result."""
        if self.worker is not None:
            w, self.worker = self.worker, None
            w.cancel()
            for sig in (w.succeeded, w.failed, w.episodeDone):
                with contextlib.suppress(RuntimeError, TypeError):
                    sig.disconnect()
        super().done(result)

    def shutdown(self) -> None:
        """Close, then wait for every collection still ending (the app is quitting: no thread may outlive it)."""
        self.close()
        for w in self.findChildren(CollectWorker):  # a worker deletes itself once it has finished
            with contextlib.suppress(RuntimeError):
                w.wait(60_000)


__all__ = ["EXPLORATIONS", "CollectDialog", "CollectWorker"]

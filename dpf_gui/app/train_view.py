"""Train: fit the intent model to the marks, in a worker thread, with its progress and held-out fit.
Long because: the form carries two kinds of model, each with its settings, progress and fit, and the worker
and the two plots belong to this tab alone (the Qt-free part is dpf_gui.session.training).

Thin over the core: the labels are :meth:`Workspace.labels` (what the
Annotate view stored), training and loading go through the front door of
:mod:`dpf_gui.intent.registry` (what ``dpf train-intent`` calls), for either
kind of intent model:

* **additive** (default; :mod:`dpf_gui.intent.additive`): an ensemble built
  to learn from the 10-30 marks a person gives. It has no epochs: the
  progress bar counts its optimisation steps, and its held-out fit is
  out-of-bag (each labelled trajectory predicted by the members that never
  saw it);
* **LSTM** (:mod:`dpf_gui.intent.train`): the paper's model, with a held-out
  split, a loss curve per epoch and early stopping.

The view adds what a person needs around them: the settings of the chosen
kind with interactive defaults, a progress bar, Cancel, the held-out fit with
a verdict (only with enough held-out trajectories to mean something), where
the checkpoint went, and, when the labels cannot teach the wish (training
refused, a region no labelled trajectory enters), plain words about why.

A trained (or loaded) model is put to use with :meth:`Workspace.set_intent`
(an :class:`~dpf_gui.agents.intent_agent.IntentAgent`); the Annotate timeline
and suggestions, Play and Compare follow the workspace and pick it up. The
last model of a dataset is remembered in the label store
(:mod:`dpf_gui.session.intent_memory`) and comes back when the dataset is
opened again. What has no Qt in it (the labels to train on, the configs the
form describes, the verdict on a fit) is :mod:`dpf_gui.session.training`.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.agents.intent_agent import IntentAgent
from dpf_gui.app.plots import INTENT, TASK, PlotText, setup_plot
from dpf_gui.checkpoints import SIDECAR_FILE
from dpf_gui.errors import UserError
from dpf_gui.palette import ADVICE_COLOUR, WARNING_COLOUR
from dpf_gui.session.intent_memory import remember
from dpf_gui.session.training import (
    ADDITIVE_DEFAULTS,
    DEFAULTS,
    KIND_CHOICES,
    additive_config,
    best_epoch_words,
    check_writable,
    checkpoint_dir,
    config_kind,
    fit_points,
    fit_verdict,
    interactive_config,
    labels_for_training,
    lopsided_note,
    refusal_notes,
    unreached_note,
    wish_note_kinds,
)

#: the additive kind polls ``should_stop`` once per optimisation step; progress is reported every this many
PROGRESS_EVERY = 25


def _form(rows) -> QFormLayout:
    """A margin-less form of (label, widget) rows: one kind's settings."""
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    for label, widget in rows:
        form.addRow(label, widget)
    return form

class TrainWorker(QThread):
    """Runs :func:`~dpf_gui.intent.registry.train_intent` off the UI thread; reports through queued signals."""

    epochDone = Signal(int, float, float)  # epoch (1-based), train loss, held-out loss (LSTM)
    stepDone = Signal(int)  # optimisation steps so far (additive)
    succeeded = Signal(object, object)  # IntentResult, {"val": (pred, given), "train": (pred, given)}
    failed = Signal(str, bool)  # message, is a user mistake (UserError)

    def __init__(self, dataset, labels, seed: int, out_dir: Path, config, parent=None):
        super().__init__(parent)
        self.dataset, self.labels, self.seed, self.out_dir, self.config = dataset, labels, seed, out_dir, config
        self._stop = threading.Event()
        self._polls = 0

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def _should_stop(self) -> bool:
        """Polled once per optimisation step by the additive kind: counting the polls gives its progress."""
        self._polls += 1
        if self._polls % PROGRESS_EVERY == 0:
            self.stepDone.emit(self._polls)
        return self._stop.is_set()

    def run(self) -> None:
        from dpf_gui.intent.registry import train_intent

        additive = config_kind(self.config) == "additive"
        try:
            result = train_intent(self.dataset, self.labels, self.seed, out_dir=self.out_dir, config=self.config,
                                  progress=False,
                                  on_epoch=lambda e, a, b: self.epochDone.emit(int(e), float(a), float(b)),
                                  should_stop=self._should_stop if additive else self._stop.is_set)
            scatter = {} if self._stop.is_set() else fit_points(result, self.dataset, self.labels)
            self.succeeded.emit(result, scatter)
        except UserError as exc:
            self.failed.emit(str(exc), True)
        except Exception as exc:  # noqa: BLE001 (a bug: say it, keep the app)
            traceback.print_exc()
            self.failed.emit(f"{exc.__class__.__name__}: {exc}", False)


def short_path(path, most: int = 40) -> str:
    """A checkpoint folder for a line of text: its last parts, shortened in front with "…" (a long path is one
    word and cannot wrap; the whole path is in the tooltip and in the Train tab's intent line's tooltip)."""
    text = str(path)
    return text if len(text) <= most else "…" + text[-(most - 1):]


class LossPlot(PlotText, pg.PlotWidget):
    """Train and held-out loss per epoch (log y), from fixed numpy buffers set with ``setData``."""

    def __init__(self, capacity: int = 1000, parent=None):
        super().__init__(parent=parent)
        item = setup_plot(self, "lossPlot")
        item.setLogMode(y=True)
        item.enableAutoRange(enable=True)
        self.capacity = int(capacity)
        self.epochs = np.zeros(self.capacity)
        self.losses = {"train": np.zeros(self.capacity), "held-out": np.zeros(self.capacity)}
        self.n = 0
        self.curves = {name: item.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=4,
                                       symbolBrush=colour, symbolPen=None)
                       for name, colour in (("train", TASK), ("held-out", INTENT))}
        self.best_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.DashLine))
        self.best_line.setVisible(False)
        item.addItem(self.best_line)
        self._init_text("loss per epoch", [("train", TASK), ("held-out", INTENT)], "epoch", "loss (log scale)")
        self.setMinimumHeight(160)

    def clear_data(self) -> None:
        self.n = 0
        self.best_line.setVisible(False)
        for c in self.curves.values():
            c.setData([], [])

    def push(self, epoch: int, train: float, held_out: float) -> None:
        if self.n >= self.capacity:
            return
        self.epochs[self.n] = epoch
        self.losses["train"][self.n] = max(train, 1e-12)
        self.losses["held-out"][self.n] = max(held_out, 1e-12)
        self.n += 1
        for name, c in self.curves.items():
            c.setData(self.epochs[: self.n], self.losses[name][: self.n])

    def mark_best(self, epoch: int | None) -> None:
        if epoch:
            self.best_line.setValue(epoch)
            self.best_line.setVisible(True)

    def count(self) -> int:
        return self.n


#: over the fit plot while it has no dots: what it will show, and what brings it
FIT_EMPTY_NOTE = ("empty: no intent model yet. Train one (or load one) to see its predicted score of each labelled "
                  "trajectory against the score it was given")
#: the same while a model is in use whose predictions are not at hand (loaded, or training was cancelled): a folder
#: stores only its fit's summary, so "no intent model yet" would contradict the table and "In use" beside it
FIT_IN_USE_NOTE = ("the intent model in use stores only a summary of its fit (the table on the left), not its "
                   "prediction for each labelled trajectory: train one here to see them")
#: a model trained on comparisons (rankings): no trajectory was given a score to set its prediction against
FIT_COMPARED_NOTE = ("trained on comparisons (rankings): no trajectory was given a score to plot its prediction "
                     "against; the table on the left says how many comparisons its predictions order as given")
#: the same while a model trains
FIT_TRAINING_NOTE = "training: its predicted score of each labelled trajectory appears here when it is done"


class FitPlot(PlotText, pg.PlotWidget):
    """Predicted against given score per trajectory: held-out (orange) and training (blue) dots."""

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        item = setup_plot(self, "fitPlot")
        item.enableAutoRange(enable=True)
        self.diag = item.plot(pen=pg.mkPen((150, 150, 150), style=Qt.DashLine))
        self.dots = {name: pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*colour, 150))
                     for name, colour in (("train", TASK), ("val", INTENT))}
        for d in self.dots.values():
            item.addItem(d)
        self._init_text("predicted vs given score", [("held-out", INTENT), ("train", TASK)], "given score",
                        "predicted score")
        self.setMinimumHeight(160)
        self.clear_data()

    def clear_data(self, note: str = FIT_EMPTY_NOTE) -> None:
        """No dots; ``note`` says why (no model, one without its predictions at hand, one training)."""
        for d in self.dots.values():
            d.setData([], [])
        self.diag.setData([], [])
        self.set_note(note)

    def set_points(self, scatter: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        lo, hi = np.inf, -np.inf
        for name, d in self.dots.items():
            pred, given = scatter.get(name, (np.zeros(0), np.zeros(0)))
            d.setData(given, pred)
            if len(given):
                lo, hi = min(lo, given.min(), pred.min()), max(hi, given.max(), pred.max())
        self.diag.setData([lo, hi] if np.isfinite(lo) else [], [lo, hi] if np.isfinite(lo) else [])
        self.set_note(None if np.isfinite(lo) else FIT_EMPTY_NOTE)


def _fmt(v, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{100 * v:.0f}%" if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))


class TrainView(QWidget):
    """The Train tab. ``set_workspace(ws)``; :meth:`train` / :meth:`cancel` / :meth:`load_intent_dir`."""

    trainingFinished = Signal(bool, str)  # ok, message ("" when ok)
    statusMessage = Signal(str)
    errorOccurred = Signal(str, str)  # title, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("trainView")
        self.ws = None
        self._unsubscribe = None  # from the workspace's changes
        self.worker: TrainWorker | None = None
        self.result = None  # the last IntentResult made here
        self.last_error: str | None = None
        self._t0 = 0.0
        self._out_dir: Path | None = None
        self._out_is_new = False
        self._retiring: dict = {}  # runs on data no longer open, ending in the background -> their clean-up
        self._cfg = None
        self._labels = None  # what the run in progress learns from
        self._build()
        self._set_busy(False)

    # --- construction ------------------------------------------------------------
    def _build(self) -> None:
        def spin(name: str, lo: int, hi: int, value: int, tip: str, suffix: str = "", special: str = "") -> QSpinBox:
            s = QSpinBox(self)
            s.setObjectName(name)
            s.setRange(lo, hi)
            s.setValue(value)
            s.setToolTip(tip)
            if suffix:
                s.setSuffix(suffix)
            if special:
                s.setSpecialValueText(special)
            return s

        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("intentKindCombo")
        for kind, text in KIND_CHOICES:
            self.kind_combo.addItem(text, kind)
        self.kind_combo.setToolTip("additive: an ensemble that learns where the wish is from few marks (10-30), with "
                                   "an out-of-bag held-out fit · LSTM: the paper's model, reads whole trajectories, "
                                   "needs many more labels")
        self.seed_spin = spin("trainSeedSpin", 0, 2**31 - 1, DEFAULTS["seed"],
                              "seed of the initial weights and of the held-out split (additive: of the members' "
                              "resamples): same marks, same seed, same model")
        a = ADDITIVE_DEFAULTS
        self.members_spin = spin("membersSpin", 2, 64, a["members"],
                                 "ensemble members, each trained on a resample of the labelled trajectories; their "
                                 "disagreement is the model's doubt (fusion listens less where they disagree)")
        self.additive_hidden_spin = spin("additiveHiddenSpin", 8, 256, a["hidden"], "width of the members' networks")
        self.utility_spin = spin("utilityStepsSpin", 10, 100_000, a["utility_steps"],
                                 "optimisation steps fitting what a step is worth (the marks' stage)")
        self.value_spin = spin("valueStepsSpin", 1, 1_000_000, a["value_steps"],
                               "optimisation steps turning that into the value of each action (looks ahead "
                               "'horizon' decisions; uses every stored transition, labelled or not)")
        self.utility_spin.setSingleStep(50)
        self.value_spin.setSingleStep(500)
        self.horizon_spin = spin("horizonSpin", 1, 1000, a["horizon"],
                                 "decisions the intent value looks ahead (a detour around an avoided region needs "
                                 "a few)")
        self.time_cost_spin = QDoubleSpinBox(self)
        self.time_cost_spin.setObjectName("timeCostSpin")
        self.time_cost_spin.setRange(0.0, 5.0)
        self.time_cost_spin.setSingleStep(0.1)
        self.time_cost_spin.setValue(a["time_cost"])
        self.time_cost_spin.setSpecialValueText("off")
        self.time_cost_spin.setToolTip("a cost per decision, in a sure step's worth, until the task is done: where "
                                       "the marks say 'avoid', going round the region is then worth more than "
                                       "stepping back and forth at its edge (0.5: chosen on gridnav's dev split; "
                                       "off by default: docs/EXPERIMENTS.md section 80)")
        self.epochs_spin = spin("epochsSpin", 1, 1000, DEFAULTS["max_epochs"],
                                "at most this many passes over the labelled trajectories (training stops earlier "
                                "when the held-out loss stops improving)")
        self.hidden_spin = spin("hiddenSpin", 8, 256, DEFAULTS["hidden"], "LSTM hidden size (and state encoder width)")
        self.time_spin = spin("timeLimitSpin", 0, 3600, DEFAULTS["max_time_s"],
                              "stop after this many seconds, keeping the best weights (0: no limit)", " s", "no limit")
        self.subsample_spin = spin("subsampleSpin", 0, 100000, DEFAULTS["max_train_per_epoch"],
                                   "train on at most this many trajectories per epoch, drawn afresh each epoch "
                                   "(0: all of them)", "", "all")
        self.subsample_spin.setSingleStep(100)
        additive_form = _form([("members", self.members_spin), ("hidden size", self.additive_hidden_spin),
                                ("utility steps", self.utility_spin), ("value steps", self.value_spin),
                                ("horizon", self.horizon_spin), ("time cost", self.time_cost_spin)])
        lstm_form = _form([("max epochs", self.epochs_spin), ("hidden size", self.hidden_spin),
                           ("time limit", self.time_spin), ("trajectories / epoch", self.subsample_spin)])
        self.forms = QStackedWidget(self)
        self.forms.setObjectName("trainKindForms")
        for form, name in ((additive_form, "additiveSettings"), (lstm_form, "lstmSettings")):
            page = QWidget(self.forms)
            page.setObjectName(name)
            page.setLayout(form)
            self.forms.addWidget(page)
        form = QFormLayout()
        form.addRow("kind", self.kind_combo)
        form.addRow("seed", self.seed_spin)
        settings = QGroupBox("Settings", self)
        settings.setObjectName("trainSettings")
        box = QVBoxLayout(settings)
        box.addLayout(form)
        box.addWidget(self.forms)

        self.labels_label = QLabel("", self)
        self.labels_label.setObjectName("labelSummary")
        self.labels_label.setWordWrap(True)
        self.labels_label.setTextFormat(Qt.TextFormat.RichText)
        self.train_button = QPushButton("Train intent model", self)
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("learn the wish from the marks of the Annotate tab (in the background)")
        self.train_button.setStyleSheet("QPushButton { font-weight: bold; }")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelTrainButton")
        self.cancel_button.setToolTip("stop training and keep the intent model in use before")
        self.load_button = QPushButton("Load intent model…", self)
        self.load_button.setObjectName("loadIntentButton")
        self.load_button.setToolTip("use an intent model trained before (dpf train-intent or this tab)")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status = QLabel("", self)
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fit_label = QLabel("No intent model yet.", self)
        self.fit_label.setObjectName("fitLabel")
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextFormat(Qt.RichText)
        self.fit_table = QTableWidget(2, 5, self)
        self.fit_table.setObjectName("fitTable")
        self.fit_table.setHorizontalHeaderLabels(["n", "corr.", "sign", "pairs", "RMSE"])
        for col, tip in enumerate(("labelled trajectories", "correlation of predicted and given scores",
                                   "sign accuracy (trajectories with a non-zero score)",
                                   "pair accuracy: pairs of trajectories with different scores ordered as given",
                                   "root mean square error, score units")):
            self.fit_table.horizontalHeaderItem(col).setToolTip(tip)
        self.fit_table.setVerticalHeaderLabels(["held-out", "train"])
        self.fit_table.verticalHeaderItem(0).setToolTip("LSTM: trajectories held out of training · additive: "
                                                        "out-of-bag, each trajectory predicted by the members that "
                                                        "never saw it")
        self.fit_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.fit_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # two rows, never a scroll bar: the height follows the font (presentation mode's larger text made the rows
        # scroll, and the scroll bar cut the RMSE column to "1.7...")
        self.fit_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.fit_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_table_height()
        self.fit_table.setToolTip("correlation of predicted and given scores; sign accuracy on non-zero scores; "
                                  "pair accuracy: pairs of trajectories ordered as given")
        self.intent_label = QLabel("", self)
        self.intent_label.setObjectName("intentInfo")
        self.intent_label.setWordWrap(True)
        self.intent_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intent_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        load_row = QHBoxLayout()  # a row of its own: the three buttons do not fit one row in large text
        load_row.addWidget(self.load_button)
        load_row.addStretch(1)

        left = QVBoxLayout()
        left.addWidget(self.labels_label)
        left.addWidget(settings)
        left.addLayout(buttons)
        left.addLayout(load_row)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(QLabel("<b>Held-out fit</b>", self))
        left.addWidget(self.fit_label)
        left.addWidget(self.fit_table)
        left.addWidget(self.intent_label)
        left.addStretch(1)
        left_body = QWidget(self)
        left_body.setLayout(left)
        # in a scroll area: large text (presentation mode) or a low window scrolls instead of squashing the form
        left_w = QScrollArea(self)
        left_w.setObjectName("trainLeftScroll")
        left_w.setWidget(left_body)
        left_w.setWidgetResizable(True)
        left_w.setFrameShape(QFrame.Shape.NoFrame)
        left_w.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_w.setMaximumWidth(500)
        left_w.setMinimumWidth(390)

        self.loss_plot = LossPlot(parent=self)
        self.fit_plot = FitPlot(self)
        # Tab goes through the controls only: the scroll area and the plots took Tab stops for nothing (the scroll
        # area still scrolls the control Tab reaches into view)
        for w in (left_w, self.loss_plot, self.fit_plot):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        right = QVBoxLayout()
        right.addWidget(self.loss_plot, 3)
        right.addWidget(self.fit_plot, 2)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(left_w)
        lay.addLayout(right, 1)

        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.train_button.clicked.connect(lambda: self.train())
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button.clicked.connect(self._ask_load)
        self._on_kind()

    # --- workspace -----------------------------------------------------------------
    def set_workspace(self, ws) -> None:
        """Show ``ws``'s labels and intent model; a model remembered for this dataset comes back."""
        stopped = None
        if self.worker is not None:  # training on the old data: its result no longer applies
            stopped = (f"Training on {self.ws.env_name} ({self.ws.dataset_path.name}) stopped when other data was "
                       "opened; its marks are kept: train again there to use them.") if self.ws is not None else None
            self._discard_worker()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.ws = ws
        self._unsubscribe = ws.on_change(self._on_change) if ws is not None else None
        self.result = None
        self.loss_plot.clear_data()
        self._clear_fit_plot()
        self._idle_progress()
        self.status.setText(stopped or "")
        if ws is not None and ws.intent is not None:
            self._show_curve(ws.intent.sidecar)
        self._set_busy(False)
        if self.isVisible():  # else showEvent does it: 28 ms of a Pong switch went to lines nobody saw
            self.refresh_labels()
        else:
            self.labels_label.clear()
        self._show_intent()
        if stopped:
            self.statusMessage.emit(stopped)

    def _on_change(self, change) -> None:
        if change.what == "intent":
            self._show_intent()
        elif change.what == "labels" and self.isVisible():  # (imported or marked with this tab shown)
            self.refresh_labels()

    def refresh_labels(self) -> None:
        """Update the lines saying what there is to learn from (cheap: the store's summary)."""
        ws = self.ws
        if ws is None:
            self.labels_label.setText("Nothing is open.")
            return
        from dpf_gui.data.study import RANKED, SIMULATED, UNLABELLED

        try:
            states, scores = ws.summary()
        except UserError as exc:
            self.labels_label.setText(escape(str(exc)))
            return
        labelled = states != UNLABELLED
        n = int(labelled.sum())
        sim, ranked = int((states == SIMULATED).sum()), int((states == RANKED).sum())
        mine = n - sim - ranked
        text = f"Marks in this data: <b>{n}</b> of {len(ws)} trajectories labelled"
        if n:
            parts = [f"{mine} by you" if mine else "", f"{sim} by a simulated user" if sim else "",
                     f"{ranked} only ranked" if ranked else ""]
            text += " (all by you)" if mine == n else f" ({', '.join(p for p in parts if p)})"
            s = scores[labelled]
            s = s[np.isfinite(s)]
            if len(s):
                text += f"; scores {s.min():g} .. {s.max():g}"
        text += "." if n >= 4 else ". Mark at least 4 (some better, some worse) in the Annotate tab."
        with contextlib.suppress(UserError):
            rankings = ws.store.rankings(ws.fingerprint, count=len(ws))
            if rankings:
                text += (f" <b>{len(rankings)}</b> ranking{'s' if len(rankings) > 1 else ''} (key R): the model "
                         "learns from comparisons, every pair within a ranking and the pairs your marks make (a "
                         "preferred trajectory better than a neutral one, better than an avoided one).")
        warnings, advice = [], []
        with contextlib.suppress(UserError):
            if n:
                labels = labels_for_training(ws)
                warnings, advice, _thin = wish_note_kinds(ws, labels)
                warnings = [note for note in (lopsided_note(labels), unreached_note(ws.dataset, labels, self.config()))
                            if note] + warnings
        for colour, notes in ((WARNING_COLOUR, warnings), (ADVICE_COLOUR, advice)):  # as the wish dialogs
            for note in notes:
                text += f"<br><span style='color:{colour}'>{escape(note)}</span>"
        self.labels_label.setText(text)

    # --- training ------------------------------------------------------------------
    def kind(self) -> str:
        """The kind the next training makes: "additive" or "lstm"."""
        return self.kind_combo.currentData()

    def config(self):
        """The config the form describes (:class:`AdditiveConfig` or :class:`IntentConfig`)."""
        if self.kind() == "additive":
            return additive_config(self.members_spin.value(), self.additive_hidden_spin.value(),
                                   self.utility_spin.value(), self.value_spin.value(), self.horizon_spin.value(),
                                   self.time_cost_spin.value())
        return interactive_config(self.epochs_spin.value(), self.hidden_spin.value(), self.time_spin.value(),
                                  self.subsample_spin.value())

    def set_config(self, kind: str | None = None, seed: int | None = None, hidden: int | None = None,
                   max_epochs: int | None = None, max_time_s: int | None = None,
                   max_train_per_epoch: int | None = None, members: int | None = None,
                   utility_steps: int | None = None, value_steps: int | None = None,
                   horizon: int | None = None, time_cost: float | None = None) -> None:
        """Fill in the form (for scripts and the demo); ``hidden`` goes to the form of the kind chosen."""
        if kind is not None:
            i = self.kind_combo.findData(kind)
            if i < 0:
                raise UserError(f"unknown intent kind {kind!r}; allowed: {', '.join(k for k, _ in KIND_CHOICES)}")
            self.kind_combo.setCurrentIndex(i)
        hidden_spin = self.additive_hidden_spin if self.kind() == "additive" else self.hidden_spin
        for spin, v in ((self.seed_spin, seed), (hidden_spin, hidden), (self.epochs_spin, max_epochs),
                        (self.time_spin, max_time_s), (self.subsample_spin, max_train_per_epoch),
                        (self.members_spin, members), (self.utility_spin, utility_steps),
                        (self.value_spin, value_steps), (self.horizon_spin, horizon)):
            if v is not None:
                spin.setValue(int(v))
        if time_cost is not None:
            self.time_cost_spin.setValue(float(time_cost))

    def _on_kind(self, *_) -> None:
        self.forms.setCurrentIndex(0 if self.kind() == "additive" else 1)
        self._show_plots()
        self.refresh_labels()  # what the kind does in places no labelled trajectory reaches

    def is_training(self) -> bool:
        return self.worker is not None

    def train(self, config=None, out_dir: str | Path | None = None) -> bool:
        """Start training on the current marks in the background; False (and a message) if it cannot start.

        ``config``: an AdditiveConfig or IntentConfig (default: the form's); ``out_dir``: where the
        checkpoint goes (default: ``<study folder>/intent/<env>-<time>``).
        """
        ws = self.ws
        if ws is None or self.worker is not None:
            return False
        try:
            labels = labels_for_training(ws)
            cfg = config or self.config()
        except UserError as exc:
            self._fail(str(exc), True)
            return False
        out_dir = out_dir if out_dir is not None else checkpoint_dir(ws)
        try:
            check_writable(out_dir)
        except UserError as exc:
            self._fail(str(exc), True)
            return False
        self._out_dir = Path(out_dir)
        self._out_is_new = not self._out_dir.exists()
        self._cfg = cfg
        self._labels = labels
        self.result = None
        self.last_error = None
        self.loss_plot.clear_data()
        self.fit_plot.clear_data(FIT_TRAINING_NOTE)
        kind = config_kind(cfg)
        if kind == "additive":
            self.progress.setRange(0, cfg.utility_steps + cfg.value_steps)
            self.progress.setFormat("step %v of %m")
            what = f"the additive ensemble ({cfg.members} members)"
        else:
            self.progress.setRange(0, cfg.max_epochs)
            self.progress.setFormat("epoch %v of %m")
            what = "the LSTM"
        self.progress.setValue(0)
        self._show_plots(kind)
        self.status.setText(f"training {what} on {labels.count} labelled trajectories…")
        self._t0 = time.perf_counter()
        worker = TrainWorker(ws.dataset, labels, self.seed_spin.value(), self._out_dir, cfg, self)
        worker.epochDone.connect(self._on_epoch)
        worker.stepDone.connect(self._on_step)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(worker.deleteLater)
        self.worker = worker
        self._set_busy(True)
        worker.start()
        return True

    def cancel(self) -> None:
        """Stop training (between batches); the intent model in use stays."""
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("cancelling…")
            self.cancel_button.setEnabled(False)

    def _on_epoch(self, epoch: int, train: float, held_out: float) -> None:
        if self.sender() is not self.worker:
            return
        self.progress.setValue(min(epoch, self.progress.maximum()))
        self.loss_plot.push(epoch, train, held_out)
        self.status.setText(f"epoch {epoch}: train loss {train:.4f}, held-out loss {held_out:.4f} "
                            f"({time.perf_counter() - self._t0:.0f} s)")

    def _on_step(self, steps: int) -> None:
        if self.sender() is not self.worker or self.worker.cancelled:
            return
        cfg = self._cfg
        self.progress.setValue(min(steps, self.progress.maximum()))
        stage = "what each step is worth" if steps <= cfg.utility_steps else "the value of each action"
        self.status.setText(f"training the additive ensemble: {stage} "
                            f"({time.perf_counter() - self._t0:.0f} s)")

    def _on_succeeded(self, result, scatter) -> None:
        worker = self.sender()
        if worker is not self.worker:
            return
        self.worker = None
        self._set_busy(False)
        if worker.cancelled or result.interrupted:
            self._remove_partial()
            self._idle_progress()
            self._clear_fit_plot()
            self.status.setText("cancelled; the intent model in use is unchanged")
            self._show_plots()
            self.trainingFinished.emit(False, "cancelled")
            return
        self.result = result
        if result.sidecar.get("objective") == "pairs":
            self.fit_plot.clear_data(FIT_COMPARED_NOTE)
        else:
            self.fit_plot.set_points(scatter)
        if config_kind(self._cfg) == "additive":
            self.progress.setValue(self.progress.maximum())
            self.status.setText(f"done: {result.sidecar.get('steps', '?')} steps in {result.wall_time_s:.1f} s; "
                                f"saved to {short_path(result.out_dir)}")
        else:
            self.loss_plot.mark_best(result.best_epoch)
            self.progress.setValue(min(result.epochs, self.progress.maximum()))
            early = result.metrics.get("stopped_early")
            why = f"stopped early ({early})" if early else "done"
            self.status.setText(f"{why}: {result.epochs} of {self._cfg.max_epochs} epochs in "
                                f"{result.wall_time_s:.1f} s, {best_epoch_words(result.best_epoch)}; saved to "
                                f"{short_path(result.out_dir)}")
        self.refresh_labels()
        self._use(IntentAgent(result.model, result.sidecar, result.out_dir))
        self.statusMessage.emit(f"intent model trained ({result.wall_time_s:.0f} s): Play and Compare use it now")
        self.trainingFinished.emit(True, "")

    def _on_failed(self, message: str, user_error: bool) -> None:
        worker = self.sender()
        if worker is not self.worker:
            return
        self.worker = None
        self._set_busy(False)
        self._remove_partial()
        self._idle_progress()
        self._clear_fit_plot()
        self._show_plots()
        if user_error and self.ws is not None and self._labels is not None:
            message += refusal_notes(self.ws, self._labels)
        self._fail(message, user_error)

    def _fail(self, message: str, user_error: bool) -> None:
        text = message if user_error else f"Unexpected error: {message}"
        self.last_error = text
        self.status.setText(text)
        self.errorOccurred.emit("Cannot train the intent model", text)
        self.trainingFinished.emit(False, text)

    def _discard_worker(self) -> None:
        """Stop the run without waiting for it: the UI goes on at once, and the run's partial checkpoint is removed
        when its thread ends (cancel is checked between optimisation steps, so that is soon)."""
        w, self.worker = self.worker, None
        w.cancel()
        try:
            w.succeeded.disconnect()
            w.failed.disconnect()
            w.epochDone.disconnect()
            w.stepDone.disconnect()
        except (RuntimeError, TypeError):
            pass
        out_dir, is_new = self._out_dir, self._out_is_new

        def ended() -> None:
            if self._retiring.pop(w, None) is not None and is_new:
                _remove_checkpoint(out_dir)

        self._retiring[w] = ended
        w.finished.connect(ended)
        if w.isFinished():  # it ended before the connection, so its finished signal is gone
            ended()

    def _remove_partial(self) -> None:
        """A cancelled or failed run leaves nothing behind (only in a folder this run created)."""
        if self._out_is_new:
            _remove_checkpoint(self._out_dir)

    def _use(self, agent: IntentAgent) -> None:
        """Put ``agent`` to use (every view follows the workspace) and remember it for this data."""
        ws = self.ws
        try:
            ws.set_intent(agent)
        except Exception as exc:  # noqa: BLE001 (a view could not show it: say so; the model is in use all the same)
            if not isinstance(exc, UserError):
                traceback.print_exc()
            self.errorOccurred.emit("The intent model could not be shown",
                                    str(exc) if isinstance(exc, UserError) else f"{exc.__class__.__name__}: {exc}")
        try:
            remember(ws)
        except Exception as exc:  # noqa: BLE001 (remembering is a convenience; say why it failed, keep the model)
            self.statusMessage.emit(f"could not remember the intent model: {exc}")

    # --- loading ---------------------------------------------------------------------
    def _ask_load(self) -> None:
        start = str(Path(self.ws.store.path).parent / "intent") if self.ws is not None else ""
        d = QFileDialog.getExistingDirectory(self, "Intent model folder (model.json + weights.safetensors)", start)
        if d:
            self.load_intent_dir(d)

    def load_intent_dir(self, directory: str | Path) -> bool:
        """Use the intent model in ``directory``; a model of another environment is refused with a message."""
        ws = self.ws
        if ws is None:
            return False
        if self.worker is not None:
            self._fail("training is running: cancel it first", True)
            return False
        try:
            agent = ws.open_intent(directory)
        except UserError as exc:
            self.last_error = str(exc)
            self.errorOccurred.emit("Cannot load the intent model", str(exc))
            return False
        self.result = None
        self._show_curve(agent.sidecar)
        self.fit_plot.clear_data(FIT_IN_USE_NOTE)
        self.status.setText(f"loaded {short_path(directory)}")
        self.status.setToolTip(str(directory))
        self._use(agent)
        self.statusMessage.emit(f"intent model loaded from {directory}")
        return True

    # --- display -----------------------------------------------------------------------
    def _clear_fit_plot(self) -> None:
        """No dots, and a note true to whether a model is in use (its predictions are not kept with it)."""
        in_use = self.ws is not None and self.ws.intent is not None
        self.fit_plot.clear_data(FIT_IN_USE_NOTE if in_use else FIT_EMPTY_NOTE)

    def _idle_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")

    def _show_plots(self, kind: str | None = None) -> None:
        """The loss plot is the LSTM's (the additive kind has no epochs): shown for an LSTM being trained, in
        use, or chosen."""
        ws = self.ws
        in_use = ws.intent.kind if ws is not None and ws.intent is not None else None
        show = kind == "lstm" if kind is not None else "lstm" in (in_use, self.kind())
        self.loss_plot.setVisible(show)

    def _show_curve(self, sidecar: dict[str, Any]) -> None:
        """The training curve a checkpoint recorded (none if its record is damaged: it is only a record)."""
        self.loss_plot.clear_data()
        try:
            for row in sidecar.get("training_curve") or []:
                self.loss_plot.push(int(row["epoch"]), float(row["train_loss"]), float(row["val_loss"]))
            self.loss_plot.mark_best((sidecar.get("metrics") or {}).get("best_epoch"))
        except (AttributeError, KeyError, TypeError, ValueError):
            self.loss_plot.clear_data()

    def _show_sidecar_fit(self, sidecar: dict[str, Any]) -> None:
        metrics = sidecar.get("metrics") or {}
        self._show_fit(metrics.get("held_out") or {}, metrics.get("train") or {}, sidecar.get("intent_kind", "lstm"))

    def _show_fit(self, held: dict[str, Any], train: dict[str, Any], kind: str = "lstm") -> None:
        if not held:
            self.fit_label.setText("No held-out fit recorded.")
        elif held.get("pref_acc") is not None or ("pref_acc" in held and held.get("corr") is None):
            self.fit_label.setText(f"comparisons ordered as given <b>{_fmt(held.get('pref_acc'), pct=True)}</b>"
                                   f" · n = {held.get('n', '–')}"
                                   + ("<br><small>held-out: out-of-bag (each trajectory predicted by the members "
                                      "that never saw it)</small>" if kind == "additive" else ""))
        else:
            corr, sign = held.get("corr"), held.get("sign_acc")
            self.fit_label.setText(f"correlation <b>{_fmt(corr)}</b> · sign accuracy <b>{_fmt(sign, pct=True)}</b>"
                                   f" · n = {held.get('n', '–')}{fit_verdict(held)}"
                                   + ("<br><small>held-out: out-of-bag (each trajectory predicted by the members "
                                      "that never saw it)</small>" if kind == "additive" else ""))
        for row, m in enumerate((held, train)):
            for col, (key, pct) in enumerate((("n", False), ("corr", False), ("sign_acc", True),
                                              ("pair_acc", True), ("rmse", False))):
                value = m.get("pref_acc") if key == "pair_acc" and m.get(key) is None else m.get(key)
                item = QTableWidgetItem(_fmt(value, pct) if m else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.fit_table.setItem(row, col, item)

    def _fit_table_height(self) -> None:
        table = self.fit_table
        table.setFixedHeight(table.verticalHeader().length() + table.horizontalHeader().sizeHint().height() + 6)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            QTimer.singleShot(0, self._fit_table_height)  # after the table's rows have the new font

    def _show_intent(self) -> None:
        ws = self.ws
        self._show_plots()
        if ws is None or ws.intent is None:
            self.intent_label.setText("No intent model in use: Play offers only the task strategy.")
            self.fit_label.setText("No intent model yet.")
            for r in range(2):
                for c in range(5):
                    self.fit_table.setItem(r, c, QTableWidgetItem(""))
            return
        sc, directory = ws.intent.sidecar, ws.intent.directory
        lab = sc.get("labels") if isinstance(sc.get("labels"), dict) else {}
        wish = lab.get("wish") if isinstance(lab.get("wish"), dict) else {}
        wish_text = "; ".join([*(f"prefer {w}" for w in _strings(wish.get("prefer"))),
                               *(f"avoid {w}" for w in _strings(wish.get("avoid")))]) or "not recorded (marks by hand)"
        when = ""
        with contextlib.suppress(OSError, TypeError):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(Path(directory, SIDECAR_FILE).stat().st_mtime))
        arch = sc.get("architecture") if isinstance(sc.get("architecture"), dict) else {}
        kind_name = ws.intent.kind
        kind = f"additive ensemble of {arch.get('members', '?')}" if kind_name == "additive" else "LSTM"
        self.intent_label.setText(
            f"<b>In use:</b> {escape(short_path(directory))}<br>{kind} · {when} · trained on {lab.get('count', '?')} "
            f"labelled trajectories ({escape(str(lab.get('source') or 'unknown source'))}) · wish: "
            f"{escape(wish_text)}")
        self.intent_label.setToolTip(str(directory))
        if self.result is not None:
            self._show_fit(self.result.metrics.get("held_out") or {}, self.result.metrics.get("train") or {}, kind_name)
        else:
            try:
                self._show_sidecar_fit(sc)
            except (AttributeError, KeyError, TypeError, ValueError):
                self._show_fit({}, {})  # a damaged record of the fit: the model itself was checked on loading

    def _set_busy(self, busy: bool) -> None:
        has_ws = self.ws is not None
        self.train_button.setEnabled(has_ws and not busy)
        self.load_button.setEnabled(has_ws and not busy)
        self.cancel_button.setEnabled(busy)
        for s in (self.kind_combo, self.seed_spin, self.members_spin, self.additive_hidden_spin, self.utility_spin,
                  self.value_spin, self.horizon_spin, self.time_cost_spin, self.epochs_spin, self.hidden_spin,
                  self.time_spin, self.subsample_spin):
            s.setEnabled(not busy)

    def showEvent(self, event) -> None:
        self.refresh_labels()  # marks may have changed in the Annotate tab
        super().showEvent(event)

    def shutdown(self) -> None:
        """Stop a training run (its partial checkpoint is removed) and wait for every thread still ending."""
        if self.worker is not None:
            self._discard_worker()
        for w, ended in list(self._retiring.items()):
            with contextlib.suppress(RuntimeError):  # already deleted: it had ended
                w.wait(30000)
            ended()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _strings(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _remove_checkpoint(directory: Path | None) -> None:
    """Remove a checkpoint folder this view created (a cancelled or failed run)."""
    import shutil

    if directory is not None and Path(directory).is_dir():
        shutil.rmtree(directory, ignore_errors=True)


__all__ = ["FitPlot", "LossPlot", "TrainView", "TrainWorker"]

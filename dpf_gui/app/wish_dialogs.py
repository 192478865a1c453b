"""Writing a wish down in the Annotate view: the wish fields (region expressions checked as they are typed,
with the data's coverage of each region), the simulated-user dialog that labels with a wish and noise, and
the My wish dialog."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dpf_gui.app.button_box import ok_cancel
from dpf_gui.data.study import UNLABELLED
from dpf_gui.errors import UserError
from dpf_gui.palette import ADVICE_COLOUR, WARNING_COLOUR


class WishFields(QWidget):
    """A wish in region expressions (a preset and/or prefer / avoid), checked as it is typed, with its coverage:
    how many stored (and labelled) trajectories enter each region, so a wish the data cannot show is said
    before anyone labels. Object names start with ``prefix`` (``simPreferEdit``, ``myWishCoverageLabel``)."""

    changed = Signal()

    def __init__(self, parent, ws, prefix: str, preset: str = "", prefer=(), avoid=()):
        super().__init__(parent)
        self.ws = ws
        self._labelled = ws.summary()[0] != UNLABELLED
        spec = ws.spec
        self.preset = QComboBox(self)
        self.preset.setObjectName(f"{prefix}PresetCombo")
        self.preset.addItem("(none)", "")
        for p in spec.presets:
            self.preset.addItem(f"{p.name}: {p.description}", p.name)
        self.preset.setCurrentIndex(max(self.preset.findData(preset), 0))
        self.prefer = QLineEdit("; ".join(prefer), self)
        self.prefer.setObjectName(f"{prefix}PreferEdit")
        self.avoid = QLineEdit("; ".join(avoid), self)
        self.avoid.setObjectName(f"{prefix}AvoidEdit")
        names = ", ".join(f"{rf.name} ({rf.describe_range()})" for rf in ws.dataset.region_features)
        ex = spec.presets[-1]  # the mixed preset: an example for each field
        for edit, shown in ((self.prefer, ex.prefer or ex.avoid), (self.avoid, ex.avoid or ex.prefer)):
            edit.setPlaceholderText("e.g. " + "; ".join(shown))
            edit.setToolTip("region expressions, several separated by ';' (OR-ed), terms joined by '&'.\n"
                            f"Features: {names}")
        self.preview = QLabel(self)
        self.preview.setObjectName(f"{prefix}WishPreview")
        self.preview.setWordWrap(True)
        self.coverage = QLabel(self)
        self.coverage.setObjectName(f"{prefix}CoverageLabel")
        self.coverage.setWordWrap(True)
        self.coverage.setTextFormat(Qt.TextFormat.RichText)
        self.coverage.setToolTip("how many stored trajectories enter each region of the wish (and how many of the "
                                 "labelled ones): a region they never enter cannot be learned from labels")
        self.error = QLabel(self)
        self.error.setObjectName(f"{prefix}ErrorLabel")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.error.setVisible(False)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("preset", self.preset)
        form.addRow("prefer", self.prefer)
        form.addRow("avoid", self.avoid)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        for w in (self.preview, self.coverage, self.error):
            layout.addWidget(w)
        for sig in (self.preset.currentIndexChanged, self.prefer.textChanged, self.avoid.textChanged):
            sig.connect(self._validate)
        self._validate()

    def wish(self):
        """The wish written here; a mistake (or nothing written) is a :class:`UserError`."""
        return self.ws.wish(self.preset.currentData() or "", _split(self.prefer.text()), _split(self.avoid.text()))

    def is_empty(self) -> bool:
        return not (self.preset.currentData() or _split(self.prefer.text()) or _split(self.avoid.text()))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _validate(self) -> None:
        if self.is_empty():  # not a mistake yet: nothing was written (and an empty wish is what clears one)
            self.preview.setText("no wish yet: choose a preset, or write regions to prefer or avoid")
            self.coverage.setText("")
            self.show_error("")
            self.changed.emit()
            return
        try:
            wish = self.wish()
        except UserError as exc:
            self.preview.setText("")
            self.coverage.setText("")
            self.show_error(str(exc))
            self.changed.emit()
            return
        d = wish.describe()
        self.preview.setText(f"prefer: {' or '.join(d['prefer']) or '-'}   avoid: {' or '.join(d['avoid']) or '-'}")
        self.coverage.setText(coverage_html(self.ws, wish, self._labelled)[0])
        self.show_error("")
        self.changed.emit()


def grow_to_fit(dialog: QDialog) -> None:
    """Make ``dialog`` tall enough for its wrapped text at its present width (a coverage warning appears as the
    wish is typed; cut off, it said half of why the wish cannot be met). It never shrinks under the person.
    Called once the new text is laid out (a zero timer): at once, the labels still measured the old one."""
    layout = dialog.layout()
    if layout is None:
        return
    layout.activate()
    need = layout.totalHeightForWidth(dialog.width()) if layout.hasHeightForWidth() else layout.sizeHint().height()
    if need > dialog.height():
        dialog.resize(dialog.width(), need)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.replace("\n", ";").split(";") if t.strip()]


def coverage_html(ws, wish, labelled=None) -> tuple[str, bool]:
    """The wish's coverage in the stored data as rich text (one line per region, warnings in red, advice on marking
    in amber), and whether some region is entered by too few stored trajectories to be learned (collect more
    varied ones)."""
    from html import escape

    from dpf_gui.session.workspace import wish_coverage

    cov = wish_coverage(ws.dataset, wish, labelled)
    lines = [escape(t) for t in cov.lines]
    lines += [f"<span style='color:{WARNING_COLOUR}'><b>{escape(t)}</b></span>" for t in cov.warnings]
    lines += [f"<span style='color:{ADVICE_COLOUR}'>{escape(t)}</span>" for t in cov.advice]
    return "<br>".join(lines), cov.thin


#: how the simulated user's trajectories are chosen when it labels only some: (shown, passed on)
SIM_CHOICES = (("at random (the Shuffled order)", "random"), ("the suggested ones (label this next)", "suggested"))


class SimulatedUserDialog(QDialog):
    """Label every trajectory, or a few chosen at random or by the suggestions, as a simulated user with a wish
    and noise would, or rank them in groups of five (one undoable batch): the few-labels setting a person lives
    in, shown in the app as `dpf label --budget K --select ...` runs it."""

    def __init__(self, parent, ws, apply: Callable[..., None]):
        from dpf_gui.oracles import NOISE_HELP

        super().__init__(parent)
        self.setObjectName("simulatedUserDialog")
        self.setWindowTitle("Label with a simulated user")
        self.ws, self._apply = ws, apply
        self.fields = WishFields(self, ws, "sim", preset="mixed")
        self.preset, self.prefer, self.avoid = self.fields.preset, self.fields.prefer, self.fields.avoid
        self.preview, self.error = self.fields.preview, self.fields.error
        self.binary = QCheckBox("binary (only the sign of the score)", self)
        self.binary.setObjectName("simBinaryCheck")
        self.relative = QCheckBox("relative (compared with a typical run, not with none)", self)
        self.relative.setObjectName("simRelativeCheck")
        self.relative.setToolTip(NOISE_HELP["relative"])
        self.relative.setEnabled(False)
        self.binary.setToolTip(NOISE_HELP["binary"])
        self.binary.toggled.connect(self.relative.setEnabled)
        self.flip = _spin(self, "simFlipSpin", 0.0, 1.0, 0.05, NOISE_HELP["flip"])
        self.skip = _spin(self, "simSkipSpin", 0.0, 1.0, 0.05, NOISE_HELP["skip"])
        self.sigma = _spin(self, "simSigmaSpin", 0.0, 1000.0, 0.5, NOISE_HELP["sigma"])
        self.myopic = _spin(self, "simMyopicSpin", 0.01, 1.0, 0.01, NOISE_HELP["myopic"])
        self.myopic.setValue(1.0)
        self.equal = _spin(self, "simEqualSpin", 0.0, 1000.0, 0.5, NOISE_HELP["equal"])
        self.stochastic = _spin(self, "simStochasticSpin", 0.0, 100.0, 0.05, NOISE_HELP["stochastic"])
        self.seed = QSpinBox(self)
        self.seed.setObjectName("simSeedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.rank = QCheckBox("rank them in groups of five instead (flip: the chance of swapping neighbours)", self)
        self.rank.setObjectName("simRankCheck")
        self.rank.setToolTip("as a person ranking the runs watched (key R), `dpf label --feedback ranks`: the "
                             "other noise applies to scores and is left out")
        self.rank.toggled.connect(self._on_rank)
        self.count = QSpinBox(self)
        self.count.setObjectName("simCountSpin")
        self.count.setRange(0, len(ws))
        self.count.setSpecialValueText("every trajectory")
        self.count.setToolTip("how many trajectories the simulated user labels: every one, or this many, chosen "
                              "as below (a person gives 10-30; `dpf label --budget K`)")
        self.choose = QComboBox(self)
        self.choose.setObjectName("simChooseCombo")
        for text, data in SIM_CHOICES:
            self.choose.addItem(text, data)
        self.choose.setToolTip("at random: the runs `dpf label --select random` takes with the same seed (the "
                               "list's Shuffled order); suggested: the list's suggestions now, best first (they "
                               "follow your Train; `--select active` retrains every five labels)")
        self.choose.setEnabled(False)
        self.count.valueChanged.connect(lambda k: self.choose.setEnabled(k > 0))
        self.only_unlabelled = QCheckBox("keep my own marks (label only unlabelled trajectories)", self)
        self.only_unlabelled.setObjectName("simOnlyUnlabelledCheck")
        self.only_unlabelled.setChecked(True)
        buttons, self.ok_button = ok_cancel(self, "Label", "simOkButton", self._on_ok)

        form = QFormLayout()
        form.addRow("", self.rank)
        form.addRow("", self.binary)
        form.addRow("", self.relative)
        form.addRow("flip", self.flip)
        form.addRow("skip", self.skip)
        form.addRow("sigma", self.sigma)
        form.addRow("myopic", self.myopic)
        form.addRow("can't tell within", self.equal)
        form.addRow("wrong on close calls, T", self.stochastic)
        form.addRow("seed", self.seed)
        form.addRow("how many", self.count)
        form.addRow("chosen", self.choose)
        form.addRow("", self.only_unlabelled)
        layout = QVBoxLayout(self)
        layout.addWidget(self.fields)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.fields.changed.connect(lambda: QTimer.singleShot(0, lambda: grow_to_fit(self)))

    def _on_rank(self, on: bool) -> None:
        """Rankings take only the flip (as the chance of swapping neighbours): the score noise is greyed out."""
        for w in (self.binary, self.skip, self.sigma, self.myopic, self.equal, self.stochastic):
            w.setEnabled(not on)
        self.relative.setEnabled(not on and self.binary.isChecked())

    def build(self):
        """(wish, noise, seed, only_unlabelled, rank, count, chosen); with ``rank`` only the flip of the noise
        counts; ``count`` 0: every trajectory; a mistake is a :class:`UserError`."""
        from dpf_gui.oracles import FeedbackNoise

        rank, binary = self.rank.isChecked(), self.binary.isChecked()
        if rank:
            noise = FeedbackNoise(flip=self.flip.value())
        else:
            noise = FeedbackNoise(binary=binary, flip=self.flip.value(), skip=self.skip.value(),
                                  sigma=self.sigma.value(), relative=binary and self.relative.isChecked(),
                                  myopic=self.myopic.value(), equal=self.equal.value(),
                                  stochastic=self.stochastic.value())
        return (self.fields.wish(), noise, int(self.seed.value()), self.only_unlabelled.isChecked(), rank,
                int(self.count.value()), self.choose.currentData())

    def _on_ok(self) -> None:
        try:
            self._apply(*self.build())
        except UserError as exc:
            self.fields.show_error(str(exc))
            return
        self.accept()


class MyWishDialog(QDialog):
    """Write down what you want, in region expressions: the regions show in the overlay ("my wish"), the data's
    coverage of them is said at once, and the Train tab checks the labels against them."""

    def __init__(self, parent, ws, apply: Callable[[list[str], list[str]], None]):
        super().__init__(parent)
        self.setObjectName("myWishDialog")
        self.setWindowTitle("My wish")
        self._apply = apply
        saved = ws.typed_wish()
        d = saved.describe() if saved is not None else {"prefer": [], "avoid": []}
        intro = QLabel("What should the agent do differently? Name the regions it should go to (prefer) and stay "
                       "out of (avoid). Nothing is labelled: the regions are shown over the player, the line under it "
                       "says how often the stored trajectories enter them, and the Train tab checks your labels "
                       "against them.", self)
        intro.setWordWrap(True)
        self.fields = WishFields(self, ws, "myWish", prefer=d["prefer"], avoid=d["avoid"])
        buttons, self.ok_button = ok_cancel(self, "Keep", "myWishOkButton", self._on_ok)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.fields)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())
        self.fields.changed.connect(lambda: QTimer.singleShot(0, lambda: grow_to_fit(self)))

    def _on_ok(self) -> None:
        try:
            if self.fields.is_empty():
                self._apply([], [])
            else:
                d = self.fields.wish().describe()
                self._apply(list(d["prefer"]), list(d["avoid"]))
        except UserError as exc:
            self.fields.show_error(str(exc))
            return
        self.accept()


def _spin(parent, name: str, lo: float, hi: float, step: float, tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox(parent)
    s.setObjectName(name)
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(3)
    s.setToolTip(tip)
    return s


__all__ = ["SIM_CHOICES", "MyWishDialog", "SimulatedUserDialog", "WishFields", "coverage_html"]

"""The fusion parameters' panel (Play and Compare): a slider and spin box per parameter its metadata offers
(dpf_gui/fusion_params.py), the margin (off, or a spin box), presets (this agent's defaults, the paper's
configuration), and the texts of the strength's calibration."""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from dpf_gui.errors import UserError
from dpf_gui.fusion_params import PARAMS, FusionParams, slider_params


def _cap(prefix: str, name: str) -> str:
    return name if not prefix else prefix + name[0].upper() + name[1:]


class ParamControl(QWidget):
    """A slider and a spin box bound to one fusion parameter (log scale for temperatures)."""

    valueChanged = Signal(float)
    STEPS = 1000

    def __init__(self, label: str, low: float, high: float, log: bool, decimals: int, slider_name: str,
                 spin_name: str, tooltip: str, parent=None):
        super().__init__(parent)
        self.low, self.high, self.log = float(low), float(high), bool(log)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(label)
        self.label.setMinimumWidth(48)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName(slider_name)
        self.slider.setRange(0, self.STEPS)
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName(spin_name)
        self.spin.setRange(self.low, self.high)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(10 ** -min(decimals, 2))
        self.spin.setKeyboardTracking(False)
        for w in (self.label, self.slider, self.spin):
            w.setToolTip(tooltip)
        lay.addWidget(self.label)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def _to_pos(self, v: float) -> int:
        if self.log:
            f = (math.log10(max(v, self.low)) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        else:
            f = (v - self.low) / (self.high - self.low)
        return round(min(max(f, 0.0), 1.0) * self.STEPS)

    def _from_pos(self, pos: int) -> float:
        f = pos / self.STEPS
        if self.log:
            return 10 ** (math.log10(self.low) + f * (math.log10(self.high) - math.log10(self.low)))
        return self.low + f * (self.high - self.low)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, v: float, emit: bool = False) -> None:
        v = float(min(max(v, self.low), self.high))
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(v)
        self.slider.setValue(self._to_pos(v))
        for w in (self.slider, self.spin):
            w.blockSignals(False)
        if emit:
            self.valueChanged.emit(self.value())

    def _from_slider(self, pos: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(self._from_pos(pos))
        self.spin.blockSignals(False)
        self.valueChanged.emit(self.value())

    def _from_spin(self, v: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(v))
        self.slider.blockSignals(False)
        self.valueChanged.emit(self.value())


#: the parameter sets offered by name: label -> how it is made (see ParamsPanel.configure)
PRESETS = ("this agent's defaults", "the paper's configuration")
#: the margin spin box's upper end (q_scale units; a stored margin above it widens the range)
MARGIN_MAX = 5.0


class ParamsPanel(QGroupBox):
    """Sliders for the fusion's temperatures, the intent's strength and confidence, how G_t is counted, the
    sampling switch and named configurations; emits whole FusionParams."""

    paramsChanged = Signal(object)

    #: the parameters with a slider, from their declaration (dpf_gui/fusion_params.py); object names
    #: ``<stem>Slider`` and ``<stem>Spin`` with the field's name lower-cased without "_" as the stem
    SPECS = slider_params()
    #: the margin the spin box offers when the margin is off (highway's stored default)
    MARGIN_ON = 0.5

    def __init__(self, prefix: str = "", parent=None):
        super().__init__("Fusion parameters", parent)
        self.setObjectName(_cap(prefix, "paramsPanel"))
        self._params = FusionParams()
        self._presets: dict[str, FusionParams] = {}
        lay = QGridLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setHorizontalSpacing(12)
        lay.setVerticalSpacing(2)
        self.controls: dict[str, ParamControl] = {}
        self._grid = lay
        for fname, spec in self.SPECS.items():
            stem = fname.lower().replace("_", "")
            ctl = ParamControl(spec.title, *spec.slider, spec.log, spec.decimals, _cap(prefix, stem + "Slider"),
                               _cap(prefix, stem + "Spin"), spec.tooltip())
            ctl.valueChanged.connect(lambda v, f=fname: self._changed(f, v))
            self.controls[fname] = ctl
        self.columns = 3
        self._place_controls()
        self.collect = QComboBox()
        self.collect.setObjectName(_cap(prefix, "collectCombo"))
        collect = PARAMS["collect"]
        for name, (text, tip) in collect.choices.items():
            self.collect.addItem(text, name)
            self.collect.setItemData(self.collect.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.collect.setToolTip("what G_t, the intent reward dynamic fusion counts, adds up:\n" +
                                "\n".join(f"{text}: {tip}" for text, tip in collect.choices.values()))
        self.collect.currentIndexChanged.connect(lambda _i: self._changed("collect", self.collect.currentData()))
        self.collect.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.collect.setMinimumContentsLength(12)  # the rules' names are long; the combo may shorten them
        self.normalise = QCheckBox(PARAMS["normalise"].title)
        self.normalise.setObjectName(_cap(prefix, "normaliseCheck"))
        self.normalise.setToolTip(PARAMS["normalise"].tooltip())
        self.normalise.toggled.connect(lambda on: self._changed("normalise", bool(on)))
        self.sample = QCheckBox(PARAMS["sample"].title)
        self.sample.setObjectName(_cap(prefix, "sampleCheck"))
        self.sample.setToolTip(PARAMS["sample"].tooltip())
        self.sample.toggled.connect(lambda on: self._changed("sample", bool(on)))
        margin = PARAMS["margin"]
        self.margin_check = QCheckBox("near-best only")
        self.margin_check.setObjectName(_cap(prefix, "marginCheck"))
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setObjectName(_cap(prefix, "marginSpin"))
        self.margin_spin.setRange(0.0, MARGIN_MAX)
        self.margin_spin.setSingleStep(0.05)
        self.margin_spin.setDecimals(2)
        self.margin_spin.setKeyboardTracking(False)
        self.margin_spin.setValue(self.MARGIN_ON)
        for w in (self.margin_check, self.margin_spin):
            w.setToolTip(f"{margin.tooltip()}; off: every action, however the task agent rates it")
        self.margin_check.toggled.connect(lambda _on: self._margin_changed())
        self.margin_spin.valueChanged.connect(lambda _v: self._margin_changed())
        self.margin_box = QWidget()  # beside G_t's rule, or (large text) beside the check boxes
        box = QHBoxLayout(self.margin_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.margin_check)
        box.addWidget(self.margin_spin)
        self.preset = QComboBox()
        self.preset.setObjectName(_cap(prefix, "fusionPresetCombo"))
        self.preset.setToolTip("named parameter sets: the task agent's stored defaults, or the paper's fusion (signed "
                               "advantages, c = 0, raw units, the authors' temperatures for this environment)")
        self.preset.activated.connect(self._on_preset)
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName(_cap(prefix, "resetParamsButton"))
        self.reset_button.setToolTip("every fusion parameter back to this task agent's stored defaults")
        self.reset_button.clicked.connect(self.reset)
        rule = QHBoxLayout()  # a row of its own: the rules' names are long
        rule.setContentsMargins(0, 0, 0, 0)
        rule.addWidget(QLabel(collect.title))
        rule.addWidget(self.collect, 1)
        self._set_label = QLabel("set")
        self._rows = (rule, QHBoxLayout(), QHBoxLayout())  # the G_t rule; the check boxes and named sets
        self._place_rows()
        self.set_params(self._params)

    def _place_controls(self) -> None:
        rows = -(-len(self.SPECS) // self.columns)
        for i, ctl in enumerate(self.controls.values()):
            self._grid.addWidget(ctl, i % rows, i // rows)

    def _place_rows(self) -> None:
        rows = -(-len(self.SPECS) // self.columns)
        rule, checks, sets = self._rows
        for layout in (checks, sets):
            layout.setContentsMargins(0, 0, 0, 0)
            while layout.count():
                layout.takeAt(0)
        wide = self.columns >= 3  # room for the check boxes and the named sets on one line
        rule.removeWidget(self.margin_box)
        if wide:  # the margin beside G_t's rule; with large text the rule needs the whole line
            rule.addWidget(self.margin_box)
        boxes = [self.normalise, self.sample] + ([] if wide else [self.margin_box])
        for w in (*boxes, None, self._set_label, self.preset, self.reset_button):
            target = checks if wide or w in boxes else sets
            target.addStretch(1) if w is None else target.addWidget(w)
        for k, row in enumerate(self._rows if not wide else self._rows[:2]):
            self._grid.addLayout(row, rows + k, 0, 1, self.columns)

    def set_columns(self, columns: int) -> None:
        """Lay the parameter controls out in this many columns (2: narrower, for large text)."""
        if columns == self.columns:
            return
        for ctl in self.controls.values():
            self._grid.removeWidget(ctl)
        for row in self._rows:
            if self._grid.indexOf(row) >= 0:
                self._grid.removeItem(row)
        self.columns = int(columns)
        self._place_controls()
        self._place_rows()
        self._grid.invalidate()
        self.updateGeometry()  # (while hidden, the parent layout would keep the old size)

    def configure(self, env_name: str, task, intent_model=None) -> None:
        """Offer this task agent's defaults and the paper's configuration by name; the confidence slider only
        where the intent is an ensemble (the additive kind)."""
        from dpf_gui.fusion_params import paper_params
        from dpf_gui.pipeline import fusion_params

        self._presets = {PRESETS[0]: fusion_params(task), PRESETS[1]: paper_params(env_name)}
        ensemble = getattr(intent_model, "kind", None) == "additive"
        self.controls["confidence"].setEnabled(ensemble)
        if not ensemble:
            self.controls["confidence"].label.setToolTip("only for ensemble intents (the additive kind)")
        self._show_preset()

    def params(self) -> FusionParams:
        return self._params

    def set_params(self, params: FusionParams) -> None:
        """Show ``params`` without emitting."""
        self._params = params
        for fname, ctl in self.controls.items():
            ctl.set_value(getattr(params, fname))
        quiet = [QSignalBlocker(w) for w in (self.sample, self.normalise, self.collect, self.margin_check,
                                             self.margin_spin)]
        self.sample.setChecked(bool(params.sample))
        self.normalise.setChecked(bool(params.normalise))
        self.collect.setCurrentIndex(max(self.collect.findData(params.collect), 0))
        self.margin_check.setChecked(params.margin is not None)
        if params.margin is not None:
            self.margin_spin.setMaximum(max(MARGIN_MAX, params.margin))  # shown as stored, not clamped
            self.margin_spin.setValue(params.margin)
        self.margin_spin.setEnabled(params.margin is not None)
        del quiet  # the widgets speak again
        self._show_preset()

    def _show_preset(self) -> None:
        """The combo names the configuration the parameters are (or "custom")."""
        self.preset.blockSignals(True)
        self.preset.clear()
        match = next((name for name, p in self._presets.items() if p == self._params), None)
        if match is None:
            self.preset.addItem("custom", None)
        for name in self._presets:
            self.preset.addItem(name, name)
        self.preset.setCurrentIndex(self.preset.findData(match) if match else 0)
        self.preset.blockSignals(False)

    def _on_preset(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name in self._presets:
            self.apply(self._presets[name])

    def apply(self, params: FusionParams) -> None:
        """Show ``params`` and emit them (as if the person had set every control)."""
        self.set_params(params)
        self.paramsChanged.emit(params)

    def presets(self) -> dict[str, FusionParams]:
        return dict(self._presets)

    def reset(self) -> None:
        """Every parameter back to the task agent's stored defaults (the first named set), emitted."""
        self.apply(self._presets.get(PRESETS[0], FusionParams()))

    def _margin_changed(self) -> None:
        self._changed("margin", self.margin_spin.value() if self.margin_check.isChecked() else None)

    def _changed(self, fname: str, value) -> None:
        kw = {fname: value}
        p = self._params
        # keep T_min <= T_max by moving the other bound
        if fname == "T_min" and value > p.T_max:
            kw["T_max"] = value
        if fname == "T_max" and value < p.T_min:
            kw["T_min"] = value
        try:
            new = replace(p, **kw)
        except UserError:
            self.set_params(p)
            return
        self.set_params(new)
        self.paramsChanged.emit(new)


CALIBRATE_TIP = ("choose the intent's strength in simulation: the fused agent plays calibration episodes (reset "
                 "seeds of the training range) at several strengths, then at the best one with a longer budget c, "
                 "and keeps the one whose intent score per "
                 "decision is highest among those that keep the task agent's success (95 %). Uses the task "
                 "reward and the intent model's own predictions, never your marks. Under a second on gridnav. "
                 "Minutes on highway: the task agent's success is measured once on 300 reference episodes, the "
                 "search keeps 85 % of it and the winner is confirmed on up to 100 fresh episodes, quieter ones "
                 "tried if it fails. Minutes on Pong, whose search keeps 85 % and "
                 "also tries its winner with a looser confidence gate (0.5), then confirms the winner on up to 300 "
                 "fresh episodes against the task agent on the same ones and on its 1000 reference episodes "
                 "(played once, the first time), trying quieter ones if it fails")


def _gate(row) -> str:
    """A candidate's confidence gate, where the calibration loosened it (Pong)."""
    return f", confidence gate {row['confidence']:g}" if row.get("confidence") is not None else ""


def calibration_table(cal) -> str:
    """What each candidate (strength, budget c) tried did, one line each."""
    rows = [f"strength {r['strength']:g}, c {r['c']:g}{_gate(r)}: success {100 * r['success']:.0f} %, intent score "
            f"{r['intent_score']:+.3f} per decision"
            + (f", other actions than the task agent in {100 * r['changed']:.0f} % of episodes"
               if "changed" in r else "")
            for r in cal.table]
    where = (f"its {cal.reference} reference episodes" if cal.reference
             else f"{cal.episodes} episodes, seed {cal.seed}")
    rows.append(f"task agent alone: success {100 * cal.task_success:.0f} % ({where})")
    return "\n".join(rows + cal.confirm_lines())


def calibration_text(cal) -> str:
    """One line: the strength chosen and why."""
    if cal.strength == 0 and cal.confirm and cal.confirm["tries"]:
        return ("calibrated: the best candidates kept the task agent's success on the first episodes but lost it on "
                "fresh ones, so the strength is 0 (the task agent alone); see the button's tooltip")
    if cal.strength == 0:
        return ("calibrated: no strength kept the task agent's success, so the strength is 0 (the task agent "
                "alone); see the button's tooltip")
    if cal.silent:
        return (f"calibrated: strength {cal.strength:g}, but at no strength did the intent change a single decision "
                "of the task agent: it wants what the task agent does there, or its ensemble members disagree so "
                "much that the confidence gate keeps it quiet. Label more (or more varied) trajectories, or lower "
                "confidence")
    row = cal.chosen()
    why = (f" (success {100 * row['success']:.0f} % vs the task agent's {100 * cal.task_success:.0f} %, intent "
           f"score {row['intent_score']:+.3f} per decision)") if row else ""
    gate = _gate({"confidence": cal.confidence})
    return f"calibrated: strength {cal.strength:g}, c {cal.c:g}{gate}{why}; the table is in the button's tooltip"


__all__ = ["CALIBRATE_TIP", "ParamControl", "ParamsPanel", "calibration_table", "calibration_text"]

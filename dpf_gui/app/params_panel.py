"""The fusion parameters' panel (Play and Compare): a slider and spin box per parameter its metadata offers
(dpf_gui/fusion_params.py), the guard on fused actions (none, near-best, no riskier, both; one spin box),
presets (this agent's defaults, the paper's configuration), and the texts of the strength's calibration."""

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
    #: the shortest a slider may be: shorter, it cannot be set by hand (Play's sliders were 25 px at 1024x768);
    #: not with large text (presentation mode, :meth:`ParamsPanel.set_columns`), where the labels need the room
    SLIDER_MIN_WIDTH = 80

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
        self.slider.setMinimumWidth(self.SLIDER_MIN_WIDTH)
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
#: the guards a fused action may be held to, as the guard combo offers them: text -> (margin on, risk on, tooltip)
GUARDS = {
    "any action": (False, False, "no guard: every action, however the task agent rates it"),
    "near-best": (True, False, "only actions the task agent rates near its best (the spin box: the margin)"),
    "no riskier": (False, True, "only actions hardly likelier to fail the task soon than the task agent's own "
                                "choice, by its risk model (the spin box: the allowance)"),
    "both": (True, True, "near-best and no riskier (the spin box: the risk allowance; the margin keeps its value)"),
}


class ParamsPanel(QGroupBox):
    """Sliders for the fusion's temperatures, the intent's strength and confidence, how G_t is counted, the
    sampling switch and named configurations; emits whole FusionParams."""

    paramsChanged = Signal(object)

    #: the parameters with a slider, from their declaration (dpf_gui/fusion_params.py); object names
    #: ``<stem>Slider`` and ``<stem>Spin`` with the field's name lower-cased without "_" as the stem
    SPECS = slider_params()
    #: the margin and the risk allowance the spin box offers when a guard is switched on without a stored value
    MARGIN_ON = 0.5
    RISK_ON = 0.005

    def __init__(self, prefix: str = "", parent=None, columns: int = 3):
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
        self.columns = int(columns)
        self.compact = False  # True: the guard and the named sets on lines of their own (large text)
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
        self._guard_values = {"margin": self.MARGIN_ON, "risk": self.RISK_ON}  # kept while a guard is off
        self.guard = QComboBox()
        self.guard.setObjectName(_cap(prefix, "guardCombo"))
        for text, (_m, _r, tip) in GUARDS.items():
            self.guard.addItem(text, text)
            self.guard.setItemData(self.guard.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.guard.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.guard.currentIndexChanged.connect(lambda _i: self._guard_changed())
        self.guard_spin = QDoubleSpinBox()
        self.guard_spin.setObjectName(_cap(prefix, "guardSpin"))
        self.guard_spin.setKeyboardTracking(False)
        self.guard_spin.valueChanged.connect(self._guard_value_changed)
        self._risk_tip = ""  # why "no riskier" is not offered, when it is not
        self.guard_box = QWidget()  # beside G_t's rule, or (large text) beside the check boxes
        box = QHBoxLayout(self.guard_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.guard)
        box.addWidget(self.guard_spin)
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
        wide = not self.compact  # room for the check boxes and the named sets on one line
        rule.removeWidget(self.guard_box)
        if wide:  # the guard beside G_t's rule; with large text the rule needs the whole line
            rule.addWidget(self.guard_box)
        boxes = [self.normalise, self.sample] + ([] if wide else [self.guard_box])
        for w in (*boxes, None, self._set_label, self.preset, self.reset_button):
            target = checks if wide or w in boxes else sets
            target.addStretch(1) if w is None else target.addWidget(w)
        for k, row in enumerate(self._rows if not wide else self._rows[:2]):
            self._grid.addLayout(row, rows + k, 0, 1, self.columns)

    def set_columns(self, columns: int, compact: bool | None = None) -> None:
        """Lay the parameter controls out in this many columns (2: narrower); ``compact`` (default: fewer than
        3 columns): the guard and the named sets on lines of their own, for large text."""
        compact = columns < 3 if compact is None else bool(compact)
        if columns == self.columns and compact == self.compact:
            return
        for ctl in self.controls.values():
            self._grid.removeWidget(ctl)
        for row in self._rows:
            if self._grid.indexOf(row) >= 0:
                self._grid.removeItem(row)
        self.columns, self.compact = int(columns), compact
        for ctl in self.controls.values():  # large text: the labels and spin boxes need the width first
            ctl.slider.setMinimumWidth(0 if compact else ctl.SLIDER_MIN_WIDTH)
        self._place_controls()
        self._place_rows()
        self._grid.invalidate()
        self.updateGeometry()  # (while hidden, the parent layout would keep the old size)

    def configure(self, env_name: str, task, intent_model=None) -> None:
        """Offer this task agent's defaults and the paper's configuration by name; the confidence slider only
        where the intent is an ensemble (the additive kind); the risk guard only where the task agent has a risk
        model."""
        from dpf_gui.fusion_params import paper_params
        from dpf_gui.pipeline import fusion_params

        self._presets = {PRESETS[0]: fusion_params(task), PRESETS[1]: paper_params(env_name)}
        ensemble = getattr(intent_model, "kind", None) == "additive"
        self.controls["confidence"].setEnabled(ensemble)
        if not ensemble:
            self.controls["confidence"].label.setToolTip("only for ensemble intents (the additive kind)")
        has_risk = task is not None and task.risk_model is not None
        self._risk_tip = "" if has_risk else (" (no riskier: this task agent has no risk model; make one with "
                                              f"dpf train-risk --policy {getattr(task, 'directory', None) or 'DIR'})")
        for text, (_m, risk, tip) in GUARDS.items():
            item = self.guard.model().item(self.guard.findData(text))
            item.setEnabled(has_risk or not risk)
            item.setToolTip(tip if has_risk or not risk else f"{tip}{self._risk_tip}")
        self._show_guard()
        self._show_preset()

    def params(self) -> FusionParams:
        return self._params

    def set_params(self, params: FusionParams) -> None:
        """Show ``params`` without emitting."""
        self._params = params
        for fname, ctl in self.controls.items():
            ctl.set_value(getattr(params, fname))
        quiet = [QSignalBlocker(w) for w in (self.sample, self.normalise, self.collect)]
        self.sample.setChecked(bool(params.sample))
        self.normalise.setChecked(bool(params.normalise))
        self.collect.setCurrentIndex(max(self.collect.findData(params.collect), 0))
        del quiet  # the widgets speak again
        for name in ("margin", "risk"):
            if getattr(params, name) is not None:
                self._guard_values[name] = getattr(params, name)
        self._show_guard()
        self._show_preset()

    def _guard_edits(self) -> str | None:
        """The parameter the guard's spin box edits now (None: no guard)."""
        margin, risk, _tip = GUARDS[self.guard.currentData()]
        return "risk" if risk else "margin" if margin else None

    def _show_guard(self) -> None:
        """The guard combo and its spin box as the parameters are, without emitting."""
        quiet = [QSignalBlocker(w) for w in (self.guard, self.guard_spin)]
        on = (self._params.margin is not None, self._params.risk is not None)
        self.guard.setCurrentIndex(self.guard.findData(next(t for t, g in GUARDS.items() if g[:2] == on)))
        edits = self._guard_edits()
        value = self._guard_values[edits or "margin"]
        if edits == "risk":  # a probability
            self.guard_spin.setRange(0.0, 1.0)
            self.guard_spin.setDecimals(3)
            self.guard_spin.setSingleStep(0.005)
        else:  # q_scale units; a stored margin above the range is shown as stored, not clamped
            self.guard_spin.setRange(0.0, max(MARGIN_MAX, value))
            self.guard_spin.setDecimals(2)
            self.guard_spin.setSingleStep(0.05)
        self.guard_spin.setValue(value)
        self.guard_spin.setEnabled(edits is not None)
        tip = GUARDS[self.guard.currentData()][2]
        if edits is not None:
            tip += f"\n{PARAMS[edits].tooltip()}"
        if self._params.margin is not None and self._params.risk is not None:
            tip += f"\nmargin {self._params.margin:g}, risk allowance {self._params.risk:g}"
        for w in (self.guard, self.guard_spin):
            w.setToolTip(tip + self._risk_tip)
        del quiet

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

    def _guard_changed(self) -> None:
        """Another guard chosen: each guard it switches on at its last (or stored) value, the others off."""
        margin, risk, _tip = GUARDS[self.guard.currentData()]
        self._changed("margin", self._guard_values["margin"] if margin else None,
                      risk=self._guard_values["risk"] if risk else None)

    def _guard_value_changed(self, value: float) -> None:
        edits = self._guard_edits()
        if edits is not None:
            self._guard_values[edits] = value
            self._changed(edits, value)

    def _changed(self, fname: str, value, **more) -> None:
        kw = {fname: value, **more}
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
                 "search keeps 85 % of it and the winner must keep 95 % of it on up to 100 fresh episodes, "
                 "against the task agent on the same ones and that reference, quieter ones tried if it fails. "
                 "Minutes on Pong, whose search keeps 85 % and also tries its winner with a looser confidence "
                 "gate (0.5), then confirms the winner on up to 300 "
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


def calibration_text(cal, lead: str = "calibrated") -> str:
    """One line: the strength chosen and why, after ``lead``."""
    if cal.strength == 0 and cal.confirm and cal.confirm["tries"]:
        return (f"{lead}: the best candidates kept the task agent's success on the first episodes but lost it on "
                "fresh ones, so the strength is 0 (the task agent alone); see the button's tooltip")
    if cal.strength == 0:
        return (f"{lead}: no strength kept the task agent's success, so the strength is 0 (the task agent "
                "alone); see the button's tooltip")
    if cal.silent:
        return (f"{lead}: strength {cal.strength:g}, but at no strength did the intent change a single decision "
                "of the task agent: it wants what the task agent does there, or its ensemble members disagree so "
                "much that the confidence gate keeps it quiet. Label more (or more varied) trajectories, or lower "
                "confidence")
    row = cal.chosen()
    why = (f" (success {100 * row['success']:.0f} % vs the task agent's {100 * cal.task_success:.0f} %, intent "
           f"score {row['intent_score']:+.3f} per decision)") if row else ""
    gate = _gate({"confidence": cal.confidence})
    return f"{lead}: strength {cal.strength:g}, c {cal.c:g}{gate}{why}; the table is in the button's tooltip"


__all__ = ["CALIBRATE_TIP", "ParamControl", "ParamsPanel", "calibration_table", "calibration_text"]

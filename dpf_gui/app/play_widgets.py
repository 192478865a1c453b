"""What the Play and Compare views share besides the parameters' panel: the plots' tips, axis labels and
empty-plot notes, the metrics line under a frame, the strategy combo (strategies that need an intent model
disabled without one), and which environments step off the UI thread."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QPushButton, QScrollArea, QWidget

from dpf_gui.back_steps import DITHER_COUNT, DITHER_SHARE, dithers
from dpf_gui.envs import env_screen
from dpf_gui.episode import NEEDS_INTENT_TIP, Snapshot
from dpf_gui.strategies import get as get_strategy
from dpf_gui.strategies import names as strategy_names

#: what the w, T_psi and G_t plots show, on hover (Play and Compare)
PLOT_TIPS = {
    "w": "the intent's share of the decision, w = T_φ / (T_φ + T_ψ): 0 the task agent decides alone, 1 the intent",
    "T": "the intent's temperature: dynamic T_ψ = max(T_min, T_max · sigmoid(k (G_t − c))), rising as intent reward "
         "is collected so the intent steps back; static: T_static; intent alone: T_min",
    "G": "G_t: the intent reward dynamic fusion has collected so far, by the rule chosen under 'G_t counts' (times "
         "decay per step); it drives T_ψ",
}

#: y-axis labels with units (T_psi and G_t: see :func:`axis_label`)
AXIS = {"w": "w (share, 0–1)"}


def axis_label(key: str, normalised: bool) -> str:
    """The y-axis label of the T_psi ("T") or G_t ("G") plot, in the units the fusion parameters use
    (normalised: the intent's typical difference between actions; raw: the model's own units)."""
    unit = "norm." if normalised else "raw"
    return f"T_ψ ({unit})" if key == "T" else f"reward ({unit})"


def empty_plot_notes(strategies: Sequence[str], has_intent: bool) -> dict[str, str]:
    """Why the w ("w"), T_psi ("T") and G_t ("G") plots stay empty under ``strategies`` (all of them, for Compare's
    shared plots); a plot drawn by at least one strategy gets no note."""
    s = list(dict.fromkeys(strategies))
    names = " and ".join(f"“{x}”" for x in s)
    notes = {}
    fused = strategy_names(fused=True)
    if not any(x in fused for x in s):
        notes["w"] = (f"empty under {names}: w = T_φ / (T_φ + T_ψ) exists only when the task and intent policies "
                      f"are fused ({', '.join(fused)})")
    if not any(get_strategy(x).needs_intent for x in s):
        notes["T"] = f"empty under {names}: the task agent acts alone, with no intent temperature T_ψ"
    if not has_intent:
        notes["G"] = f"empty: no intent model, so no intent reward ({NEEDS_INTENT_TIP}, Train tab)"
        notes["T"] = notes.get("T") or notes["G"]
    return notes


def off_ui_thread(env_name: str) -> bool:
    """Whether the environment's step is slow enough to leave the UI thread (its screen's ``stepping``): Play
    steps it in a worker process (:mod:`dpf_gui.episode_worker`; see the module doc). (Compare steps its pair in
    a worker thread in every environment.)"""
    return env_screen(env_name).stepping == "process"


PLOT_CAPACITY = 1000


def _fmt(v, pct: bool = False, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.0f}%" if pct else f"{v:.{digits}f}"


#: the metrics line's tooltip: what its less obvious parts mean
METRICS_TIP = ("in preferred / in avoided: decisions that led into the wish's regions, and their share. "
               "back and forth N: decisions that went back to the cell, lane or band of two decisions before, "
               f"shown from {DITHER_COUNT} making up {DITHER_SHARE:.0%} of the episode: the fused agent stepping "
               "back and forth at a region's edge, the intent valuing 'not in there' and nothing about going "
               "round. On gridnav and Pong an intent trained with a time cost (Train tab) goes round instead.")


def metrics_html(snap: Snapshot | None, wish, fps: float | None = None) -> str:
    """The episode metrics line shown under a frame."""
    if snap is None:
        return "no episode"
    m, d = snap.metrics, snap.decision
    parts = [f"<b>{snap.strategy}</b>", f"seed {snap.seed}", f"step {snap.t}", f"return {_fmt(m['task_return'])}"]
    for part, word in (("prefer", "preferred"), ("avoid", "avoided")):  # decisions, and their share
        if wish is not None and getattr(wish, part):
            share = m[f"{part}_fraction"]
            parts.append(f"in {word} {m[f'{part}_steps']} ({_fmt(share, pct=True)})" if share is not None
                         else f"in {word} –")
    if m.get("fusion_weight") is not None:
        parts.append(f"mean w {_fmt(m['fusion_weight'])}")
    if m.get("guard_held_back") is not None:  # why a wish may move the agent less than asked
        parts.append(f"guard held back {_fmt(m['guard_held_back'], pct=True)}")
    if dithers(m.get("back_steps", 0), m["steps"]):  # why the episode got long (METRICS_TIP says what to try)
        parts.append(f"back and forth {m['back_steps']}")
    if d is not None:
        parts.append(f"G<sub>t</sub> {_fmt(d.collected)}")
        if d.T_psi is not None:
            parts.append(f"T<sub>ψ</sub> {_fmt(d.T_psi)}")
    if len(m.get("strategies") or []) > 1:
        parts.append("(strategy changed during the episode)")
    if snap.done:
        parts.append("<b>success</b>" if m.get("task_success") else "<b>failed</b>")
    if fps is not None:
        parts.append(f"{fps:.0f} frames/s")
    return " · ".join(parts)


def params_toggle_button(name: str) -> QPushButton:
    """The button that shows / hides the fusion parameters (checked: shown): hidden, the picture and the plots get
    their room (Play's picture at 1280x720, Compare's plots at 1024x768)."""
    button = QPushButton("Parameters")
    button.setObjectName(name)
    button.setCheckable(True)
    button.setChecked(True)
    button.setToolTip("show / hide the fusion parameters (hidden, the picture and plots get their room; "
                      "presentation mode hides them at first; show them to move T_max, c, …)")
    return button


class ParamsScroll(QScrollArea):
    """The fusion parameters' panel in a vertical scroll area, shown and hidden with it: where the view is short
    (large text, a lesson's panel above) the parameters scroll instead of squeezing the picture or the plots and
    cutting their labels (at 1280x720 in presentation mode Play's picture was 80 px tall and the sliders' labels
    cut). As wide as the panel needs; at least ``rows`` rows of sliders tall."""

    def __init__(self, panel: QWidget, name: str, rows: int = 2):
        super().__init__()
        self.setObjectName(name)
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay the view's and the lesson's (Space, Alt+Right)
        self.rows = rows

    def show_params(self, on: bool) -> None:
        self.widget().setVisible(on)
        self.setVisible(on)
        self.updateGeometry()

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def sizeHint(self) -> QSize:
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self._bar(), hint.height())

    def minimumSizeHint(self) -> QSize:
        panel = self.widget()
        row = max((c.sizeHint().height() for c in getattr(panel, "controls", {}).values()), default=30)
        return QSize(panel.minimumSizeHint().width() + self._bar(),
                     min(panel.sizeHint().height(), self.rows * row + panel.fontMetrics().lineSpacing() + 16))


def reserve_lines(label: QLabel, lines: int) -> None:
    """Keep room for ``lines`` lines of text, so a label that wraps does not move what is above it."""
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines + 4)


def strategy_combo(name: str, default: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    live = strategy_names(live=True)
    combo.addItems(list(live))
    combo.setCurrentText(default)
    combo.setProperty("defaultStrategy", default)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.setToolTip("\n".join(get_strategy(name).describe() for name in live))
    return combo


def wanted_strategy(combo: QComboBox, has_intent: bool) -> str:
    """The strategy a combo asks for when new agents load: ``task`` without an intent model; with one, the
    combo's choice, unless it shows ``task`` only because there was no intent model (then its default)."""
    if not has_intent:
        return "task"
    if combo.property("taskForLackOfIntent"):
        return str(combo.property("defaultStrategy") or "dynamic")
    return combo.currentText()


def enable_strategies(combo: QComboBox, has_intent: bool) -> None:
    combo.setProperty("taskForLackOfIntent", not has_intent)
    model = combo.model()
    for i, name in enumerate(strategy_names(live=True)):
        item = model.item(i)
        needs = get_strategy(name).needs_intent
        item.setEnabled(has_intent or not needs)
        item.setToolTip(NEEDS_INTENT_TIP if needs and not has_intent else "")
    if not has_intent:
        combo.setCurrentText("task")


__all__ = ["AXIS", "METRICS_TIP", "PLOT_CAPACITY", "PLOT_TIPS", "ParamsScroll", "axis_label", "empty_plot_notes",
           "enable_strategies", "metrics_html", "off_ui_thread", "params_toggle_button", "reserve_lines",
           "strategy_combo", "wanted_strategy"]

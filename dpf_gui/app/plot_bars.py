"""Bar plots of one decision: the action probabilities (grouped bars, one group per action) and the intent's
saliency (signed bars, one per feature); single ``BarGraphItem`` objects updated in place with ``setOpts``.

Their named ticks (actions, features) stay readable: shortened, or features grouped, rather than drawn smaller
than the style's ``names_pt`` (:data:`dpf_gui.app.plots.STYLE`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

from dpf_gui.app.plots import STYLE, PlotText, nice_ceil, setup_plot
from dpf_gui.palette import BAD, GOOD, NEUTRAL


class ActionBars(PlotText, pg.PlotWidget):
    """Grouped bars: one group per action, one bar per series (task / intent / fused probability)."""

    def __init__(self, title: str, action_names: Sequence[str], series: Sequence[tuple[str, tuple[int, int, int]]],
                 y_range: tuple[float, float] = (0.0, 1.0), parent=None, object_name: str | None = None,
                 x_label: str | None = None, y_label: str | None = "probability"):
        super().__init__(parent=parent)
        item = setup_plot(self, object_name)
        self.series = list(series)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.values: dict[str, np.ndarray] = {}
        for name, colour in self.series:
            bar = pg.BarGraphItem(x=[], height=[], width=0.1, brush=pg.mkBrush(*colour), pen=pg.mkPen(None))
            item.addItem(bar)
            self.bars[name] = bar
        item.setYRange(*y_range, padding=0.02)
        self.set_actions(action_names)
        self._init_text(title, series, x_label, y_label)
        self.setMinimumHeight(110)

    def set_actions(self, action_names: Sequence[str]) -> None:
        self.action_names = list(action_names)
        n = len(self.action_names)
        item = self.getPlotItem()
        self._ticks = [[(i, a) for i, a in enumerate(self.action_names)]]
        item.getAxis("bottom").setTicks(self._ticks)
        item.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        width = 0.8 / max(1, len(self.series))
        for k, (name, _c) in enumerate(self.series):
            self.values[name] = np.zeros(n)
            self.bars[name].setOpts(x=np.arange(n) - 0.4 + width * (k + 0.5), height=self.values[name],
                                    width=width * 0.95)
        if "_labels" in self.__dict__:
            self.restyle()

    NAMED_AXIS = "bottom"

    def _tick_point_size(self, width: int, height: int) -> int:
        """Action names shrink until each fits its group's width, but not below the style's ``names_pt`` (7 pt
        LANE_LEFT was unreadable); where they are too wide even then they are shortened (LANE_LEFT: left, FASTER:
        faster, then fast.), and only where those do not fit either cut to their first letters (l, i, r, f, s); the
        full names are then in the plot's tooltip."""
        room = (width - 60) / max(1, len(self.action_names))
        full = self.action_names
        short = [_short_action(a) for a in full]

        def fits(names):
            return lambda fm: max((fm.horizontalAdvance(a) for a in names), default=0) + 6 <= room

        for labels in (full, short, [_short_action(a, 5) for a in full], _initials(short)):
            pt = self._largest_fitting(fits(labels))
            if fits(labels)(self._metrics(pt)):
                break
        else:  # not even the first letters at the least readable size: smaller, as far as 7 pt
            pt = self._largest_fitting(fits(labels), least=7)
        ticks = [[(i, a) for i, a in enumerate(labels)]]
        if ticks != self.__dict__.get("_ticks"):
            self._ticks = ticks
            self.getPlotItem().getAxis("bottom").setTicks(ticks)
            names = (a if s == a else f"{s} = {a}" for s, a in zip(labels, full, strict=True))  # u = up, ...
            self.setToolTip("actions: " + ", ".join(names) if labels != full else "")
        return pt

    def set_values(self, name: str, values: np.ndarray | None) -> None:
        """Heights of one series; None shows nothing (zeros)."""
        v = np.zeros(len(self.action_names)) if values is None else np.nan_to_num(np.asarray(values, np.float64))
        self.values[name] = v
        self.bars[name].setOpts(height=v)


class FeatureBars(PlotText, pg.PlotWidget):
    """Horizontal signed bars, one per feature (attributions): green pushes up, orange pushes down.

    The x range is symmetric and moves in 1-2-5 steps: it grows at once when a
    bar passes it and shrinks only when every bar has been below a third of it
    for a while, so the axis is not redrawn on every decision.
    """

    def __init__(self, title: str, feature_names: Sequence[str] = (), parent=None, object_name: str | None = None,
                 x_label: str | None = None):
        super().__init__(parent=parent)
        item = setup_plot(self, object_name)
        item.getViewBox().invertY(True)
        self._good = pg.mkBrush(*GOOD)
        self._bad = pg.mkBrush(*BAD)
        self.bar = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, pen=pg.mkPen(None))
        item.addItem(self.bar)
        item.addLine(x=0, pen=pg.mkPen(NEUTRAL, width=1))
        # one tick (0) and the scale in the label ("attribution (±0.05)"): in a plot this narrow pyqtgraph's own
        # ticks overlapped ("-400200 0 200400") and its SI factor ("attribution (x0.001)") cut the label off, and
        # ticks at the edges are not drawn (their text would pass the axis)
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.getAxis("bottom").setTicks([[(0.0, "0")], []])
        self._x_name = x_label
        self.values = np.zeros(0)
        self._span = 0.0
        self._small = 0
        self.set_features(feature_names)
        self._init_text(title, (("raises", GOOD), ("lowers", BAD)), x_label, None)  # the bars' colours
        self._set_x_span(1.0)
        self.setMinimumHeight(110)

    def set_title(self, title: str) -> None:
        self._title_text = title
        self.restyle()

    def _tick_point_size(self, width: int, height: int) -> int:
        """Feature names shrink until each has its own line, but not below the style's ``names_pt`` (highway's 26
        names were 7 pt); where even that leaves too little room, the features sharing a prefix are shown as one bar,
        their attributions summed (integrated gradients add up): highway's v0_presence ... v0_vy as ``v0_*``, one
        bar per car as the overlay rings them; the plot's tooltip then says so."""
        def fits(rows: int):
            room = (height - self.__dict__.get("_title_h", 30) - 60) / max(1, rows)
            return lambda fm: fm.height() <= room

        n = len(self.feature_names)
        pt = self._largest_fitting(fits(n))
        grouped = not fits(n)(self._metrics(pt)) and len(self._groups) < n
        if grouped:
            pt = self._largest_fitting(fits(len(self._groups)), least=7)
        self._show_rows(self._groups if grouped else [(f, [i]) for i, f in enumerate(self.feature_names)])
        return pt

    NAMED_AXIS = "left"

    def _left_axis_width(self) -> float:
        """The shown names' tick labels, whether or not the axis has laid them out yet."""
        font = self.font()
        font.setPointSize(self.__dict__.get("_tick_pt", int(STYLE["axis_pt"])))
        fm = QFontMetrics(font)
        return max((fm.horizontalAdvance(name) for name, _i in self.__dict__.get("_rows", ())), default=0) + 20

    def set_features(self, feature_names: Sequence[str]) -> None:
        self.feature_names = list(feature_names)
        self._groups = _feature_groups(self.feature_names)
        self._rows: list[tuple[str, list[int]]] = []
        self.values = np.zeros(len(self.feature_names))
        self._span = 0.0
        self._show_rows([(f, [i]) for i, f in enumerate(self.feature_names)])
        self.set_values(None)
        if "_labels" in self.__dict__:
            self.restyle()

    def _show_rows(self, rows: list[tuple[str, list[int]]]) -> None:
        """One bar per row: (its name, the features it sums)."""
        if rows == self._rows:
            return
        self._rows = rows
        self.getPlotItem().getAxis("left").setTicks([[(i, name) for i, (name, _f) in enumerate(rows)]])
        self.getPlotItem().setYRange(-0.6, max(0, len(rows) - 0.4), padding=0)
        summed = [f"{name} = {' + '.join(self.feature_names[i] for i in idx)}" for name, idx in rows if len(idx) > 1]
        self._summed = ("\nsummed: " + "; ".join(summed)) if summed else ""
        super().setToolTip(self._tip + self._summed)
        self._draw()

    _tip = _summed = ""

    def setToolTip(self, text: str) -> None:
        """The tooltip, followed by which features a bar sums while they are grouped."""
        self._tip = text
        super().setToolTip(text + self._summed)

    def _draw(self) -> None:
        v = np.array([self.values[idx].sum() for _name, idx in self._rows]) if len(self.values) else np.zeros(0)
        brushes = [self._good if a >= 0 else self._bad for a in v]
        self.bar.setOpts(x0=np.minimum(v, 0.0), y=np.arange(len(v)), width=np.abs(v), brushes=brushes)

    def set_values(self, values: np.ndarray | None) -> None:
        n = len(self.feature_names)
        self.values = np.zeros(n) if values is None else np.nan_to_num(np.asarray(values, np.float64)).reshape(n)
        self._draw()
        v = self.bar.opts["width"] if n else np.zeros(0)
        peak = float(np.max(np.abs(v))) if n else 0.0
        if values is None or n == 0:  # nothing to show (no intent model yet): a plain -1..1, not a range around
            self._span, self._small = 0.0, 0  # 1e-6 ("x1e-06" under no bars); the first bars set it at once
            self._set_x_span(1.0)
            return
        span = self._span
        if peak > span or span == 0.0:
            span = nice_ceil(peak)
            self._small = 0
        elif peak < span / 3:
            self._small += 1
            if self._small > 30:
                span, self._small = nice_ceil(peak), 0
        else:
            self._small = 0
        if span != self._span:
            self._span = span
            self._set_x_span(span)

    def _set_x_span(self, span: float) -> None:
        self.getPlotItem().setXRange(-span, span, padding=0.05)
        if self._x_name and "_labels" in self.__dict__:  # (set_features runs before the labels exist)
            self._labels["bottom"] = f"{self._x_name} (±{span:g})"
            self._label_axis("bottom")


def _feature_groups(names: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Features grouped by the prefix before their first "_" where two or more share it (``v0_*``), the others
    alone, in the order they first appear."""
    prefix = [n.split("_", 1)[0] if "_" in n else n for n in names]
    shared = {p for p in prefix if prefix.count(p) > 1}
    groups: dict[str, list[int]] = {}
    for i, (n, p) in enumerate(zip(names, prefix, strict=True)):
        groups.setdefault(f"{p}_*" if p in shared else n, []).append(i)
    return list(groups.items())


def _short_action(name: str, most: int = 6) -> str:
    """A short tick label for an action name: its last word in lower case, which is narrower (LANE_LEFT: left,
    FASTER: faster), cut to ``most - 1`` letters and a dot if longer than ``most`` (``most`` 5: FASTER: fast.)."""
    last = (name.replace("-", "_").split("_")[-1] or name).lower()
    return last if len(last) <= most else last[:most - 1] + "."


def _initials(names: Sequence[str]) -> list[str]:
    """The shortest prefixes (one letter if they differ) that still tell the names apart."""
    for k in range(1, max((len(n) for n in names), default=1) + 1):
        cut = [n[:k].rstrip(".") for n in names]
        if len(set(cut)) == len(cut):
            return cut
    return list(names)


__all__ = ["ActionBars", "FeatureBars"]

"""Live plots that stay fast for a whole session: ring buffers pushed with ``setData``.

pyqtgraph slows down (and leaks) when points are appended one by one to a
growing list; here every curve reads a fixed-size numpy buffer and gets the
latest window with one ``setData`` call. :class:`RingBuffer` stores each value
twice (at ``i`` and ``i + capacity``), so the last ``n`` values are always one
contiguous slice: no copy, no ``np.roll``.

Bars (per-action probabilities, per-feature attributions) are single
``BarGraphItem`` objects updated in place with ``setOpts``.

Repainting, not data handling, is what costs (measured: replaying the axes'
text was half of all the play view's time). So: no grid lines (an axis
with a grid covers the whole plot and is redrawn with every new point), no
legends inside the plot (the series names are coloured in the title),
and axis ranges that change in steps (x doubles, y grows to "nice" bounds)
instead of on every point, so the axes are redrawn rarely.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel

from dpf_gui.app.palette import (
    BAD,
    FUSED,
    GOOD,
    INK,
    INTENT,
    NEUTRAL,
    SIDE_COLOURS,
    TASK,
)

MIN_PLOT_WIDTH = 160  # no plot narrower than this, whatever its title and axis

#: sizes of plot text and lines; ``set_plot_style`` changes them (presentation mode)
STYLE = {"title_pt": 10, "axis_pt": 9, "line": 1.5}


class RingBuffer:
    """The last ``capacity`` values of a stream, readable as one contiguous array."""

    def __init__(self, capacity: int, dtype=np.float64):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = int(capacity)
        self._buf = np.full(2 * self.capacity, np.nan, dtype=dtype)
        self._next = 0  # write position in [0, capacity)
        self.count = 0  # values pushed since the last clear (may exceed capacity)

    def push(self, value: float) -> None:
        i = self._next
        self._buf[i] = value
        self._buf[i + self.capacity] = value
        self._next = (i + 1) % self.capacity
        self.count += 1

    def clear(self) -> None:
        self._buf[:] = np.nan
        self._next = 0
        self.count = 0

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def view(self) -> np.ndarray:
        """The stored values, oldest first (a view: do not keep it across pushes)."""
        n = len(self)
        end = self._next + self.capacity if self.count >= self.capacity else self._next
        return self._buf[end - n:end]

    def last(self) -> float:
        if self.count == 0:
            raise IndexError("empty ring buffer")
        return float(self._buf[(self._next - 1) % self.capacity])


def _pen(colour, width: float | None = None, style=Qt.SolidLine):
    return pg.mkPen(colour, width=STYLE["line"] if width is None else width, style=style)


def _title_tokens(title: str, series: Sequence[tuple[str, tuple[int, int, int]]]) -> list[tuple[str, str]]:
    """(html, plain text) of each word of the title, then of each series name in its colour."""
    words = [(w, w) for w in title.split()]
    return words + [(f'<span style="color:#{r:02x}{g:02x}{b:02x}">■ {n}</span>', f"■ {n}")
                    for n, (r, g, b) in series]


def _title(title: str, series: Sequence[tuple[str, tuple[int, int, int]]] = (), breaks: Sequence[int] = ()) -> str:
    """The title with its series names in their colours; a line break before each token index in ``breaks``
    (tokens: the title's words, then the series names)."""
    out = ""
    for i, (html, _plain) in enumerate(_title_tokens(title, series)):
        out += ("<br>" if i in breaks else " " if i else "") + html
    return out


def title_breaks(title: str, series: Sequence[tuple[str, tuple[int, int, int]]], fm: QFontMetrics,
                 room: float) -> tuple[int, ...]:
    """Where to break a title's lines (token indices, see :func:`_title`) so that no line is wider than ``room``
    pixels where words allow: greedy, a word or a series name never splits; the series names start a new line
    when they do not fit after the title."""
    breaks, line = [], 0.0
    for i, (_html, plain) in enumerate(_title_tokens(title, series)):
        w = fm.horizontalAdvance(plain)
        if line > 0 and line + fm.horizontalAdvance(" ") + w > room:
            breaks.append(i)
            line = w
        else:
            line += (fm.horizontalAdvance(" ") if line > 0 else 0) + w
    return tuple(breaks)


def nice_ceil(v: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= v (v > 0)."""
    if not v > 0 or not np.isfinite(v):
        return 1.0
    e = 10.0 ** np.floor(np.log10(v))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * e >= v * (1 - 1e-9):
            return float(m * e)
    return float(10 * e)


def _setup(widget: pg.PlotWidget, object_name: str | None) -> pg.PlotItem:
    if object_name:
        widget.setObjectName(object_name)
    widget.setBackground("w")
    widget.setMenuEnabled(False)
    widget.setMouseEnabled(x=False, y=False)
    widget.hideButtons()
    item = widget.getPlotItem()
    item.enableAutoRange(enable=False)
    return item


class PlotText:
    """What a plot says about itself: a title (series names in their colours), axis labels with units, and a
    note over an empty plot saying why it is empty. Restyled by :meth:`restyle` (presentation mode)."""

    def _init_text(self, title: str, series=(), x_label: str | None = None, y_label: str | None = None) -> None:
        self._title_text, self._series = title, list(series)
        self._labels = {"bottom": x_label, "left": y_label}
        self.note = QLabel(self)
        self.note.setObjectName((self.objectName() or "plot") + "Note")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("QLabel { color: #333; background: rgba(255, 255, 255, 225); padding: 4px; }")
        self.note.hide()
        self.restyle()

    def _title_breaks(self, width: int | None = None) -> tuple[int, ...]:
        """Line breaks that keep the title within the plot's width: pyqtgraph would otherwise widen the plot
        past its widget to fit a long title, cutting off its right side. The title sits over the plot area
        (not the y axis); 15 % is kept spare for the glyphs' fallback font."""
        font = self.font()
        font.setPointSize(int(STYLE["title_pt"]))
        width = self.width() if width is None else width
        room = (width - max(self._left_axis_width(), 30) - 16) / 1.15
        return title_breaks(self._title_text, self._series, QFontMetrics(font), room)

    def _label_axis(self, side: str) -> None:
        text = self._labels.get(side)
        if text:
            ink = "#{:02x}{:02x}{:02x}".format(*INK)
            self.getPlotItem().getAxis(side).setLabel(text, **{"color": ink, "font-size": f"{STYLE['axis_pt']}pt"})

    def restyle(self, width: int | None = None) -> None:
        item = self.getPlotItem()
        ink = "#{:02x}{:02x}{:02x}".format(*INK)
        self._breaks = self._title_breaks(width)
        item.setTitle(_title(self._title_text, self._series, self._breaks), size=f"{STYLE['title_pt']}pt",
                      color=ink)
        # pyqtgraph gives the title a fixed 30 px row: a larger or wrapped title needs its own height
        h = max(30, int(item.titleLabel.item.boundingRect().height()) + 2)
        item.titleLabel.setMaximumHeight(h)
        item.layout.setRowFixedHeight(0, h)
        self._title_h = h
        font = self.font()
        font.setPointSize(int(STYLE["axis_pt"]))
        self._tick_pt = self._tick_point_size(self.width() if width is None else width, self.height())
        named = QFont(font)
        named.setPointSize(self._tick_pt)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(INK))
            axis.setTextPen(pg.mkPen(INK))
            axis.setStyle(tickFont=named if side == self.NAMED_AXIS else font)
            self._label_axis(side)
        for curve in self.__dict__.get("curves", {}).values():  # (not PlotItem's list of curves)
            pen = curve.opts["pen"]
            curve.setPen(pg.mkPen(pen.color(), width=STYLE["line"]))
        font = self.note.font()
        font.setPointSize(int(STYLE["axis_pt"]))
        self.note.setFont(font)
        self.updateGeometry()  # the minimum width follows the fonts

    def minimumSizeHint(self):
        """The width the plot really needs (pyqtgraph reports 68 px and then overflows): the y axis with its
        tick labels and label, and the title's longest word (the title wraps to fit, see ``_title_breaks``)."""
        hint = super().minimumSizeHint()
        if "_labels" not in self.__dict__:
            return hint
        font = self.font()
        font.setPointSize(int(STYLE["title_pt"]))
        fm = QFontMetrics(font)
        word = max((fm.horizontalAdvance(plain) for _h, plain in _title_tokens(self._title_text, self._series)),
                   default=0)
        axis_w = self._left_axis_width()
        return QSize(max(hint.width(), MIN_PLOT_WIDTH, int(max(axis_w, 30) + 36 + word * 1.2)), hint.height())

    def _left_axis_width(self) -> float:
        axis = self.getPlotItem().getAxis("left")
        return axis.width() if axis.isVisible() else 0

    def set_axis_label(self, side: str, text: str | None) -> None:
        if self._labels.get(side) != text:
            self._labels[side] = text
            self.restyle()

    def set_note(self, text: str | None) -> None:
        """Say over the plot why it is empty (None: no note)."""
        if not text:
            self.note.hide()
            return
        self.note.setText(text)
        self._place_note()
        self.note.show()
        self.note.raise_()

    def _place_note(self) -> None:
        """Centre the note over the data area, right of the y axis, so its ticks stay readable (a short plot, as
        in Compare at 1024x768, had them under the note); the whole widget where the data area is too narrow."""
        w, h = self.width(), self.height()
        area = self.mapFromScene(self.getPlotItem().vb.sceneBoundingRect()).boundingRect()
        left, right = (area.left(), area.right()) if area.width() >= 120 else (0, w)
        left, right = max(0, left), min(w, right)
        width = max(60, int((right - left) * 0.95))
        self.note.setFixedWidth(width)
        # the wrapped text's height at this width (adjustSize keeps the old height when the plot narrows)
        self.note.setFixedHeight(max(self.note.heightForWidth(width), self.note.sizeHint().height()))
        x = min(max(0, left + (right - left - width) // 2), max(0, w - width))
        self.note.move(x, max(0, (h - self.note.height()) // 2))

    NAMED_AXIS: str | None = None  # the axis whose ticks are names (actions, features): they shrink to fit

    def _tick_point_size(self, width: int, height: int) -> int:
        """The named ticks' size in points: the style's, smaller where they would overlap."""
        return int(STYLE["axis_pt"])

    def _metrics(self, pt: int) -> QFontMetrics:
        font = self.font()
        font.setPointSize(pt)
        return QFontMetrics(font)

    def _largest_fitting(self, fits) -> int:
        """The largest point size from the style's down to 7 for which ``fits(QFontMetrics)`` holds."""
        font = self.font()
        pt = int(STYLE["axis_pt"])
        while pt > 7:
            font.setPointSize(pt)
            if fits(QFontMetrics(font)):
                break
            pt -= 1
        return pt

    def resizeEvent(self, event) -> None:
        width = event.size().width() if event is not None else self.width()  # the title first: the layout
        height = event.size().height() if event is not None else self.height()
        if "_breaks" in self.__dict__ and (self._title_breaks(width) != self._breaks
                                           or self._tick_point_size(width, height) != self._tick_pt):
            self.restyle(width)  # (pyqtgraph calls this with None while it builds the widget)
        super().resizeEvent(event)
        note = self.__dict__.get("note")  # resized once before the note exists (pyqtgraph's __getattr__ raises)
        if note is not None and not note.isHidden():  # shown, or to be shown with its tab: a hidden tab resizes too
            self._place_note()


class LivePlot(PlotText, pg.PlotWidget):
    """A time plot of a few named curves sharing one x axis (the decision index).

    ``y_range`` fixes the y axis; otherwise it grows to nice bounds around the
    data seen since the last :meth:`clear_data` and never shrinks within an
    episode. The x axis shows ``[0, 2^k]``, doubled when the data passes it.
    """

    def __init__(self, title: str, curves: Sequence[tuple[str, tuple[int, int, int]]], capacity: int = 1000,
                 y_range: tuple[float, float] | None = None, parent=None, object_name: str | None = None,
                 min_x: float = 32.0, x_label: str | None = "decision t", y_label: str | None = None):
        super().__init__(parent=parent)
        item = _setup(self, object_name)
        item.setClipToView(True)
        self.x = RingBuffer(capacity)
        self.buffers: dict[str, RingBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name, colour in curves:
            self.buffers[name] = RingBuffer(capacity)
            self.curves[name] = item.plot(name=name, pen=_pen(colour), connect="finite", antialias=False)
        self._fixed_y = y_range
        self._min_x = float(min_x)
        self._x_hi = self._min_x
        self._y = (0.0, 1.0) if y_range is None else y_range
        self._ylo, self._yhi = np.inf, -np.inf
        item.setXRange(0, self._x_hi, padding=0.02)
        item.setYRange(*self._y, padding=0.05)
        self._init_text(title, curves if len(curves) > 1 else (), x_label, y_label)
        self.setMinimumHeight(90)
        self._fit_y_ticks()

    def _fit_y_ticks(self) -> None:
        """No more y labels than the plot's height holds: pyqtgraph always labels its first tick level, which
        put six overlapping labels on a 55 px axis (Compare at 1024x768 in presentation mode)."""
        line = self._metrics(int(STYLE["axis_pt"])).height()
        room = self.height() - self.__dict__.get("_title_h", 30) - 3 * line - 12  # the title, x ticks and label
        labels = int(max(room, 0) // (1.5 * line)) + 1
        axis = self.getPlotItem().getAxis("left")
        if labels >= 6:
            axis.setTickSpacing()  # pyqtgraph's own choice
        else:
            lo, hi = self._y
            axis.setTickSpacing(levels=[(nice_ceil((hi - lo) / max(labels - 1, 1)), 0.0)])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if "_y" in self.__dict__:  # (pyqtgraph resizes the widget while it builds it)
            self._fit_y_ticks()

    def push(self, x: float, **values: float) -> None:
        """Append one point to every curve (missing names get NaN: a gap)."""
        self.x.push(x)
        for name, buf in self.buffers.items():
            v = values.get(name)
            v = np.nan if v is None else float(v)
            buf.push(v)
            if np.isfinite(v):
                self._ylo, self._yhi = min(self._ylo, v), max(self._yhi, v)

    def refresh(self) -> None:
        """Hand the current windows to pyqtgraph: one ``setData`` per curve; move the axes only in steps."""
        x = self.x.view()
        for name, curve in self.curves.items():
            curve.setData(x, self.buffers[name].view())
        item = self.getPlotItem()
        if len(x):
            lo_x = float(x[0])
            hi = self._x_hi
            while float(x[-1]) > hi:
                hi *= 2
            if hi != self._x_hi or lo_x > 0:
                self._x_hi = hi if lo_x <= 0 else max(hi, lo_x + self._min_x)
                item.setXRange(max(0, lo_x), self._x_hi, padding=0.02)
        if self._fixed_y is None and np.isfinite(self._ylo):
            lo, hi = self._y
            if self._ylo < lo or self._yhi > hi:
                span = nice_ceil(max(self._yhi, 0.0) - min(self._ylo, 0.0) or 1.0)
                step = span / 4
                new = (min(lo, np.floor(self._ylo / step) * step), max(hi, np.ceil(self._yhi / step) * step))
                if new != self._y:
                    self._y = new
                    item.setYRange(*new, padding=0.05)
                    self._fit_y_ticks()

    def clear_data(self) -> None:
        self.x.clear()
        for buf in self.buffers.values():
            buf.clear()
        self._ylo, self._yhi = np.inf, -np.inf
        self._x_hi = self._min_x
        item = self.getPlotItem()
        item.setXRange(0, self._x_hi, padding=0.02)
        if self._fixed_y is None:
            self._y = (0.0, 1.0)
            item.setYRange(*self._y, padding=0.05)
            self._fit_y_ticks()
        self.refresh()

    def count(self) -> int:
        return self.x.count


class ActionBars(PlotText, pg.PlotWidget):
    """Grouped bars: one group per action, one bar per series (task / intent / fused probability)."""

    def __init__(self, title: str, action_names: Sequence[str], series: Sequence[tuple[str, tuple[int, int, int]]],
                 y_range: tuple[float, float] = (0.0, 1.0), parent=None, object_name: str | None = None,
                 x_label: str | None = None, y_label: str | None = "probability"):
        super().__init__(parent=parent)
        item = _setup(self, object_name)
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
        """Action names shrink until each fits its group's width; where even that is too wide (highway's long
        names on a narrow plot) they are shortened (LANE_LEFT: LEFT, FASTER: FAST.), and on the narrowest plots
        (the Play tab's at 1024x768) cut to their first letters (L, I, R, F, S); the full names are then in the
        plot's tooltip."""
        room = (width - 70) / max(1, len(self.action_names))
        full = self.action_names
        short = [_short_action(a) for a in full]

        def fits(names):
            return lambda fm: max((fm.horizontalAdvance(a) for a in names), default=0) + 6 <= room

        for labels in (full, short, _initials(short)):
            pt = self._largest_fitting(fits(labels))
            if fits(labels)(self._metrics(pt)):
                break
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
        item = _setup(self, object_name)
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
        """Feature names shrink until each has its own line (highway's 26 features on a low plot)."""
        room = (height - self.__dict__.get("_title_h", 30) - 60) / max(1, len(self.feature_names))
        return self._largest_fitting(lambda fm: fm.height() <= room)

    NAMED_AXIS = "left"

    def _left_axis_width(self) -> float:
        """The feature names' tick labels, whether or not the axis has laid them out yet."""
        font = self.font()
        font.setPointSize(self.__dict__.get("_tick_pt", int(STYLE["axis_pt"])))
        fm = QFontMetrics(font)
        return max((fm.horizontalAdvance(f) for f in self.feature_names), default=0) + 20

    def set_features(self, feature_names: Sequence[str]) -> None:
        self.feature_names = list(feature_names)
        n = len(self.feature_names)
        self.values = np.zeros(n)
        self._span = 0.0
        self.getPlotItem().getAxis("left").setTicks([[(i, f) for i, f in enumerate(self.feature_names)]])
        self.getPlotItem().setYRange(-0.6, max(0, n - 0.4), padding=0)
        self.set_values(None)
        if "_labels" in self.__dict__:
            self.restyle()

    def set_values(self, values: np.ndarray | None) -> None:
        n = len(self.feature_names)
        v = np.zeros(n) if values is None else np.nan_to_num(np.asarray(values, np.float64)).reshape(n)
        self.values = v
        brushes = [self._good if a >= 0 else self._bad for a in v]
        self.bar.setOpts(x0=np.minimum(v, 0.0), y=np.arange(n), width=np.abs(v), brushes=brushes)
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


def _short_action(name: str) -> str:
    """A short tick label for an action name: its last word, cut to four letters and a dot if longer than five."""
    last = name.replace("-", "_").split("_")[-1] or name
    return last if len(last) <= 5 else last[:4] + "."


def _initials(names: Sequence[str]) -> list[str]:
    """The shortest prefixes (one letter if they differ) that still tell the names apart."""
    for k in range(1, max((len(n) for n in names), default=1) + 1):
        cut = [n[:k].rstrip(".") for n in names]
        if len(set(cut)) == len(cut):
            return cut
    return list(names)


def set_plot_style(large: bool) -> None:
    """Plot text and line sizes for plots made or restyled from now on: large for a projector."""
    STYLE.update({"title_pt": 13, "axis_pt": 12, "line": 3.0} if large else {"title_pt": 10, "axis_pt": 9, "line": 1.5})


__all__ = [
    "BAD",
    "FUSED",
    "GOOD",
    "INK",
    "INTENT",
    "SIDE_COLOURS",
    "STYLE",
    "TASK",
    "ActionBars",
    "FeatureBars",
    "LivePlot",
    "PlotText",
    "RingBuffer",
    "nice_ceil",
    "set_plot_style",
]

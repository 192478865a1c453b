"""Live plots that stay fast for a whole session: ring buffers pushed with ``setData``.

pyqtgraph slows down (and leaks) when points are appended one by one to a
growing list; here every curve reads a fixed-size numpy buffer and gets the
latest window with one ``setData`` call. :class:`RingBuffer` stores each value
twice (at ``i`` and ``i + capacity``), so the last ``n`` values are always one
contiguous slice: no copy, no ``np.roll``.

Bars (per-action probabilities, per-feature attributions) are in
:mod:`dpf_gui.app.plot_bars`.

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

from dpf_gui.palette import (
    BAD,
    FUSED,
    GOOD,
    INK,
    INTENT,
    SIDE_COLOURS,
    TASK,
)

MIN_PLOT_WIDTH = 160  # no plot narrower than this, whatever its title and axis

#: sizes of plot text and lines; ``set_plot_style`` changes them (presentation mode); ``names_pt``: the least size of
#: named ticks (actions, features), which are shortened or grouped rather than drawn smaller
STYLE = {"title_pt": 10, "axis_pt": 9, "names_pt": 8, "line": 1.5}


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


def setup_plot(widget: pg.PlotWidget, object_name: str | None) -> pg.PlotItem:
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

    def _largest_fitting(self, fits, least: int | None = None) -> int:
        """The largest point size from the style's down to ``least`` (default: the style's ``names_pt``) for which
        ``fits(QFontMetrics)`` holds (``least`` if none)."""
        font = self.font()
        pt = int(STYLE["axis_pt"])
        least = int(STYLE["names_pt"]) if least is None else least
        while pt > least:
            font.setPointSize(pt)
            if fits(QFontMetrics(font)):
                break
            pt -= 1
        return pt

    def resizeEvent(self, event) -> None:
        width = event.size().width() if event is not None else self.width()  # the title first: the layout
        height = event.size().height() if event is not None else self.height()
        if "_breaks" in self.__dict__ and self.getPlotItem() is not None and (self._title_breaks(width) != self._breaks
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
        item = setup_plot(self, object_name)
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


def set_plot_style(large: bool) -> None:
    """Plot text and line sizes for plots made or restyled from now on: large for a projector."""
    STYLE.update({"title_pt": 13, "axis_pt": 12, "names_pt": 10, "line": 3.0} if large else
                 {"title_pt": 10, "axis_pt": 9, "names_pt": 8, "line": 1.5})


__all__ = [
    "BAD",
    "FUSED",
    "GOOD",
    "INK",
    "INTENT",
    "SIDE_COLOURS",
    "STYLE",
    "TASK",
    "LivePlot",
    "PlotText",
    "RingBuffer",
    "nice_ceil",
    "set_plot_style",
    "setup_plot",
]

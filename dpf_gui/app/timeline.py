"""The player's per-decision strip under the frame: marks, the wish's regions, the segment being set and a
small bar plot of one value per decision; clicking or dragging on it seeks.

The strip is drawn once into a pixmap when what it shows changes; a frame of playback draws that pixmap and
the position line. Drawn afresh at every frame, a 1000-decision Pong trajectory's strip was about a
thousand Python-to-Qt calls, each a chance for another thread to hold the GIL: up to 160 ms a repaint
while the player's replay thread ran (docs/PERFORMANCE.md, "Where the window stops answering").
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from dpf_gui.app.overlays import frame_legend_label, swatch_html
from dpf_gui.palette import AVOID, PREFER

#: a neutral mark's grey
NEUTRAL_MARK = (160, 160, 160)


class Timeline(QWidget):
    """Per-decision strip: the person's marks, the wish's regions, a segment being set, and step values.

    ``set_step_values`` draws a small bar plot of one number per decision
    (e.g. the intent model's redistributed reward) under the marks.
    """

    seekRequested = Signal(int)

    MARK_H, WISH_H, GAP = 16, 5, 3

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setMinimumHeight(64)
        self.setMaximumHeight(64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Per decision: your marks (wide row: green preferred, orange avoided, grey neutral), the "
                        "wish's regions (thin row: green preferred, orange avoided) and, with an intent model, its "
                        "reward per decision (bars: green raises the score, orange lowers it). Click to jump.")
        self.n_steps = 0
        self.position = 0
        self.marks: np.ndarray | None = None
        self.labelled = False
        self.wish_marks: np.ndarray | None = None
        self.selection: tuple[int, int] | None = None
        self.step_values: np.ndarray | None = None
        self._strip: QPixmap | None = None  # everything but the position line, as last drawn

    def _changed(self) -> None:
        """What the strip shows changed: draw it again at the next paint."""
        self._strip = None
        self.update()

    def set_steps(self, n: int) -> None:
        self.n_steps = int(n)
        self.marks = self.wish_marks = self.step_values = None
        self.selection = None
        self._changed()

    def set_position(self, frame: int) -> None:
        self.position = int(frame)
        self.update()

    def set_marks(self, marks: np.ndarray | None, labelled: bool) -> None:
        self.marks, self.labelled = (None if marks is None else np.asarray(marks)), bool(labelled)
        self._changed()

    def set_wish_marks(self, marks: np.ndarray | None) -> None:
        self.wish_marks = None if marks is None else np.asarray(marks)
        self._changed()

    def set_selection(self, selection: tuple[int, int] | None) -> None:
        self.selection = selection
        self._changed()

    def set_step_values(self, values: np.ndarray | None) -> None:
        self.step_values = None if values is None else np.asarray(values, dtype=np.float64)
        self._changed()

    # --- drawing ----------------------------------------------------------
    def _x(self, t: float) -> float:
        return 4 + (self.width() - 8) * (t / max(self.n_steps, 1))

    @staticmethod
    def _runs(values: np.ndarray):
        """Maximal stretches (start, stop, value) of equal values."""
        values = np.asarray(values)
        if not len(values):
            return []
        edges = np.flatnonzero(values[1:] != values[:-1]) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [len(values)]])
        return zip(starts.tolist(), stops.tolist(), values[starts].tolist(), strict=True)

    def paintEvent(self, event) -> None:
        ratio = self.devicePixelRatioF()
        size = (round(self.width() * ratio), round(self.height() * ratio))
        if self._strip is None or (self._strip.width(), self._strip.height()) != size:  # new content, or resized
            self._strip = QPixmap(*size)
            self._strip.setDevicePixelRatio(ratio)
            self._draw_strip(self._strip)
        p = QPainter(self)
        p.drawPixmap(0, 0, self._strip)
        if self.n_steps > 0:
            x = self._x(self.position)
            p.setPen(QPen(QColor(20, 20, 20), 2))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()

    def _draw_strip(self, target: QPixmap) -> None:
        """Everything the strip shows but the position line."""
        p = QPainter(target)
        p.fillRect(QRectF(0, 0, self.width(), self.height()), QColor(245, 245, 245))
        if self.n_steps <= 0:
            p.end()
            return
        top = 2
        p.fillRect(QRectF(self._x(0), top, self._x(self.n_steps) - self._x(0), self.MARK_H), QColor(225, 225, 225))
        colours = {1: QColor(*PREFER), -1: QColor(*AVOID), 0: QColor(*NEUTRAL_MARK)}
        if self.marks is not None and self.labelled:
            for a, b, v in self._runs(self.marks):
                p.fillRect(QRectF(self._x(a), top, self._x(b) - self._x(a), self.MARK_H), colours[int(np.sign(v))])
        wtop = top + self.MARK_H + self.GAP
        if self.wish_marks is not None:
            for a, b, v in self._runs(self.wish_marks):
                if v:
                    c = QColor(colours[int(np.sign(v))])
                    c.setAlpha(150)
                    p.fillRect(QRectF(self._x(a), wtop, self._x(b) - self._x(a), self.WISH_H), c)
        vtop = wtop + self.WISH_H + self.GAP
        vh = self.height() - vtop - 2
        if self.step_values is not None and len(self.step_values):
            vals = np.nan_to_num(self.step_values[: self.n_steps])
            scale = float(np.max(np.abs(vals))) or 1.0
            mid = vtop + vh / 2
            p.setPen(QPen(QColor(190, 190, 190)))
            p.drawLine(QPointF(self._x(0), mid), QPointF(self._x(self.n_steps), mid))
            for t, v in enumerate(vals):
                h = (vh / 2) * v / scale
                c = colours[1] if v > 0 else colours[-1]
                p.fillRect(QRectF(self._x(t), mid - max(h, 0), max(self._x(t + 1) - self._x(t) - 0.5, 0.8), abs(h)), c)
        if self.selection is not None:
            a, b = sorted(self.selection)
            c = QColor(40, 90, 220, 70)
            p.fillRect(QRectF(self._x(a), 0, self._x(b + 1) - self._x(a), self.height()), c)
            p.setPen(QPen(QColor(40, 90, 220), 2))
            p.drawLine(QPointF(self._x(a), 0), QPointF(self._x(a), self.height()))
            p.drawLine(QPointF(self._x(b + 1), 0), QPointF(self._x(b + 1), self.height()))
        p.end()

    # --- mouse: click or drag to seek ------------------------------------
    def _seek_to(self, x: float) -> None:
        if self.n_steps > 0:
            frac = (x - 4) / max(self.width() - 8, 1)
            self.seekRequested.emit(round(min(max(frac, 0.0), 1.0) * self.n_steps))

    def mousePressEvent(self, event) -> None:
        self._seek_to(event.position().x())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek_to(event.position().x())


def timeline_legend(regions: bool = True) -> QLabel:
    """The line under the timeline saying what its rows and colours mean (``timelineLegend``; the tooltip says
    the rest: the intent's reward bars). ``regions`` False: the wish's row is not named (a study hides it)."""
    label = frame_legend_label("timelineLegend")
    label.setText("timeline: " + " ".join(swatch_html(c, t) for c, t in ((PREFER, "preferred"), (AVOID, "avoided"),
                                                                          (NEUTRAL_MARK, "neutral")))
                  + (" · your marks (wide row), the wish's regions (thin row)" if regions else " · your marks"))
    return label


__all__ = ["Timeline", "timeline_legend"]

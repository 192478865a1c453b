"""The widget every view shows environment frames in (Play, Compare, the Annotate player).

It draws a finished ``QImage`` (overlays already on it) scaled to fit with
its aspect kept, and nothing else but an optional centred message, so
painting stays cheap.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class FrameView(QWidget):
    """A ``QImage`` scaled to fit, aspect kept, on ``background`` (default: the palette's window colour).

    ``smooth`` None smooths only when shrinking (frames pre-scaled by an
    integer stay crisp); True or False forces it. ``size_hint`` None: the
    image's size.
    """

    MIN_HEIGHT = 120

    def __init__(self, parent: QWidget | None = None, object_name: str = "",
                 background: QColor | None = None, size_hint: QSize | None = None):
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, self.MIN_HEIGHT)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.background = background
        self.smooth: bool | None = None
        self._size_hint = size_hint
        self._image: QImage | None = None
        self._message = ""

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_message(self, text: str) -> None:
        """Text drawn over the middle of the view ("" for none)."""
        self._message = text
        self.update()

    def sizeHint(self) -> QSize:
        if self._size_hint is not None:
            return self._size_hint
        return QSize(400, 300) if self._image is None else self._image.size()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        background = self.background if self.background is not None else self.palette().window().color()
        p.fillRect(self.rect(), background)
        if self._image is not None and not self._image.isNull():
            iw, ih = self._image.width(), self._image.height()
            s = min(self.width() / iw, self.height() / ih)
            w, h = iw * s, ih * s
            target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, s < 1 if self.smooth is None else self.smooth)
            p.drawImage(target, self._image)
        if self._message:
            # light text on a dark background, the palette's text colour on a light one (Play's frame view)
            p.setPen(QColor(230, 230, 230) if background.lightness() < 128 else self.palette().windowText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
        p.end()


__all__ = ["FrameView"]

"""Intent saliency drawn on the environment's frame.

Two halves, so that the environment is only ever touched by the thread or
process that steps it:

* the environment's screen (:class:`dpf_gui.envs.screen.Screen`, no Qt, called
  through :func:`dpf_gui.overlay_data.overlay_data` where the environment is
  stepped: the UI thread, a worker thread or highway's worker process) says
  what to draw as plain shapes in frame pixels (gridnav: the intent's value map,
  the wish's cells, the next move; highway: lanes, the ego lane, a ring per
  observed car; pong: paddle bands, paddle and ball);
* :func:`compose` (UI thread, this module) draws them over the frame with a
  ``QPainter``, the same way for every environment, and returns the ``QImage``
  that the :class:`~dpf_gui.app.frame_view.FrameView` shows and the recorder
  writes, so a recording looks exactly like the screen. Colour roles
  ("good", "bad", "current") become the palette's colours here. The command
  line draws the same shapes without Qt (:mod:`dpf_gui.frame_paint`).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel

from dpf_gui.envs import env_screen
from dpf_gui.envs.screen import Ellipse, Heat, Layer, Line, Pen, Rect, Swatch, Text
from dpf_gui.frame_paint import value_map_rgba
from dpf_gui.overlay_data import OverlayData
from dpf_gui.palette import ROLES


def frame_to_qimage(frame: np.ndarray, scale: int = 1) -> QImage:
    """RGB uint8 (H, W, 3) -> an owned ``QImage``, upscaled by an integer factor (nearest).

    The result is RGB32, the format QPainter draws on fastest (drawing on
    RGB888 takes several times longer).
    """
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    if scale > 1:
        frame = np.ascontiguousarray(frame.repeat(scale, axis=0).repeat(scale, axis=1))
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format_RGB888).convertToFormat(QImage.Format_RGB32)


def qimage_to_array(image: QImage) -> np.ndarray:
    """A copy of a ``QImage`` as RGB uint8 (H, W, 3) (what the recorder writes)."""
    img = image.convertToFormat(QImage.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def _qcolor(colour, alpha: int = 255) -> QColor:
    """A shape's colour (RGB tuple or palette role) as a ``QColor``."""
    r, g, b = ROLES.get(colour, colour) if isinstance(colour, str) else colour
    return QColor(int(r), int(g), int(b), int(alpha))


def compose(frame: np.ndarray, data: OverlayData | None, show: bool = True) -> QImage:
    """The frame with the overlay drawn on it (what the view shows and the recorder writes)."""
    scale = data.scale if data is not None else 1
    image = frame_to_qimage(frame, scale)
    if data is None or not show or not data.shapes:
        return image
    p = QPainter(image)
    try:
        p.scale(scale, scale)
        _draw(p, data.shapes, (image.width(), image.height()), scale)
    finally:
        p.end()
    return image


def _draw(p: QPainter, shapes, size: tuple[int, int], scale: int) -> None:
    """Paint shapes in order: pictures (heat maps, layers) without antialiasing (nearest, and fast), the rest with."""
    for s in shapes:
        raster = isinstance(s, (Heat, Layer))
        p.setRenderHint(QPainter.Antialiasing, not raster)
        if isinstance(s, Heat):  # nearest-neighbour upscaling of a small image
            rgba = np.ascontiguousarray(value_map_rgba(s.values))
            h, w, _ = rgba.shape
            heat = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).convertToFormat(
                QImage.Format_ARGB32_Premultiplied)
            p.drawImage(QRectF(s.x, s.y, s.w, s.h), heat)
        elif isinstance(s, Layer):
            p.save()
            p.resetTransform()
            p.drawImage(0, 0, _layer_image(s, size, scale))
            p.restore()
        elif isinstance(s, Rect):
            if s.fill is not None and s.pen is None:
                p.fillRect(QRectF(s.x, s.y, s.w, s.h), _qcolor(s.fill, s.fill_alpha))
            else:
                _style(p, s.pen, s.fill, s.fill_alpha)
                p.drawRect(QRectF(s.x, s.y, s.w, s.h))
        elif isinstance(s, Ellipse):
            _style(p, s.pen, s.fill, s.fill_alpha)
            p.drawEllipse(QPointF(s.cx, s.cy), s.rx, s.ry)
        elif isinstance(s, Line):
            p.setPen(_pen(s.pen))
            p.drawLine(QPointF(s.x0, s.y0), QPointF(s.x1, s.y1))
        elif isinstance(s, Text):
            font = QFont(p.font())
            font.setPixelSize(max(1, round(s.size)))
            p.setFont(font)
            p.setPen(_qcolor(s.colour))
            p.drawText(QPointF(s.x, s.y), s.text)


def _pen(pen: Pen) -> QPen:
    return QPen(_qcolor(pen.colour, pen.alpha), pen.width, Qt.DashLine if pen.dashed else Qt.SolidLine,
                Qt.RoundCap if pen.round_cap else Qt.SquareCap)


def _style(p: QPainter, pen: Pen | None, fill, fill_alpha: int) -> None:
    p.setPen(_pen(pen) if pen is not None else Qt.NoPen)
    p.setBrush(QBrush(_qcolor(fill, fill_alpha)) if fill is not None else Qt.NoBrush)


_LAYERS: dict[tuple, QImage] = {}
_LAYER_REFS: dict[tuple, Layer] = {}


def _layer_image(layer: Layer, size: tuple[int, int], scale: int) -> QImage:
    """A :class:`Layer` drawn once into a transparent image (dashed lines are slow), reused while the screen
    hands back the same object."""
    key = (id(layer), size, scale)
    image = _LAYERS.get(key)
    if image is not None:
        return image
    image = QImage(size[0], size[1], QImage.Format_ARGB32_Premultiplied)
    image.fill(Qt.transparent)
    p = QPainter(image)
    try:
        p.scale(scale, scale)
        _draw(p, layer.shapes, size, scale)
    finally:
        p.end()
    if len(_LAYERS) > 8:
        _LAYERS.clear()
        _LAYER_REFS.clear()
    _LAYERS[key] = image
    _LAYER_REFS[key] = layer  # keep the layer alive with its picture, so its id cannot be reused
    return image


def swatch_html(rgb, text: str, glyph: str = "■") -> str:
    """A coloured glyph and its (plain) text, as the legends show them."""
    r, g, b = rgb
    return f'<span style="color:#{r:02x}{g:02x}{b:02x}">{glyph}</span>&nbsp;{html.escape(text, quote=False)}'


def legend_html(env_name: str, overlay: bool = True, regions: bool = True, filled_regions: bool = False,
                saliency: bool = True) -> str:
    """What every colour on the frame means, as one rich-text line (or two) for a label under the frame.

    ``overlay``: the overlay is drawn; ``saliency``: with the intent's part of it (heat map, rings, outlines:
    an intent model is loaded), else only what is drawn without one (gridnav's next move, highway's lane);
    ``regions``: a wish's regions are, as dashed outlines (Play, Compare) or, with ``filled_regions``, as tinted
    cells (Annotate). The entries come from the environment's screen; the overlay's entries in the "good" and
    "bad" colours are the intent's.
    """
    screen = env_screen(env_name)
    parts = screen.legend(overlay, regions, filled_regions)
    if overlay and not saliency:
        plain = len(screen.legend(False, regions, filled_regions))
        parts = parts[:plain] + [part for part in parts[plain:] if not _the_intents(part)]
    return " · ".join("".join(_legend_item(i) for i in (part if isinstance(part, tuple) else (part,)))
                      for part in parts)


def _the_intents(part) -> bool:
    """Whether a legend part explains the intent's saliency (a swatch in the "good" or "bad" colour)."""
    return any(isinstance(i, Swatch) and isinstance(i.colour, str) and i.colour in ("good", "bad")
               for i in (part if isinstance(part, tuple) else (part,)))


def _legend_item(item) -> str:
    if isinstance(item, Swatch):
        return swatch_html(ROLES.get(item.colour, item.colour) if isinstance(item.colour, str) else item.colour,
                           item.text, item.glyph)
    return html.escape(str(item), quote=False)


def frame_legend_label(name: str) -> QLabel:
    """The line under a frame saying what its colours mean (:func:`~dpf_gui.app.overlays.legend_html`)."""
    label = QLabel("")
    label.setObjectName(name)
    label.setTextFormat(Qt.RichText)
    label.setWordWrap(True)
    label.setStyleSheet("QLabel { color: #333; }")
    return label


__all__ = ["compose", "frame_legend_label", "frame_to_qimage", "legend_html", "qimage_to_array", "swatch_html"]

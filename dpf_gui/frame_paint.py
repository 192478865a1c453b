"""A screen's overlay drawn over a frame without Qt (Pillow), for ``dpf record``.

The app draws an environment's overlay shapes (:mod:`dpf_gui.envs.screen`)
with a ``QPainter`` (:func:`dpf_gui.app.overlays.compose`); the command line
has no Qt, so :func:`paint` draws the same shapes, in the same order and
colours, with Pillow: a recording made by ``dpf record`` shows what the Play
view shows over the picture. Text is drawn in Pillow's own font, and dashed
outlines as dashes of four frame pixels, so the two differ in such details.
"""

from __future__ import annotations

import functools

import numpy as np

from dpf_gui.envs.screen import Ellipse, Heat, Layer, Line, Pen, Rect, Text
from dpf_gui.overlay_data import OverlayData
from dpf_gui.palette import BAD, GOOD, ROLES

DASH = 4.0  # length of a dash, and of the gap after it, in frame pixels (before upscaling)


def value_map_rgba(values: np.ndarray, alpha: int = 120) -> np.ndarray:
    """Diverging colours for a value map, centred on its mean: (H, W, 4) uint8, transparent where NaN."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    out = np.zeros((*v.shape, 4), np.uint8)
    if not ok.any():
        return out
    c = v - v[ok].mean()
    span = float(np.abs(c[ok]).max()) or 1.0
    t = np.clip(np.where(ok, c / span, 0.0), -1.0, 1.0)[..., None]  # -1 bad .. +1 good
    good, bad, mid = np.array(GOOD, float), np.array(BAD, float), np.array((255, 255, 255), float)
    rgb = np.where(t >= 0, mid + t * (good - mid), mid - t * (bad - mid))
    out[..., :3] = rgb.astype(np.uint8)
    out[..., 3] = np.where(ok, (alpha * np.abs(t[..., 0]) ** 0.7).astype(np.uint8), 0)
    return out


@functools.lru_cache(maxsize=16)
def font(size: float):
    """Pillow's own font at ``size`` pixels, loaded once per size (a recording asks for it on every frame)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=max(1.0, size))


def upscale(frame: np.ndarray, scale: int) -> np.ndarray:
    """``frame`` (H, W, 3) with every pixel repeated ``scale`` times each way (nearest, as the views show it)."""
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    return frame if scale <= 1 else frame.repeat(scale, axis=0).repeat(scale, axis=1)


def paint(frame: np.ndarray, data: OverlayData | None, show: bool = True) -> np.ndarray:
    """The frame, upscaled by the overlay's scale, with its shapes drawn over it: (H', W', 3) uint8."""
    from PIL import Image

    scale = data.scale if data is not None else 1
    base = upscale(frame, scale)
    if data is None or not show or not data.shapes:
        return base
    image = Image.fromarray(base, "RGB").convert("RGBA")
    _draw(image, data.shapes, float(scale))
    return np.asarray(image.convert("RGB"))


def _rgba(colour, alpha: int = 255) -> tuple[int, int, int, int]:
    r, g, b = ROLES.get(colour, colour) if isinstance(colour, str) else colour
    return int(r), int(g), int(b), int(alpha)


def _draw(image, shapes, s: float) -> None:
    """Each shape on its own transparent layer, composited in order (Pillow's drawing replaces pixels, alpha
    included, so translucent shapes need a layer each to blend as the app's painter blends them)."""
    from PIL import Image, ImageDraw

    for shape in shapes:
        if isinstance(shape, Layer):
            _draw(image, shape.shapes, s)
            continue
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        if isinstance(shape, Heat):
            rgba = value_map_rgba(shape.values)
            w, h = max(1, round(shape.w * s)), max(1, round(shape.h * s))
            heat = Image.fromarray(np.ascontiguousarray(rgba), "RGBA").resize((w, h), Image.Resampling.NEAREST)
            layer.paste(heat, (round(shape.x * s), round(shape.y * s)))
        else:
            _shape(ImageDraw.Draw(layer), shape, s)
        image.alpha_composite(layer)


def _shape(draw, shape, s: float) -> None:
    if isinstance(shape, (Rect, Ellipse)):
        if isinstance(shape, Rect):
            box = (shape.x * s, shape.y * s, (shape.x + shape.w) * s, (shape.y + shape.h) * s)
        else:
            box = ((shape.cx - shape.rx) * s, (shape.cy - shape.ry) * s, (shape.cx + shape.rx) * s,
                   (shape.cy + shape.ry) * s)
        fill = None if shape.fill is None else _rgba(shape.fill, shape.fill_alpha)
        pen = shape.pen
        solid = pen is not None and not pen.dashed
        outline = _rgba(pen.colour, pen.alpha) if solid else None
        width = max(1, round(pen.width * s)) if solid else 0
        (draw.rectangle if isinstance(shape, Rect) else draw.ellipse)(box, fill=fill, outline=outline, width=width)
        if pen is not None and pen.dashed and isinstance(shape, Rect):
            x0, y0, x1, y1 = (v / s for v in box)
            for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
                _line(draw, *a, *b, pen, s)
    elif isinstance(shape, Line):
        _line(draw, shape.x0, shape.y0, shape.x1, shape.y1, shape.pen, s)
    elif isinstance(shape, Text):
        draw.text((shape.x * s, shape.y * s), shape.text, fill=_rgba(shape.colour), font=font(shape.size * s),
                  anchor="ls")


def _line(draw, x0: float, y0: float, x1: float, y1: float, pen: Pen, s: float) -> None:
    """A line in ``pen``; dashed: dashes of :data:`DASH` frame pixels."""
    colour, width = _rgba(pen.colour, pen.alpha), max(1, round(pen.width * s))
    if not pen.dashed:
        draw.line((x0 * s, y0 * s, x1 * s, y1 * s), fill=colour, width=width)
        return
    length = float(np.hypot(x1 - x0, y1 - y0))
    if length == 0.0:
        return
    for start in np.arange(0.0, length, 2 * DASH):
        a, b = start / length, min(start + DASH, length) / length
        draw.line(((x0 + a * (x1 - x0)) * s, (y0 + a * (y1 - y0)) * s,
                   (x0 + b * (x1 - x0)) * s, (y0 + b * (y1 - y0)) * s), fill=colour, width=width)


__all__ = ["DASH", "font", "paint", "upscale", "value_map_rgba"]

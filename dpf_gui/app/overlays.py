"""Intent saliency drawn on the environment's frame.

Two halves, so that the environment is only ever touched by the thread or
process that steps it:

* :func:`dpf_gui.overlay_data.overlay_data` (no Qt, runs where the environment
  is stepped: the UI thread, a worker thread or highway's worker process)
  reads what is needed from the environment: gridnav cells and the intent
  value map, highway vehicle positions and lane rows, the Pong paddle and
  ball, and which regions the wish prefers or avoids.
* :func:`compose` (UI thread, this module) draws an :class:`OverlayData` over the frame with
  a ``QPainter`` and returns the ``QImage`` that the
  :class:`~dpf_gui.app.frame_view.FrameView` shows and
  the recorder writes, so a recording looks exactly like the screen.

What is drawn:

* gridnav: the intent's reward for stepping into each cell (see
  :func:`dpf_gui.saliency.gridnav_value_map`) as a heat map, centred on the
  map's mean (green: better than the average cell, orange: worse), dashed
  outlines round the wish's preferred (green) / avoided (orange) cells, and an
  arrow for the action about to be taken.
* highway: preferred / avoided lanes as bands, the ego lane outlined, every
  observed vehicle ringed with a size and colour given by the attribution of
  its five features (green: it raises the intent reward of the chosen action).
* pong: preferred / avoided paddle bands on the right edge, the paddle and the
  ball outlined in the colour of their features' attribution.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel

from dpf_gui.app.palette import BAD, GOOD
from dpf_gui.overlay_data import OverlayData

#: integer upscaling of each environment's frame before drawing overlays (Pong is 160 x 210 px)
FRAME_SCALE = {"gridnav": 1, "highway": 1, "pong": 3}
CURRENT = (40, 72, 170)


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


def _qcolor(rgb, alpha: int = 255) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), int(alpha))


def value_map_rgba(values: np.ndarray, alpha: int = 120) -> np.ndarray:
    """Diverging colours for a value map, centred on its mean: (H, W, 4) uint8, transparent where NaN."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    out = np.zeros(v.shape + (4,), np.uint8)
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


def compose(frame: np.ndarray, data: OverlayData | None, show: bool = True) -> QImage:
    """The frame with the overlay drawn on it (what the view shows and the recorder writes)."""
    scale = FRAME_SCALE.get(data.env_name if data is not None else "", 1)
    image = frame_to_qimage(frame, scale)
    if data is None or not show:
        return image
    p = QPainter(image)
    try:
        if data.env_name == "gridnav":
            _draw_gridnav(p, data)
        elif data.env_name == "highway":
            p.setRenderHint(QPainter.Antialiasing, True)
            _draw_highway(p, data, image.width())
        elif data.env_name == "pong":
            p.scale(scale, scale)
            p.setRenderHint(QPainter.Antialiasing, True)
            _draw_pong(p, data)
    finally:
        p.end()
    return image


_LAYERS: dict[tuple, QImage] = {}


def _region_layer(prefer: np.ndarray | None, avoid: np.ndarray | None, cell: int) -> QImage:
    """The wish's cell outlines as a transparent image, drawn once per map (dashed lines are slow)."""
    key = (id(prefer), id(avoid), cell)
    layer = _LAYERS.get(key)
    if layer is not None:
        return layer
    ref = prefer if prefer is not None else avoid
    h, w = ref.shape
    layer = QImage(w * cell, h * cell, QImage.Format_ARGB32_Premultiplied)
    layer.fill(Qt.transparent)
    p = QPainter(layer)
    p.setRenderHint(QPainter.Antialiasing, True)
    for cells, colour in ((prefer, GOOD), (avoid, BAD)):
        if cells is None:
            continue
        p.setPen(QPen(_qcolor(colour), max(1.0, cell / 14), Qt.DashLine))
        p.setBrush(Qt.NoBrush)
        for y, x in zip(*np.nonzero(cells)):
            p.drawRect(QRectF(x * cell + 2, y * cell + 2, cell - 4, cell - 4))
    p.end()
    if len(_LAYERS) > 8:
        _LAYERS.clear()
        _LAYER_REFS.clear()
    # keep the masks alive with the layer, so their ids cannot be reused by other arrays
    _LAYERS[key] = layer
    _LAYER_REFS[key] = (prefer, avoid)
    return layer


_LAYER_REFS: dict[tuple, tuple] = {}


def _draw_gridnav(p: QPainter, d: OverlayData) -> None:
    c = d.cell_px
    if d.value_map is not None:  # nearest-neighbour upscaling of an H x W image: no antialiasing (it is slow here)
        rgba = np.ascontiguousarray(value_map_rgba(d.value_map))
        h, w, _ = rgba.shape
        heat = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).convertToFormat(QImage.Format_ARGB32_Premultiplied)
        p.drawImage(QRectF(0, 0, w * c, h * c), heat)
    if d.prefer_cells is not None or d.avoid_cells is not None:
        p.drawImage(0, 0, _region_layer(d.prefer_cells, d.avoid_cells, c))
    p.setRenderHint(QPainter.Antialiasing, True)
    if d.agent_cell is not None and d.action is not None:
        from dpf_gui.envs.gridnav import MOVES

        dx, dy = MOVES[int(d.action)]
        x0, y0 = (d.agent_cell[0] + 0.5) * c, (d.agent_cell[1] + 0.5) * c
        x1, y1 = x0 + dx * 0.75 * c, y0 + dy * 0.75 * c
        p.setPen(QPen(_qcolor(CURRENT), max(2.0, c / 10), Qt.SolidLine, Qt.RoundCap))
        p.drawLine(QPointF(x0 + dx * 0.35 * c, y0 + dy * 0.35 * c), QPointF(x1, y1))
        # arrow head
        hx, hy = -dy * 0.15 * c, dx * 0.15 * c
        back = QPointF(x1 - dx * 0.2 * c, y1 - dy * 0.2 * c)
        p.drawLine(QPointF(x1, y1), back + QPointF(hx, hy))
        p.drawLine(QPointF(x1, y1), back - QPointF(hx, hy))


def _draw_highway(p: QPainter, d: OverlayData, width: int) -> None:
    half = d.lane_px / 2
    for lanes, colour in ((d.prefer_lanes, GOOD), (d.avoid_lanes, BAD)):
        for lane in lanes:
            if 0 <= lane < len(d.lane_rows):
                p.fillRect(QRectF(0, d.lane_rows[lane] - half, width, d.lane_px), _qcolor(colour, 60))
    if d.current_lane is not None and 0 <= d.current_lane < len(d.lane_rows):
        p.setPen(QPen(_qcolor(CURRENT), 2, Qt.DashLine))
        p.setBrush(Qt.NoBrush)
        p.drawRect(QRectF(1, d.lane_rows[d.current_lane] - half + 1, width - 2, d.lane_px - 2))
    if d.vehicle_attr is not None and len(d.vehicles):
        span = float(np.max(np.abs(d.vehicle_attr))) or 1.0
        for xy, a in zip(d.vehicles, d.vehicle_attr):
            if xy is None:
                continue
            strength = abs(float(a)) / span
            radius = 6 + 12 * strength
            colour = GOOD if a >= 0 else BAD
            p.setPen(QPen(_qcolor(colour, 90 + int(165 * strength)), 1.5 + 2.5 * strength))
            p.setBrush(QBrush(_qcolor(colour, int(70 * strength))))
            p.drawEllipse(QPointF(float(xy[0]), float(xy[1])), radius, radius * 0.8)


def _draw_pong(p: QPainter, d: OverlayData) -> None:
    for bands, colour in ((d.prefer_bands, GOOD), (d.avoid_bands, BAD)):
        for r0, r1 in bands:
            p.fillRect(QRectF(146, r0, 14, max(1, r1 - r0)), _qcolor(colour, 110))
    span = max(abs(d.paddle_attr), abs(d.ball_attr)) or 1.0
    if d.paddle_row is not None:
        a = d.paddle_attr
        p.setPen(QPen(_qcolor(GOOD if a >= 0 else BAD, 120 + int(135 * abs(a) / span)), 1.0))
        p.setBrush(Qt.NoBrush)
        p.drawRect(QRectF(138, d.paddle_row - 10, 8, 20))
    if d.ball_xy is not None:
        a = d.ball_attr
        p.setPen(QPen(_qcolor(GOOD if a >= 0 else BAD, 120 + int(135 * abs(a) / span)), 1.0))
        p.setBrush(Qt.NoBrush)
        p.drawEllipse(QPointF(*d.ball_xy), 5, 5)


def _swatch(rgb, text: str, shape: str = "■") -> str:
    r, g, b = rgb
    return f'<span style="color:#{r:02x}{g:02x}{b:02x}">{shape}</span>&nbsp;{text}'


def legend_html(env_name: str, overlay: bool = True, regions: bool = True, filled_regions: bool = False) -> str:
    """What every colour on the frame means, as one rich-text line (or two) for a label under the frame.

    ``overlay``: the saliency overlay (heat map, rings, outlines) is drawn; ``regions``: a wish's regions are,
    as dashed outlines (Play, Compare) or, with ``filled_regions``, as tinted cells (Annotate).
    """
    region = "■" if filled_regions else "┄"
    parts: list[str] = []
    if env_name == "gridnav":
        from dpf_gui.envs.gridnav import AGENT, COLOURS

        parts += [_swatch(AGENT, "agent", "●"), _swatch(COLOURS["start"], "start"), _swatch(COLOURS["goal"], "goal"),
                  _swatch(COLOURS["toll"], "toll road"), _swatch(COLOURS["scenic"], "scenic strip"),
                  _swatch(COLOURS["wall"], "wall")]
        if regions:
            parts += [_swatch(GOOD, "preferred", region), _swatch(BAD, "avoided cells", region)]
        if overlay:
            parts += ["heat: " + _swatch(GOOD, "better") + " / " + _swatch(BAD, "worse cell for the intent than average"),
                      _swatch(CURRENT, "action about to be taken", "→")]
    elif env_name == "highway":
        parts += [_swatch((50, 200, 0), "our car"), _swatch((100, 200, 255), "traffic")]
        if regions:
            parts += [_swatch(GOOD, "preferred"), _swatch(BAD, "avoided lanes")]
        if overlay:
            parts += [_swatch(CURRENT, "our lane", "┄"),
                      "rings: " + _swatch(GOOD, "raises", "○") + " / " + _swatch(BAD, "lowers", "○")
                      + " the intent reward of the chosen action (bigger: more)"]
    elif env_name == "pong":
        parts += [_swatch((92, 186, 92), "our paddle (right)")]
        if regions:
            parts += [_swatch(GOOD, "preferred"), _swatch(BAD, "avoided paddle heights (right edge)")]
        if overlay:
            parts += ["paddle and ball outlined " + _swatch(GOOD, "raises", "□") + " / " + _swatch(BAD, "lowers", "□")
                      + " the intent reward of the chosen action"]
    return " · ".join(parts)


def frame_legend_label(name: str) -> QLabel:
    """The line under a frame saying what its colours mean (:func:`~dpf_gui.app.overlays.legend_html`)."""
    label = QLabel("")
    label.setObjectName(name)
    label.setTextFormat(Qt.RichText)
    label.setWordWrap(True)
    label.setStyleSheet("QLabel { color: #333; }")
    return label


__all__ = ["FRAME_SCALE", "compose", "frame_legend_label", "frame_to_qimage", "legend_html", "qimage_to_array",
           "value_map_rgba"]

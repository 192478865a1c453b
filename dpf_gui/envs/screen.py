"""How the app shows an environment, without Qt: the one seam between an environment and the views.

Each environment owns a :class:`Screen` (``DPFEnv.screen``). The views never
look inside an environment: they ask its screen for

* :meth:`Screen.region_layer`: the wish's regions tinted over a frame (the
  Annotate player), an RGBA numpy layer;
* :meth:`Screen.overlay`: what the Play and Compare views draw over a frame,
  as plain shapes in frame pixels (:class:`Rect`, :class:`Ellipse`,
  :class:`Line`, :class:`Heat`, :class:`Text`, :class:`Layer`), read in
  the thread or process that steps the environment; the app draws them with
  one generic painter (:func:`dpf_gui.app.overlays.compose`);
* :meth:`Screen.intent_map`: an optional per-state picture of the intent
  (gridnav's value of stepping into each cell), handed back to ``overlay``;
* :meth:`Screen.legend`: what the colours on the frame mean;
* a few settings: ``frame_scale``, ``base_fps``, ``smooth``, ``stepping``
  and ``layer_follows_state``.

Every method has a do-nothing default, so a new environment shows its frames
(no overlays) before it defines anything here. Colours in shapes and legends
are either an RGB tuple or a role (``"good"``, ``"bad"``, ``"current"``) that
the app maps to its colour-blind-safe palette.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the region tint's colours and strengths (the Annotate player's layer)
PREFER_RGB = (0, 158, 115)  # bluish green and vermilion (Okabe-Ito): never red, a crashed car's colour
AVOID_RGB = (213, 94, 0)
FILL_ALPHA = 70
EDGE_ALPHA = 220


@dataclass(frozen=True)
class Pen:
    colour: Any  # Colour
    alpha: int = 255
    width: float = 1.0
    dashed: bool = False
    round_cap: bool = False


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    pen: Pen | None = None
    fill: Any = None  # Colour
    fill_alpha: int = 255


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float
    pen: Pen | None = None
    fill: Any = None  # Colour
    fill_alpha: int = 255


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    pen: Pen


@dataclass(frozen=True, eq=False)
class Heat:
    """A value map (h, w) stretched, cell by cell, over a rectangle of the frame: the app colours it diverging
    round its mean (good above, bad below; NaN transparent)."""

    values: np.ndarray
    x: float
    y: float
    w: float
    h: float

    def __eq__(self, other: object) -> bool:  # overlays compare by value (an in-process and a worker's one)
        return (isinstance(other, Heat) and (self.x, self.y, self.w, self.h) == (other.x, other.y, other.w, other.h)
                and np.array_equal(self.values, other.values, equal_nan=True))


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    colour: Any = (0, 0, 0)  # Colour
    size: float = 10.0


@dataclass(frozen=True)
class Layer:
    """Shapes that stay the same for a while (a wish's cells): the app draws them once and reuses the picture
    for as long as the screen hands back this same object (keep it in the ``cache``)."""

    shapes: tuple


@dataclass(frozen=True)
class Swatch:
    """One legend entry: a coloured glyph and what it stands for."""

    colour: Any  # Colour
    text: str
    glyph: str = "■"


@dataclass
class OverlayInputs:
    """What the overlay may show about the decision being taken (read where the environment is stepped)."""

    feature_names: Sequence[str]
    wish: Any = None  # dpf_gui.wish.Wish
    attribution: np.ndarray | None = None  # intent attribution per feature of the chosen action, normalised units
    intent_map: np.ndarray | None = None  # what Screen.intent_map returned for this state
    action: int | None = None  # the action about to be taken


class Screen:
    """Qt-free description of how an environment is shown; subclass it and override what applies."""

    #: integer upscaling of the frame before the overlay is drawn (shapes stay in frame pixels)
    frame_scale: int = 1
    #: decisions shown per second at 1x in the Annotate player
    base_fps: float = 10.0
    #: smooth (not nearest-neighbour) scaling of the frame in the player
    smooth: bool = False
    #: "inline": the Play view steps it in the UI thread; "process": in a worker process (a slow simulator)
    stepping: str = "inline"
    #: the region layer depends on the state's region values, not only on the wish (highway: the speed)
    layer_follows_state: bool = False

    def region_layer(self, config: dict[str, Any], wish, regions: np.ndarray | None,
                     shape: tuple[int, ...]) -> np.ndarray | None:
        """RGBA uint8 (H, W, 4) tinting the wish's regions over a frame of ``shape`` (None: nothing to show).

        ``regions`` are the region values of the state shown (features the picture cannot vary over).
        """
        return None

    def intent_map(self, model, state, env) -> np.ndarray | None:
        """A picture of the intent in this state (``state``: :class:`dpf_gui.saliency.IntentState`), score units;
        None: none."""
        return None

    def overlay(self, env, inputs: OverlayInputs, cache: dict[str, Any]) -> list:
        """Shapes to draw over ``env``'s current frame (called in the thread or process that steps ``env``).

        ``cache`` is one dict per episode runner: keep there what never changes in a session.
        """
        return []

    def legend(self, overlay: bool, regions: bool, filled_regions: bool) -> list:
        """What the colours on the frame mean: parts, each a :class:`Swatch`, a string or a tuple of both.

        ``overlay``: the saliency overlay is drawn; ``regions``: a wish's regions are, as outlines or (with
        ``filled_regions``) as tinted areas.
        """
        return []


def region_glyph(filled: bool) -> str:
    """The legend glyph for a wish's regions: tinted areas or dashed outlines."""
    return "■" if filled else "┄"


def mark_colour(mark: int) -> tuple[int, int, int] | None:
    """The region tint for a wish mark (+1 preferred, -1 avoided, 0 neither)."""
    return PREFER_RGB if mark > 0 else AVOID_RGB if mark < 0 else None


def fill(layer: np.ndarray, y0: int, y1: int, x0: int, x1: int, rgb, alpha: int) -> None:
    """Paint a rectangle of an RGBA layer (clipped to it)."""
    h, w = layer.shape[:2]
    y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if y0 < y1 and x0 < x1:
        layer[y0:y1, x0:x1, :3] = rgb
        layer[y0:y1, x0:x1, 3] = alpha


def outline(layer: np.ndarray, y0: int, y1: int, x0: int, x1: int, rgb, width: int = 2) -> None:
    """A rectangle's edges, ``width`` pixels wide, at the edge strength."""
    for ya, yb, xa, xb in ((y0, y0 + width, x0, x1), (y1 - width, y1, x0, x1),
                           (y0, y1, x0, x0 + width), (y0, y1, x1 - width, x1)):
        fill(layer, ya, yb, xa, xb, rgb, EDGE_ALPHA)


__all__ = ["AVOID_RGB", "EDGE_ALPHA", "FILL_ALPHA", "PREFER_RGB", "Ellipse", "Heat", "Layer", "Line", "OverlayInputs",
           "Pen",
           "Rect", "Screen", "Swatch", "Text", "fill", "mark_colour", "outline", "region_glyph"]

"""Colours shared by the views, their overlays and the recordings (colour-blind safe: Okabe-Ito).

Outside the Qt layer, so the frame overlays (the Annotate view's too) get them without importing the plotting
library, and ``dpf record`` (:mod:`dpf_gui.frame_paint`) without Qt.
"""

from dpf_gui.envs.screen import AVOID_RGB, PREFER_RGB

TASK = (0, 114, 178)
INTENT = (230, 159, 0)
FUSED = (0, 158, 115)
GOOD = (0, 158, 115)
BAD = (213, 94, 0)
NEUTRAL = (120, 120, 120)
CURRENT = (40, 72, 170)  # the overlay's "current" role: the decision about to be taken
#: the colour roles a screen's shapes may name (dpf_gui/envs/screen.py), as drawn
ROLES = {"good": GOOD, "bad": BAD, "current": CURRENT}
#: a wish's preferred and avoided regions and a person's marks, in every view (Annotate's tint and timeline, Play's
#: and Compare's outlines, the legends): the roles "good" and "bad"; never red, which is highway's crashed car
PREFER = PREFER_RGB  # dpf_gui/envs/screen.py tints the frames in them (GOOD and BAD)
AVOID = AVOID_RGB
#: the same two as text on a light button (the Prefer and Avoid buttons): darker, for contrast
PREFER_TEXT = (0, 110, 80)
AVOID_TEXT = (170, 70, 0)
SIDE_COLOURS = ((0, 114, 178), (213, 94, 0))  # left / right in the compare view
INK = (40, 40, 40)  # titles, ticks and axis labels: dark on white, readable on a projector
#: text that says what cannot work as it is (red), and advice on how to mark (amber), as rich-text colours
WARNING_COLOUR = "#b00020"
ADVICE_COLOUR = "#8a5a00"

__all__ = ["ADVICE_COLOUR", "AVOID", "AVOID_TEXT", "BAD", "CURRENT", "FUSED", "GOOD", "INK", "INTENT", "NEUTRAL",
           "PREFER", "PREFER_TEXT", "ROLES", "SIDE_COLOURS", "TASK", "WARNING_COLOUR"]

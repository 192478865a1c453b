"""Colours shared by the views and their overlays (colour-blind safe: Okabe-Ito).

A module of its own so the frame overlays (the Annotate view's too) get them without
importing the plotting library.
"""

from dpf_gui.envs.screen import AVOID_RGB, PREFER_RGB

TASK = (0, 114, 178)
INTENT = (230, 159, 0)
FUSED = (0, 158, 115)
GOOD = (0, 158, 115)
BAD = (213, 94, 0)
NEUTRAL = (120, 120, 120)
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

__all__ = ["ADVICE_COLOUR", "AVOID", "AVOID_TEXT", "BAD", "FUSED", "GOOD", "INK", "INTENT", "NEUTRAL", "PREFER",
           "PREFER_TEXT", "SIDE_COLOURS", "TASK", "WARNING_COLOUR"]

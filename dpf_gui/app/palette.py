"""Colours shared by the views and their overlays (colour-blind safe: Okabe-Ito).

A module of its own so the frame overlays (the Annotate view's too) get them without
importing the plotting library.
"""

TASK = (0, 114, 178)
INTENT = (230, 159, 0)
FUSED = (0, 158, 115)
GOOD = (0, 158, 115)
BAD = (213, 94, 0)
NEUTRAL = (120, 120, 120)
SIDE_COLOURS = ((0, 114, 178), (213, 94, 0))  # left / right in the compare view
INK = (40, 40, 40)  # titles, ticks and axis labels: dark on white, readable on a projector

__all__ = ["BAD", "FUSED", "GOOD", "INK", "INTENT", "NEUTRAL", "SIDE_COLOURS", "TASK"]

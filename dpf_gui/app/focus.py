"""The frame that marks where the keyboard focus is, on the controls whose own focus mark is too faint to see.

Qt's style draws a list's or a table's frame alike with and without the keyboard focus, and a slider's focus
mark is a faint outline of its handle: a person on the keyboard (a presenter, a study participant or operator)
cannot tell where the arrow keys go. :data:`FOCUS_FRAME` frames such a control in the selection's colour while
it has the focus. It is a style sheet, so the frame is drawn by Qt's style in C++: no Python on the paint path
of a list of a thousand rows (tests/test_app_suggestions.py checks the trajectory list's). The frame takes no
room: nothing moves when the focus comes or goes (a slider's groove and handle stay where they were; a list's
rows cover the frame's inner pixel, so there the list's 1-pixel grey frame turns the selection's colour).
"""

#: a list, a table or a slider with the keyboard focus: 2 pixels in the selection's colour
FOCUS_FRAME = ("QTableView:focus, QListView:focus, QSlider:focus "
               "{ border: 2px solid palette(highlight); }")

__all__ = ["FOCUS_FRAME"]

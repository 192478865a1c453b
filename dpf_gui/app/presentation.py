"""Presentation mode's look for the widgets: large text and high contrast, readable from the back of a room.

A projector washes out what a monitor shows well: the normal palette's pale
grey frames (#b8b8b8 on #efefef), its disabled text (#bebebe, 1.4:1 against
the window) and its mid-blue selection all but vanish at the back of a
lecture hall. In presentation mode the application gets

* a high-contrast palette: black on white, disabled text #595959 (7:1), a
  dark-blue selection with white text, tooltips black on pale yellow;
* dark 2-pixel frames round every button, box, field and check box
  (:class:`FramedStyle`, a proxy of the style in use that draws the frame
  over what the style drew, so sizes, arrows and check marks stay the
  style's own: a style sheet border would make Qt drop the spin boxes'
  arrows); the one with the keyboard focus gets a 3-pixel bright blue frame
  instead (the dark frame would cover the style's thin focus mark, and a
  presenter on the keyboard would not see where Space or typing goes);
* the window's style sheet: the large font, and a checked button (Play while
  playing, Record while recording) in the selection's dark blue.

Palette and style are the application's, so menus, dialogs and tooltips get
them too; turning presentation mode off puts back the style and palette the
application had and removes the style sheet. Plot text and lines are
:func:`dpf_gui.app.plots.set_plot_style`'s.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory, QWidget

#: colours of the high-contrast palette: (role, active and inactive colour, disabled colour)
_ROLES = (
    ("Window", "#ffffff", "#ffffff"),
    ("WindowText", "#000000", "#595959"),
    ("Base", "#ffffff", "#f2f2f2"),
    ("AlternateBase", "#ebebeb", "#ebebeb"),
    ("Text", "#000000", "#595959"),
    ("PlaceholderText", "#4d4d4d", "#595959"),
    ("Button", "#e6e6e6", "#f2f2f2"),
    ("ButtonText", "#000000", "#595959"),
    ("BrightText", "#ffffff", "#ffffff"),
    ("Light", "#ffffff", "#ffffff"),
    ("Midlight", "#b3b3b3", "#b3b3b3"),
    ("Mid", "#595959", "#8c8c8c"),
    ("Dark", "#333333", "#8c8c8c"),
    ("Shadow", "#000000", "#595959"),
    ("Highlight", "#0a3a8c", "#595959"),
    ("HighlightedText", "#ffffff", "#ffffff"),
    ("ToolTipBase", "#ffffe1", "#ffffe1"),
    ("ToolTipText", "#000000", "#000000"),
    ("Link", "#0a3a8c", "#595959"),
    ("LinkVisited", "#5a1a8c", "#595959"),
)

FRAME = QColor("#000000")
FRAME_DISABLED = QColor("#8c8c8c")
#: the frame of the control with the keyboard focus (no wish colour, not the selection's dark blue)
FRAME_FOCUS = QColor("#1a73e8")
#: the window's style sheet besides the font: a checked button in the selection's colours
CHECKED = "QPushButton:checked { background-color: #0a3a8c; color: #ffffff; }"


class FramedStyle(QProxyStyle):
    """The style in use, with a dark 2-pixel frame drawn over every button, line edit, spin box, combo box and
    check box (grey when disabled; 3 pixels, bright blue, round the one with the keyboard focus)."""

    PRIMITIVES = (QStyle.PrimitiveElement.PE_PanelButtonCommand, QStyle.PrimitiveElement.PE_FrameLineEdit,
                  QStyle.PrimitiveElement.PE_IndicatorCheckBox)
    CONTROLS = (QStyle.ComplexControl.CC_SpinBox, QStyle.ComplexControl.CC_ComboBox)

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element in self.PRIMITIVES:
            _frame(option, painter)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:
        super().drawComplexControl(control, option, painter, widget)
        if control in self.CONTROLS:
            _frame(option, painter)


def _frame(option, painter: QPainter) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
    if enabled and option.state & QStyle.StateFlag.State_HasFocus:
        painter.setPen(QPen(FRAME_FOCUS, 3))
        inset = 1.5
    else:
        painter.setPen(QPen(FRAME if enabled else FRAME_DISABLED, 2))
        inset = 1.0
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(QRectF(option.rect).adjusted(inset, inset, -inset, -inset), 2.0, 2.0)
    painter.restore()


#: what the application had before presentation mode: its style's name and its palette (None: mode off)
_normal: tuple[str, QPalette] | None = None
_style: FramedStyle | None = None  # kept referenced while the application uses it


def high_contrast_palette() -> QPalette:
    """Black on white with dark frames and selection (see the module docstring)."""
    palette = QPalette()
    for role_name, colour, disabled in _ROLES:
        role = getattr(QPalette.ColorRole, role_name)
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            palette.setColor(group, role, QColor(colour))
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return palette


def style_sheet(font_pt: float) -> str:
    """The window's style sheet in presentation mode: the large font (a style sheet, not ``setFont``: a widget
    with a style sheet of its own, such as a coloured button, ignores its parent's font but not its parent's
    style sheet) and the checked buttons' colours."""
    return f"QWidget {{ font-size: {font_pt:g}pt; }} {CHECKED}"


def set_look(window: QWidget, on: bool, font_pt: float) -> None:
    """Presentation mode's look: the style sheet on ``window``, the framed style and the high-contrast palette
    on the application; or back to normal (no style sheet, the application's own style and palette)."""
    global _normal, _style
    app = QApplication.instance()
    if on:
        if _normal is None:
            _normal = (app.style().name(), QPalette(app.palette()))
            _style = FramedStyle(QStyleFactory.create(_normal[0]))
            app.setStyle(_style)
        app.setPalette(high_contrast_palette())
        window.setStyleSheet(style_sheet(font_pt))
    else:
        window.setStyleSheet("")
        if _normal is not None:
            name, palette = _normal
            _normal = None
            app.setStyle(QStyleFactory.create(name))
            app.setPalette(palette)
            _style = None


__all__ = ["FramedStyle", "high_contrast_palette", "set_look", "style_sheet"]

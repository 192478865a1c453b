"""The OK / Cancel row of the app's small dialogs, its OK button named for what it does."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton


def ok_cancel(dialog: QDialog, text: str, name: str,
              accept: Callable[[], None]) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (reads ``text``, objectName ``name``, calls ``accept``: the dialog closes only if that accepts it) and
    Cancel (rejects the dialog); returns the row and its OK button."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(text)
    ok.setObjectName(name)
    buttons.accepted.connect(accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok


__all__ = ["ok_cancel"]

"""The save dialog as the app uses it: the suffix a person left out is added, and replacing a file is asked.

Qt's save dialog asks before replacing the name as typed; a name typed without its suffix (``labels``) was then
written with it (``labels.npz``) over an earlier file without a question. Every "save as" in the app goes through
:func:`ask_save_path`.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def ask_save_path(parent: QWidget, caption: str, name: str, filters: str) -> Path | None:
    """A file name to write, from the save dialog (None: cancelled). A name typed without one of the ``filters``'
    suffixes gets the chosen filter's; the dialog asked before replacing the name typed, not the one written, so
    replacing an existing file of the full name is asked here (``labels`` must not silently replace
    ``labels.npz``)."""
    path, chosen = QFileDialog.getSaveFileName(parent, caption, name, filters)
    if not path:
        return None
    out = Path(path)
    suffixes = [s.strip("*") for s in re.findall(r"\*\.\w+", filters)]
    if suffixes and out.suffix.lower() not in suffixes:
        given = re.findall(r"\*\.\w+", chosen or "")
        out = out.with_name(out.name + (given[0].strip("*") if given else suffixes[0]))
        if out.exists():
            answer = QMessageBox.question(parent, "Replace the file?",
                                          f"{out.name} already exists in {out.parent}. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
    return out


__all__ = ["ask_save_path"]

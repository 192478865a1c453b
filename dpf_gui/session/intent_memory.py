"""The intent model each dataset was used with last: remembered in the label store, brought back on opening.

Opening a dataset brings its model back before any view is shown (the
Annotate timeline and the suggestions use it), so this lives outside the
Train view, which is built only when its tab is first shown.
"""

from __future__ import annotations

import time
from pathlib import Path

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError

#: where the label store keeps a dataset's last model: {"dir", "env", "time"}
MEMORY_KEY = "intent/{fingerprint}"


def remember(ws) -> None:
    """Remember ``ws``'s intent model (its folder) for ``ws``'s data."""
    ws.store.set(MEMORY_KEY.format(fingerprint=ws.fingerprint),
                 {"dir": str(Path(ws.intent.directory).resolve()), "env": ws.env_name, "time": time.time()})


def recall(ws) -> bool:
    """Give ``ws`` the intent model remembered for its data, if there is one and its folder still is: True if so.

    A remembered model that cannot be used is a :class:`UserError` (``ws`` then keeps no model).
    """
    try:
        saved = ws.store.get(MEMORY_KEY.format(fingerprint=ws.fingerprint)) or {}
    except UserError:  # the store could not be read: nothing remembered (a bad value reads as nothing already)
        return False
    d = saved.get("dir") if isinstance(saved, dict) else None
    if not isinstance(d, str) or not is_checkpoint(d):
        return False
    ws.set_intent(ws.open_intent(d))
    return True


__all__ = ["MEMORY_KEY", "recall", "remember"]

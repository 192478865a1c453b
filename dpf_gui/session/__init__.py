"""The session layer: what is open and what is done with it, without Qt.

The app's views, the demo, the lesson, the CLI and study scripts drive the
same objects: the :class:`Workspace` (an evented model of what is open:
environment, task agent, dataset, label store, intent model; views subscribe
with :meth:`Workspace.on_change`), the intent model a dataset was used with
last (:mod:`~dpf_gui.session.intent_memory`) and the Train tab's logic
(:mod:`~dpf_gui.session.training`). Nothing here imports Qt; ``dpf_gui.app``
is a thin face over it.
"""

from dpf_gui.session.workspace import (
    COLLECTED_DIR,
    Change,
    Workspace,
    load_dataset,
    wish_coverage,
)

__all__ = ["COLLECTED_DIR", "Change", "Workspace", "load_dataset", "wish_coverage"]

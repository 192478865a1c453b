"""How many threads torch and numpy's BLAS use in a process of ours: one, unless ``DPF_TORCH_THREADS`` says more;
and how a worker thread beside the app's window lets it have the GIL (:func:`pausing`).

Our networks are tiny (a few layers of 256 units): a decision's matrix products take tens of microseconds,
too little to share between threads, and every extra thread competes for the cores with the other worker
processes and the app's UI thread. Measured on the 2-core machine: torch with two threads was up to 15x
slower than with one under load; numpy's OpenBLAS, which splits a product of 16 rows or more over a thread
per core, took 651 us for the Pong Q-network's float64 forward pass on 16 rows instead of 85 us while two
benchmark workers ran, and a Pong cell of ``dpf results`` 49.6 s instead of 24.5 s (the same numbers: each
output of a product is one thread's sum whatever the count, and the decision path rounds to float32,
:mod:`dpf_gui.rowwise`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

#: a worker thread beside the app's UI thread pauses this long every this many steps, so the UI thread gets
#: the GIL: a thread stepping the Atari emulator kept it from the window for up to 140-350 ms at a time (a
#: shorter ``sys.setswitchinterval`` made it worse); with the pauses a Pong replay costs 15 % more time and
#: the window answers within 56-88 ms (docs/PERFORMANCE.md, "Where the window stops answering")
UI_PAUSE_EVERY, UI_PAUSE_S = 16, 0.0005

F = TypeVar("F", bound=Callable)


def limit_threads(threads: int = 1) -> None:
    """Give torch and numpy's BLAS ``threads`` threads each in this process: at once where the library is
    loaded, through the variable it reads when it loads where it is not yet (torch is imported lazily)."""
    count = str(int(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    else:
        os.environ["OMP_NUM_THREADS"] = count
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(threads), user_api="blas")
    else:
        os.environ["OPENBLAS_NUM_THREADS"] = count
        os.environ["MKL_NUM_THREADS"] = count


def pausing(fn: F) -> F:
    """``fn``, pausing :data:`UI_PAUSE_S` every :data:`UI_PAUSE_EVERY` calls (for a step function that a worker
    thread of the app calls in a loop); it returns what ``fn`` returns."""
    calls = 0

    def paused(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls % UI_PAUSE_EVERY == 0:
            time.sleep(UI_PAUSE_S)
        return fn(*args, **kwargs)

    return paused  # type: ignore[return-value]


__all__ = ["UI_PAUSE_EVERY", "UI_PAUSE_S", "limit_threads", "pausing"]

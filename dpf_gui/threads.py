"""How many threads torch and numpy's BLAS use in a process of ours: one, unless ``DPF_TORCH_THREADS`` says more.

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


__all__ = ["limit_threads"]

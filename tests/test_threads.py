"""Our processes give torch and numpy's BLAS one thread each (dpf_gui.threads): tiny networks, shared cores.

On a machine of one core every count is 1 anyway; on two or more these fail without the limit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

REPORT = textwrap.dedent("""
    import json

    import numpy
    import torch
    from threadpoolctl import threadpool_info

    print(json.dumps({"blas": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
                      "torch": torch.get_num_threads()}))
""")


def _threads(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True, text=True, timeout=120,
                         check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if not found["blas"]:
        pytest.skip("threadpoolctl sees no BLAS library under this numpy")
    return found


def test_libraries_already_loaded_get_one_thread_at_once():
    found = _threads("import numpy, torch\nfrom dpf_gui.threads import limit_threads\nlimit_threads(1)\n")
    assert set(found["blas"]) == {1} and found["torch"] == 1


def test_libraries_loaded_later_get_one_thread_when_they_load():
    found = _threads("import sys\nfrom dpf_gui.threads import limit_threads\nassert 'numpy' not in sys.modules\n"
                     "limit_threads(1)\n")
    assert set(found["blas"]) == {1} and found["torch"] == 1


def _blas_threads(_item: int) -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_pool_workers_run_with_one_blas_thread():
    from dpf_gui.parallel import map_jobs

    for counts in map_jobs(_blas_threads, [0, 1], jobs=2):
        if not counts:
            pytest.skip("threadpoolctl sees no BLAS library under this numpy")
        assert set(counts) == {1}


def test_pausing_passes_every_call_through_and_pauses_every_so_often(monkeypatch):
    # a worker thread beside the window pauses so the UI thread gets the GIL (the replay, a collection)
    from dpf_gui import threads

    pauses = []
    monkeypatch.setattr(threads.time, "sleep", pauses.append)
    step = threads.pausing(lambda a, b=0: a + b)
    results = [step(k, b=1) for k in range(3 * threads.UI_PAUSE_EVERY + 5)]
    assert results == [k + 1 for k in range(3 * threads.UI_PAUSE_EVERY + 5)]
    assert pauses == [threads.UI_PAUSE_S] * 3

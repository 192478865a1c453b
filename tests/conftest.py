"""Headless, deterministic test set-up shared by every test."""

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

# The app keeps labels and settings under DPF_GUI_DATA: never the tester's home folder. A folder made
# here is removed when the run ends (pytest_unconfigure), so runs leave nothing behind in /tmp. A
# pytest-xdist worker takes a folder of its own inside the main process's (no two processes share the
# app's settings and caches), which goes with it even when a worker is stopped before its own clean-up.
_MADE_DATA_DIR = None
if "DPF_GUI_DATA" not in os.environ:
    _MADE_DATA_DIR = os.environ["DPF_GUI_DATA"] = os.environ["DPF_GUI_TEST_MADE_DATA"] = tempfile.mkdtemp(
        prefix="dpf-gui-test-")
elif os.environ.get("PYTEST_XDIST_WORKER") and os.environ["DPF_GUI_DATA"] == os.environ.get("DPF_GUI_TEST_MADE_DATA"):
    os.environ["DPF_GUI_DATA"] = os.path.join(os.environ["DPF_GUI_DATA"], os.environ["PYTEST_XDIST_WORKER"])
    os.makedirs(os.environ["DPF_GUI_DATA"], exist_ok=True)

# Our networks are tiny: one torch thread is fastest, and two threads on a busy 2-core machine made
# single layers 100x slower (the CLI and the app do the same).
import torch  # noqa: E402 (kept beside the one setting it is imported for)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def same_random_state_for_every_test():
    """Each test starts from the same global random state, whatever ran before it in its process: with
    pytest-xdist, which files share a process depends on the number of workers."""
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def calibrations_kept_for_this_test_only(monkeypatch, request):
    """The app keeps every calibration in the data folder and shows the same agents calibrated again
    (dpf_gui/calibration_memory.py); the data folder is one per process, and tests train the same small
    intents, so without this a test would start calibrated by whichever test ran before it."""
    import dpf_gui.calibration_memory as memory

    monkeypatch.setattr(memory, "FOLDER", f"calibrations-{abs(hash(request.node.nodeid)):x}")


@pytest.fixture()
def messages(monkeypatch, tmp_path):
    """Messages the main window shows, recorded instead of shown (tests/qt_helpers.py); Qt is imported only here."""
    from tests.qt_helpers import record_messages

    return record_messages(monkeypatch, tmp_path)


def pytest_unconfigure(config):
    if _MADE_DATA_DIR is not None:
        shutil.rmtree(_MADE_DATA_DIR, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    """tests/test_demo.py runs last, whatever files sort after it: once an in-process ``main()`` has ended
    with its last window closed, offscreen Qt no longer activates new windows (see that file's docstring).
    Under pytest-xdist the order is kept (pyproject's ``--no-loadscope-reorder``), so the worker given
    test_demo.py is given nothing after it."""
    items.sort(key=lambda item: item.path.name == "test_demo.py")  # stable: the rest keep their order

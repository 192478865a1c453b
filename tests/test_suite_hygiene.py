"""The test suite itself: it must leave nothing behind on the machine that runs it."""

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import HANG_S


def test_a_test_run_leaves_no_folder_behind(tmp_path):
    """tests/conftest.py gives the app a data folder of its own and removes it when the run ends."""
    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "DPF_GUI_DATA"}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(repo))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_wish.py::test_category_and_conjunction_on_grid"],
                          capture_output=True, text=True, timeout=HANG_S, env=env, cwd=repo, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list(tmp_path.glob("dpf-gui-test-*"))


def test_window_tests_never_run_the_apps_main_in_process():
    """After an in-process ``main()`` offscreen Qt stops activating windows (see tests/test_demo.py), so only
    test_demo.py, which tests/conftest.py runs last, may call it."""
    import re

    calls = re.compile(r"from dpf_gui\.app\.main import [^\n]*\bmain\b|\bapp_main\.main\(")
    offenders = [p.name for p in sorted(Path(__file__).parent.glob("test_*.py"))
                 if p.name not in ("test_demo.py", "test_suite_hygiene.py") and calls.search(p.read_text())]
    assert offenders == [], f"move these app main() tests into tests/test_demo.py: {offenders}"



def test_xdist_keeps_the_files_in_collection_order(pytestconfig):
    """tests/conftest.py sorts test_demo.py last, which holds under pytest-xdist only while its file scheduler
    keeps the collection order: without ``--no-loadscope-reorder`` it sorts files by their number of tests, and
    a small file could run after test_demo.py in the same worker."""
    opts = pytestconfig.getini("addopts")
    dist = [o.split("=", 1)[1] for o in opts if o.startswith("--dist=")]
    assert dist in ([], ["no"], ["loadfile"]), f"check that --dist={dist[0]} keeps test_demo.py last in its worker"
    if dist == ["loadfile"]:
        assert "--no-loadscope-reorder" in opts

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

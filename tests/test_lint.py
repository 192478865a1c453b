"""ruff, configured in pyproject.toml, finds nothing in the package, the tests, the benches or the asset scripts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import HANG_S

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (pip install -e '.[test]' installs the pinned version)")
def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dpf_gui", "tests", "bench", "assets"],
                         cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)
    assert run.returncode == 0, (f"ruff findings (fix them, or say why in pyproject's [tool.ruff]):\n"
                                 f"{run.stdout}{run.stderr}")

"""The wheel (what `pip install dpf-gui` from an index installs) carries the shipped agents and runs the demo
from any folder, with no clone around it."""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers import HANG_S

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 68


@pytest.mark.skipif(not _setuptools_ok(), reason="setuptools >= 68 is not installed here, so the wheel cannot be "
                                                 "built without the network")
def test_the_wheel_carries_the_models_and_the_demo_runs_from_another_folder(tmp_path):
    # built from a copy: the build leaves nothing in the checkout, and no stale build/ can slip into the wheel
    src, wheels = tmp_path / "src", tmp_path / "wheels"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "dist", "runs", "*.egg-info",
                                                             "__pycache__", ".pytest_cache", ".ruff_cache", ".venv"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(src)], check=True, capture_output=True, timeout=900)
    (wheel,) = wheels.glob("dpf_gui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for env in ("gridnav", "highway", "pong"):
        for f in ("model.json", "weights.safetensors", "trajectories.npz"):
            assert any(n.endswith(f"share/dpf-gui/models/{env}/{f}") for n in names), (env, f)
    for env in ("highway", "pong"):  # the risk guard (highway's default, Pong's to switch on) needs them
        for f in ("model.json", "weights.safetensors"):
            assert any(n.endswith(f"share/dpf-gui/models/{env}/risk/{f}") for n in names), (env, f)

    # a fresh environment: the test machine's packages (torch, PySide6, ...) but this project only from the wheel
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # pip without the suite's PYTHONPATH too (`PYTHONPATH=CLONE pytest` while another checkout is installed
    # editable): with it, the new environment then imported that checkout's dpf_gui, not the wheel's
    env = {k: v for k, v in os.environ.items() if k not in ("DPF_MODELS", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=900, env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env.update(QT_QPA_PLATFORM="offscreen", SDL_VIDEODRIVER="dummy", DPF_GUI_DATA=str(tmp_path / "data"))
    where = subprocess.run([str(python), "-c", "import dpf_gui, dpf_gui.paths as p; print(dpf_gui.__file__); "
                            "print(p.models_root())"], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=HANG_S, check=True).stdout.splitlines()
    assert where[0].startswith(str(env_dir)) and where[1] == str(env_dir / "share" / "dpf-gui" / "models")
    # the demo ends by itself after one episode; --quit-after only guards against a hang (a fresh data folder
    # means its intent model is trained first, which takes longer on a slow machine)
    demo = subprocess.run([str(env_dir / "bin" / "dpf-gui"), "--demo", "gridnav", "--quit-after", "540"], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=HANG_S)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "episode 1" in demo.stdout and "Traceback" not in demo.stderr

"""Where dpf-gui finds its shipped models and keeps the user's data."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError


def models_root() -> Path:
    """The shipped ``models/`` folder (``DPF_MODELS`` overrides it).

    In a clone (or an editable install) that is the repository's ``models/``; a wheel installs the same files
    under ``<prefix>/share/dpf-gui/models`` (pyproject.toml's data-files), where there is no clone around."""
    env = os.environ.get("DPF_MODELS")
    if env:
        return Path(env)
    clone = Path(__file__).resolve().parent.parent / "models"
    if is_checkpoint(clone / "gridnav"):
        return clone
    for base in (sysconfig.get_path("data"), sys.prefix, site.getuserbase()):
        installed = Path(base) / "share" / "dpf-gui" / "models"
        if installed.is_dir():
            return installed
    return clone  # nothing shipped anywhere: the errors name the clone's folder


def shipped_model(env_name: str) -> Path:
    """The shipped task agent of ``env_name``; a clear error if it is missing."""
    path = models_root() / env_name
    if not is_checkpoint(path):
        raise UserError(f"no shipped task agent for {env_name!r} at {path}; train one with "
                        f"`dpf train-task --env {env_name} --out DIR` and pass --task DIR")
    return path


def _shipped_name(text: str | os.PathLike | None) -> str | None:
    """``text`` when it is an environment name that names no existing file or folder, else None."""
    if text is None:
        return None
    from dpf_gui.envs import ENV_NAMES

    name = str(text)
    return name if name in ENV_NAMES and not Path(name).exists() else None


def task_path(text: str | os.PathLike) -> Path:
    """A task-agent folder as given, or, for an environment name that is no such folder here, the shipped agent.

    So ``--policy gridnav`` / ``--task gridnav`` works from any folder, while a folder called ``gridnav``
    in the current folder still means that folder.
    """
    name = _shipped_name(text)
    return shipped_model(name) if name else Path(text)


def dataset_path(text: str | os.PathLike) -> Path:
    """A trajectory dataset as given, or, for an environment name that is no such file here, the shipped one
    (the trajectories the shipped agent learned from: ``models/ENV/trajectories.npz``)."""
    name = _shipped_name(text)
    if not name:
        given = Path(text)
        if not given.exists() and given.parent == Path(".") and not given.suffix:  # a bare word: a name, misspelt?
            from dpf_gui.envs import ENV_NAMES

            raise UserError(f"{text}: no such file, and no environment of that name (an environment name means its "
                            f"shipped trajectories: {', '.join(ENV_NAMES)})")
        return given
    path = models_root() / name / "trajectories.npz"
    if not path.is_file():
        raise UserError(f"no shipped trajectories for {name!r} at {path}; record some with "
                        f"`dpf rollout --env {name} --policy {name} --out FILE` and pass that file")
    return path

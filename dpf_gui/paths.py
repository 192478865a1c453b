"""Where dpf-gui finds its shipped models and keeps the user's data."""

from __future__ import annotations

import os
from pathlib import Path

from dpf_gui.errors import UserError


def models_root() -> Path:
    """The shipped ``models/`` folder (``DPF_MODELS`` overrides it)."""
    env = os.environ.get("DPF_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models"


def shipped_model(env_name: str) -> Path:
    """The shipped task agent of ``env_name``; a clear error if it is missing."""
    path = models_root() / env_name
    if not (path / "model.json").is_file():
        raise UserError(f"no shipped task agent for {env_name!r} at {path}; train one with `dpf train-task --env {env_name} --out DIR` and pass --task DIR")
    return path

"""Environment registry: resolve ``gridnav``, ``highway``, ``pong`` by name."""

from __future__ import annotations

import importlib
from typing import Any

from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature, merge_config
from dpf_gui.errors import UserError

_MODULES = {
    "gridnav": ("dpf_gui.envs.gridnav", "GridNavEnv"),
    "highway": ("dpf_gui.envs.highway", "HighwayEnv"),
    "pong": ("dpf_gui.envs.pong", "PongEnv"),
}

ENV_NAMES: tuple[str, ...] = tuple(_MODULES)


def env_class(name: str) -> type[DPFEnv]:
    if name not in _MODULES:
        raise UserError(f"unknown environment {name!r}; allowed: {', '.join(ENV_NAMES)}")
    module, cls = _MODULES[name]
    return getattr(importlib.import_module(module), cls)


def env_spec(name: str) -> EnvSpec:
    return env_class(name).spec_info


def make_env(name: str, config: dict[str, Any] | None = None, render_mode: str | None = None) -> DPFEnv:
    """Build an environment by name; a bad config key is a :class:`UserError`."""
    cls = env_class(name)
    try:
        return cls(config=config, render_mode=render_mode)
    except ValueError as exc:
        raise UserError(f"{name}: {exc}") from None


def check_config(name: str, config: dict[str, Any] | None) -> None:
    """Refuse an unknown setting as :func:`make_env` does, without building the environment."""
    try:
        merge_config(env_spec(name).default_config, dict(config or {}))
    except ValueError as exc:
        raise UserError(f"{name}: {exc}") from None


__all__ = [
    "ENV_NAMES",
    "DPFEnv",
    "EnvSpec",
    "Preset",
    "RegionFeature",
    "check_config",
    "env_class",
    "env_spec",
    "make_env",
]

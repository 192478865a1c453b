"""Environment registry: resolve an environment (``gridnav``, ``highway``, ``pong``, any registered one) by name.

Entries are import paths until first use, so reading the list costs nothing
(the app's start must not import highway-env or ALE). Everything
environment-specific lives with the environment class: its spec (actions,
features, regions, presets, training defaults, example wishes) and its
``screen`` (:mod:`dpf_gui.envs.screen`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any

from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature, merge_config
from dpf_gui.errors import UserError

#: name -> the class, or "module:Class" until first use
_REGISTRY: dict[str, type[DPFEnv] | str] = {
    "gridnav": "dpf_gui.envs.gridnav:GridNavEnv",
    "highway": "dpf_gui.envs.highway:HighwayEnv",
    "pong": "dpf_gui.envs.pong:PongEnv",
}


#: the names registered by :func:`register_env` in this process (a worker process must register them again)
_ADDED: set[str] = set()


def register_env(name: str, cls: type[DPFEnv] | str) -> None:
    """Make ``name`` known everywhere (CLI choices, the app's menus, stored data and checkpoints).

    ``cls``: a :class:`DPFEnv` subclass or its import path ``"package.module:Class"`` (imported on first use).
    Registering a name again replaces the entry.
    """
    if not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, DPFEnv)):
        raise TypeError(f"register_env({name!r}): expected a DPFEnv subclass or 'module:Class', got {cls!r}")
    if isinstance(cls, str) and ":" not in cls:
        raise ValueError(f"register_env({name!r}): an import path is 'module:Class', got {cls!r}")
    _REGISTRY[str(name)] = cls
    _ADDED.add(str(name))


def unregister_env(name: str) -> None:
    """Forget ``name`` (a test environment, once its tests are done)."""
    _REGISTRY.pop(name, None)
    _ADDED.discard(name)


def added_envs() -> dict[str, type[DPFEnv] | str]:
    """What :func:`register_env` added in this process, for :func:`register_envs` in a worker process (which
    starts with the built-in registry only)."""
    return {name: _REGISTRY[name] for name in _ADDED}


def register_envs(entries: dict[str, type[DPFEnv] | str]) -> None:
    """:func:`register_env` for each of ``entries`` (from :func:`added_envs`)."""
    for name, cls in entries.items():
        register_env(name, cls)


class _Names(Sequence):
    """The registered names, in registration order, read live (a tuple taken at import would miss later ones)."""

    def __getitem__(self, i):
        return tuple(_REGISTRY)[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __repr__(self) -> str:
        return repr(tuple(_REGISTRY))


#: every registered environment name, live: usable as argparse ``choices``, in ``in`` tests, joined in messages
ENV_NAMES: Sequence[str] = _Names()


def env_names() -> tuple[str, ...]:
    """The registered names now."""
    return tuple(_REGISTRY)


def env_class(name: str) -> type[DPFEnv]:
    if name not in _REGISTRY:
        raise UserError(f"unknown environment {name!r}; allowed: {', '.join(ENV_NAMES)}")
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module, cls = entry.split(":", 1)
        entry = _REGISTRY[name] = getattr(importlib.import_module(module), cls)
    return entry


def env_spec(name: str) -> EnvSpec:
    return env_class(name).spec_info


def env_screen(name: str):
    """How the app shows ``name`` (:class:`dpf_gui.envs.screen.Screen`)."""
    return env_class(name).screen


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
    "env_names",
    "env_screen",
    "env_spec",
    "make_env",
    "register_env",
    "unregister_env",
]

"""Config dataclasses with ``KEY=VALUE`` overrides (the CLI's ``--set``), each value parsed to its field's type.

One parser for every config (DQNConfig, IntentConfig), so ``--set`` accepts
the same spellings everywhere, and a bad key or value is a
:class:`~dpf_gui.errors.UserError` naming it and what is allowed. Values that
are not strings (from Python callers) are converted the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping, Sequence

from dpf_gui.errors import UserError

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
#: what each field type accepts, for the error message
_EXPECTED = {bool: "true or false (also 1/0, yes/no, on/off)", int: "a whole number", float: "a number",
             str: "text", tuple: "whole numbers separated by commas, e.g. 64,64"}


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict of strings."""
    out = {}
    for item in items:
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        out[key] = value
    return out


def config_from_sets(cls: type, sets: Mapping[str, Any] | Sequence[str], what: str | None = None):
    """``cls()`` with ``sets`` (a mapping, or ``KEY=VALUE`` strings) applied, each value parsed to its
    field's type; not validated. ``what`` names the config in messages (default: the class name)."""
    what = what or cls.__name__
    if not isinstance(sets, Mapping):
        sets = parse_sets(sets)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    changes = {}
    for key, value in sets.items():
        if key not in names:
            raise UserError(f"{what}: unknown key {key!r}; allowed: {', '.join(sorted(names))}")
        changes[key] = _parse(what, key, value, hints[key])
    return cls(**changes)


def _parse(what: str, key: str, value: Any, hint: Any) -> Any:
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    if optional:  # X | None
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        return _convert(value, hint)
    except (TypeError, ValueError):
        allowed = _EXPECTED.get(typing.get_origin(hint) or hint, getattr(hint, "__name__", str(hint)))
        raise UserError(f"{what}: {key}={value!r} is not valid; expected {allowed}"
                        + (" or none" if optional else "")) from None


def _convert(value: Any, hint: Any) -> Any:
    if hint is bool:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in TRUE or low in FALSE:
                return low in TRUE
            raise ValueError(value)
        return bool(value)
    if hint is int:
        f = float(value)
        if not f.is_integer():
            raise ValueError(value)
        return int(f)
    if hint is float:
        return float(value)
    if typing.get_origin(hint) is tuple:  # tuple[int, ...]: "64,64" or "64x64"
        if isinstance(value, str):
            value = [v for v in value.replace("x", ",").split(",") if v.strip()]
        return tuple(int(v) for v in value)
    if hint is str:
        return str(value)
    return value


__all__ = ["config_from_sets", "parse_sets"]

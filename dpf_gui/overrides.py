"""Config dataclasses: ``KEY=VALUE`` overrides (the CLI's ``--set``) and the check every config runs on itself.

One parser for every config (DQNConfig, IntentConfig), so ``--set`` accepts
the same spellings everywhere, and a bad key or value is a
:class:`~dpf_gui.errors.UserError` naming it and what is allowed. Values that
are not strings (from Python callers) are converted the same way.

One checker (:func:`check_fields`) for every config (DQNConfig, IntentConfig,
FusionParams): each runs it in ``__post_init__``, so a value from ``--set``, a
checkpoint's sidecar, the app's form or a Python caller meets the same types
and ranges, and the message names the key and what it may hold.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dpf_gui.errors import UserError

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
#: what each field type accepts, for the error message
_EXPECTED = {bool: "true or false (also 1/0, yes/no, on/off)", int: "a whole number", float: "a number",
             str: "text", tuple: "whole numbers separated by commas, e.g. 64,64"}


def parse_sets(items: Sequence[str], option: str = "--set") -> dict[str, str]:
    """``--set KEY=VALUE`` options (or another ``option``'s) as a dict of strings."""
    out = {}
    for item in items:
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise UserError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} threads=1")
        out[key] = value
    return out


def config_from_sets(cls: type, sets: Mapping[str, Any] | Sequence[str], what: str | None = None):
    """``cls()`` with ``sets`` (a mapping, or ``KEY=VALUE`` strings) applied, each value parsed to its
    field's type; the config's own ``__post_init__`` checks the values. ``what`` names the config in
    messages (default: the class name)."""
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


@dataclass(frozen=True)
class Allowed:
    """What a field may hold beyond its type: numbers within bounds (``*_open``: the bound itself excluded),
    or one of ``choices``. For ``tuple[int, ...]`` fields the bounds apply to every element."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()

    def allows(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
        return " and ".join(parts)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_fields(obj: Any, what: str, allowed: Mapping[str, Allowed]) -> None:
    """Check every field of the dataclass ``obj`` against its annotated type (numbers finite; ``X | None``
    may be None) and its entry in ``allowed``; the first bad one is a one-line :class:`UserError`."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        hint, optional = _unwrap_optional(hints[f.name])
        if value is None and optional:
            continue
        rule = allowed.get(f.name, Allowed())
        if typing.get_origin(hint) is tuple:
            ok = (isinstance(value, (tuple, list)) and len(value) > 0
                  and all(_has_type(v, int) and rule.allows(v) for v in value))
        else:
            ok = _has_type(value, hint) and rule.allows(value)
        if not ok:
            raise UserError(f"{what}: {f.name} must be {_describe(hint, rule, optional)}; got {value!r}")


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _has_type(value: Any, hint: Any) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if hint is int:
        return isinstance(value, numbers.Integral)
    if hint is float:
        return isinstance(value, numbers.Real) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    return True


def _describe(hint: Any, rule: Allowed, optional: bool) -> str:
    if typing.get_origin(hint) is tuple:
        kind = "one or more whole numbers"
    else:
        kinds = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}
        kind = kinds.get(hint, "a value")
    text = rule.describe() if rule.choices else " ".join(x for x in (kind, rule.describe()) if x)
    return text + (" or none" if optional else "")


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


__all__ = ["Allowed", "check_fields", "config_from_sets", "parse_sets"]

"""A person's wish written as region expressions, and the per-step marks it implies.

Grammar (documented in docs/DATA.md and ``dpf label --help``)::

    regions    := expression ("|" expression)*   any of them (as several --prefer / --avoid)
    expression := term ("&" term)*          all terms must hold
    term       := NAME "=" values
    values     := VALUE ("," VALUE)*        any of the listed values
                | [LOW] ".." [HIGH]         inclusive range, one bound may be open

Several prefer (or avoid) expressions are OR-ed; ``|`` is how a wish shows them on one line (``dpf envs``,
reports), so that line can be given back as it is. A step inside a preferred region is marked +1, inside an
avoided region -1 (both: they add up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpf_gui.envs.base import Preset, RegionFeature
from dpf_gui.errors import UserError

_FLOAT_TOL = 1e-6


@dataclass(frozen=True)
class Term:
    """``feature`` restricted to a set of values or an inclusive range."""

    feature: str
    column: int
    values: tuple[float, ...] | None = None
    low: float = -math.inf
    high: float = math.inf

    def matches(self, regions: np.ndarray) -> np.ndarray:
        col = np.asarray(regions, dtype=np.float64)[..., self.column]
        if self.values is not None:
            return np.any(np.abs(col[..., None] - np.array(self.values)) <= _FLOAT_TOL, axis=-1)
        return (col >= self.low - _FLOAT_TOL) & (col <= self.high + _FLOAT_TOL)


@dataclass(frozen=True)
class Expression:
    """A conjunction of terms, kept with the text the user wrote."""

    text: str
    terms: tuple[Term, ...]

    def matches(self, regions: np.ndarray) -> np.ndarray:
        out = np.ones(np.shape(regions)[:-1], dtype=bool)
        for term in self.terms:
            out &= term.matches(regions)
        return out


@dataclass(frozen=True)
class Wish:
    """What a (simulated) user prefers and avoids, in region-feature terms."""

    prefer: tuple[Expression, ...] = ()
    avoid: tuple[Expression, ...] = ()

    @property
    def mode(self) -> str:
        if self.prefer and self.avoid:
            return "mixed"
        return "prefer" if self.prefer else "avoid"

    def in_prefer(self, regions: np.ndarray) -> np.ndarray:
        return _any(self.prefer, regions)

    def in_avoid(self, regions: np.ndarray) -> np.ndarray:
        return _any(self.avoid, regions)

    def marks(self, regions: np.ndarray) -> np.ndarray:
        """Per-row mark: +1 preferred, -1 avoided, 0 neither (both: 0)."""
        return self.in_prefer(regions).astype(np.int8) - self.in_avoid(regions).astype(np.int8)

    def describe(self) -> dict[str, list[str]]:
        return {"prefer": [e.text for e in self.prefer], "avoid": [e.text for e in self.avoid]}


def _any(exprs: Sequence[Expression], regions: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(regions)[:-1], dtype=bool)
    for expr in exprs:
        out |= expr.matches(regions)
    return out


def parse_expression(text: str, features: Sequence[RegionFeature]) -> Expression:
    """Parse one expression; any mistake is a :class:`UserError` naming what is allowed."""
    by_name = {rf.name: (i, rf) for i, rf in enumerate(features)}
    names = ", ".join(by_name)
    if not text or not text.strip():
        raise UserError(f"empty region expression; write e.g. {_example(features)} (features: {names})")
    terms = []
    for raw in text.split("&"):
        raw = raw.strip()
        if "=" not in raw:
            raise UserError(f"malformed term {raw!r} in {text!r}: expected NAME=VALUE, NAME=V1,V2 or NAME=LO..HI")
        name, spec = (s.strip() for s in raw.split("=", 1))
        if name not in by_name:
            raise UserError(f"unknown region feature {name!r} in {text!r}; allowed: {names}")
        column, rf = by_name[name]
        terms.append(_parse_term(name, spec, column, rf, text))
    return Expression(text=text.strip(), terms=tuple(terms))


def _parse_term(name: str, spec: str, column: int, rf: RegionFeature, text: str) -> Term:
    where = f"{name}={spec}"
    if not spec:
        raise UserError(f"missing value in {where!r}; {name} is {rf.describe_range()}")
    if rf.kind == "category":
        if ".." in spec:
            raise UserError(f"{where!r}: {name} is a category, ranges do not apply; "
                            f"use {name}=A,B with A, B in {', '.join(rf.categories)}")
        values = []
        for v in spec.split(","):
            v = v.strip()
            if v not in rf.categories:
                raise UserError(f"{where!r}: unknown {name} {v!r}; allowed: {', '.join(rf.categories)}")
            values.append(float(rf.categories.index(v)))
        return Term(name, column, values=tuple(values))
    if ".." in spec:
        lo_s, _, hi_s = spec.partition("..")
        lo = _number(lo_s, rf, where) if lo_s.strip() else -math.inf
        hi = _number(hi_s, rf, where) if hi_s.strip() else math.inf
        if lo_s.strip() == "" and hi_s.strip() == "":
            raise UserError(f"{where!r}: give at least one bound, e.g. {name}={_fmt(rf.low)}..")
        if lo > hi:
            raise UserError(f"{where!r}: lower bound {lo:g} is above upper bound {hi:g}")
        return Term(name, column, low=lo, high=hi)
    values = tuple(_number(v, rf, where) for v in spec.split(","))
    return Term(name, column, values=values)


def _number(s: str, rf: RegionFeature, where: str) -> float:
    s = s.strip()
    try:
        value = float(s)
    except ValueError:
        raise UserError(f"{where!r}: {s!r} is not a number; {rf.name} is {rf.describe_range()}") from None
    if not math.isfinite(value):
        raise UserError(f"{where!r}: {s!r} is not a finite number; {rf.name} is {rf.describe_range()}")
    if rf.kind == "int" and not value.is_integer():
        raise UserError(f"{where!r}: {rf.name} takes whole numbers, got {s}; {rf.name} is {rf.describe_range()}")
    if (rf.low is not None and value < rf.low) or (rf.high is not None and value > rf.high):
        raise UserError(f"{where!r}: value {s} out of range; {rf.name} is {rf.describe_range()}")
    return value


def _fmt(v) -> str:
    return "0" if v is None else (str(int(v)) if float(v).is_integer() else f"{v:g}")


def _example(features: Sequence[RegionFeature]) -> str:
    rf = features[0]
    if rf.kind == "category":
        return f"{rf.name}={rf.categories[0]}"
    return f"{rf.name}={_fmt(rf.low)}..{_fmt(rf.high)}"


def _alternatives(texts: Sequence[str]) -> list[str]:
    """Each text split at ``|`` (an empty alternative stays, for parse_expression to name)."""
    return [part for text in texts for part in text.split("|")]


def wish_line(line: str, example: str | None = None) -> tuple[list[str], list[str]]:
    """The preferred and avoided region texts of a wish written on one line as ``dpf envs`` and reports print it:
    ``prefer A | B; avoid C`` (either part may be left out); a malformed line is a :class:`UserError` that shows
    ``example`` (one in the environment's own regions, where the caller knows them)."""
    parts: dict[str, list[str]] = {}
    for part in (p.strip() for p in line.split(";")):
        side, _, regions = part.partition(" ")
        if side not in ("prefer", "avoid") or not regions.strip():
            raise UserError(f"wish {line!r}: write 'prefer REGIONS', 'avoid REGIONS' or both, separated by ';' "
                            f"(e.g. {example or 'prefer lane=2; avoid lane=0 | speed=..20'})")
        if side in parts:
            raise UserError(f"wish {line!r} says {side!r} twice; join its regions with '|'")
        parts[side] = [regions.strip()]
    return parts.get("prefer", []), parts.get("avoid", [])


def make_wish(
    features: Sequence[RegionFeature],
    prefer: Sequence[str] = (),
    avoid: Sequence[str] = (),
    preset: Preset | None = None,
) -> Wish:
    """Build a wish from expressions and/or a preset (their expressions are added); ``A | B`` is two of them."""
    prefer = list(preset.prefer if preset else ()) + _alternatives(prefer)
    avoid = list(preset.avoid if preset else ()) + _alternatives(avoid)
    if not prefer and not avoid:
        raise UserError("no wish given: name a preset (avoid, prefer, mixed) or give regions to prefer or avoid")
    wish = Wish(prefer=tuple(parse_expression(t, features) for t in prefer),
                avoid=tuple(parse_expression(t, features) for t in avoid))
    for p in wish.prefer:  # every step there would be marked neither: the labels all 0, nothing to learn
        same = [a for a in wish.avoid if set(a.terms) == set(p.terms)]
        if same:
            raise UserError(f"region {p.text!r} is both preferred and avoided (as {same[0].text!r}), so a step there "
                            "counts as neither; keep it on one side")
    return wish

"""Stepping back and forth, counted: why a fused agent's episode got long, and what ends it.

A back-step is a decision that returns to the regions of two decisions before after leaving them (A -> B -> A:
gridnav's cell, highway's lane and speed band, Pong's paddle band). The shipped task agents hardly take one (none
in 30 gridnav and 5 highway episodes, 0.2 % of Pong's decisions in 5; 2026-12-07). A fused agent whose intent
says "not into that region" and nothing about going round takes many at the region's edge, then often crosses
(docs/EXPERIMENTS.md sections 76-80); an additive intent trained with a time cost goes round instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

#: an episode "steps back and forth" from this many back-steps (bench/dithering.py counts such episodes) ...
DITHER_COUNT = 4
#: ... making up at least this share of its decisions
DITHER_SHARE = 0.2


def back_steps(regions: Sequence[Hashable]) -> int:
    """Decisions whose regions equal those of two decisions before and differ from the previous one's."""
    return sum(1 for i in range(2, len(regions)) if regions[i] == regions[i - 2] != regions[i - 1])


def dithers(back: int, decisions: int) -> bool:
    """Whether an episode of ``decisions`` with ``back`` back-steps steps back and forth (not a turn or two)."""
    return back >= DITHER_COUNT and back >= DITHER_SHARE * decisions


class BackStepCounter:
    """Back-steps counted one decision at a time (a live episode): the same count as :func:`back_steps`."""

    def __init__(self) -> None:
        self.count = 0
        self._last: list[Hashable] = []

    def add(self, regions: Hashable) -> None:
        """The regions the latest decision led to."""
        if len(self._last) == 2 and regions == self._last[0] != self._last[1]:
            self.count += 1
        self._last = [*self._last[-1:], regions]


def time_cost_remedy(intent_sidecar: Mapping[str, Any] | None) -> str | None:
    """What to try for an intent whose fused agent steps back and forth: a time cost, where it has none yet
    (additive intents only; None otherwise)."""
    if not intent_sidecar or intent_sidecar.get("intent_kind") != "additive":
        return None
    if float((intent_sidecar.get("hyperparameters") or {}).get("time_cost") or 0.0) > 0:
        return None
    return ("an intent trained with a time cost (`dpf train-intent --set time_cost=0.5`, the Train tab's time "
            "cost) goes round instead (docs/EXPERIMENTS.md section 80)")


__all__ = ["DITHER_COUNT", "DITHER_SHARE", "BackStepCounter", "back_steps", "dithers", "time_cost_remedy"]

"""Which condition a participant meets when: fixed, randomised by seed, or a balanced Latin square.

The Latin square is Williams' design: with ``n`` conditions, every condition
appears equally often in every position and directly after every other
condition equally often (carry-over balanced), over ``n`` participants for an
even ``n`` and ``2n`` for an odd ``n`` (the square and its mirror). Participant
number ``k`` (1, 2, ... in the order they were added; never reused, even after
a withdrawal) takes row ``(k - 1) mod rows``, so a full balance needs a
multiple of that many participants (:func:`rows_needed`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dpf_gui.errors import UserError


def williams_rows(n: int) -> list[list[int]]:
    """The rows of a balanced Latin square for ``n`` conditions (indices 0..n-1)."""
    if n < 1:
        raise UserError("a Latin square needs at least one condition")
    first, low, high = [0], 1, n - 1
    for j in range(1, n):  # 0, 1, n-1, 2, n-2, ...
        if j % 2:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    rows = [[(c + r) % n for c in first] for r in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def rows_needed(kind: str, n: int) -> int:
    """Participants that make one full counterbalanced set (1 for a fixed or random order)."""
    if kind == "latin":
        return n if n % 2 == 0 else 2 * n
    return 1


def condition_order(kind: str, names: Sequence[str], number: int, seed: int = 0) -> list[str]:
    """The order of ``names`` for participant ``number`` (1-based)."""
    if number < 1:
        raise UserError(f"participant numbers start at 1; got {number}")
    names = list(names)
    if kind == "fixed":
        return names
    if kind == "random":
        rng = np.random.default_rng([int(seed), int(number)])
        return [names[i] for i in rng.permutation(len(names))]
    if kind == "latin":
        rows = williams_rows(len(names))
        return [names[i] for i in rows[(number - 1) % len(rows)]]
    raise UserError(f"unknown order {kind!r}; allowed: fixed, random, latin")


__all__ = ["condition_order", "rows_needed", "williams_rows"]

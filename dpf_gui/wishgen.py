"""Wishes nobody tuned for: a seeded generator of region-expression wishes per environment.

The presets were what the fusion defaults were first tuned on, so a claim
about "any wish" needs wishes written by something else. This module writes
them the way a person would (avoid lane 1; prefer the rows at the top; avoid
fast driving in the right lane) in the same expression language as
``dpf label --avoid/--prefer``, and keeps only wishes the environment can
satisfy and the claim can measure:

* an *avoided* region must be entered by the task agent (probe rollouts) in
  at least ``min_task_fraction`` of its decisions (otherwise there is nothing
  to avoid), and some successful stored trajectories must spend at most half
  of that there (otherwise no way to the goal avoids it);
* a *preferred* region must be one the task agent visits little (at most
  ``max_task_fraction``), and some successful stored trajectories must spend
  the claim's target share in it (the wish is reachable while doing the
  task);
* witnesses must be about as efficient as the task agent (at most
  ``max_witness_length`` times its episode length): a share of decisions can
  also be lowered by dawdling elsewhere, which meets no wish;
* a region covering most of the stored decisions is no wish at all;
* the presets themselves are left out.

Each wish carries its coverage: how many stored trajectories enter each
region and how many decisions they spend there, so a report can say which
wishes the stored data can teach at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs.base import Preset, RegionFeature
from dpf_gui.errors import UserError
from dpf_gui.wish import Wish, make_wish, wish_line

MODES = ("avoid", "prefer", "mixed")


@dataclass(frozen=True)
class WishRules:
    """Thresholds of what counts as a measurable, satisfiable wish."""

    min_task_fraction: float = 0.05  # avoided region: the task agent spends at least this share of decisions there
    max_task_fraction: float = 0.35  # preferred region: the task agent spends at most this share there
    max_data_fraction: float = 0.6  # no region covering more than this share of all stored decisions
    min_witnesses: int = 5  # successful stored trajectories that show the wish can be met while doing the task
    max_witness_length: float = 2.0  # ... no longer than this many times the task agent's episodes (no dawdling)


@dataclass(frozen=True)
class GeneratedWish:
    """One generated wish, with what the task agent and the stored data say about it."""

    name: str  # e.g. "w03-avoid"
    mode: str
    prefer: tuple[str, ...]
    avoid: tuple[str, ...]
    coverage: dict[str, Any] = field(default_factory=dict)  # per region: trajectories entering, decisions inside

    def wish(self, region_features: Sequence[RegionFeature]) -> Wish:
        return make_wish(region_features, prefer=self.prefer, avoid=self.avoid)

    def text(self) -> str:
        parts = [f"prefer {' | '.join(self.prefer)}" if self.prefer else "",
                 f"avoid {' | '.join(self.avoid)}" if self.avoid else ""]
        return "; ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prefer"], d["avoid"] = list(self.prefer), list(self.avoid)
        return d


# ---------------------------------------------------------------------------
# candidate regions
# ---------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def candidate_terms(region_features: Sequence[RegionFeature], regions: np.ndarray) -> list[str]:
    """Single terms a person might write about each region feature (values, short ranges, bands, tails)."""
    terms: list[str] = []
    for j, rf in enumerate(region_features):
        col = np.asarray(regions, dtype=np.float64)[:, j]
        col = col[np.isfinite(col)]
        if rf.kind == "category":
            terms += [f"{rf.name}={c}" for c in rf.categories]
        elif rf.kind == "int" and rf.low is not None and rf.high is not None and rf.high - rf.low <= 16:
            lo, hi = int(rf.low), int(rf.high)
            terms += [f"{rf.name}={v}" for v in range(lo, hi + 1)]
            terms += [f"{rf.name}={a}..{a + w}" for w in (1, 2) for a in range(lo, hi - w + 1)]
        elif len(col):
            # evenly spaced over where the data lives, as a person reads a scale
            lo, hi = np.quantile(col, [0.05, 0.95])
            edges = sorted({float(f"{q:.2g}") for q in np.linspace(lo, hi, 5)})
            terms += [f"{rf.name}=..{_fmt(e)}" for e in edges[:2]] + [f"{rf.name}={_fmt(e)}.." for e in edges[-2:]]
            terms += [f"{rf.name}={_fmt(a)}..{_fmt(b)}" for i, a in enumerate(edges) for b in edges[i + 1:i + 3]]
    return list(dict.fromkeys(terms))


def candidate_expressions(region_features: Sequence[RegionFeature], regions: np.ndarray) -> list[str]:
    """Single terms and two-term conjunctions over different features."""
    terms = candidate_terms(region_features, regions)
    feature = {t: t.split("=", 1)[0] for t in terms}
    pairs = [f"{a} & {b}" for i, a in enumerate(terms) for b in terms[i + 1:] if feature[a] != feature[b]]
    return terms + pairs


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
@dataclass
class _Regions:
    """Per-decision next-state regions of a set of episodes, split by episode."""

    rows: np.ndarray  # (sum T, R)
    owner: np.ndarray  # (sum T,) episode index
    success: np.ndarray  # (episodes,) bool

    @property
    def lengths(self) -> np.ndarray:
        return np.bincount(self.owner, minlength=len(self.success))

    def fractions(self, inside: np.ndarray) -> np.ndarray:
        """Share of each episode's decisions inside a region (episodes,)."""
        n = len(self.success)
        counts = np.bincount(self.owner, minlength=n).astype(np.float64)
        hits = np.bincount(self.owner, weights=inside.astype(np.float64), minlength=n)
        return np.divide(hits, counts, out=np.zeros(n), where=counts > 0)


def dataset_regions(dataset: TrajectoryDataset) -> _Regions:
    return _Regions(rows=dataset.next_state_regions(), owner=np.repeat(np.arange(len(dataset)), dataset.lengths),
                    success=np.asarray(dataset.success, dtype=bool))


def episode_regions(regions: Sequence[np.ndarray], success: Sequence[bool]) -> _Regions:
    """From per-episode arrays of next-state regions (T, R) (e.g. probe rollouts of the task agent)."""
    rows = np.concatenate(list(regions)) if len(regions) else np.zeros((0, 0))
    owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(regions)]) if len(regions) else np.zeros(0, int)
    return _Regions(rows=rows, owner=owner.astype(np.int64), success=np.asarray(success, dtype=bool))


#: the share of the task agent's success the strict claim asks the fused agent to keep
CLAIM_KEEP = 0.9


def prefer_target(task_fraction: float) -> float:
    """The preferred share the strict claim asks for, given the task agent's share."""
    return min(max(2 * task_fraction, task_fraction + 0.10), task_fraction + 0.30)


def decisions_inside(wish: Wish, data: _Regions) -> list[tuple[str, Any, np.ndarray]]:
    """``(kind, region expression, decisions per trajectory leading into it)`` for each preferred, then each
    avoided, region of the wish."""
    return [(kind, e, np.bincount(data.owner, weights=e.matches(data.rows).astype(np.float64),
                                  minlength=len(data.success)))
            for kind, exprs in (("prefer", wish.prefer), ("avoid", wish.avoid)) for e in exprs]


def in_successful_runs(per: np.ndarray, success: np.ndarray, min_runs: int = 5) -> tuple[int | None, float | None]:
    """The fewest and the median decisions inside a region (``per`` trajectory) among the successful runs; (None,
    None) where fewer than ``min_runs`` succeed (a handful shows no "every")."""
    won = np.asarray(per)[np.asarray(success, dtype=bool)]
    return (int(won.min()), float(np.median(won))) if len(won) >= min_runs else (None, None)


def no_way_round(fewest: int | None, typical: float | None) -> bool:
    """Every successful stored run enters an avoided region, none of them half as often as a typical one: nothing
    shows the task done with it halved (gridnav: the wall's gaps at x=4 and x=5 lie on every way to the goal)."""
    return fewest is not None and fewest > 0 and fewest > 0.5 * (typical or 0.0)


def coverage(wish: Wish, data: _Regions) -> dict[str, Any]:
    """How much of the stored data each region of the wish touches."""
    return {f"{kind} {e.text}": {"trajectories": int((per > 0).sum()), "decisions": int(per.sum()),
                                 "of_trajectories": len(data.success)}
            for kind, e, per in decisions_inside(wish, data)}


def _mask_key(parsed: dict, exprs: Sequence[str], data: _Regions) -> bytes:
    inside = np.zeros(len(data.rows), dtype=bool)
    for t in exprs:
        inside |= parsed[t].matches(data.rows)
    return np.packbits(inside).tobytes()


# ---------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------
def _qualifies(kind: str, expr, task: _Regions, data: _Regions, rules: WishRules) -> bool:
    in_data = expr.matches(data.rows)
    if in_data.mean() > rules.max_data_fraction or not in_data.any():
        return False
    t_frac = float(task.fractions(expr.matches(task.rows)).mean()) if len(task.success) else 0.0
    # witnesses: successful stored trajectories about as efficient as the task agent (a share of decisions can
    # also be lowered by dawdling elsewhere, which is no way of meeting a wish)
    efficient = data.success & (data.lengths <= rules.max_witness_length * max(float(task.lengths.mean()), 1.0))
    d_frac = data.fractions(in_data)[efficient]
    if kind == "avoid":
        return t_frac >= rules.min_task_fraction and int((d_frac <= 0.5 * t_frac).sum()) >= rules.min_witnesses
    return t_frac <= rules.max_task_fraction and int((d_frac >= prefer_target(t_frac)).sum()) >= rules.min_witnesses


def generate_wishes(region_features: Sequence[RegionFeature], data: _Regions, task: _Regions, count: int, seed: int,
                    rules: WishRules | None = None, exclude: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
                    modes: Sequence[str] = MODES) -> list[GeneratedWish]:
    """``count`` distinct wishes cycling through ``modes``, drawn with ``seed`` from the qualifying regions.

    ``exclude``: (prefer, avoid) expression lists never to produce (the presets).
    Fewer wishes come back when fewer qualify (a one-feature environment has few regions).
    """
    rules = rules or WishRules()
    rng = np.random.default_rng(seed)
    exprs = candidate_expressions(region_features, data.rows)
    parsed = {t: make_wish(region_features, avoid=[t]).avoid[0] for t in exprs}
    ok = {kind: [t for t in exprs if _qualifies(kind, parsed[t], task, data, rules)] for kind in ("avoid", "prefer")}
    banned = {(tuple(sorted(p)), tuple(sorted(a))) for p, a in exclude}
    out: list[GeneratedWish] = []
    seen = set(banned)
    attempts = 0
    while len(out) < count and attempts < 50 * max(count, 1):
        mode = modes[len(out) % len(modes)]
        attempts += 1
        prefer = avoid = ()
        if mode in ("avoid", "mixed"):
            if not ok["avoid"]:
                continue
            avoid = (ok["avoid"][int(rng.integers(len(ok["avoid"])))],)
        if mode in ("prefer", "mixed"):
            if not ok["prefer"]:
                continue
            prefer = (ok["prefer"][int(rng.integers(len(ok["prefer"])))],)
        if mode == "mixed" and (parsed[prefer[0]].matches(data.rows) & parsed[avoid[0]].matches(data.rows)).any():
            continue  # a mixed wish whose regions overlap contradicts itself
        key = (tuple(sorted(prefer)), tuple(sorted(avoid)))
        same = (_mask_key(parsed, prefer, data), _mask_key(parsed, avoid, data))  # other words, same regions
        if key in seen or same in seen:
            continue
        seen.update((key, same))
        w = make_wish(region_features, prefer=prefer, avoid=avoid)
        out.append(GeneratedWish(name=f"w{len(out):02d}-{mode}", mode=mode, prefer=prefer, avoid=avoid,
                                 coverage=coverage(w, data)))
    return out


def given_wishes(region_features: Sequence[RegionFeature], data: _Regions, lines: Sequence[str],
                 presets: Sequence[Preset] = ()) -> list[GeneratedWish]:
    """Wishes a person wrote (``dpf benchmark --wish``), each a line as :func:`~dpf_gui.wish.wish_line` reads
    it or a preset's name, in the shape of generated ones (named ``u00-mode``, ...) and with their coverage;
    nothing checks that the environment can satisfy them: that is what their cells measure."""
    by_name = {p.name: p for p in presets}
    # a malformed line is shown one in this environment's regions: its first preset with both sides
    both = next((p for p in presets if p.prefer and p.avoid), None)
    example = (f"prefer {' | '.join(both.prefer)}; avoid {' | '.join(both.avoid)}, or a preset: {', '.join(by_name)}"
               if both else None)
    out = []
    for line in lines:
        preset = by_name.get(line.strip())
        prefer, avoid = (preset.prefer, preset.avoid) if preset else wish_line(line, example)
        try:
            w = make_wish(region_features, prefer=prefer, avoid=avoid)
        except UserError as exc:
            raise UserError(f"wish {line!r}: {exc}") from None
        texts = (tuple(e.text for e in w.prefer), tuple(e.text for e in w.avoid))
        if any((g.prefer, g.avoid) == texts for g in out):
            raise UserError(f"wish {line!r} is given twice (the same regions as an earlier one)")
        cov = coverage(w, data)
        for kind, e, per in decisions_inside(w, data):  # what the claim cannot ask of a person's wish
            if kind == "avoid" and no_way_round(*in_successful_runs(per, data.success)):
                cov[f"avoid {e.text}"]["no_way_round"] = True
        out.append(GeneratedWish(name=f"u{len(out):02d}-{w.mode}", mode=w.mode, prefer=texts[0], avoid=texts[1],
                                 coverage=cov))
    return out


__all__ = [
    "MODES",
    "GeneratedWish",
    "WishRules",
    "candidate_expressions",
    "candidate_terms",
    "coverage",
    "dataset_regions",
    "episode_regions",
    "generate_wishes",
    "given_wishes",
    "in_successful_runs",
    "no_way_round",
    "prefer_target",
]

"""Episodes x strategies -> a metrics table with 95 % intervals.

Every strategy plays the same held-out episode seeds (the evaluation half of
the seed range, never used for training), so rows are paired comparisons.

Metrics per episode (names fixed: scripts and studies depend on them):

* ``task_success``: gridnav goal reached, highway no crash, pong point won;
* ``task_return``: sum of task rewards; ``length``: decisions;
* with a wish: ``prefer_fraction`` / ``avoid_fraction``, the share of decisions
  that led into the preferred / avoided region (the simulated user's marks);
* for fused strategies: ``fusion_weight``, the episode's mean w.

Intervals: Wilson score interval for the success rate, normal approximation
(mean +- 1.96 standard errors) for the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from dpf_gui.envs import make_env
from dpf_gui.fileio import write_json_atomic
from dpf_gui.rollout import episode_seeds

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(values: Sequence[float], binary: bool = False) -> dict[str, Any]:
    """Mean and 95 % interval of per-episode values."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")]}
    mean = float(x.mean())
    if binary:
        lo, hi = wilson_interval(int(round(x.sum())), n)
    else:
        half = Z95 * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        lo, hi = mean - half, mean + half
    return {"mean": mean, "ci95": [float(lo), float(hi)]}


@dataclass
class EpisodeStats:
    task_success: float
    task_return: float
    length: int
    prefer_fraction: float | None = None
    avoid_fraction: float | None = None
    fusion_weight: float | None = None


@dataclass
class EvalResult:
    env: str
    episodes: int
    seed: int
    strategies: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {"env": self.env, "episodes": self.episodes, "seed": self.seed, "strategies": self.strategies}
        out.update(self.extra)
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json_atomic(path, self.to_json())

    def table(self) -> str:
        """Plain-text table: one row per strategy, ``mean [lo, hi]`` per metric."""
        metrics: list[str] = []
        for row in self.strategies.values():
            metrics += [m for m in row if m not in metrics]
        head = ["strategy"] + metrics
        rows = [head]
        for name, row in self.strategies.items():
            cells = [name]
            for m in metrics:
                if m in row:
                    s = row[m]
                    cells.append(f"{_fmt(s['mean'])} [{_fmt(s['ci95'][0])}, {_fmt(s['ci95'][1])}]")
                else:
                    cells.append("-")
            rows.append(cells)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _fmt(v: float) -> str:
    if v != v:  # NaN
        return "nan"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


@dataclass
class EpisodeRecord:
    """One played episode with the region values of every state it reached: wish metrics for any wish, later."""

    task_success: float
    task_return: float
    length: int
    regions: np.ndarray  # (T, R): region values of the state each decision led to
    weights: np.ndarray  # (T,) fusion weight per decision (NaN where the strategy has none)
    intent_return: float = 0.0  # sum of the intent rewards collected: the intent model's own score of the episode

    def stats(self, wish=None) -> EpisodeStats:
        """The episode's metrics for ``wish`` (share of decisions leading into its regions)."""
        n = max(self.length, 1)
        w = self.weights[np.isfinite(self.weights)]
        return EpisodeStats(
            task_success=self.task_success,
            task_return=self.task_return,
            length=self.length,
            prefer_fraction=(float(wish.in_prefer(self.regions).sum()) / n if wish is not None and wish.prefer else None),
            avoid_fraction=(float(wish.in_avoid(self.regions).sum()) / n if wish is not None and wish.avoid else None),
            fusion_weight=(float(w.mean()) if len(w) else None),
        )


def play_record(env, decide: Callable, reset: Callable[[], None], seed: int) -> EpisodeRecord:
    """Play one episode with ``decide(features, legal) -> (action, weight or None[, intent reward or None])``,
    keeping the regions reached."""
    reset()
    obs, info = env.reset(seed=int(seed))
    total, regions, weights, intent = 0.0, [], [], 0.0
    done = False
    while not done:
        action, weight, *more = decide(obs, info["legal"])
        if more and more[0] is not None:
            intent += float(more[0])
        weights.append(np.nan if weight is None else float(weight))
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        regions.append(np.asarray(info["regions"], dtype=np.float32))
        done = terminated or truncated
    width = len(env.spec_info.region_features)
    return EpisodeRecord(task_success=float(info["task_success"]), task_return=total, length=len(weights),
                         regions=np.stack(regions) if regions else np.zeros((0, width), np.float32),
                         weights=np.asarray(weights, dtype=np.float64), intent_return=intent)


def play_episode_stats(env, decide: Callable, reset: Callable[[], None], seed: int, wish=None) -> EpisodeStats:
    """Play one episode with ``decide(features, legal) -> (action, weight or None)``."""
    return play_record(env, decide, reset, seed).stats(wish)


def play_records(env_name: str, agent, seeds: Sequence[int], env_config: dict[str, Any] | None = None,
                 progress: bool = False, desc: str = "episodes") -> list[EpisodeRecord]:
    """Play ``agent`` (``decide``/``reset``, e.g. a :class:`FusedAgent`) once from every reset seed."""
    env = make_env(env_name, env_config)

    def decide(obs, legal):
        d = agent.decide(obs, legal)
        return d.action, d.weight, d.intent_reward

    try:
        return [play_record(env, decide, agent.reset, int(s)) for s in tqdm(seeds, desc=desc, unit="ep",
                                                                            disable=not progress, leave=False)]
    finally:
        env.close()


def summarise_episodes(stats: Sequence[EpisodeStats]) -> dict[str, dict[str, Any]]:
    out = {
        "task_success": summarise([s.task_success for s in stats], binary=True),
        "task_return": summarise([s.task_return for s in stats]),
        "length": summarise([s.length for s in stats]),
    }
    for name in ("prefer_fraction", "avoid_fraction", "fusion_weight"):
        vals = [getattr(s, name) for s in stats if getattr(s, name) is not None]
        if vals:
            out[name] = summarise(vals)
    return out


def evaluate(
    env_name: str,
    agents: dict[str, Any],
    episodes: int,
    seed: int,
    env_config: dict[str, Any] | None = None,
    wish=None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate named agents (each with ``decide`` and ``reset``, e.g. :class:`FusedAgent`) on the same seeds."""
    env = make_env(env_name, env_config)
    seeds = episode_seeds(seed, episodes, held_out=True)
    result = EvalResult(env=env_name, episodes=int(episodes), seed=int(seed))
    bar = tqdm(total=episodes * len(agents), desc=f"evaluate {env_name}", unit="ep", disable=not progress)
    try:
        for name, agent in agents.items():
            def decide(obs, legal, agent=agent):
                d = agent.decide(obs, legal)
                return d.action, d.weight

            stats = []
            for s in seeds:
                stats.append(play_episode_stats(env, decide, agent.reset, int(s), wish))
                bar.update(1)
            result.strategies[name] = summarise_episodes(stats)
    finally:
        bar.close()
        env.close()
    return result

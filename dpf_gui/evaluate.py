"""Episodes x strategies -> a metrics table with 95 % intervals.

Every strategy plays the same held-out episode seeds (the evaluation half of
the seed range, never used for training), so rows are paired comparisons.

Metrics per episode (names fixed: scripts and studies depend on them):

* ``task_success``: gridnav goal reached, highway no crash, pong point won;
* ``task_return``: sum of task rewards; ``length``: decisions;
* with a wish: ``prefer_fraction`` / ``avoid_fraction``, the share of decisions
  that led into the preferred / avoided region (the simulated user's marks),
  and ``prefer_steps`` / ``avoid_steps``, how many decisions per episode did
  (a share also falls when an agent lengthens its episodes without visiting a
  region less: a fused gridnav agent stepping back and forth at the toll
  road's edge before crossing it, ``dpf record``);
* for fused strategies: ``fusion_weight``, the episode's mean w.

Intervals: Wilson score interval for the success rate, normal approximation
(mean +- 1.96 standard errors) for the others, kept within 0 and 1 for the
shares (a share of 0.003 with a few nonzero episodes had a bound of -0.001).

Speed. Fused agents play many episodes in lockstep (:func:`play_records_batched`:
one network call per step for all of them), and ``jobs`` > 1 spreads the
episodes over worker processes, or Ray tasks (:func:`play_agents`). Neither changes a
result: every episode depends on its reset seed alone, and batched decisions
equal one-at-a-time ones bit for bit (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dpf_gui.cache import CacheEntry, read_json
from dpf_gui.envs import make_env
from dpf_gui.fileio import write_json_atomic
from dpf_gui.fusion import FusedAgent, guard_held_back
from dpf_gui.parallel import map_jobs
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


def summarise(values: Sequence[float], binary: bool = False, share: bool = False) -> dict[str, Any]:
    """Mean and 95 % interval of per-episode values (``share``: values in [0, 1], and so is the interval)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")]}
    mean = float(x.mean())
    if binary:
        lo, hi = wilson_interval(round(x.sum()), n)
    else:
        half = Z95 * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        lo, hi = mean - half, mean + half
        if share:
            lo, hi = max(0.0, lo), min(1.0, hi)
    return {"mean": mean, "ci95": [float(lo), float(hi)]}


@dataclass
class EpisodeStats:
    task_success: float
    task_return: float
    length: int
    prefer_fraction: float | None = None
    avoid_fraction: float | None = None
    fusion_weight: float | None = None
    prefer_steps: int | None = None  # decisions of the episode that led into the preferred region
    avoid_steps: int | None = None
    guard_held_back: float | None = None  # share of guarded decisions where the guard overruled the fusion


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
        head = ["strategy", *metrics]
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
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
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
    actions: np.ndarray | None = None  # (T,) the actions taken
    intent_return: float = 0.0  # sum of the intent rewards collected: the intent model's own score of the episode
    guarded: int = 0  # decisions taken under a guard (FusionParams.margin / risk)
    held_back: int = 0  # of those, the ones where the guard ruled out the unguarded fusion's choice

    def stats(self, wish=None) -> EpisodeStats:
        """The episode's metrics for ``wish`` (share of decisions leading into its regions)."""
        n = max(self.length, 1)
        w = self.weights[np.isfinite(self.weights)]
        prefer = int(wish.in_prefer(self.regions).sum()) if wish is not None and wish.prefer else None
        avoid = int(wish.in_avoid(self.regions).sum()) if wish is not None and wish.avoid else None
        return EpisodeStats(
            task_success=self.task_success,
            task_return=self.task_return,
            length=self.length,
            prefer_fraction=None if prefer is None else prefer / n,
            avoid_fraction=None if avoid is None else avoid / n,
            fusion_weight=(float(w.mean()) if len(w) else None),
            prefer_steps=prefer,
            avoid_steps=avoid,
            guard_held_back=(self.held_back / self.guarded if self.guarded else None),
        )


class _Episode:
    """An episode being played: what its record needs, collected decision by decision."""

    __slots__ = ("actions", "env", "guarded", "held_back", "index", "intent", "legal", "obs", "regions", "success",
                 "total", "weights")

    def __init__(self, env, index: int, seed: int):
        self.env, self.index = env, index
        self.obs, info = env.reset(seed=int(seed))
        self.legal = info["legal"]
        self.total, self.regions, self.weights, self.actions, self.intent = 0.0, [], [], [], 0.0
        self.guarded = self.held_back = 0
        self.success = 0.0  # info["task_success"] once the episode has ended

    def step(self, action: int, weight: float | None, intent_reward: float | None = None,
             held_back: bool | None = None) -> bool:
        """Take ``action`` (``held_back``: whether a guard overruled the fusion; None: no guard); True when the
        episode has ended."""
        self.actions.append(action)
        if held_back is not None:
            self.guarded += 1
            self.held_back += int(held_back)
        if intent_reward is not None and np.isfinite(intent_reward):
            self.intent += float(intent_reward)
        self.weights.append(np.nan if weight is None else float(weight))
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        self.total += float(reward)
        self.regions.append(np.asarray(info["regions"], dtype=np.float32))
        self.legal = info["legal"]
        if terminated or truncated:
            self.success = float(info["task_success"])
            return True
        return False

    def record(self) -> EpisodeRecord:
        width = len(self.env.spec_info.region_features)
        return EpisodeRecord(task_success=self.success, task_return=self.total, length=len(self.actions),
                             regions=np.stack(self.regions) if self.regions else np.zeros((0, width), np.float32),
                             weights=np.asarray(self.weights, dtype=np.float64),
                             actions=np.asarray(self.actions, dtype=np.int64), intent_return=self.intent,
                             guarded=self.guarded, held_back=self.held_back)


def play_record(env, decide: Callable, reset: Callable[[], None], seed: int) -> EpisodeRecord:
    """Play one episode with ``decide(features, legal) -> (action, weight or None[, intent reward or None[,
    held back by a guard or None]])``, keeping the regions reached."""
    reset()
    episode = _Episode(env, 0, seed)
    while True:
        action, weight, *more = decide(episode.obs, episode.legal)
        if episode.step(int(action), weight, *more):
            return episode.record()


def play_episode_stats(env, decide: Callable, reset: Callable[[], None], seed: int, wish=None) -> EpisodeStats:
    """Play one episode with ``decide(features, legal) -> (action, weight or None)``."""
    return play_record(env, decide, reset, seed).stats(wish)


def _start(agent, seed: int) -> None:
    """Start an episode of ``agent`` so that it depends on its seed alone (agents without ``start_episode``: reset)."""
    start = getattr(agent, "start_episode", None)
    if start is not None:
        start(int(seed))
    else:
        agent.reset()


def play_records(env_name: str, agent, seeds: Sequence[int], env_config: dict[str, Any] | None = None,
                 progress: bool = False, desc: str = "episodes",
                 on_episode: Callable[[int], None] | None = None) -> list[EpisodeRecord]:
    """Play ``agent`` once from every reset seed: in lockstep if it can (:func:`play_records_batched`), else one by one.

    Both give the same records (tests/test_batched_eval.py); the order is that of ``seeds``. ``on_episode(n)``
    is told each time ``n`` episodes have ended (a progress bar; an exception it raises stops the play).
    """
    play = play_records_batched if hasattr(agent, "decide_rows") else play_records_sequential
    return play(env_name, agent, seeds, env_config, progress=progress, desc=desc, on_episode=on_episode)


def play_records_sequential(env_name: str, agent, seeds: Sequence[int], env_config: dict[str, Any] | None = None,
                            progress: bool = False, desc: str = "episodes",
                            on_episode: Callable[[int], None] | None = None) -> list[EpisodeRecord]:
    """Play ``agent`` (``decide`` and ``start_episode`` or ``reset``) one episode at a time, in one environment."""
    env = make_env(env_name, env_config)
    params = getattr(agent, "params", None)

    def decide(obs, legal):
        d = agent.decide(obs, legal)
        held = None if params is None else guard_held_back(d, params)
        return d.action, d.weight, d.intent_reward, None if held is None else bool(held)

    records = []
    try:
        for s in tqdm(seeds, desc=desc, unit="ep", disable=not progress, leave=False):
            records.append(play_record(env, decide, lambda s=s: _start(agent, s), int(s)))
            if on_episode is not None:
                on_episode(1)
        return records
    finally:
        env.close()


def lockstep_width(env_name: str) -> int:
    """How many episodes :func:`play_records_batched` plays at once in ``env_name`` by default (its spec says,
    from bench/eval_throughput.py)."""
    from dpf_gui.envs import env_spec

    return env_spec(env_name).lockstep_width


def play_records_batched(env_name: str, agent, seeds: Sequence[int], env_config: dict[str, Any] | None = None,
                         progress: bool = False, desc: str = "episodes", width: int | None = None,
                         on_episode: Callable[[int], None] | None = None) -> list[EpisodeRecord]:
    """Play a :class:`~dpf_gui.fusion.FusedAgent` once from every reset seed, ``width`` episodes in lockstep.

    Every step makes one ``decide_rows`` call (one task-network call, one intent call) for all live
    episodes and all their candidate actions; an environment whose episode ended starts the next seed.
    ``width`` defaults to :func:`lockstep_width`.
    Each episode's record is the one :func:`play_records_sequential` gives for its seed.
    """
    seeds = [int(s) for s in seeds]
    records: list[EpisodeRecord | None] = [None] * len(seeds)
    if not seeds:
        return []
    width = lockstep_width(env_name) if width is None else int(width)
    params = getattr(agent, "params", None)
    envs = _take_envs(env_name, env_config, max(1, min(width, len(seeds))))
    bar = tqdm(total=len(seeds), desc=desc, unit="ep", disable=not progress, leave=False)
    try:
        live = [_Episode(env, i, seeds[i]) for i, env in enumerate(envs)]
        rows = agent.new_rows(seeds[:len(live)])
        upcoming = len(live)
        while live:
            d = agent.decide_rows(np.stack([e.obs for e in live]), np.stack([e.legal for e in live]), rows)
            weights = [None] * len(live) if d.weight is None else d.weight.tolist()
            intent = [None] * len(live) if d.intent_reward is None else d.intent_reward.tolist()
            held = None if params is None else guard_held_back(d, params)
            held = [None] * len(live) if held is None else held.tolist()
            ended = np.array([e.step(a, w, r, h)
                              for e, a, w, r, h in zip(live, d.action.tolist(), weights, intent, held, strict=True)])
            if not ended.any():
                continue
            for e in (e for e, done in zip(live, ended, strict=True) if done):
                records[e.index] = e.record()
            bar.update(int(ended.sum()))
            if on_episode is not None:
                on_episode(int(ended.sum()))
            freed = [e.env for e, done in zip(live, ended, strict=True) if done]
            live = [e for e, done in zip(live, ended, strict=True) if not done]
            rows.keep(~ended)
            # fewer seeds may be left than envs freed: those envs rest
            fresh = [_Episode(env, i, seeds[i]) for env, i in zip(freed, range(upcoming, len(seeds)), strict=False)]
            if fresh:
                upcoming += len(fresh)
                live += fresh
                rows.extend(agent.new_rows([seeds[e.index] for e in fresh]))
    finally:
        bar.close()
        _give_back_envs(env_name, env_config, envs)
    return records  # type: ignore[return-value]


# Idle environments kept for the next evaluation in this process: making one costs 0.1 s on Pong (ALE
# loads its ROM), as much as ~300 of its steps. Reuse cannot change results: every episode starts with
# reset(seed), as when one environment plays every episode in turn.
_IDLE_ENVS: dict[str, list] = {}
_IDLE_LOCK = threading.Lock()


def _env_key(env_name: str, env_config: dict[str, Any] | None) -> str:
    return json.dumps([env_name, env_config or {}], sort_keys=True, default=str)


def _take_envs(env_name: str, env_config: dict[str, Any] | None, n: int) -> list:
    with _IDLE_LOCK:
        idle = _IDLE_ENVS.get(_env_key(env_name, env_config), [])
        taken, idle[:] = idle[:n], idle[n:]
    return taken + [make_env(env_name, env_config) for _ in range(n - len(taken))]


def _give_back_envs(env_name: str, env_config: dict[str, Any] | None, envs: list) -> None:
    with _IDLE_LOCK:
        _IDLE_ENVS.setdefault(_env_key(env_name, env_config), []).extend(envs)


def close_idle_envs() -> None:
    """Close the environments kept for reuse (frees their memory; the next evaluation makes new ones)."""
    with _IDLE_LOCK:
        idle = [env for envs in _IDLE_ENVS.values() for env in envs]
        _IDLE_ENVS.clear()
    for env in idle:
        env.close()


def play_agents(env_name: str, agents: dict[str, Any], seeds: Sequence[int], env_config: dict[str, Any] | None = None,
                jobs: int = 1, progress: bool = False, backend: str = "local") -> dict[str, list[EpisodeRecord]]:
    """Every agent's records from the same seeds (:func:`play_records`), on ``jobs`` processes.

    With ``jobs`` > 1 each agent's seeds are split into ``jobs`` chunks played in worker processes
    (:func:`dpf_gui.parallel.map_jobs`), or as Ray tasks with ``backend="ray"``; every episode depends on
    its seed alone, so the records are the same for any ``jobs`` and backend.
    """
    seeds = [int(s) for s in seeds]
    chunks = [list(c) for c in np.array_split(np.asarray(seeds, dtype=np.int64), max(1, min(int(jobs), len(seeds))))
              if len(c)] if jobs > 1 else [seeds]
    inline = len(chunks) == 1 and backend == "local"  # this process: a bar per agent, by episode
    items = [(env_name, agent, chunk, env_config, f"{env_name} {name}" if inline and progress else None)
             for name, agent in agents.items() for chunk in chunks]
    done = map_jobs(_play_chunk, items, jobs, progress=progress and not inline, desc=f"evaluate {env_name}",
                    unit="ep", sizes=[len(it[2]) for it in items], backend=backend)
    out, k = {}, 0
    for name in agents:
        out[name] = [r for part in done[k:k + len(chunks)] for r in part]
        k += len(chunks)
    return out


def _play_chunk(item) -> list[EpisodeRecord]:
    env_name, agent, seeds, env_config, bar = item
    return play_records(env_name, agent, seeds, env_config, progress=bar is not None, desc=bar or "episodes")


def _records_json(records: Sequence[EpisodeRecord]) -> dict[str, Any]:
    return {"success": [r.task_success for r in records], "return": [r.task_return for r in records],
            "length": [r.length for r in records], "regions": [r.regions.tolist() for r in records],
            "weights": [[None if not np.isfinite(w) else float(w) for w in r.weights] for r in records]}


def _records_from_json(d: dict[str, Any]) -> list[EpisodeRecord]:
    return [EpisodeRecord(task_success=float(s), task_return=float(r), length=int(n),
                          regions=np.asarray(g, dtype=np.float32).reshape(int(n), -1),
                          weights=np.array([np.nan if w is None else w for w in ws], dtype=np.float64))
            for s, r, n, g, ws in zip(d["success"], d["return"], d["length"], d["regions"], d["weights"], strict=True)]


def task_records_entry(env_name: str, seed: int, episodes: int, work: Path, base: dict[str, Any]) -> CacheEntry:
    """Where :func:`task_records` keeps the task agent's episodes."""
    return CacheEntry(work / env_name, f"task-seed{seed}-n{episodes}", {**base, "seed": seed, "episodes": episodes})


def task_records(env_name: str, task, seed: int, episodes: int, work: Path, base: dict[str, Any],
                 progress: bool) -> list[EpisodeRecord]:
    """The task agent's ``episodes`` held-out episodes from ``seed``, played once per ``work`` folder (``base``:
    what else they depend on) and read back by every cell: they are the same whatever the wish, and their records
    keep the region values that any wish is measured on (:meth:`EpisodeRecord.stats`). The benchmark's and
    ``dpf results``' cells share them."""
    entry = task_records_entry(env_name, seed, episodes, work, base)
    if not entry.done():
        agent = FusedAgent(task, "task")
        records = play_records(env_name, agent, episode_seeds(seed, episodes, held_out=True), task.env_config,
                               progress=progress, desc=f"{env_name} task agent")
        with entry.build() as tmp:
            write_json_atomic(tmp / "records.json", _records_json(records))
    return _records_from_json(read_json(entry.path / "records.json"))


def summarise_episodes(stats: Sequence[EpisodeStats]) -> dict[str, dict[str, Any]]:
    out = {
        "task_success": summarise([s.task_success for s in stats], binary=True),
        "task_return": summarise([s.task_return for s in stats]),
        "length": summarise([s.length for s in stats]),
    }
    for name in ("prefer_fraction", "avoid_fraction", "fusion_weight", "guard_held_back"):
        vals = [getattr(s, name) for s in stats if getattr(s, name) is not None]
        if vals:
            out[name] = summarise(vals, share=True)
    for name in ("prefer_steps", "avoid_steps"):
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
    jobs: int = 1,
    backend: str = "local",
) -> EvalResult:
    """Evaluate named agents (e.g. :class:`FusedAgent`) on the same held-out seeds, on ``jobs`` processes
    (or ``jobs`` chunks of Ray tasks: :func:`play_agents`)."""
    seeds = episode_seeds(seed, episodes, held_out=True)
    records = play_agents(env_name, agents, seeds, env_config, jobs=jobs, progress=progress, backend=backend)
    result = EvalResult(env=env_name, episodes=int(episodes), seed=int(seed))
    for name, recs in records.items():
        result.strategies[name] = summarise_episodes([r.stats(wish) for r in recs])
    return result

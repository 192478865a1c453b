"""An episode's traces, decision by decision, as CSV: for slides, spreadsheets and lessons.

One row per decision t (the action taken in state s_t): the strategy that took it, the action, the task
reward it got, the fusion weight w, the intent temperature T_psi and the collected intent reward G_t that
the decision used (as the Play view plots them at t), the intent reward the action collected (the intent
model's own score units), whether it led into the wish's preferred / avoided region (as ``dpf evaluate``
counts them), and the region values of the state it led to. A value a strategy does not have (w under
``task``) is an empty cell.

The Play view records the episode on screen with :class:`EpisodeTrace` (*Export trace…*); ``dpf trace``
plays one episode with :func:`play_trace`. Both write with :meth:`EpisodeTrace.write_csv`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.fileio import write_text_atomic

#: the columns before the region values (one ``region:NAME`` column per region feature follows)
TRACE_COLUMNS = ("t", "strategy", "action", "action_name", "task_reward", "w", "T_psi", "G_t", "intent_reward",
                 "in_prefer", "in_avoid")


def _number(v) -> float | None:
    return None if v is None or not np.isfinite(float(v)) else float(v)


@dataclass
class EpisodeTrace:
    """The rows of one episode (see the module doc), with what they were played with."""

    env: str
    seed: int
    action_names: Sequence[str]
    region_names: Sequence[str]
    wish: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, strategy: str, decision, reward: float, regions: np.ndarray) -> None:
        """Record the decision just taken (``decision``: a :class:`~dpf_gui.fusion.Decision`), the task reward it
        got and the region values of the state it led to."""
        regions = np.asarray(regions, dtype=np.float64).reshape(-1)
        row: dict[str, Any] = {
            "t": len(self.rows),
            "strategy": strategy,
            "action": int(decision.action),
            "action_name": self.action_names[int(decision.action)] if int(decision.action) < len(self.action_names)
            else str(int(decision.action)),
            "task_reward": float(reward),
            "w": _number(decision.weight),
            "T_psi": _number(decision.T_psi),
            "G_t": _number(decision.collected) if decision.intent_rewards is not None else None,
            "intent_reward": _number(decision.intent_reward),
            "in_prefer": None, "in_avoid": None,
        }
        if self.wish is not None:
            if self.wish.prefer:
                row["in_prefer"] = int(self.wish.in_prefer(regions[None])[0])
            if self.wish.avoid:
                row["in_avoid"] = int(self.wish.in_avoid(regions[None])[0])
        for name, value in zip(self.region_names, regions, strict=True):
            row[f"region:{name}"] = float(value)
        self.rows.append(row)

    @property
    def columns(self) -> list[str]:
        return [*TRACE_COLUMNS, *(f"region:{n}" for n in self.region_names)]

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if row.get(c) is None else _cell(row[c]) for c in self.columns])
        return out.getvalue()

    def write_csv(self, path: str | os.PathLike) -> Path:
        """Write the rows as CSV (a header line, then one line per decision), atomically."""
        return write_text_atomic(path, self.csv_text())


def _cell(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def play_trace(env_name: str, agent, seed: int, env_config: dict[str, Any] | None = None, wish=None,
               max_steps: int = 100_000) -> EpisodeTrace:
    """Play one episode of ``agent`` (a :class:`~dpf_gui.fusion.FusedAgent`) from reset seed ``seed`` and
    record its trace (the same episode as ``dpf evaluate`` plays from that seed)."""
    from dpf_gui.envs import make_env
    from dpf_gui.evaluate import _start

    env = make_env(env_name, env_config)
    try:
        _start(agent, seed)
        obs, info = env.reset(seed=int(seed))
        spec = env.spec_info
        names = [rf.name for rf in getattr(env, "region_features", spec.region_features)]
        actions = getattr(getattr(agent, "task", None), "action_names", None) or spec.action_names
        trace = EpisodeTrace(env_name, int(seed), list(actions), names, wish)
        for _ in range(max_steps):
            d = agent.decide(obs, np.asarray(info["legal"], dtype=bool))
            obs, reward, terminated, truncated, info = env.step(d.action)
            trace.add(agent.strategy, d, float(reward), info["regions"])
            if terminated or truncated:
                break
        return trace
    finally:
        env.close()


__all__ = ["TRACE_COLUMNS", "EpisodeTrace", "play_trace"]

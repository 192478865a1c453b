"""How loud may the intent be? Calibrated in simulation, never against the person's wish itself.

A fixed set of fusion parameters cannot suit every wish: on Pong an intent
that keeps the paddle in one half of the field costs points when it pulls as
hard as one that only nudges it off the edges; on gridnav a weak intent never
leaves the toll road. So each trained intent model gets its own loudness
(``FusionParams.strength``, the factor on its rewards), chosen by playing a
few *calibration* episodes (reset seeds from the training range, never those
of an evaluation) for each candidate strength and keeping:

    the strength with the highest intent score the model itself predicts
    (the intent reward it collects per decision, as the wish is measured),
    among those that keep at least ``keep`` x the task agent's success on
    the same episodes.

Only the task reward (success) and the intent model's own predictions enter:
the simulated user's marks never do, so a person's wish is calibrated the same
way as a benchmark's. If no candidate keeps the task, the strength is 0: the
fused agent is the task agent. Calibration needs the simulator, not the
person, and changes nothing in the task agent: the method's promise (no
retraining, no new feedback) holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dpf_gui.evaluate import play_records
from dpf_gui.fusion import FusedAgent, FusionParams
from dpf_gui.rollout import episode_seeds

STRENGTHS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: calibration episodes per environment (the simulator's speed decides)
EPISODES = {"gridnav": 20, "highway": 10, "pong": 20}


@dataclass
class Calibration:
    """The chosen strength and what each candidate did on the calibration episodes."""

    strength: float
    task_success: float
    keep: float
    episodes: int
    seed: int
    table: list[dict[str, float]] = field(default_factory=list)  # per candidate: strength, success, intent_score (per decision)

    def params(self, base: FusionParams) -> FusionParams:
        return replace(base, strength=self.strength)

    def to_dict(self) -> dict[str, Any]:
        return {"strength": self.strength, "task_success": self.task_success, "keep": self.keep,
                "episodes": self.episodes, "seed": self.seed, "table": self.table}


def calibrate(env_name: str, task, model, intent_scale: float, intent_unit: float, params: FusionParams,
              episodes: int | None = None, seed: int = 0, keep: float = 0.95,
              strengths: Sequence[float] = STRENGTHS, strategy: str = "dynamic") -> Calibration:
    """Choose the intent's strength for ``model`` (see the module docstring).

    The candidates are searched from the middle of ``strengths`` (sorted): louder while the task is kept,
    quieter until it is, so about half of them are played.
    """
    episodes = episodes or EPISODES.get(env_name, 20)
    seeds = episode_seeds(seed, episodes, held_out=False)  # the training range: never an evaluation episode
    task_records = play_records(env_name, FusedAgent(task, "task"), seeds, task.env_config)
    task_success = float(np.mean([r.task_success for r in task_records]))
    ladder = sorted(float(s) for s in strengths)
    table: dict[float, dict[str, float]] = {}

    def keeps(s: float) -> bool:
        if s not in table:
            agent = FusedAgent(task, strategy, replace(params, strength=s), intent=model, intent_scale=intent_scale,
                               intent_unit=intent_unit, seed=seed)
            records = play_records(env_name, agent, seeds, task.env_config)
            table[s] = {"strength": s, "success": float(np.mean([r.task_success for r in records])),
                        # per decision, as the wish is measured
                        "intent_score": float(np.mean([r.intent_return / max(r.length, 1) for r in records]))}
        return table[s]["success"] >= keep * task_success - 1e-12

    i = len(ladder) // 2
    if keeps(ladder[i]):
        while i + 1 < len(ladder) and keeps(ladder[i + 1]):
            i += 1
    else:
        while i > 0 and not keeps(ladder[i - 1]):
            i -= 1
    kept = [row for row in table.values() if row["success"] >= keep * task_success - 1e-12]
    best = max(kept, key=lambda row: row["intent_score"])["strength"] if kept else 0.0
    return Calibration(strength=best, task_success=task_success, keep=keep, episodes=episodes, seed=seed,
                       table=sorted(table.values(), key=lambda row: row["strength"]))


__all__ = ["EPISODES", "STRENGTHS", "Calibration", "calibrate"]

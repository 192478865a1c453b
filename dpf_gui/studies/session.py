"""One participant's walk through the protocol's phases, resumable at the phase it was in.

The steps, in order: consent, instructions, then for each condition in the
participant's order: annotate, train (automatic), watch, questionnaire (and
the NASA-TLX block when the protocol asks for it); then end. A step is done
when its ``phase_end`` event is in the participant's event log, and nothing
else decides where a participant is: after a crash or a kill, opening the
session again continues at the first step not done (logging that phase's
start again, with ``resumed: true``), and everything logged before is kept.

Marks go to the condition's own label store (committed the moment they are
given); the intent model, and the outcomes of the agent it makes, are written
to the condition's folder before the train step is marked done. Outcomes are
scored only against the protocol's wish (its region expressions), never a
preset; a protocol that gives only the instruction gets no wish columns.

This module is what the app's study mode and ``dpf study pilot`` both drive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError, WorkerError
from dpf_gui.fileio import write_json_atomic
from dpf_gui.fusion_params import CALIBRATED
from dpf_gui.strategies import get as get_strategy
from dpf_gui.studies.events import EventLog
from dpf_gui.studies.folder import LOCK_FILE, Study
from dpf_gui.studies.protocol import LIKERT_POINTS, Condition, Protocol

CONDITIONS_DIR = "conditions"
LABELS_FILE = "labels.sqlite"
INTENT_DIR = "intent"
OUTCOMES_FILE = "outcomes.json"
CALIBRATION_FILE = "calibration.json"  # a condition with ``calibrate``: the strength chosen after training
EVENTS_FILE = "events.sqlite"

#: the raw NASA-TLX: six subscales rated 0..100 in steps of 5 (Hart & Staveland 1988), with their anchors
TLX_SCALES: tuple[tuple[str, str, str, str], ...] = (
    ("mental", "How mentally demanding was the task?", "very low", "very high"),
    ("physical", "How physically demanding was the task?", "very low", "very high"),
    ("temporal", "How hurried or rushed was the pace of the task?", "very low", "very high"),
    ("performance", "How successful were you in accomplishing what you were asked to do?", "perfect", "failure"),
    ("effort", "How hard did you have to work to accomplish your level of performance?", "very low", "very high"),
    ("frustration", "How insecure, discouraged, irritated, stressed and annoyed were you?", "very low", "very high"),
)
TLX_IDS = tuple(f"tlx_{s[0]}" for s in TLX_SCALES)


@dataclass(frozen=True)
class Step:
    phase: str  # consent, instructions, annotate, train, watch, questionnaire, nasa_tlx, end
    condition: str | None = None

    @property
    def key(self) -> str:
        return self.phase if self.condition is None else f"{self.condition}/{self.phase}"


def study_steps(protocol: Protocol, order: list[str]) -> list[Step]:
    steps = [Step("consent"), Step("instructions")]
    for name in order:
        steps += [Step("annotate", name), Step("train", name), Step("watch", name), Step("questionnaire", name)]
        if protocol.nasa_tlx:
            steps.append(Step("nasa_tlx", name))
    return [*steps, Step("end")]


def episode_outcome(record, wish) -> dict[str, Any]:
    """One played episode's outcomes, scored by the protocol's wish (None: no wish columns)."""
    stats = record.stats(wish)
    out = {"task_success": float(stats.task_success), "task_return": float(stats.task_return),
           "length": int(stats.length)}
    if stats.prefer_fraction is not None:
        out["prefer_fraction"] = float(stats.prefer_fraction)
    if stats.avoid_fraction is not None:
        out["avoid_fraction"] = float(stats.avoid_fraction)
    return out


def trajectory_outcome(traj, wish) -> dict[str, Any]:
    """A recorded episode's outcomes (as :func:`episode_outcome`: regions of the states each decision led to)."""
    n = max(int(traj.length), 1)
    reached = np.asarray(traj.regions[1:])
    out = {"task_success": float(traj.success), "task_return": float(np.sum(traj.rewards)), "length": int(traj.length)}
    if wish is not None and wish.prefer:
        out["prefer_fraction"] = float(wish.in_prefer(reached).sum()) / n
    if wish is not None and wish.avoid:
        out["avoid_fraction"] = float(wish.in_avoid(reached).sum()) / n
    return out


def step_duration(events: list[dict[str, Any]], key: str, ends: dict[int, float]) -> float | None:
    """Seconds step ``key`` was under way, from the log: in each session that started it, from its first
    ``phase_start`` to its ``phase_end`` in that session, or else to ``ends[session]`` (the last thing that session
    logged); the breaks between sessions do not count. ``events``: the log's, or only its phase starts and ends.
    None: the step was never started."""
    starts: dict[int, float] = {}
    finished: dict[int, float] = {}
    for e in events:
        if e["data"].get("step") == key and e["kind"] in ("phase_start", "phase_end"):
            (starts if e["kind"] == "phase_start" else finished).setdefault(int(e["session"]), float(e["t_session"]))
    if not starts:
        return None
    return sum(max(0.0, finished.get(session, ends.get(session, t0)) - t0) for session, t0 in starts.items())


class Session:
    """A participant's session; one process at a time (a second is refused while the first holds it)."""

    def __init__(self, study: Study, pid: str):
        from dpf_gui.fileio import hold_lock

        self.study, self.protocol = study, study.protocol
        self.info = study.participant(pid)
        self.pid = pid
        self.folder = study.participant_dir(pid)
        self.steps = study_steps(self.protocol, self.info["order"])
        self._lock, owner = hold_lock(self.folder / LOCK_FILE)
        if self._lock is None:
            raise UserError(f"participant {pid!r} is in a session in another process"
                            + (f" ({owner})" if owner else "") + "; close it first")
        self._workspaces: dict[str, Any] = {}  # one per condition: the app's views listen to the one they hold
        self.log = EventLog(self.folder / EVENTS_FILE)
        done = self.done()
        self.log.append("session_start", participant=pid, simulated=bool(self.info.get("simulated")),
                        resumed_at=None if self.current() is None else self.current().key, steps_done=len(done))

    def close(self) -> None:
        for ws in self._workspaces.values():
            ws.store.close()
        self._workspaces.clear()
        if self.log is not None:
            self.log.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- where the participant is -------------------------------------------------------------------------
    def done(self) -> list[str]:
        return [e["data"].get("step") for e in self.log.events("phase_end")]

    def current(self) -> Step | None:
        done = set(self.done())
        return next((s for s in self.steps if s.key not in done), None)

    @property
    def finished(self) -> bool:
        return self.current() is None

    def begin(self) -> Step:
        """Start the current step (log its ``phase_start``; ``resumed`` when it was started before)."""
        step = self.current()
        if step is None:
            raise UserError(f"participant {self.pid!r} has finished the study")
        started = any(e["data"].get("step") == step.key for e in self.log.events("phase_start"))
        self.log.append("phase_start", step.phase, step.condition, step=step.key, resumed=started,
                        text=self.text(step))
        return step

    def end(self, step: Step, **data: Any) -> None:
        """Finish ``step`` (the current one); a questionnaire with required items unanswered is refused."""
        if self.current() != step:
            raise UserError(f"{step.key} is not the current step ({self.current().key if self.current() else 'done'})")
        if step.phase == "consent" and not self._consented():
            raise UserError("the participant has not given consent")
        missing = self.missing_answers(step)
        if missing:
            raise UserError(f"{step.key}: required items unanswered: {', '.join(missing)}")
        if step.phase == "train" and not (self.condition_dir(step.condition) / OUTCOMES_FILE).is_file():
            raise UserError(f"{step.key}: the intent model has not been trained yet")
        self.log.append("phase_end", step.phase, step.condition, step=step.key, **data)

    def event(self, kind: str, step: Step | None = None, **data: Any) -> int:
        step = step or self.current()
        return self.log.append(kind, step.phase if step else None, step.condition if step else None, **data)

    def text(self, step: Step) -> str:
        """What ``step``'s page says: the phase's text, or on an annotate page the condition's own when it has one."""
        own = self.condition(step.condition).annotate_text if step.phase == "annotate" else None
        return own or self.protocol.texts.get(step.phase, self.protocol.texts["questionnaire"])

    # --- consent ------------------------------------------------------------------------------------------
    def consent(self, given: bool) -> None:
        self.event("consent", given=bool(given))

    def _consented(self) -> bool:
        answers = self.log.events("consent")
        return bool(answers) and bool(answers[-1]["data"].get("given"))

    # --- annotate -----------------------------------------------------------------------------------------
    def condition(self, name: str) -> Condition:
        return self.protocol.condition(name)

    def condition_dir(self, name: str) -> Path:
        return self.folder / CONDITIONS_DIR / name

    def workspace(self, name: str):
        """The task agent and data, with this participant's label store of condition ``name``.

        The same object on every call, so a mark or an undo made through it reaches whoever listens to it."""
        from dpf_gui.data.study import LabelStore
        from dpf_gui.session.workspace import Workspace

        if name not in self._workspaces:
            study = self.study
            store = LabelStore(self.condition_dir(name) / LABELS_FILE)
            fp = study.data.fingerprint()
            store.register_dataset(study.data, study.protocol.data, fingerprint=fp)
            self._workspaces[name] = Workspace(env_name=self.protocol.env, task=study.task,
                                               task_dir=Path(study.task.directory), dataset=study.data,
                                               dataset_path=Path(study.protocol.data), store=store, fingerprint=fp)
        return self._workspaces[name]

    def labelled(self, name: str) -> int:
        ws = self.workspace(name)
        return ws.store.labelled_count(ws.fingerprint, ws.dataset.lengths)

    def time_left(self, step: Step) -> float | None:
        """Seconds left of the annotation time limit (:meth:`time_spent`); None: no limit."""
        limit = self.protocol.time_limit(self.condition(step.condition))
        if limit is None:
            return None
        return limit - self.time_spent(step)

    def time_spent(self, step: Step) -> float:
        """Seconds ``step`` has been under way: in each session that started it, from its start to the last thing
        that session logged (in this session: now). So an interruption (the operator's exit, which is logged, or a
        crash) stops the clock until the step is resumed, instead of the break counting against the participant.
        Measured with the sessions' monotonic clocks, so a change of the computer's clock changes nothing."""
        ends = {**self.log.session_ends(), self.log.session: self.log.elapsed()}
        return step_duration(self.log.events("phase_start"), step.key, ends) or 0.0

    def mark(self, traj: int, value: int, t0: int | None = None, t1: int | None = None) -> int:
        """The participant marks a trajectory (or decisions t0..t1 of it); stored, then logged."""
        step = self._annotating("marks", [int(traj)])
        ws = self.workspace(step.condition)
        action = ws.mark(traj, value) if t0 is None else ws.mark_segment(traj, t0, t1 if t1 is not None else t0, value)
        self.event("mark", step, traj=int(traj), value=int(value), t0=t0, t1=t1, action=action)
        return action

    def rank(self, levels: list[tuple[int, int]]) -> int:
        """The participant ranks trips watched together ((trajectory, level), level 0 the best, equal levels
        equally good: :meth:`dpf_gui.data.study.LabelStore.rank`); stored as one undoable action, then logged."""
        levels = [(int(t), int(v)) for t, v in levels]
        step = self._annotating("ranks", [t for t, _ in levels])
        action = self.workspace(step.condition).rank(levels)
        self.event("rank", step, levels=[[t, v] for t, v in levels], action=action)
        return action

    def _annotating(self, feedback: str, trajs: list[int]) -> Step:
        """The annotate step, when this condition takes ``feedback`` for these trajectories: refused past the
        budget (trips given feedback, each counted once) or the time limit."""
        step = self._step_of("annotate")
        cond = self.condition(step.condition)
        if cond.feedback != feedback:
            raise UserError(f"this condition collects {cond.feedback}, not {feedback}")
        states, _ = self.workspace(step.condition).summary()
        given = int((states != 0).sum())
        new = {t for t in trajs if 0 <= t < len(states) and states[t] == 0}
        if new and given + len(new) > cond.budget:
            raise UserError(f"the label budget of this condition ({cond.budget} trajectories) is used up"
                            if given >= cond.budget else f"this would give feedback on {given + len(new)} "
                            f"trajectories; the label budget of this condition is {cond.budget}")
        left = self.time_left(step)
        if left is not None and left <= 0:
            raise UserError("the annotation time is up")
        return step

    def undo(self) -> list[int]:
        step = self._step_of("annotate")
        touched = self.workspace(step.condition).undo()
        self.event("undo", step, trajectories=touched)
        return touched

    def _step_of(self, phase: str) -> Step:
        step = self.current()
        if step is None or step.phase != phase:
            raise UserError(f"not in the {phase} phase (now: {step.key if step else 'finished'})")
        return step

    # --- train (automatic) --------------------------------------------------------------------------------
    def training_seed(self, name: str) -> int:
        index = [c.name for c in self.protocol.conditions].index(name)
        return (self.protocol.seed * 1_000_003 + int(self.info["number"]) * 101 + index) % (2**32)

    def trip_order(self, name: str) -> np.ndarray:
        """The trajectories of condition ``name`` as its annotate list shows them, top first: the protocol's
        ``trip_order`` (shuffled: seeded by the participant and condition, the same on every resumption)."""
        n = len(self.workspace(name))
        if self.protocol.trip_order == "stored":
            return np.arange(n)
        from dpf_gui.selection import random_order

        return random_order(n, self.training_seed(name))

    def train(self, name: str, progress: bool = False) -> dict[str, Any]:
        """Train the intent model on this participant's marks in condition ``name``, then evaluate the agent it
        makes on the protocol's fixed outcome seeds; writes ``outcomes.json`` (and returns it)."""
        from dpf_gui.evaluate import episode_seeds, play_records, summarise_episodes
        from dpf_gui.intent.registry import config_for, train_intent
        from dpf_gui.overrides import config_from_sets

        step = self.current()
        ws = self.workspace(name)
        labels = ws.labels()
        folder = self.condition_dir(name)
        config = config_from_sets(config_for(self.protocol.train_kind), self.protocol.train_config, what="train.config")
        note, fit = None, None
        needs_intent = get_strategy(self.condition(name).strategy).needs_intent
        if needs_intent:
            try:
                result = train_intent(ws.dataset, labels, self.training_seed(name), out_dir=folder / INTENT_DIR,
                                      config=config, progress=progress)
                fit = result.metrics.get("held_out")
            except UserError as exc:  # e.g. too few marks, or all the same: the condition plays the task agent
                note = f"no intent model ({exc}); the agent plays as the task agent"
        calibration_note = None
        if self.condition(name).calibrate:
            (folder / CALIBRATION_FILE).unlink(missing_ok=True)  # an earlier training's is not this model's
            if note is None and needs_intent:
                try:
                    self._calibrate(name)
                except (UserError, WorkerError) as exc:  # the condition goes on at the stored strength, said so
                    calibration_note = f"calibration failed ({exc}); the agent plays at the stored strength and c"
        agent = self.agent(name)
        seeds = episode_seeds(self.protocol.outcome_seed, self.protocol.outcome_episodes, held_out=True)
        records = play_records(self.protocol.env, agent, seeds, self.study.task.env_config)
        wish = self.study.wish
        per_episode = [episode_outcome(r, wish) for r in records]
        outcomes = {
            "participant": self.pid, "condition": name, "strategy": self.condition(name).strategy,
            "labelled": int(labels.count), "intent": note is None and needs_intent,
            "note": note, "fit": fit, "episodes": len(records), "seed": self.protocol.outcome_seed,
            "wish": None if wish is None else wish.describe(),
            "fusion": {k: getattr(agent.params, k) for k in CALIBRATED} if agent.intent is not None else None,
            "calibrated": self.calibration(name) is not None, "calibration_note": calibration_note,
            "metrics": summarise_episodes([r.stats(wish) for r in records]),
            "means": {k: float(np.mean([e[k] for e in per_episode])) for k in per_episode[0]} if per_episode else {},
        }
        write_json_atomic(folder / OUTCOMES_FILE, outcomes)
        self.event("trained", step, labelled=int(labels.count), intent=outcomes["intent"], note=note, fit=fit,
                   fusion=outcomes["fusion"], calibrated=outcomes["calibrated"], calibration_note=calibration_note,
                   outcomes=outcomes["means"])
        return outcomes

    def _calibrate(self, name: str) -> None:
        """Choose the strength and c of condition ``name``'s new intent model in simulation (training seeds only;
        highway's and Pong's in a process of their own, minutes) and keep the result beside it."""
        from dpf_gui.agents.intent_agent import IntentAgent
        from dpf_gui.calibration_process import calibrate_on_this_machine
        from dpf_gui.pipeline import fusion_params

        task = self.study.task
        intent = IntentAgent.load(self.condition_dir(name) / INTENT_DIR, expect_env=self.protocol.env)
        cal = calibrate_on_this_machine(self.protocol.env, task, intent.model, intent.scale(), intent.unit,
                                        fusion_params(task, self.condition(name).fusion), seed=self.training_seed(name))
        write_json_atomic(self.condition_dir(name) / CALIBRATION_FILE, cal.to_dict())

    def calibration(self, name: str):
        """The :class:`~dpf_gui.calibrate.Calibration` kept for condition ``name``'s intent model (None: none)."""
        from dpf_gui.calibrate import Calibration

        path = self.condition_dir(name) / CALIBRATION_FILE
        if not path.is_file() or not is_checkpoint(self.condition_dir(name) / INTENT_DIR):
            return None
        return Calibration(**json.loads(path.read_text(encoding="utf-8")))

    def agent(self, name: str):
        """The agent of condition ``name``: the task agent fused with the intent model from this participant's marks
        (the task agent alone when no intent model could be trained)."""
        from dpf_gui.agents.intent_agent import IntentAgent
        from dpf_gui.fusion import FusedAgent
        from dpf_gui.pipeline import fusion_params

        cond = self.condition(name)
        task = self.study.task
        intent_dir = self.condition_dir(name) / INTENT_DIR
        if not get_strategy(cond.strategy).needs_intent or not is_checkpoint(intent_dir):
            return FusedAgent(task, "task")
        intent = IntentAgent.load(intent_dir, expect_env=self.protocol.env)
        params = fusion_params(task, cond.fusion)
        cal = self.calibration(name) if cond.calibrate else None
        return FusedAgent(task, cond.strategy, params if cal is None else cal.params(params), intent=intent.model,
                          intent_scale=intent.scale(), intent_unit=intent.unit, seed=self.training_seed(name))

    # --- watch --------------------------------------------------------------------------------------------
    def watch_seeds(self) -> list[int]:
        from dpf_gui.rollout import episode_seeds

        return [int(s) for s in episode_seeds(self.protocol.watch_seed, self.protocol.watch_episodes)]

    def watch_dataset(self, name: str):
        """The watch episodes of condition ``name`` played by its agent, as a dataset (the app replays its frames).
        The same seeds for every participant and condition, so what people watch differs only by the agent."""
        from dpf_gui.data.trajectories import TrajectoryDataset, dataset_meta
        from dpf_gui.envs import make_env
        from dpf_gui.rollout import play_episode

        agent = self.agent(name)
        env = make_env(self.protocol.env, self.study.task.env_config)
        trajs = []
        try:
            for i, seed in enumerate(self.watch_seeds()):
                agent.start_episode(seed)
                trajs.append(play_episode(env, lambda obs, legal: agent.decide(obs, legal).action, seed, episode=i))
            meta = dataset_meta(env, {"kind": "study-watch", "participant": self.pid, "condition": name})
        finally:
            env.close()
        return TrajectoryDataset.from_trajectories(meta, trajs)

    def watched(self, index: int, traj) -> None:
        """Log a watched episode (a trajectory of :meth:`watch_dataset`) with its outcomes, scored by the protocol's
        wish only; an episode already logged (a resumed watch phase) is not logged again."""
        step = self._step_of("watch")
        if any(e["data"].get("episode") == int(index) and e["condition"] == step.condition
               for e in self.log.events("episode_end")):
            return
        self.event("episode_end", step, episode=int(index), seed=int(traj.seed),
                   **trajectory_outcome(traj, self.study.wish))

    # --- questionnaire ------------------------------------------------------------------------------------
    def items(self, step: Step) -> list[tuple[str, str, str, tuple[str, str] | None, bool]]:
        """(id, type, text, anchors, required) of the items a questionnaire step asks."""
        if step.phase == "questionnaire":
            return [(i.id, i.type, i.text, i.anchors, i.required) for i in self.protocol.items]
        if step.phase == "nasa_tlx":
            return [(f"tlx_{s}", "tlx", q, (lo, hi), True) for s, q, lo, hi in TLX_SCALES]
        return []

    def answer(self, item_id: str, value: Any) -> None:
        step = self.current()
        items = {i[0]: i for i in self.items(step)} if step else {}
        if item_id not in items:
            raise UserError(f"no item {item_id!r} in this phase; allowed: {', '.join(items) or 'none'}")
        kind = items[item_id][1]
        if kind == "likert" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                 or not 1 <= value <= LIKERT_POINTS):
            raise UserError(f"{item_id}: a Likert answer is a whole number from 1 to {LIKERT_POINTS}; got {value!r}")
        if kind == "tlx" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or not 0 <= value <= 100 or value % 5):
            raise UserError(f"{item_id}: a NASA-TLX rating is 0 to 100 in steps of 5; got {value!r}")
        if kind == "text":
            value = str(value)
        self.event("answer", step, item=item_id, type=kind, value=value if kind == "text" else int(value))

    def answers(self, step: Step) -> dict[str, Any]:
        """The latest answer to each item of ``step`` (earlier ones stay in the log)."""
        out = {}
        for e in self.log.events("answer"):
            if e["phase"] == step.phase and e["condition"] == step.condition:
                out[e["data"]["item"]] = e["data"]["value"]
        return out

    def missing_answers(self, step: Step) -> list[str]:
        given = self.answers(step) if step.phase in ("questionnaire", "nasa_tlx") else {}
        return [i[0] for i in self.items(step) if i[4] and (i[0] not in given or given[i[0]] in ("", None))]


__all__ = ["TLX_IDS", "TLX_SCALES", "Session", "Step", "episode_outcome", "step_duration", "study_steps"]

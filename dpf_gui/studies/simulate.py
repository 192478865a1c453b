"""Simulated participants: run a whole protocol headless (``dpf study pilot``).

A simulated participant walks the same steps as a person (:class:`Session`):

* consent: given; instructions: read;
* annotate: a simulated user (:mod:`dpf_gui.oracles`) labels ``budget``
  trajectories by the protocol's wish expressions, with the noise options of
  ``dpf label`` and the participant's own seed, chosen at random, or actively
  (the app's "label this next") when the condition shows suggestions; the
  labels go into the condition's label store as one batch, like a person's marks.
  A condition with ``feedback = "ranks"``: the same random trajectories ranked
  in groups of five, as ``dpf label --feedback ranks`` (``--flip`` the chance of
  swapping neighbours; the options that change scores are for marks);
* train: as for a person; watch: the agent plays the watch episodes;
* questionnaire: answered by the responder model below; NASA-TLX likewise.

The responder model (documented in docs/STUDY.md). From the episodes the
participant watched in the condition, two scores in [0, 1]:

* wish score ``w = (1 + prefer_fraction - avoid_fraction) / 2`` (a term the wish lacks counts 0),
* task score ``s`` = the share of watched episodes in which the task succeeded.

A Likert item that ``measures`` the wish answers ``1 + 6 w``, one that measures
the task ``1 + 6 s``, any other item 4 (the middle); ``reverse`` items give
``8 - x``; then Gaussian noise of standard deviation 0.75 is added and the
answer rounded and clipped to 1..7. Text items answer "(simulated participant)".
NASA-TLX ratings: performance ``100 (1 - (w + s) / 2)``, the others 50, each
with noise of standard deviation 10, rounded to a step of 5 and clipped to 0..100.
All draws come from the participant's seed and the condition.

Pilot data is marked as simulated everywhere: in the study log, the participant's
file, every session's start event, the label stores' source and the export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dpf_gui.errors import UserError
from dpf_gui.oracles import FeedbackNoise
from dpf_gui.studies.folder import Study
from dpf_gui.studies.session import TLX_SCALES, Session, Step

LIKERT_NOISE = 0.75
TLX_NOISE = 10.0
PILOT_PREFIX = "sim"


def outcome_scores(episodes: list[dict[str, Any]]) -> tuple[float, float]:
    """(wish score, task score) in [0, 1] from watched episodes' outcomes (see the module docstring)."""
    if not episodes:
        return 0.5, 0.5
    prefer = float(np.mean([e.get("prefer_fraction", 0.0) for e in episodes]))
    avoid = float(np.mean([e.get("avoid_fraction", 0.0) for e in episodes]))
    wish = float(np.clip((1.0 + prefer - avoid) / 2.0, 0.0, 1.0))
    return wish, float(np.mean([e["task_success"] for e in episodes]))


class Responder:
    """The simulated participant's questionnaire answers (seeded)."""

    def __init__(self, seed: int, condition_index: int):
        self.rng = np.random.default_rng([int(seed), 7, int(condition_index)])

    def likert(self, measures: str | None, reverse: bool, wish: float, task: float) -> int:
        centre = {"wish": 1 + 6 * wish, "task": 1 + 6 * task}.get(measures, 4.0)
        if reverse:
            centre = 8 - centre
        return int(np.clip(np.rint(centre + LIKERT_NOISE * self.rng.standard_normal()), 1, 7))

    def tlx(self, scale: str, wish: float, task: float) -> int:
        centre = 100 * (1 - (wish + task) / 2) if scale == "performance" else 50.0
        return int(np.clip(5 * np.rint((centre + TLX_NOISE * self.rng.standard_normal()) / 5), 0, 100))


def run_simulated(session: Session, progress: bool = False,
                  on_step: Callable[[Step], None] | None = None) -> None:
    """Walk a simulated participant through every step left (``on_step`` is called as each step begins)."""
    sim = session.info.get("simulated")
    if not sim:
        raise UserError(f"participant {session.pid!r} is a person, not a simulated participant")
    study, protocol = session.study, session.protocol
    if study.wish is None:
        raise UserError("simulated participants label by the wish's region expressions: give [wish] prefer "
                        "and/or avoid in the protocol")
    noise = FeedbackNoise(**sim["noise"])
    names = [c.name for c in protocol.conditions]
    while session.current() is not None:
        step = session.begin()
        if on_step is not None:
            on_step(step)
        if step.phase == "consent":
            session.consent(True)
        elif step.phase == "annotate":
            _annotate(session, step, noise, int(sim["seed"]) + names.index(step.condition))
        elif step.phase == "train":
            session.train(step.condition, progress=progress)
        elif step.phase == "watch":
            _watch(session, step)
        elif step.phase in ("questionnaire", "nasa_tlx"):
            _respond(session, step, int(sim["seed"]), names.index(step.condition))
        session.end(step)


def _annotate(session: Session, step: Step, noise: FeedbackNoise, seed: int) -> None:
    from dpf_gui.selection import active_rounds, select_and_label

    cond = session.condition(step.condition)
    ws = session.workspace(step.condition)
    if cond.feedback == "ranks":
        _rank(session, step, noise, seed)
        return
    if session.labelled(step.condition) == 0:  # marks already stored (a run interrupted after them) are kept
        select = "active" if cond.suggestions else "random"
        rounds = active_rounds(cond.budget) if cond.suggestions else 1
        labels = select_and_label(ws.dataset, session.study.wish, noise, cond.budget, select, rounds, seed)
        labels.meta["source"] = "simulated-participant"
        ws.store.import_labels(labels, ws.fingerprint)
    stored = ws.labels()
    chosen = np.flatnonzero(stored.labelled)
    session.event("simulated_marks", step, trajectories=chosen.tolist(),
                  scores=[float(stored.scores[i]) for i in chosen], noise=noise.record(), seed=seed)


def _rank(session: Session, step: Step, noise: FeedbackNoise, seed: int) -> None:
    """``budget`` trips chosen at random (those random marks would go to), ranked in seeded groups of
    :data:`~dpf_gui.oracles.RANK_GROUP` by the wish, neighbours swapped at the noise's ``flip``: ``dpf label
    --feedback ranks``'s simulated person, stored as one batch of rankings."""
    from dpf_gui.oracles import RANK_GROUP, rank_groups, ranked_orders
    from dpf_gui.selection import random_order

    ws = session.workspace(step.condition)
    budget = session.condition(step.condition).budget
    if session.labelled(step.condition) == 0:  # rankings already stored (a run interrupted after them) are kept
        chosen = random_order(len(ws.dataset), seed)[:budget]
        orders, _, _ = ranked_orders(ws.dataset, session.study.wish, rank_groups(chosen, RANK_GROUP, seed),
                                     noise.flip, seed)
        ws.store.rank_many(ws.fingerprint, orders, source="simulated-participant",
                           note={"swap": float(noise.flip), "seed": int(seed)})
    rankings = ws.store.rankings(ws.fingerprint, len(ws.dataset))
    session.event("simulated_rankings", step, rankings=[[[t, v] for t, v in r] for r in rankings],
                  swap=float(noise.flip), seed=seed)


def _watch(session: Session, step: Step) -> None:
    episodes = session.watch_dataset(step.condition)
    for i in range(len(episodes)):
        session.event("episode_start", step, episode=i, seed=int(episodes.seeds[i]))
        session.watched(i, episodes[i])


def _respond(session: Session, step: Step, seed: int, index: int) -> None:
    episodes = [e["data"] for e in session.log.events("episode_end") if e["condition"] == step.condition]
    wish, task = outcome_scores(episodes)
    responder = Responder(seed, index)
    given = session.answers(step)
    if step.phase == "questionnaire":
        for item in session.protocol.items:
            value = ("(simulated participant)" if item.type == "text"
                     else responder.likert(item.measures, item.reverse, wish, task))
            if item.id not in given:
                session.answer(item.id, value)
    else:
        for scale, *_ in TLX_SCALES:
            value = responder.tlx(scale, wish, task)
            if f"tlx_{scale}" not in given:
                session.answer(f"tlx_{scale}", value)


def pilot(study: Study, participants: int, seed: int = 0, noise: FeedbackNoise | None = None,
          progress: bool = False, report: Callable[[str], None] | None = None) -> list[str]:
    """Make sure ``participants`` simulated participants have finished the protocol: unfinished ones are
    resumed (with their own seed and noise), new ones added (``sim-001``, ...). People's data is not touched.
    ``report`` is told each step as it begins (a participant takes under a minute: most of it training),
    ``progress`` shows training's progress bar. Returns the simulated participants' ids."""
    if study.wish is None:
        raise UserError("the pilot's simulated participants label by the wish's region expressions: give [wish] "
                        "prefer and/or avoid in the protocol")
    noise = noise or FeedbackNoise()
    sims = [p for p in study.participants() if p.get("simulated")]
    with study.log() as log:
        log.append("pilot", participants=int(participants), seed=int(seed), noise=noise.record(),
                   resuming=[p["id"] for p in sims])
    used = {p["id"] for p in study.participants()} | {p["id"] for p in study.withdrawn()}
    k = 0
    while len(sims) < participants:
        k += 1
        pid = f"{PILOT_PREFIX}-{k:03d}"
        if pid in used:
            continue
        sim_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
        sims.append(study.add_participant(pid, simulated={"seed": sim_seed, "noise": noise.record(),
                                                          "pilot_seed": seed}))
    for n, p in enumerate(sims, 1):
        with Session(study, p["id"]) as session:
            if not session.finished:
                said = f"{p['id']} ({n} of {len(sims)})"
                on_step = None if report is None else (lambda step, said=said: report(f"{said}: {step.key}"))
                run_simulated(session, progress=progress, on_step=on_step)
    return [p["id"] for p in sims]


__all__ = ["Responder", "outcome_scores", "pilot", "run_simulated"]

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
    the same episodes (``KEEP``, or ``SEARCH_KEEP`` where a confirmation
    follows);

then, at that strength, dynamic fusion's budget ``c`` (how much the intent
may collect and overrule before it lets go) is tried at 2x and 4x the stored
one, and the loudest-scoring candidate that keeps the task wins. The stored c
was set on the presets, whose regions lie one or two steps off the task
agent's path; a wish three steps away needs a longer leash.

Where one episode's success is a coin flip (a Pong point), 20 episodes can
neither tell a loud candidate that passed by luck from one that keeps the
task, nor stop the climb for a good reason rather than by chance. So there
the search's bar is looser (``SEARCH_KEEP``: 85 % instead of 95 %) and the
winner is *confirmed* on fresh calibration episodes, played by it and the
task agent on the same seeds, in chunks: it is confirmed once the one-sided
lower confidence bound of the paired margin ``f_i - keep x t_i`` (``CONFIRM_KEEP``)
clears 0 (it keeps the claim's 90 %, highway's 95 %, not just on average), rejected once the
upper bound falls below 0 or the fresh episodes run out. The bound is
one-sided 90 % at the last look and stricter before it (O'Brien-Fleming's
shape: ``CONFIRM_Z`` x sqrt(looks / look), 2.22, 1.57 and 1.28 standard
errors after 100, 200 and 300 points), because every look is another
chance for a candidate right at the bar to pass by luck: with the same bar
at each look one in five did, with this one about one in eight
(``bench/confirm_power.py``). The task agent's share of those fresh points
is itself a draw (0.61-0.81 on Pong's first 100, against 0.674 on 1000), so
the margin also leans on its ``REFERENCE_EPISODES`` reference points, as much
as the winner shares nothing with it (:func:`regression_bounds`): a quiet
winner stays paired, a loud one is held to the reference's bar.
There too the winner is played once more with a looser confidence gate
(``GATES``: the intent also acts where its ensemble members agree less),
which joins the ranking like any candidate: at the default gate a prefer
wish learnt from 25 labels can stay short of its bar at every strength.
On highway the fused agent's episodes part from the task agent's in almost every episode, at any strength,
so ten shared search seeds set no bar: there the task agent's success is measured once per task agent, on
``REFERENCE_EPISODES`` episodes of its own (memoised), which set the search's bar (``REFERENCE_BAR``; ten
search episodes put the task agent's ~0.85 anywhere from 0.5 to 1, and let a candidate that crashes a fifth
more often through about a third of the time). Its confirmation is paired all the same, as Pong's: the
traffic a seed deals is hard or easy for both agents (their crashes correlate 0.25-0.64 on 200 seeds for
intents that move a wish), so the task agent also plays the winner's fresh seeds and the margin leans on
them as much as the outcomes correlate (:func:`regression_bounds`), on the reference for the rest.
After a rejection the best kept candidate *quieter* than every rejected one
is tried (the same strength at another c seldom costs less; a
quieter strength the climb never reached is played on the search's episodes
first; a rejected looser-gate candidate first has the next quieter strength
played at its gate), ``CONFIRM_TRIES`` in all, else the strength is 0. A candidate that
changes few decisions shares most outcomes with the task agent, so its
margin is tight and it is confirmed on the first chunk; a loud one needs
evidence that 100 points cannot give (docs/RESULTS.md).

Only the task reward (success) and the intent model's own predictions enter:
the simulated user's marks never do, so a person's wish is calibrated the same
way as a benchmark's. If no candidate keeps the task, the strength is 0: the
fused agent is the task agent. Calibration needs the simulator, not the
person, and changes nothing in the task agent: the method's promise (no
retraining, no new feedback) holds.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from dpf_gui.cache import CacheEntry, read_json
from dpf_gui.evaluate import play_records
from dpf_gui.fileio import write_json_atomic
from dpf_gui.fusion import FusedAgent, FusionParams
from dpf_gui.reference_file import CHECK_EPISODES, checks_out, read_reference, task_weights
from dpf_gui.rollout import episode_seeds
from dpf_gui.wishgen import CLAIM_KEEP

STRENGTHS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: multiples of the stored budget ``c`` tried at the chosen strength: a wish whose region lies a few steps off
#: the task agent's path needs more decisions of its own than the stored c allows (docs/RESULTS.md)
BUDGETS: tuple[float, ...] = (1.0, 2.0, 4.0)
#: calibration episodes per environment (the simulator's speed decides)
EPISODES = {"gridnav": 20, "highway": 10, "pong": 20}
#: fresh episodes confirming the winner at most, per environment: Pong (its task agent wins ~74 % of points, so
#: 20 episodes cannot tell 0.5 from 0.74) and highway (10 episodes let a candidate that crashes a fifth more often
#: than the task agent through about a third of the time); gridnav's task agent succeeds in every episode
#: (docs/RESULTS.md)
CONFIRM_EPISODES = {"pong": 300, "highway": 100}
#: looser confidence gates (``FusionParams.confidence``) tried for the winner, where a confirmation guards the task:
#: at the default gate a prefer wish learnt from 25 labels can stay short of its bar at any strength, the intent
#: acting only where its ensemble members agree (docs/EXPERIMENTS.md, "what limits a prefer wish")
GATES = {"pong": (0.5,)}
#: the confirmation looks at its evidence after every chunk of this many fresh episodes, stopping when it is clear
CONFIRM_CHUNK = 100
#: the confirmation's bar per environment, a share of the task agent's success on fresh episodes: the claim's own
#: 90 % on Pong (paired, so a winner right at the bar is told apart); 95 % on highway, whose unpaired 100 fresh
#: episodes let agents truly at ~0.83 of a 0.88 task agent through, to lose the claim on the held-out draw (V19-V21
#: in docs/EXPERIMENTS.md, "Highway: a guard against crash risk")
CONFIRM_KEEP = {"highway": 0.95, "pong": CLAIM_KEEP}
#: standard errors between the paired margin's mean and 0 for a decision (1.28: one-sided 90 %)
CONFIRM_Z = 1.28
#: candidates tried at most (best intent score first, each quieter than the last rejected) before the strength
#: falls back to 0
CONFIRM_TRIES = 3
#: the search's bar where a confirmation follows: looser than ``KEEP``, since 20 points cannot tell 0.70 from
#: 0.74 and the confirmation, not the search, guards the task there (a climb stopped by noise left the intent
#: quieter than it could be, docs/RESULTS.md)
SEARCH_KEEP = {"pong": 0.85, "highway": 0.85}
#: the task agent's *reference*: where its episodes and a fused agent's part at once (highway: the intent changes
#: some decision in almost every episode, at any strength), sharing seeds pairs nothing, so the task agent's success
#: is measured once, on this many training-range episodes of :data:`REFERENCE_SEED`, and both the search's bar and
#: the confirmation compare with it (its 10 search episodes put its ~0.85 anywhere from 0.5 to 1). Highway's 300:
#: at 100 the reference's own noise was half the variance of the unpaired confirmation (bench/confirm_power.py)
REFERENCE_EPISODES = {"highway": 300, "pong": 1000}
#: environments whose confirmation also plays the task agent on the winner's fresh seeds, beside its reference
#: (:func:`regression_bounds`): a quiet Pong intent shares most points with the task agent, and the pairing cancels
#: their noise; on highway the episodes part, yet the traffic a seed deals is hard or easy for both agents (their
#: crashes correlate 0.25-0.64 on 200 seeds for intents that move a wish, docs/EXPERIMENTS.md)
PAIRED = ("pong", "highway")
#: paired environments whose search's bar is still the task agent's reference, not its success on the search's own
#: episodes: highway's ten put its ~0.85 anywhere from 0.5 to 1 (an unpaired one's always is)
REFERENCE_BAR = ("highway",)
#: the reference episodes' seed: every calibration of one task agent shares them (memoised per process, and kept
#: on disk by the benchmark and the app: :func:`save_reference`)
REFERENCE_SEED = 20_261_130
#: the search's bar without a confirmation: the candidate keeps this share of the task agent's success
KEEP = 0.95


class CalibrationCancelled(Exception):
    """``should_stop`` said stop: nothing was chosen, the parameters stay as they were."""


#: ``progress(played, at_most, what)``: episodes played so far, the most there can be in all (it shrinks as
#: the search decides), and what is being played now, in words
Progress = Callable[[int, int, str], None]


@dataclass
class Calibration:
    """The chosen strength and what each candidate did on the calibration episodes."""

    strength: float
    task_success: float
    keep: float
    episodes: int
    seed: int
    #: per candidate: strength, c, success, intent_score and ``changed`` (share of its episodes in which it took
    #: another action than the task agent at least once)
    table: list[dict[str, float]] = field(default_factory=list)
    c: float | None = None  # the chosen budget (None: the one of the parameters calibrated)
    confidence: float | None = None  # the chosen gate (None: the one of the parameters calibrated)
    confirm: dict[str, Any] | None = None  # episodes, the task agent's success and each try there (None: not run)
    reference: int = 0  # the task agent's reference episodes that ``task_success`` is measured on (0: the search's)

    def chosen(self) -> dict[str, float] | None:
        """The table's row of the chosen candidate (None when nothing kept the task)."""
        return next((r for r in self.table if r["strength"] == self.strength and r["c"] == self.c
                     and r.get("confidence") == self.confidence), None)

    @property
    def silent(self) -> bool:
        """No candidate changed a single decision of the task agent, whatever the strength: the intent either
        wants what the task agent does wherever the episodes went, or its ensemble members disagree so much that
        the confidence gate shrinks every advantage to 0 (what a few uninformative labels give)."""
        return bool(self.table) and all(r.get("changed", 1.0) == 0 for r in self.table)

    def params(self, base: FusionParams) -> FusionParams:
        return replace(base, strength=self.strength, c=base.c if self.c is None else self.c,
                       confidence=base.confidence if self.confidence is None else self.confidence)

    def confirm_lines(self) -> list[str]:
        """The confirmation on fresh episodes in words, one line per try (none where it did not run)."""
        if not self.confirm:
            return []
        c = self.confirm
        rejected = f"rejected: not shown to keep {100 * c['keep']:.0f} %"
        return [f"confirmed on up to {c['episodes']} fresh episodes: keeping {100 * c['keep']:.0f} % of the task "
                f"agent's success, looking every {c.get('chunk', CONFIRM_CHUNK)}, a one-sided "
                f"{100 * c['confidence']:.0f} % bound at the last look and stricter before it "
                f"(task agent {100 * c['task_success']:.0f} %):"] + [
            f"  strength {t['strength']:g}, c {t['c']:g}{gate_text(t.get('confidence'))}: "
            f"success {100 * t['success']:.0f} % {self.against(t['task_success'], t['episodes'])} "
            f"({'confirmed' if t['confirmed'] else rejected})" for t in c["tries"]]

    def against(self, task_success: float, episodes: int) -> str:
        """What a try's success on ``episodes`` fresh episodes was compared with, in words."""
        both = self.confirm or {}
        if both.get("reference") and (both.get("paired") or not self.reference):
            # paired with the task agent, and its reference too (regression_bounds); before "paired" was
            # written, only a confirmation without a reference bar was
            return (f"vs the task agent's {100 * task_success:.0f} % on the same {episodes} episodes and "
                    f"{100 * both['reference_success']:.0f} % on its {both['reference']} reference episodes")
        if self.reference:
            return (f"on {episodes} episodes vs the task agent's {100 * task_success:.0f} % on its {self.reference} "
                    "reference episodes")
        return f"vs the task agent's {100 * task_success:.0f} % on {episodes} episodes"

    def to_dict(self) -> dict[str, Any]:
        return {"strength": self.strength, "c": self.c, "confidence": self.confidence,
                "task_success": self.task_success, "keep": self.keep,
                "episodes": self.episodes, "seed": self.seed, "table": self.table, "confirm": self.confirm,
                "reference": self.reference}


def gate_text(confidence: float | None) -> str:
    """A candidate's looser confidence gate as its lines say it (nothing for the default gate)."""
    return "" if confidence is None else f", confidence gate {confidence:g}"


def paired_bounds(fused: np.ndarray, task: np.ndarray, keep: float, z: float) -> tuple[float, float]:
    """Lower and upper ``z``-standard-error bounds of the mean margin ``fused_i - keep x task_i`` over episodes
    played from the same seeds (paired: where the two agents share an outcome, it adds no noise)."""
    d = fused - keep * task
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()) - z * se, float(d.mean()) + z * se


def unpaired_bounds(fused: np.ndarray, reference: np.ndarray, keep: float, z: float) -> tuple[float, float]:
    """Lower and upper ``z``-standard-error bounds of ``mean(fused) - keep x mean(reference)``, the two played on
    different episodes: both samples' noise counts."""
    var = (float(fused.var(ddof=1)) / len(fused) if len(fused) > 1 else 0.0) + (
        keep ** 2 * float(reference.var(ddof=1)) / len(reference) if len(reference) > 1 else 0.0)
    margin = float(fused.mean()) - keep * float(reference.mean())
    return margin - z * math.sqrt(var), margin + z * math.sqrt(var)


def regression_bounds(fused: np.ndarray, task: np.ndarray, reference: np.ndarray, keep: float,
                      z: float) -> tuple[float, float]:
    """Lower and upper ``z``-standard-error bounds of ``mean(fused) - keep x (the task agent's success)``, with the
    task agent played on the same seeds (``task``) *and* on its own reference episodes (``reference``).

    The regression (control-variate) estimate ``mean(f) - b mean(t) - (keep - b) mean(reference)``, with ``b``
    the weight that minimises its variance: where the fused agent shares the task agent's outcomes (a quiet
    intent) ``b`` is near 1 and the pairing cancels the noise, as :func:`paired_bounds` does; where it shares
    none (a loud one) ``b`` is near 0 and the bar is the reference's mean, not the luck of the fresh seeds'
    draw, as :func:`unpaired_bounds` does. ``b = keep`` is the paired margin, ``b = 0`` the unpaired one."""
    n, m = len(fused), len(reference)
    if n < 2 or m < 2:
        return paired_bounds(fused, task, keep, z)
    cov = np.cov(fused, task, ddof=1)
    var_r = float(reference.var(ddof=1)) / m
    denom = float(cov[1, 1]) / n + var_r
    b = float(np.clip((float(cov[0, 1]) / n + keep * var_r) / denom, 0.0, 1.0)) if denom > 0 else keep
    margin = float(fused.mean()) - b * float(task.mean()) - (keep - b) * float(reference.mean())
    var = float((fused - b * task).var(ddof=1)) / n + (keep - b) ** 2 * var_r
    return margin - z * math.sqrt(var), margin + z * math.sqrt(var)


def sequential_confirmation(play: Callable[[int, int], Sequence[float]], task: Callable[[int], np.ndarray],
                            episodes: int, z: float | None = None, paired: bool = True,
                            reference: np.ndarray | None = None, keep: float = CLAIM_KEEP) -> tuple[bool, np.ndarray]:
    """One candidate's confirmation: ``play(start, stop)`` plays it on fresh episodes ``start..stop-1`` and
    ``task(n)`` gives the task agent's outcomes on the first ``n`` (``paired``: :func:`paired_bounds`, or
    with its ``reference`` outcomes as well :func:`regression_bounds`), or its reference outcomes (not
    ``paired``: :func:`unpaired_bounds`); every :data:`CONFIRM_CHUNK` episodes the bounds are looked at, up
    to ``episodes``; the bar is ``keep`` of the task agent's success (:data:`CONFIRM_KEEP`). Returns whether it
    was confirmed and its outcomes.

    The last look is a one-sided ``z`` bound (default :data:`CONFIRM_Z`), look ``k`` of ``K`` one of
    ``z x sqrt(K / k)``: several looks at the same bar would confirm a candidate right at it more often than
    one look does (``bench/confirm_power.py`` measures how often), so the early ones, on little evidence,
    ask for more. The same bounds stop a try early that clearly loses the task."""
    z = CONFIRM_Z if z is None else z
    looks = math.ceil(episodes / CONFIRM_CHUNK)
    f: list[float] = []
    while True:
        n = min(len(f) + CONFIRM_CHUNK, episodes)
        t = task(n)
        f.extend(play(len(f), n))
        # earlier looks ask for more (O'Brien-Fleming's shape): the last look's z times sqrt(looks / this look)
        at = z * np.sqrt(looks / math.ceil(n / CONFIRM_CHUNK))
        if paired and reference is not None:
            low, high = regression_bounds(np.asarray(f, dtype=float), t, reference, keep, float(at))
        else:
            low, high = (paired_bounds if paired else unpaired_bounds)(np.asarray(f, dtype=float), t, keep, float(at))
        if low >= -1e-12 or high < 0 or n == episodes:
            return low >= -1e-12, np.asarray(f, dtype=float)


#: the task agent's reference outcomes, by (environment, weights, environment config, episodes)
_references: dict[tuple[str, str, str, int], np.ndarray] = {}


def reference_key(env_name: str, task, episodes: int) -> tuple[str, str, str, int]:
    """What a task agent's reference depends on: the same weights in the same environment play the same."""
    weights = task_weights(task) or f"object {id(task)}"
    return env_name, weights, json.dumps(task.env_config, sort_keys=True, default=str), episodes


def task_reference(env_name: str, task, play: Callable[[FusedAgent, np.ndarray], Sequence[Any]]) -> np.ndarray | None:
    """The task agent's successes on its ``REFERENCE_EPISODES`` reference episodes (None where the environment
    has none): ``play(agent, seeds)`` plays them the first time, later calls in this process reuse them. Those
    kept beside the task agent's weights (:mod:`dpf_gui.reference_file`) are taken once their first episodes,
    replayed, come out the same."""
    episodes = REFERENCE_EPISODES.get(env_name, 0)
    if not episodes:
        return None
    key = reference_key(env_name, task, episodes)
    if key not in _references:
        agent, seeds = FusedAgent(task, "task"), episode_seeds(REFERENCE_SEED, episodes)
        kept = read_reference(env_name, task, REFERENCE_SEED, episodes)
        first = [r.task_success for r in play(agent, seeds[:CHECK_EPISODES])] if kept is not None else []
        if kept is not None and checks_out(kept, first):
            _references[key] = kept
        else:  # the episodes replayed for the check count: each is seeded on its own, only the rest are played
            _references[key] = np.asarray(first + [r.task_success for r in play(agent, seeds[len(first):])],
                                          dtype=float)
    return _references[key]


def reference_entry(env_name: str, task, directory: str | Path, key: dict[str, Any]) -> CacheEntry | None:
    """Where a task agent's reference is kept on disk; None where there is none to keep (no reference in this
    environment, or no weights hash to know the task agent by). One folder per task agent: a reference played
    with other code or environment settings replaces the old one, so the app's folder does not grow with every
    release."""
    episodes = REFERENCE_EPISODES.get(env_name, 0)
    weights = task_weights(task)
    if not episodes or not weights:
        return None
    return CacheEntry(Path(directory), f"reference-{env_name}-{weights[:12]}-seed{REFERENCE_SEED}-n{episodes}",
                      {**key, "reference": list(reference_key(env_name, task, episodes)), "seed": REFERENCE_SEED},
                      hashed=False)


def load_reference(env_name: str, task, directory: str | Path, key: dict[str, Any]) -> bool:
    """The task agent's reference outcomes kept in ``directory`` by :func:`save_reference` (``key``: what else
    they depend on, e.g. the code) stand for this process's: True if there were any (on highway a reference is
    minutes of play, so the benchmark's workers and the app's later sessions read it instead)."""
    entry = reference_entry(env_name, task, directory, key)
    stored = read_json(entry.path / "reference.json") if entry is not None and entry.done() else None
    if not stored:
        return False
    _references[reference_key(env_name, task, len(stored["success"]))] = np.asarray(stored["success"], dtype=float)
    return True


def save_reference(env_name: str, task, directory: str | Path, key: dict[str, Any]) -> None:
    """Keep the reference outcomes this process played for the task agent in ``directory`` (nothing if it played
    none, or they are kept there already)."""
    entry = reference_entry(env_name, task, directory, key)
    if entry is None or entry.done():
        return
    played = _references.get(reference_key(env_name, task, REFERENCE_EPISODES[env_name]))
    if played is not None:
        with entry.build() as tmp:
            write_json_atomic(tmp / "reference.json", {"success": played.tolist()})


@contextlib.contextmanager
def reference_kept_on_this_machine(env_name: str, task, key: dict[str, Any]) -> Iterator[None]:
    """Inside it, the task agent's reference is read from this machine's data folder (``references/`` under
    :func:`dpf_gui.data.study.default_dir`), and one played inside is kept there after (also when the
    calibration failed or was cancelled): the app and ``dpf evaluate --calibrate`` play it once per machine
    and task agent (Pong: 1000 points, minutes), not once per session. ``key``: what else it depends on (the
    code: ``{"code": dpf_gui.cache.code_fingerprint()}``). An unreadable or full folder costs a replay, nothing
    else."""
    from dpf_gui.data.study import default_dir

    references = default_dir() / "references"
    with contextlib.suppress(OSError):
        load_reference(env_name, task, references, key)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            save_reference(env_name, task, references, key)


def calibrate(env_name: str, task, model, intent_scale: float, intent_unit: float, params: FusionParams,
              episodes: int | None = None, seed: int = 0, keep: float | None = None,
              strengths: Sequence[float] = STRENGTHS, strategy: str = "dynamic",
              budgets: Sequence[float] | None = None, confirm_episodes: int | None = None,
              progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> Calibration:
    """Choose the intent's strength for ``model`` (see the module docstring).

    The candidates are searched from the middle of ``strengths`` (sorted): louder while the task is kept,
    quieter until it is, so about half of them are played. Then, at the chosen strength, the larger budgets
    ``c x budgets`` (longer before the intent lets go), in order while the task is kept. Then, with
    ``confirm_episodes`` (default :data:`CONFIRM_EPISODES`), the winner's confirmation on fresh episodes.
    ``keep`` (default :data:`KEEP`, or :data:`SEARCH_KEEP` where a confirmation follows) is the search's bar.
    ``progress`` is told after every episode; ``should_stop`` is asked then too, and True raises
    :class:`CalibrationCancelled`.
    """
    episodes = episodes or EPISODES.get(env_name, 20)
    confirm_episodes = CONFIRM_EPISODES.get(env_name, 0) if confirm_episodes is None else confirm_episodes
    if keep is None:
        keep = SEARCH_KEEP.get(env_name, KEEP) if confirm_episodes else KEEP
    # the training range, never an evaluation episode; the confirmation's seeds follow the search's
    all_seeds = episode_seeds(seed, episodes + confirm_episodes, held_out=False)
    seeds, fresh = all_seeds[:episodes], all_seeds[episodes:]
    ladder = sorted(float(s) for s in strengths)
    larger = [float(b) for b in sorted(BUDGETS if budgets is None else budgets) if b > 1]
    gates = [float(g) for g in GATES.get(env_name, ()) if len(fresh) and g < params.confidence]
    reference_episodes = REFERENCE_EPISODES.get(env_name, 0)
    paired = not reference_episodes or env_name in PAIRED  # the task agent plays the fresh seeds too
    # an unpaired confirmation's search pairs nothing either: the reference sets its bar too
    bar_on_reference = bool(reference_episodes) and (not paired or env_name in REFERENCE_BAR)
    if paired and not len(fresh) and not bar_on_reference:  # Pong's reference serves only its confirmation
        reference_episodes = 0
    key = reference_key(env_name, task, reference_episodes)
    # the task agent (where it is paired with the tries) and every try on the fresh seeds, and the quieter
    # strengths a try may play on the search's (a rejected looser-gate try adds one at its gate)
    confirming = len(fresh) * (CONFIRM_TRIES + paired) + (
        len(seeds) * (len(ladder) + CONFIRM_TRIES * bool(gates)) if len(fresh) else 0)
    played, at_most = 0, len(seeds) * (1 + len(ladder) + len(larger) + len(gates)) + confirming + (
        reference_episodes if reference_episodes and key not in _references else 0)

    def success(agent, on, what: str) -> tuple[float, list]:
        def ended(n: int) -> None:
            nonlocal played
            played += n
            if progress is not None:
                progress(played, at_most, what)
            if should_stop is not None and should_stop():
                raise CalibrationCancelled(f"calibration stopped after {played} episodes")

        records = play_records(env_name, agent, on, task.env_config, on_episode=ended)
        return float(np.mean([r.task_success for r in records])), records

    def fused(s: float, c: float, g: float) -> FusedAgent:
        return FusedAgent(task, strategy, replace(params, strength=s, c=c, confidence=g), intent=model,
                          intent_scale=intent_scale, intent_unit=intent_unit, seed=seed)

    reference = task_reference(env_name, task,
                               lambda agent, on: success(agent, on, "the task agent's reference episodes")[1]
                               ) if reference_episodes else None
    # on the search's seeds too: which candidates take other actions than the task agent there
    task_success, task_records = success(FusedAgent(task, "task"), seeds, "the task agent")
    if bar_on_reference:  # the search's ten episodes cannot set the bar: the reference does
        task_success = float(reference.mean())
    table: dict[tuple[float, float, float], dict[str, float]] = {}

    def kept(row: dict[str, float]) -> bool:
        return row["success"] >= keep * task_success - 1e-12

    def keeps(s: float, c: float = params.c, g: float = params.confidence) -> bool:
        if (s, c, g) not in table:
            loosened = g if g != params.confidence else None
            rate, records = success(fused(s, c, g), seeds, f"strength {s:g}, c {c:g}{gate_text(loosened)}")
            row = table[s, c, g] = {"strength": s, "c": c, "success": rate,
                                    # per decision, as the wish is measured
                                    "intent_score": float(np.mean([r.intent_return / max(r.length, 1)
                                                                   for r in records]))}
            if loosened is not None:  # the default gate's rows read as before
                row["confidence"] = g
            if all(r.actions is not None for r in (*records, *task_records)):
                row["changed"] = float(np.mean([not np.array_equal(r.actions, t.actions)
                                                for r, t in zip(records, task_records, strict=True)]))
        return kept(table[s, c, g])

    i = len(ladder) // 2
    if keeps(ladder[i]):
        while i + 1 < len(ladder) and keeps(ladder[i + 1]):
            i += 1
    else:
        while i > 0 and not keeps(ladder[i - 1]):
            i -= 1

    def ranked() -> list[dict[str, float]]:
        """The kept candidates, best intent score first."""
        return sorted((row for row in table.values() if kept(row)), key=lambda row: -row["intent_score"])

    chosen = next(iter(ranked()), None)
    at_most = played + (len(seeds) * (len(larger) + len(gates)) + confirming if chosen is not None else 0)
    if chosen is not None:
        for b in larger:
            if not keeps(chosen["strength"], params.c * b):
                break
        chosen = next(iter(ranked()), None)
        for g in gates:  # the winner with a looser gate: ranked by its intent score like every candidate
            keeps(chosen["strength"], chosen["c"], g)
        chosen = next(iter(ranked()), None)
    at_most = played + (confirming if chosen is not None else 0)
    confirm = None
    if chosen is not None and len(fresh):
        fresh_task: list[float] = []  # the task agent's successes on the fresh seeds played so far

        def task_on(n: int) -> np.ndarray:
            if not paired:
                return reference
            if n > len(fresh_task):
                _, records = success(FusedAgent(task, "task"), fresh[len(fresh_task):n],
                                     f"the task agent on fresh episodes {len(fresh_task) + 1}-{n}")
                fresh_task.extend(r.task_success for r in records)
            return np.asarray(fresh_task[:n], dtype=float)

        def on_fresh(row: dict[str, float]) -> Callable[[int, int], list[float]]:
            """The candidate's outcomes on fresh episodes start..stop-1, as the confirmation asks for them."""
            agent = fused(row["strength"], row["c"], row.get("confidence", params.confidence))

            def play(start: int, stop: int) -> list[float]:
                _, records = success(agent, fresh[start:stop], f"confirming strength {row['strength']:g}, "
                                     f"c {row['c']:g} on fresh episodes {start + 1}-{stop}")
                return [r.task_success for r in records]
            return play

        confirm_keep = CONFIRM_KEEP.get(env_name, CLAIM_KEEP)
        confirm = {"episodes": len(fresh), "keep": confirm_keep, "confidence": NormalDist().cdf(CONFIRM_Z),
                   "chunk": CONFIRM_CHUNK, "tries": [], "paired": paired, **({"reference": len(reference),
                                                            "reference_success": float(reference.mean())}
                                                           if reference is not None else {})}
        chosen, quieter_than = None, np.inf
        for _ in range(CONFIRM_TRIES):
            # after a rejection only quieter candidates: the same strength at another c rarely costs less
            row = next((r for r in ranked() if r["strength"] < quieter_than), None)
            if row is None:  # the climb (from the middle) never played one: play them now, loudest first
                row = next((table[s, params.c, params.confidence] for s in reversed(ladder)
                            if s < quieter_than and keeps(s)), None)
            if row is None:
                break
            confirmed, f = sequential_confirmation(on_fresh(row), task_on, len(fresh), paired=paired,
                                                   reference=reference if paired else None, keep=confirm_keep)
            n = len(f)
            confirm["tries"].append({"strength": row["strength"], "c": row["c"], **({"confidence": row["confidence"]}
                                     if "confidence" in row else {}), "success": float(np.mean(f)),
                                     "task_success": float(task_on(n).mean()), "episodes": n,
                                     "confirmed": confirmed})
            if confirmed:
                chosen = row
                break
            quieter_than = row["strength"]
            if "confidence" in row:  # quieter within the looser gate first: it may keep what the gate bought
                below = [s for s in ladder if s < quieter_than]
                if below:
                    keeps(below[-1], row["c"], row["confidence"])
        confirm["task_success"] = float(np.mean(fresh_task if paired else reference))
    if progress is not None and played < at_most:
        progress(played, played, "done")  # fewer than the most: the bar ends full
    return Calibration(strength=chosen["strength"] if chosen else 0.0, task_success=task_success, keep=keep,
                       episodes=episodes, seed=seed, reference=len(reference) if bar_on_reference else 0,
                       c=chosen["c"] if chosen else None,
                       confidence=chosen.get("confidence") if chosen else None,
                       table=sorted(table.values(), key=lambda r: (r["strength"], r["c"], -r.get("confidence", 1))),
                       confirm=confirm)


__all__ = ["CONFIRM_CHUNK", "CONFIRM_EPISODES", "CONFIRM_KEEP", "CONFIRM_TRIES", "CONFIRM_Z", "EPISODES", "GATES",
           "KEEP", "PAIRED", "REFERENCE_BAR", "REFERENCE_EPISODES", "REFERENCE_SEED", "SEARCH_KEEP", "STRENGTHS",
           "Calibration", "CalibrationCancelled", "Progress", "calibrate", "gate_text", "load_reference",
           "paired_bounds", "reference_entry", "reference_kept_on_this_machine", "reference_key", "regression_bounds",
           "save_reference", "sequential_confirmation", "task_reference", "unpaired_bounds"]

"""The guided lesson (``dpf-gui --lesson [ENV]``) as data: its steps, their texts, what each sets up.

Six steps walk a class through the method in the real app: what the task
agent does, marking trajectories, training the intent model, static fusion,
dynamic fusion, and why (T_max and c). Each :class:`Step` names the tab it
shows, the strategies played there, its button (if any) and what must be
done before the next step; the Qt panel (``dpf_gui/app/lesson.py``) only
applies them to the app's own views. Kept free of Qt so that the texts, the
navigation and the experiments of the last step can be tested (and edited)
in one place.

The claims the texts make about gridnav were measured with what the lesson
does (the simulated user marks the 20 best suggestions of the ``mixed`` wish;
the demo's small intent model, seed 0; 30 held-out episodes): static fusion
reaches the goal in 0 of 30 episodes (on the toll road in 0.3 % of its
decisions; it takes the scenic strip and then paces to and fro at the strip's
end, short of the goal, until the episode's 100 decisions run out: on its last
two cells on an AMD EPYC, a cell further or back on other CPUs' float kernels,
docs/ROBUSTNESS.md section 4);
dynamic fusion in 30 of 30, on the toll road in 2 % of its decisions (the task
agent alone: 42 %); with c = 6 the same; with c = 0 it takes the toll road as
the task agent does; with T_max = T_min it is static fusion again (remeasured
2026-12-06 with the first round of suggestions by TypiClust; before it:
dynamic 12 % on the toll road, c = 6 never; static stepped up and down beside
the goal). On Pong and highway the texts say what to watch, not what will
happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dpf_gui.envs import ENV_NAMES, env_spec
from dpf_gui.errors import UserError
from dpf_gui.fusion import FusionParams

DEFAULT_ENV = "gridnav"
#: the wish the lesson teaches: the simulated user's, the regions shown, what Play counts
PRESET = "mixed"
#: trajectories the simulated user marks at the "mark" step (the best suggestions)
SIMULATED_MARKS = 20
#: the simulated user's seed (exact marks: the seed only matters for noise)
LABEL_SEED = 0
#: the episode every playing step starts (Replay step starts it again)
SEED = 1
#: decisions per second while a step plays: slow enough to follow (a Pong point is ~400 decisions)
SPEED = {"gridnav": 6, "highway": 5, "pong": 30}
TABS = ("Annotate", "Train", "Play", "Compare")


@dataclass(frozen=True)
class Step:
    """One step: a text over the app, and the view it sets up.

    ``tab``: the tab shown; ``strategies``: Play's strategy ``(s,)`` or Compare's ``(left, right)``;
    ``hint``: what to do, after the text (a note of what just happened takes its place, so the panel keeps
    its height); ``action``: the step's button (``""``: none) and ``action_tip`` its tooltip; ``needs``: what
    must hold before the next step (``"labels"``, ``"intent"`` or ``""``); ``tune``: the person moves the
    fusion parameters here. On entering a playing step, the fusion parameters go back to the task agent's
    defaults, so each step shows what its text says; Replay step restarts the episode (keeping the
    parameters where ``tune``).
    """

    key: str
    title: str
    text: str
    tab: str
    strategies: tuple[str, ...] = ()
    hint: str = ""
    action: str = ""
    action_tip: str = ""
    needs: str = ""
    tune: bool = False

    @property
    def plays(self) -> bool:
        return self.tab in ("Play", "Compare")


#: what the task agent is trained to do, per environment
TASKS = {
    "gridnav": "walk from a start cell (left) to the goal (right) in few steps; its shortest path crosses the "
               "toll road",
    "highway": "drive fast on a four-lane highway without crashing",
    "pong": "win the point against the computer's paddle",
}

#: what to watch for in the static and dynamic steps, per environment (measured on gridnav; see the module doc)
EXPECT = {
    ("gridnav", "static"): "Here it takes the scenic strip, stays off the toll road, then paces to and fro at the "
                           "strip's end, short of the goal, to the end: it never reaches it.",
    ("gridnav", "dynamic"): "Dynamic fusion takes the scenic strip too, and then arrives.",
    ("pong", "static"): "Watch the paddle keep to the middle band, and whether the point is still won.",
    ("pong", "dynamic"): "Dynamic fusion hands back to the task sooner. One point is a coin flip: loop to see "
                         "which side wins more.",
    ("highway", "static"): "Watch which lane it keeps, and whether it still drives on without crashing.",
    ("highway", "dynamic"): "Watch the lane each side keeps, and which still drives without crashing.",
}


def steps(env: str) -> list[Step]:
    """The lesson's steps for ``env`` (texts filled in)."""
    env = check_env(env)
    spec = env_spec(env)
    preset = next(p for p in spec.presets if p.name == PRESET)
    fill = {"task": TASKS.get(env, spec.title), "wish": preset.description, "marks": SIMULATED_MARKS}

    def expect(key: str) -> str:
        return " " + EXPECT[(env, key)] if (env, key) in EXPECT else ""

    out = [
        Step("task", "What the task agent does",
             "A deep-RL agent trained for its task alone: {task}. It knows nothing of what you want, so the "
             "intent's plots stay empty.",
             "Play", strategies=("task",)),
        Step("mark", "Say what you want",
             "The wish: {wish} (green: preferred, orange: avoided). Mark what the agent did: P preferred, A avoided, "
             "N neutral ([ ] for a part; Enter: the one most worth marking).",
             "Annotate", hint="Or let a simulated user mark the {marks} best suggestions (the button).",
             action="Simulated user: mark {marks}", needs="labels",
             action_tip="a simulated user holding the wish marks the {marks} best suggestions (Ctrl+Z undoes them)"),
        Step("train", "Learn the wish",
             "An intent model learns from the marks what each step is worth to you: no new interaction with the "
             "environment, and the task agent is not retrained.",
             "Train", hint="Press the button: a few seconds on a CPU.", action="Train the intent model",
             needs="intent", action_tip="train the demo's small intent model on the marks (the Train tab's form)"),
        Step("static", "Static fusion: the wish, not the task",
             "Task and intent policies fused with a fixed intent temperature T_ψ = T_static: the intent keeps the "
             "same share w of every decision." + expect("static"),
             "Play", strategies=("static",)),
        Step("dynamic", "Dynamic fusion: the wish and the task",
             "Left static, right dynamic, the same episode. Dynamic fusion counts the intent reward collected, "
             "G_t: as it grows, T_ψ rises, w falls and the task takes over again." + expect("dynamic"),
             "Compare", strategies=("static", "dynamic")),
        Step("why", "Why: T_max and c",
             "T_ψ = max(T_min, T_max · σ(k (G_t − c))): c says how much intent reward is enough, T_max how far "
             "the intent then steps back.",
             "Play", strategies=("dynamic",), hint="Try values with the button, or move the sliders (Parameters).",
             tune=True, action="Try values", action_tip="set the next values to try, and play the episode again"),
    ]
    return [replace(s, text=s.text.format(**fill), hint=s.hint.format(**fill), action=s.action.format(**fill),
                    action_tip=s.action_tip.format(**fill)) for s in out]


#: what the panel says after a step's button, in the place of the step's hint (``str.format`` fields)
NOTES = {
    "marked": "The simulated user marked {n} trajectories: their scores are in the list. Next: learn the wish "
              "from them.",
    "nothing to mark": "Nothing left to mark: every suggested trajectory is labelled.",
    "ranking": "the suggestions are being ranked: a moment",
    "training": "Training… the bar counts its steps.",
    "trained": "Trained: how well it predicts the marks is in the held-out fit (left) and the plot (right). Next: "
               "static fusion.",
    "training failed": "Training failed: {message}",
    "needs intent": "{strategy} fusion needs an intent model: train one (step 3).",
}


def check_env(env: str) -> str:
    """``env`` if the lesson can run on it; a UserError naming the allowed ones otherwise."""
    if env not in ENV_NAMES:
        raise UserError(f"unknown environment {env!r} for the lesson; allowed: {', '.join(ENV_NAMES)}")
    return env


def blocker(step: Step, labelled: int, has_intent: bool, training: bool = False, min_labelled: int = 4) -> str:
    """Why the lesson cannot go on past ``step`` yet ("" when it can): the marks or the intent model it needs."""
    if step.needs == "labels" and labelled < min_labelled:
        return (f"Next: first mark at least {min_labelled} trajectories (some better, some worse), or press "
                f"\u201c{step.action}\u201d.")
    if step.needs == "intent" and (training or not has_intent):
        return "Training… Next when it is done." if training else f"Next: first press \u201c{step.action}\u201d."
    return ""


@dataclass
class Lesson:
    """Where the lesson is: the steps of one environment, the step shown and, in the last step, the experiment
    tried last (Qt-free navigation)."""

    env: str
    steps: list[Step] = field(default_factory=list)
    index: int = 0
    tried: int = -1  # the experiment (:func:`tries`) shown last in this step; -1: none since it was entered

    def __post_init__(self) -> None:
        self.steps = self.steps or steps(self.env)

    @property
    def step(self) -> Step:
        return self.steps[self.index]

    def go(self, index: int) -> Step:
        """Show step ``index`` (clamped); entering a step forgets the experiments tried in the last one."""
        index = max(0, min(int(index), len(self.steps) - 1))
        if index != self.index:
            self.tried = -1
        self.index = index
        return self.step

    def action_label(self, defaults: FusionParams | None = None) -> str:
        """The step's button: in the step with experiments, the next one's (from the agent's ``defaults``)."""
        if self.step.key == "why" and defaults is not None:
            ts = tries(self.env, defaults)
            return ts[(self.tried + 1) % len(ts)].label
        return self.step.action

    def next_try(self, defaults: FusionParams) -> Try:
        """The next experiment of the last step (they go round)."""
        ts = tries(self.env, defaults)
        self.tried = (self.tried + 1) % len(ts)
        return ts[self.tried]

    def at_start(self) -> bool:
        return self.index == 0

    def at_end(self) -> bool:
        return self.index == len(self.steps) - 1

    def counter(self) -> str:
        return f"Step {self.index + 1} of {len(self.steps)}"


@dataclass(frozen=True)
class Try:
    """One experiment of the last step: set some fusion parameters (from the defaults), watch what happens."""

    label: str  # the button's text
    change: Mapping[str, Any]  # FusionParams fields set (from the defaults); empty: the defaults
    see: str  # what to watch for

    def params(self, defaults: FusionParams) -> FusionParams:
        return replace(defaults, **dict(self.change))


def tries(env: str, defaults: FusionParams) -> list[Try]:
    """The last step's experiments, from the task agent's defaults: c = 0, c doubled, T_max down to T_min, the
    defaults again (gridnav's outcomes as measured; see the module doc)."""
    d = defaults
    more = max(2.0 * d.c, d.c + 2.0)
    grid = env == "gridnav"
    return [
        Try("Try c = 0", {"c": 0.0},
            f"c = 0: T_ψ starts at T_max / 2 = {d.T_max / 2:g}, so the intent has little say from the first step"
            + (": the toll road again, as the task agent alone." if grid else ": the wish is mostly ignored.")),
        Try(f"Try c = {more:g}", {"c": more},
            f"c = {more:g}: T_ψ rises only after more intent reward, so the intent leads longer"
            + (": off the toll road, and still at the goal." if grid else
               ": more of the wish, at the task's expense where the two conflict.")),
        Try(f"Try T_max = {d.T_min:g}", {"T_max": d.T_min},
            f"T_max = T_min = {d.T_min:g}: T_ψ cannot rise, whatever G_t, so this is static fusion"
            + (": the goal is never reached." if grid else ".")),
        Try("Back to the defaults", {}, f"The agent's defaults again: c = {d.c:g}, T_max = {d.T_max:g}."),
    ]


__all__ = [
    "DEFAULT_ENV",
    "EXPECT",
    "LABEL_SEED",
    "NOTES",
    "PRESET",
    "SEED",
    "SIMULATED_MARKS",
    "SPEED",
    "TABS",
    "TASKS",
    "Lesson",
    "Step",
    "Try",
    "blocker",
    "check_env",
    "steps",
    "tries",
]

"""The protocol file of a study (TOML), read and checked strictly.

Every key is known, every value typed and ranged: a mistake is one
:class:`UserError` line naming the file, the field (``conditions[2].strategy``)
and what is allowed. :func:`read_protocol` checks the file alone;
:func:`check_resources` then checks what it names against the installation
(the task agent and data exist, the wish's expressions parse in the
environment's region features, the fusion overrides are valid).

The format, with a complete example, is documented in docs/STUDY.md
(docs/study_example.toml).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from dpf_gui.errors import UserError
from dpf_gui.strategies import names as strategy_names

ORDERS = ("fixed", "random", "latin")
#: the order of the annotate page's list of trips: a seeded shuffle per participant and condition (the stored
#: order begins with whatever the agent's training stored first, e.g. gridnav's 35 alike failures), or stored
TRIP_ORDERS = ("shuffled", "stored")
ITEM_TYPES = ("likert", "text")
#: what a participant gives in a condition: marks (P / A / N on trips or parts of them), or rankings of the trips
#: watched last, in groups of up to five (the Annotate tab's R); the intent learns rankings as comparisons
FEEDBACK = ("marks", "ranks")
MEASURES = ("wish", "task")
LIKERT_POINTS = 7
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
NAME_RULE = "a name of 1-32 letters, digits, '_' or '-', starting with a letter"
#: phases whose text the protocol must give, and those with a default
REQUIRED_TEXTS = ("consent", "instructions", "annotate", "watch", "questionnaire")
DEFAULT_TEXTS = {"train": "Your marks are being learned. This takes a moment.",
                 "end": "Thank you for taking part. Please tell the experimenter you have finished."}
MAX_CONDITIONS = 12
MAX_BUDGET = 100_000
MAX_EPISODES = 1000
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Condition:
    """One condition: the agent the participant's marks turn into, and how they mark."""

    name: str
    strategy: str
    budget: int  # trajectories the participant may mark (or, ``feedback = "ranks"``, rank)
    time_limit_s: float | None = None  # annotation time limit (None: the annotate phase's, or none)
    suggestions: bool = False  # "label this next" shown (the pilot's simulated user then picks actively)
    fusion: dict[str, Any] = field(default_factory=dict)  # overrides of the task agent's fusion parameters
    #: choose the intent's strength and c in simulation after each training, as the benchmark's ``calibrated`` row
    #: and the app's *Calibrate strength* do (dynamic fusion only)
    calibrate: bool = False
    feedback: str = "marks"  # one of FEEDBACK
    annotate_text: str | None = None  # shown on this condition's annotate page instead of [annotate] text

    def summary(self) -> str:
        """The condition in a few words, as ``dpf study init`` and ``status`` list it: what the agent is, what a
        participant gives (marks or rankings, on how many trips) and what helps them."""
        gives = f"{'ranks' if self.feedback == 'ranks' else 'marks'} up to {self.budget} trips"
        extras = [word for word, on in (("suggestions", self.suggestions), ("calibrated", self.calibrate)) if on]
        if self.time_limit_s is not None:
            extras.append(f"{self.time_limit_s:g} s to annotate")
        return f"{self.name} ({', '.join([self.strategy, gives, *extras])})"


@dataclass(frozen=True)
class Item:
    """One questionnaire item: a 1-7 Likert item with its two anchors, or free text."""

    id: str
    type: str
    text: str
    anchors: tuple[str, str] | None = None
    required: bool = True
    measures: str | None = None  # the pilot's responder: what the item is about (wish, task), see simulate.py
    reverse: bool = False  # a high outcome gives a low answer (the pilot's responder only)


@dataclass(frozen=True)
class Protocol:
    title: str
    env: str
    task: str | None  # task-agent folder (absolute), None: the shipped one
    data: str | None  # trajectories to annotate (absolute), None: the task agent's own
    seed: int
    instruction: str  # the wish as the participant reads it
    prefer: tuple[str, ...]  # the wish's expressions, for scoring only (never shown)
    avoid: tuple[str, ...]
    order: str
    order_seed: int
    conditions: tuple[Condition, ...]
    texts: dict[str, str]  # phase -> text shown
    annotate_time_limit_s: float | None
    train_kind: str
    train_config: dict[str, Any]
    watch_episodes: int
    watch_seed: int
    items: tuple[Item, ...]
    nasa_tlx: bool
    outcome_episodes: int
    outcome_seed: int
    trip_order: str = "shuffled"  # the annotate list: "shuffled" per participant and condition, or "stored"
    source: str = ""  # the file's text, kept verbatim in the study folder

    @property
    def has_wish_expression(self) -> bool:
        return bool(self.prefer or self.avoid)

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise UserError(f"no condition {name!r} in this protocol; "
                        f"allowed: {', '.join(c.name for c in self.conditions)}")

    def time_limit(self, condition: Condition) -> float | None:
        return condition.time_limit_s if condition.time_limit_s is not None else self.annotate_time_limit_s


# --- a strict reader of TOML tables ---------------------------------------------------------------------
class _Table:
    """Reads the keys of one TOML table, each once, and refuses any key left over."""

    def __init__(self, data: Any, where: str, file: str):
        self.file, self.where = file, where
        if not isinstance(data, dict):
            self.fail("", f"must be a table ([{where}] or {where} = {{ ... }}); got {_show(data)}")
        self.data, self.read = data, []

    def fail(self, key: str, message: str):
        name = f"{self.where}.{key}" if self.where and key else (key or self.where)
        raise UserError(f"{self.file}: {name}: {message}")

    def _get(self, key: str, required: bool, default: Any):
        self.read.append(key)
        if key not in self.data:
            if required:
                self.fail(key, "missing; it is required")
            return default, False
        return self.data[key], True

    def text(self, key: str, required: bool = False, default: str | None = None) -> str | None:
        value, given = self._get(key, required, default)
        if given and (not isinstance(value, str) or not value.strip()):
            self.fail(key, f"must be non-empty text; got {_show(value)}")
        return value.strip() if given else value

    def name(self, key: str, required: bool = True) -> str:
        value = self.text(key, required)
        if value is not None and not NAME_RE.match(value):
            self.fail(key, f"must be {NAME_RULE}; got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], required: bool = False,
               default: str | None = None) -> str | None:
        value, given = self._get(key, required, default)
        if given and value not in allowed:
            self.fail(key, f"{_show(value)} is not allowed; allowed: {', '.join(allowed)}")
        return value

    def integer(self, key: str, low: int, high: int, default: int | None = None, required: bool = False) -> int | None:
        value, given = self._get(key, required, default)
        if given and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            self.fail(key, f"must be a whole number from {low} to {high}; got {_show(value)}")
        return value

    def number(self, key: str, low: float, default: float | None = None) -> float | None:
        value, given = self._get(key, False, default)
        if given and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                      or value <= low):
            self.fail(key, f"must be a number above {low:g} (seconds); got {_show(value)}")
        return float(value) if value is not None else None

    def flag(self, key: str, default: bool) -> bool:
        value, given = self._get(key, False, default)
        if given and not isinstance(value, bool):
            self.fail(key, f"must be true or false; got {_show(value)}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value, given = self._get(key, False, [])
        if isinstance(value, str):
            value = [value]
        if given and (not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value)):
            self.fail(key, f"must be a list of region expressions, e.g. [\"terrain=toll\"]; got {_show(value)}")
        return tuple(v.strip() for v in value)

    def table(self, key: str, required: bool = False) -> _Table:
        value, _given = self._get(key, required, {})
        return _Table(value, f"{self.where}.{key}" if self.where else key, self.file)

    def tables(self, key: str, required: bool = False) -> list[_Table]:
        value, given = self._get(key, required, [])
        where = self.where + "." if self.where else ""
        if not isinstance(value, list) or (given and not value):
            self.fail(key, f"must be a list of tables ([[{where}{key}]]), at least one")
        return [_Table(v, f"{where}{key}[{i + 1}]", self.file) for i, v in enumerate(value)]

    def mapping(self, key: str) -> dict[str, Any]:
        value, given = self._get(key, False, {})
        if given and not isinstance(value, dict):
            self.fail(key, f"must be a table of names and values, e.g. {{ strength = 1.5 }}; got {_show(value)}")
        return dict(value)

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.read]
        if unknown:
            self.fail(unknown[0], f"unknown key; allowed here: {', '.join(self.read)}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the protocol -------------------------------------------------------------------------------------------
def read_protocol(path: str | Path) -> Protocol:
    """Read and check a protocol file (the file alone; see :func:`check_resources`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such protocol file (a TOML file; see docs/STUDY.md)")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the protocol ({getattr(exc, 'strerror', None) or exc})") from None
    return parse_protocol(source, path.name, base=path.resolve().parent)


def parse_protocol(source: str, file: str = "protocol", base: Path | None = None) -> Protocol:
    """The protocol in TOML text ``source``; ``file`` names it in messages, ``base`` resolves relative paths."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{file}: not valid TOML ({' '.join(str(exc).split())})") from None
    top = _Table(data, "", file)
    title = top.text("title", required=True)
    from dpf_gui.envs import ENV_NAMES

    env = top.choice("env", ENV_NAMES, required=True)
    task, data_path = top.text("task"), top.text("data")
    seed = top.integer("seed", 0, MAX_SEED, default=0)

    wish = top.table("wish", required=True)
    instruction = wish.text("instruction", required=True)
    prefer, avoid = wish.texts("prefer"), wish.texts("avoid")
    wish.done()

    order_t = top.table("order")
    order = order_t.choice("kind", ORDERS, default="fixed")
    order_seed = order_t.integer("seed", 0, MAX_SEED, default=0)
    order_t.done()

    conditions = []
    for t in top.tables("conditions", required=True):
        name = t.name("name")
        # a condition plays a live strategy (retrain is left out: it trains a DQN per participant)
        strategy = t.choice("strategy", strategy_names(live=True), required=True)
        budget = t.integer("budget", 1, MAX_BUDGET, required=True)
        limit = t.number("time_limit_s", 0)
        suggestions = t.flag("suggestions", False)
        fusion = t.mapping("fusion")
        calibrate = t.flag("calibrate", False)
        feedback = t.choice("feedback", FEEDBACK, default="marks")
        annotate_text = t.text("annotate_text")
        t.done()
        if any(c.name == name for c in conditions):
            t.fail("name", f"{name!r} is the name of an earlier condition; each condition needs its own name")
        if calibrate and strategy != "dynamic":
            t.fail("calibrate", f"chooses the intent's strength for dynamic fusion; this condition's strategy is "
                                f"{strategy!r}")
        if calibrate and {"strength", "c"} & set(fusion):
            t.fail("calibrate", "chooses strength and c itself: leave them out of fusion, or calibrate = false")
        if feedback == "ranks" and suggestions:
            t.fail("suggestions", "\"label this next\" suggests trips to mark one at a time; a condition with "
                                  "feedback = \"ranks\" cannot show it yet: leave suggestions out")
        if feedback == "ranks" and budget < 2:
            t.fail("budget", "a ranking puts two or more trips in order; with feedback = \"ranks\" allowed: 2 to "
                             f"{MAX_BUDGET}")
        conditions.append(Condition(name, strategy, budget, limit, suggestions, fusion, calibrate, feedback,
                                    annotate_text))
    if len(conditions) > MAX_CONDITIONS:
        top.fail("conditions", f"{len(conditions)} conditions; allowed: 1 to {MAX_CONDITIONS}")
    if order == "latin" and len(conditions) < 2:
        order_t.fail("kind", "a Latin square counterbalances two or more conditions; this protocol has one: "
                             "use kind = \"fixed\" or add a condition")
    if order == "random" and len(conditions) < 2:
        order_t.fail("kind", "a random order needs two or more conditions; this protocol has one: use kind = \"fixed\"")

    texts: dict[str, str] = {}
    phase_tables = {}
    for phase in ("consent", "instructions", "annotate", "train", "watch", "questionnaire", "end"):
        t = top.table(phase, required=phase in REQUIRED_TEXTS)
        texts[phase] = t.text("text", required=phase in REQUIRED_TEXTS, default=DEFAULT_TEXTS.get(phase))
        phase_tables[phase] = t
    annotate_limit = phase_tables["annotate"].number("time_limit_s", 0)
    trip_order = phase_tables["annotate"].choice("trip_order", TRIP_ORDERS, default="shuffled")
    phase_tables["annotate"].done()
    train = phase_tables["train"]
    from dpf_gui.intent.registry import KINDS

    train_kind = train.choice("kind", KINDS, default="additive")
    train_config = train.mapping("config")
    train.done()
    _check_feedback_trainable(train, conditions, train_kind, train_config)
    watch = phase_tables["watch"]
    watch_episodes = watch.integer("episodes", 1, MAX_EPISODES, required=True)
    watch_seed = watch.integer("seed", 0, MAX_SEED, default=1000)
    watch.done()
    q = phase_tables["questionnaire"]
    nasa_tlx = q.flag("nasa_tlx", False)
    items = []
    for t in q.tables("items", required=not nasa_tlx):
        item_id = t.name("id")
        kind = t.choice("type", ITEM_TYPES, required=True)
        text = t.text("text", required=True)
        anchors = None
        if kind == "likert":
            value, _ = t._get("anchors", True, None)
            if not (isinstance(value, list) and len(value) == 2
                    and all(isinstance(a, str) and a.strip() for a in value)):
                t.fail("anchors", f"must be two texts, for 1 and for {LIKERT_POINTS}, e.g. [\"strongly disagree\", "
                                  f"\"strongly agree\"]; got {_show(value)}")
            anchors = (value[0].strip(), value[1].strip())
        required = t.flag("required", kind == "likert")
        measures = t.choice("measures", MEASURES) if kind == "likert" else None
        reverse = t.flag("reverse", False) if kind == "likert" else False
        t.done()
        if any(i.id == item_id for i in items):
            t.fail("id", f"{item_id!r} is the id of an earlier item; each item needs its own id")
        items.append(Item(item_id, kind, text, anchors, required, measures, reverse))
    q.done()
    for phase in ("consent", "instructions", "end"):
        phase_tables[phase].done()

    outcomes = top.table("outcomes")
    outcome_episodes = outcomes.integer("episodes", 1, 100_000, default=50)
    outcome_seed = outcomes.integer("seed", 0, MAX_SEED, default=0)
    outcomes.done()
    top.done()

    def resolve(p: str | None) -> str | None:
        if p is None:
            return None
        path = Path(p).expanduser()
        return str(path if path.is_absolute() or base is None else (base / path).resolve())

    return Protocol(title=title, env=env, task=resolve(task), data=resolve(data_path), seed=seed,
                    instruction=instruction, prefer=prefer, avoid=avoid, order=order, order_seed=order_seed,
                    conditions=tuple(conditions), texts=texts, annotate_time_limit_s=annotate_limit,
                    train_kind=train_kind, train_config=train_config, watch_episodes=watch_episodes,
                    watch_seed=watch_seed, items=tuple(items), nasa_tlx=nasa_tlx,
                    outcome_episodes=outcome_episodes, outcome_seed=outcome_seed, trip_order=trip_order,
                    source=source)


def _check_feedback_trainable(train: _Table, conditions: list[Condition], kind: str, config: dict[str, Any]) -> None:
    """Refuse a training that cannot learn what a condition collects: rankings are learned as comparisons, which
    the paper's LSTM (it fits scores) and a score objective cannot take, and marks are not comparisons."""
    objective = config.get("objective", "auto")
    for i, c in enumerate(conditions, 1):
        if c.feedback == "ranks" and kind == "lstm":
            train.fail("kind", f"conditions[{i}] collects rankings (feedback = \"ranks\"), which the LSTM cannot "
                               "learn from (it fits scores); use kind = \"additive\"")
        if c.feedback == "ranks" and objective not in ("auto", "pairs"):
            train.fail("config", f"objective {objective!r} needs scores, and conditions[{i}] collects rankings; "
                                 "allowed with rankings: auto, pairs")
        if c.feedback == "marks" and objective == "pairs":
            train.fail("config", f"objective 'pairs' learns from rankings, and conditions[{i}] collects marks; "
                                 "allowed with marks: auto, score, logistic")


def check_resources(protocol: Protocol, file: str = "protocol"):
    """Check what the protocol names; returns ``(task agent, dataset, wish or None)``.

    The task agent and the data must exist and belong to the protocol's environment, the wish's
    expressions must parse in its region features, each condition's fusion overrides and the training
    config must be valid, and each budget must fit the data.
    """
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.registry import config_for
    from dpf_gui.overrides import config_from_sets
    from dpf_gui.pipeline import fusion_params, load_task_agent, task_region_features
    from dpf_gui.wish import make_wish

    def fail(where: str, exc: UserError):
        raise UserError(f"{file}: {where}: {exc}") from None

    try:
        task = load_task_agent(protocol.env, protocol.task)
    except UserError as exc:
        fail("task", exc)
    data_path = protocol.data or task.dataset_path
    if data_path is None:
        raise UserError(f"{file}: data: the task agent {task.directory} has no trajectories beside it; "
                        "name a dataset with data = \"FILE.npz\"")
    try:
        data = TrajectoryDataset.load(data_path, expect_env=protocol.env)
    except UserError as exc:
        fail("data", exc)
    if len(data) == 0:
        raise UserError(f"{file}: data: {data_path} holds no trajectories to annotate")
    wish = None
    if protocol.has_wish_expression:
        try:
            wish = make_wish(task_region_features(task), prefer=protocol.prefer, avoid=protocol.avoid)
        except UserError as exc:
            fail("wish", exc)
    for i, c in enumerate(protocol.conditions, 1):
        if c.budget > len(data):
            raise UserError(f"{file}: conditions[{i}].budget: {c.budget} is more than the {len(data)} trajectories "
                            "in the data; allowed: 1 to " + str(len(data)))
        try:
            fusion_params(task, c.fusion)
        except UserError as exc:
            fail(f"conditions[{i}].fusion", exc)
    try:
        config_from_sets(config_for(protocol.train_kind), protocol.train_config, what="config")
    except UserError as exc:
        fail("train.config", exc)
    return task, data, wish


__all__ = [
    "FEEDBACK",
    "ITEM_TYPES",
    "LIKERT_POINTS",
    "ORDERS",
    "TRIP_ORDERS",
    "Condition",
    "Item",
    "Protocol",
    "check_resources",
    "parse_protocol",
    "read_protocol",
]

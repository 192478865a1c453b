"""The fusion's parameters, declared once: the values, and what every place that offers them shows.

Each field of :class:`FusionParams` carries a :class:`Param` in its metadata:
its title, help and units, the values it may hold, and (where the Play panel
has a slider for it) the slider's range, scale and decimals. The check every
FusionParams runs on itself, the Play panel's controls (:func:`slider_params`)
and the CLI's fusion options (:func:`cli_params`) are all read from there, so
a new parameter is one field here, and the help a person reads on the command
line is the tooltip in the app.

Kept apart from :mod:`dpf_gui.fusion` so that what only needs the parameters
(the task agent validating its stored defaults, the CLI building its options)
depends on nothing that decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from dpf_gui.errors import UserError
from dpf_gui.overrides import Allowed, check_fields


@dataclass(frozen=True)
class Param:
    """What one fusion parameter means and where it may go (the metadata of a :class:`FusionParams` field)."""

    title: str  # the name a person reads (the panel's label)
    help: str  # one sentence: the CLI's help and the panel's tooltip
    units: str = ""  # what its numbers count, e.g. "in typical task Q differences"
    allowed: Allowed | None = None  # values beyond the type's (numbers are always finite)
    slider: tuple[float, float] | None = None  # the Play panel's range; None: no slider for it
    log: bool = False  # the slider moves on a log scale (temperatures)
    decimals: int = 2  # of the panel's spin box
    cli: bool = True  # offered as a CLI option (``--name`` with ``_`` written ``-``)
    choices: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # choice -> (short title, explanation)

    def tooltip(self) -> str:
        return f"{self.help} ({self.units})" if self.units else self.help


def _param(default: Any, **info: Any):
    return field(default=default, metadata={"param": Param(**info)})


_POSITIVE = Allowed(low=0, low_open=True)
_TEMPERATURE = {"allowed": _POSITIVE, "slider": (0.01, 100.0), "log": True, "decimals": 3}
_INTENT_UNITS = "in typical intent reward differences between actions"
#: what ``collect`` may count: choice -> (the panel's short title, what it means)
_COLLECT = {
    "budget": ("intent reward collected + overrides",
               ("the intent reward the steps actually collected (one unit ~ one step in a preferred region), plus 1 "
                "for every decision where the intent overruled the task agent: the intent lets go once it has had "
                "its way, and never for merely avoiding a region")),
    "gains": ("positive advantages", "the positive part of each decision's intent advantage"),
    "advantage": ("signed advantages (the paper's)", "the paper's signed sum of intent advantages"),
}


@dataclass(frozen=True)
class FusionParams:
    """Temperatures of the fusion and how dynamic fusion counts what the intent collected.

    ``collect`` (see :mod:`dpf_gui.strategies`): ``budget`` (default) counts the
    intent reward actually collected, in the intent's reward units, plus one
    for every decision where the intent overruled the task agent; ``gains``
    counts the positive part of the intent advantage (the first wave's rule);
    ``advantage`` is the paper's signed sum of intent advantages.
    ``normalise`` puts Q-values and intent rewards in units of their typical
    differences between actions (False: raw values, as the paper).
    ``confidence`` is how many ensemble standard deviations an intent
    advantage must exceed before it counts (ensemble intents only).
    The field order is the order of the CLI options, the panel's controls and stored sidecars.
    """

    T_phi: float = _param(1.0, title="T_phi", help="task temperature", units="in typical task Q differences",
                          **_TEMPERATURE)
    T_min: float = _param(0.3, title="T_min", help="lowest intent temperature of dynamic fusion", units=_INTENT_UNITS,
                          **_TEMPERATURE)
    # authors: 5-30 unnormalised; see docs/RESULTS.md
    T_max: float = _param(10.0, title="T_max", help="highest intent temperature of dynamic fusion", units=_INTENT_UNITS,
                          **_TEMPERATURE)
    k: float = _param(1.0, title="k", help="slope of T_psi in the collected intent reward G_t", units="per unit of G_t",
                      allowed=Allowed(low=0), slider=(0.0, 10.0))
    # authors: 0; see docs/RESULTS.md
    c: float = _param(3.0, title="c", help="collected intent reward G_t at which T_psi = T_max / 2",
                      units="in intent reward units", slider=(-20.0, 20.0))
    T_static: float = _param(0.3, title="T_static", help="intent temperature of static fusion", units=_INTENT_UNITS,
                             **_TEMPERATURE)
    decay: float = _param(1.0, title="decay", help="per-step forgetting factor of G_t (1: the paper's plain sum)",
                          allowed=Allowed(low=0, high=1, low_open=True), slider=(0.5, 1.0), decimals=3)
    sample: bool = _param(False, title="sample", help="static / dynamic: draw the action from the fused policy "
                          "instead of taking its argmax")
    collect: str = _param("budget", title="G_t counts", help="what G_t, the intent reward dynamic fusion counts, "
                          "adds up: budget, gains, or advantage (the paper's signed sum)",
                          allowed=Allowed(choices=tuple(_COLLECT)), choices=_COLLECT)
    confidence: float = _param(1.0, title="confidence", help="additive (ensemble) intents: an action's intent "
                               "advantage counts only beyond this many standard deviations of the members' "
                               "disagreement (0: the members' mean as it is)",
                               allowed=Allowed(low=0), slider=(0.0, 4.0))
    normalise: bool = _param(True, title="normalised units", help="Q-values and intent rewards in units of their "
                             "typical differences between actions, so one set of temperatures means the same "
                             "everywhere (off: raw values, as the paper)", cli=False)
    margin: float | None = _param(None, title="margin", help="fused actions only among those within this many "
                                  "q_scale of the task agent's best", units="in typical task Q differences",
                                  allowed=Allowed(low=0))
    risk: float | None = _param(None, title="risk allowance", help="fused actions only among those whose chance of "
                                "failing the task soon (the task agent's risk model, dpf train-risk) is at most this "
                                "much above that of the task agent's own choice", units="as a probability",
                                allowed=Allowed(low=0, high=1))
    strength: float = _param(1.0, title="strength", help="how loud the intent is: its rewards are multiplied by this "
                             "(0: the task agent alone, 2: twice as loud); calibration chooses it in simulation",
                                 allowed=Allowed(low=0), slider=(0.0, 8.0), decimals=3)

    def __post_init__(self) -> None:
        check_fields(self, "fusion parameters", _ALLOWED)
        if self.T_min > self.T_max:
            raise UserError(f"fusion parameters: T_min ({self.T_min:g}) must not exceed T_max ({self.T_max:g})")

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> FusionParams:
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise UserError(f"fusion parameters must be names with values, e.g. {{\"T_phi\": 1.0}}; got {overrides!r}")
        allowed = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise UserError(f"unknown fusion parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
        return replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: every FusionParams field's metadata, in field order
PARAMS: dict[str, Param] = {f.name: f.metadata["param"] for f in fields(FusionParams)}
_ALLOWED = {name: p.allowed for name, p in PARAMS.items() if p.allowed is not None}


def slider_params() -> dict[str, Param]:
    """The parameters the Play panel sets with a slider and a spin box, in field order."""
    return {name: p for name, p in PARAMS.items() if p.slider is not None}


def cli_params() -> dict[str, Param]:
    """The parameters offered as CLI options, in field order."""
    return {name: p for name, p in PARAMS.items() if p.cli}


#: what the paper's configuration sets besides its per-environment temperatures (METHOD.md section 6)
PAPER = {"collect": "advantage", "normalise": False, "T_min": 0.3, "k": 1.0, "c": 0.0, "decay": 1.0, "T_static": 0.3,
         "confidence": 0.0, "strength": 1.0, "margin": None, "risk": None}


def paper_params(env_name: str) -> FusionParams:
    """The paper's fusion by name: the signed sum of intent advantages, c = 0, raw Q-values and intent
    rewards, and the authors' temperatures for ``env_name`` (its spec's ``paper_temperatures``)."""
    from dpf_gui.envs import env_spec

    return FusionParams(**PAPER, **env_spec(env_name).paper_temperatures)


#: the fields a calibration of the intent's strength chooses (:mod:`dpf_gui.calibrate`); the others stay as set
CALIBRATED = ("strength", "c", "confidence")


def same_calibrated(a: FusionParams, b: FusionParams) -> bool:
    """Whether ``a`` and ``b`` agree on every field a calibration chooses."""
    return all(getattr(a, f) == getattr(b, f) for f in CALIBRATED)


@dataclass(frozen=True)
class AppliedCalibration:
    """A calibration set on the parameters a view shows: what they were ``before``, what it made them ``after``,
    and the weights checksum of the ``intent`` model it was chosen for."""

    before: FusionParams
    after: FusionParams
    intent: str | None

    @classmethod
    def of(cls, cal, before: FusionParams, intent_sidecar) -> AppliedCalibration:
        """``cal`` (a :class:`~dpf_gui.calibrate.Calibration`) set on ``before`` for the intent model of
        ``intent_sidecar``."""
        return cls(before, cal.params(before), (intent_sidecar or {}).get("weights_sha256"))

    def made_for(self, intent_sidecar) -> bool:
        return self.intent == (intent_sidecar or {}).get("weights_sha256")

    def still_set(self, params: FusionParams) -> bool:
        """Whether ``params`` still hold what it set."""
        return same_calibrated(params, self.after)

    def undone(self, params: FusionParams) -> FusionParams:
        """``params`` with what it set put back, where they still hold it: a strength chosen for one intent model
        does not belong to the next one; whatever else was set stays."""
        if not self.still_set(params):
            return params
        return replace(params, **{f: getattr(self.before, f) for f in CALIBRATED})


__all__ = ["CALIBRATED", "PAPER", "PARAMS", "AppliedCalibration", "FusionParams", "Param", "cli_params", "paper_params",
           "same_calibrated", "slider_params"]

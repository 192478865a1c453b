"""The fusion options ``dpf evaluate`` and ``dpf trace`` share (``dpf benchmark`` takes the parameters): one per
fusion parameter, the paper's configuration by name, and ``--calibrate``, whose result is kept on this machine
as the app keeps its own (:mod:`dpf_gui.calibration_memory`)."""

from __future__ import annotations

import argparse

from dpf_gui.cli.options import finite
from dpf_gui.errors import UserError

#: what turns off a fusion parameter that may be off (its default is None, e.g. ``--margin none``)
OFF = "none"


def _finite_or_off(text: str) -> float | str:
    """argparse type of a parameter that may be off: a finite number, or ``none``."""
    if text.strip().lower() == OFF:
        return OFF
    try:
        return finite(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; allowed: a number, or {OFF} (off)") from None


def add_fusion_parameters(p: argparse.ArgumentParser, title: str) -> None:
    """One option per fusion parameter its metadata offers on the command line (dpf_gui/fusion_params.py):
    numbers as ``--T-phi X``, choices as ``--collect {...}``, switches as ``--sample``, a parameter that may be
    off (``margin``) as ``--margin X|none``; :func:`fusion_overrides` reads them back."""
    from dpf_gui.fusion_params import FusionParams, cli_params

    defaults = FusionParams()
    g = p.add_argument_group(title)
    for name, param in cli_params().items():
        flag, dest = f"--{name.replace('_', '-')}", f"fusion_{name}"
        if param.choices:
            g.add_argument(flag, dest=dest, choices=tuple(param.choices), default=None, help=param.tooltip())
        elif isinstance(getattr(defaults, name), bool):  # a switch: on, or the stored default
            g.add_argument(flag, dest=dest, action="store_const", const=True, default=None, help=param.tooltip())
        elif getattr(defaults, name) is None:  # off unless set; ``none`` turns off a stored default
            g.add_argument(flag, dest=dest, type=_finite_or_off, default=None, metavar="X|none",
                           help=f"{param.tooltip()}; none: off, whatever the task agent's defaults say")
        else:
            g.add_argument(flag, dest=dest, type=finite, default=None, metavar="X", help=param.tooltip())


def add_fusion_options(p: argparse.ArgumentParser) -> None:
    """The fusion parameters, the paper's configuration by name, calibration and the authors' intent query."""
    add_fusion_parameters(p, "fusion parameters (defaults stored with the task agent)")
    g = p.add_argument_group("the paper's fusion by name, calibration, the intent's query")
    g.add_argument("--paper", action="store_true",
                   help="the paper's fusion by name: signed advantages, c = 0, raw units, the authors' temperatures "
                        "(options above still override it); pair it with an --kind lstm intent")
    g.add_argument("--calibrate", action="store_true",
                   help="choose the intent's strength in simulation first (task reward and the model's own "
                        "predictions only; see dpf_gui/calibrate.py); kept on this machine, where the app's Play "
                        "and Compare and a later --calibrate of the same agents, parameters and seed find it")
    g.add_argument("--recalibrate", action="store_true",
                   help="calibrate as --calibrate does, even where a calibration is kept for these agents (implies "
                        "--calibrate)")
    g.add_argument("--markov", action="store_true", help="query the intent model without history (the authors' query)")


def fusion_overrides(args: argparse.Namespace) -> dict:
    out = {k[len("fusion_"):]: (None if v == OFF else v) for k, v in vars(args).items()
           if k.startswith("fusion_") and v is not None}
    if getattr(args, "paper", False):
        from dpf_gui.fusion_params import paper_params

        out = {**paper_params(args.env).to_dict(), **out}
    return out


def calibrated(args: argparse.Namespace, task, overrides: dict) -> dict[str, float]:
    """``--calibrate``: the intent's strength and budget c chosen in simulation (prints what each candidate did)."""
    from tqdm.auto import tqdm

    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.calibrate import gate_text
    from dpf_gui.calibration_memory import keep_calibration, recall_calibration
    from dpf_gui.calibration_process import calibrate_on_this_machine
    from dpf_gui.pipeline import fusion_params

    flag = f"--{'re' if args.recalibrate else ''}calibrate"
    if args.intent is None:
        raise UserError(f"{flag} needs an intent model: pass --intent DIR")
    if getattr(args, "fusion_strength", None) is not None:  # the calibrated strength replaced it silently
        raise UserError(f"--strength sets the intent's strength by hand and {flag} chooses it: give one of them")
    intent = IntentAgent.load(args.intent, expect_env=args.env)
    params = fusion_params(task, overrides)
    # kept as the app keeps its own, which never queries the intent without history (the key does not say --markov)
    kept = not args.markov
    cal = recall_calibration(args.env, task, intent.sidecar, params, seed=args.seed) if (
        kept and not args.recalibrate) else None
    if cal is not None:
        print("calibration: kept from an earlier calibration of these agents on this machine (the same parameters, "
              "seed and code; --recalibrate runs it again)")
    else:
        with tqdm(desc="calibrating", unit="ep", disable=getattr(args, "quiet", False), leave=False,
                  delay=1) as bar:  # drawn once the search has said how many episodes it may play
            phase = None

            def progress(played: int, at_most: int, what: str) -> None:
                nonlocal phase
                bar.total, bar.n = at_most, played  # the most there can be shrinks as the search decides
                # a new phase is drawn at once; episode counts as often as the bar's mininterval allows (seldom in
                # a log file: a redraw per episode wrote 4 lines a second there)
                bar.set_postfix_str(what, refresh=what != phase)
                phase = what
                bar.update(0)

            # the task agent's reference is read from and kept in the app's data folder
            cal = calibrate_on_this_machine(args.env, task, intent.model, intent.scale(args.markov), intent.unit,
                                            params, seed=args.seed, progress=progress, in_a_process=False)
        if kept:
            keep_calibration(cal, args.env, task, intent.sidecar, params, seed=args.seed)
    for row in cal.table:
        changed = f", other actions in {row['changed']:.0%} of episodes" if "changed" in row else ""
        gate = gate_text(row.get("confidence"))
        print(f"calibration: strength {row['strength']:g}, c {row['c']:g}{gate}: task success {row['success']:.2f} "
              f"(task agent {cal.task_success:.2f}), intent score per decision {row['intent_score']:.3f}{changed}")
    for line in cal.confirm_lines():
        print(f"calibration: {line.strip()}")
    if cal.silent:
        print("calibration: the intent changed no decision of the task agent at any strength: it wants what the "
              "task agent does there, or its ensemble members disagree so much that the confidence gate keeps it "
              "quiet; label more (or more varied) trajectories, or lower --confidence")
    chosen = {"strength": cal.strength} if cal.c is None else {"strength": cal.strength, "c": cal.c}
    if cal.confidence is not None:  # a looser gate won (Pong: docs/EXPERIMENTS.md, "what limits a prefer wish")
        chosen["confidence"] = cal.confidence
    print(f"calibrated: {', '.join(f'{k} {v:g}' for k, v in chosen.items())} ({cal.episodes} calibration episodes, "
          f"keeping >= {cal.keep:.0%} of the task agent's success)")
    return chosen


__all__ = ["OFF", "add_fusion_options", "add_fusion_parameters", "calibrated", "fusion_overrides"]

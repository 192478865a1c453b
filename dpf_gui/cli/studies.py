"""``dpf study`` and its actions (init, pilot, status, export, summary, add, withdraw): user studies from a
protocol file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from dpf_gui.cli.options import (
    Parser,
    add_noise_options,
    check_file_out,
    command,
    counted,
    existing_folder,
    formatter,
    int_in,
    noise_from_args,
    nonneg_int,
    writable_folder,
)
from dpf_gui.errors import UserError

STUDY_ACTIONS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None],
                               Callable[[argparse.Namespace], int]]] = {}


def _study_action(name: str, help: str, epilog: str, build: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Callable[[argparse.Namespace], int]):
        STUDY_ACTIONS[name] = (help, epilog, build, fn)
        return fn

    return register


def _build_study(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study_action", metavar="ACTION", parser_class=Parser)
    for name, (help_text, epilog, build, fn) in STUDY_ACTIONS.items():
        q = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text, epilog=epilog,
                           formatter_class=formatter)
        build(q)
        q.set_defaults(_study_run=fn)


@command(
    "study",
    "user studies: make a study from a protocol, pilot it with simulated participants, export its data",
    "A study folder is made from a protocol file (TOML: the wish, conditions, order, phase\n"
    "texts, questionnaire; docs/STUDY.md, docs/study_example.toml). Participants get a folder\n"
    "each with an append-only event log; a pilot runs the whole protocol with simulated\n"
    "participants; the export is CSV an analyst can open, with a README of every column.\n\n"
    "examples:\n"
    "  dpf study init docs/study_example.toml --out runs/study\n"
    "  dpf study pilot runs/study --participants 6 --seed 0\n"
    "  dpf study status runs/study\n"
    "  dpf study export runs/study --out runs/study_export.zip\n"
    "  dpf study withdraw runs/study --participant P07",
    _build_study,
)
def cmd_study(args: argparse.Namespace) -> int:
    run = getattr(args, "_study_run", None)
    if run is None:
        raise UserError(f"give an action: {', '.join(STUDY_ACTIONS)} (see dpf study --help)")
    return int(run(args) or 0)


def _build_study_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("protocol", metavar="PROTOCOL.toml", help="the protocol file (docs/STUDY.md)")
    p.add_argument("--out", required=True, metavar="STUDY_DIR", help="the study folder to make (new or empty)")


@_study_action(
    "init",
    "check a protocol file and make a study folder from it",
    "Every field of the protocol is checked (unknown keys, environments, strategies, orders that\n"
    "cannot be counterbalanced, missing texts, wish expressions, budgets larger than the data);\n"
    "the first mistake is one line naming the field and what is allowed.\n\n"
    "examples:\n"
    "  dpf study init docs/study_example.toml --out runs/study",
    _build_study_init,
)
def cmd_study_init(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import init_study
    from dpf_gui.studies.order import rows_needed

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder; give a new folder for the study")
    writable_folder(out.absolute().parent)
    study = init_study(args.protocol, out)
    pr = study.protocol
    print(f"made study {out}: {pr.title!r}, {pr.env} (order {pr.order}; a balanced set every "
          f"{rows_needed(pr.order, len(pr.conditions))} participants; trips {pr.trip_order})")
    for c in pr.conditions:
        print(f"  condition {c.summary()}")
    if not pr.has_wish_expression:
        print("note: the wish has no region expressions: outcomes are task success only, and a pilot cannot "
              "simulate participants")
    return 0


def _build_study_pilot(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--participants", type=int_in(1, 1000), required=True, metavar="N",
                   help="simulated participants that should have finished (unfinished ones are resumed)")
    p.add_argument("--seed", type=nonneg_int, default=0,
                   help="pilot seed: each simulated participant's seed comes from it")
    add_noise_options(p, "the simulated users' feedback noise (as dpf label; all seeded; ranks: only --flip)")
    p.add_argument("--quiet", action="store_true", help="print nothing but the summary")


@_study_action(
    "pilot",
    "run the whole protocol headless with simulated participants (marked simulated everywhere)",
    "Each simulated participant (sim-001, ...) gets its own seed; a simulated user labels with\n"
    "the protocol's wish expressions at each condition's budget (where the condition's feedback\n"
    "is ranks: ranks that many in groups of five, --flip the chance of swapping neighbours), the\n"
    "intent model trains, the agent plays the watch phase, and a seeded responder answers the\n"
    "questionnaire from what the participant watched (docs/STUDY.md). Interrupted (Ctrl-C,\n"
    "kill), rerun it: each participant continues at the phase it was in. People's data is\n"
    "never touched.\n\n"
    "examples:\n"
    "  dpf study pilot runs/study --participants 6 --seed 0\n"
    "  dpf study pilot runs/study --participants 4 --binary --flip 0.1 --seed 3",
    _build_study_pilot,
)
def cmd_study_pilot(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study
    from dpf_gui.studies.simulate import pilot

    study = Study(args.study)
    noise = noise_from_args(args)
    report = None if args.quiet else (lambda line: print(f"pilot: {line}", flush=True))
    ids = pilot(study, args.participants, seed=args.seed, noise=noise, progress=not args.quiet, report=report)
    print(f"{counted(len(ids), 'simulated participant')} finished in {args.study}: {', '.join(ids)}")
    return 0


def _build_study_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--out", required=True, metavar="BUNDLE.zip|DIR",
                   help="a .zip bundle, or a folder (new or empty); in a folder that exists")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


@_study_action(
    "export",
    "write the study's data as CSV files (results, participants, order, events, marks, answers) with a README",
    "results.csv has one row per participant x condition: outcomes of that participant's agent\n"
    "(scored only by the protocol's wish) and every questionnaire answer. The README in the\n"
    "export describes every column. Safe while participants are in a session (it only reads).\n\n"
    "examples:\n"
    "  dpf study export runs/study --out runs/study_export.zip\n"
    "  dpf study export runs/study --out runs/study_export --force",
    _build_study_export,
)
def cmd_study_export(args: argparse.Namespace) -> int:
    from dpf_gui.studies.export import check_export_out, export_study
    from dpf_gui.studies.folder import Study

    study = Study(args.study)
    out = check_export_out(args.out, args.force)
    existing_folder(out.absolute().parent, f"--out {out.name}")
    writable_folder(out.absolute().parent)
    path = export_study(study, out, force=args.force)
    print(f"wrote {path}: {counted(len(study.participants()), 'participant')}")
    return 0


def _build_study_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")


@_study_action(
    "status",
    "list the study's participants and where each one is",
    "examples:\n  dpf study status runs/study",
    _build_study_status,
)
def cmd_study_status(args: argparse.Namespace) -> int:
    from dpf_gui.studies.export import collect
    from dpf_gui.studies.folder import Study

    study = Study(args.study)
    pr = study.protocol
    print(f"{pr.title} ({pr.env}; order {pr.order})")
    for c in pr.conditions:
        print(f"  condition {c.summary()}")
    rows = collect(study)["tables"]["participants.csv"][1]
    if not rows:
        print("no participants yet")
    for r in rows:
        kind = "simulated" if r["simulated"] else "person"
        print(f"  {r['number']:>3}  {r['participant']:<12} {kind:<9} order {r['order'].replace(';', ', '):<24} "
              f"{r['status']} ({r['steps_done']}/{r['steps_total']} steps, {r['sessions']} session(s))")
    withdrawn = study.withdrawn()
    if withdrawn:
        print(f"withdrawn (data deleted): {', '.join(str(p['number']) for p in withdrawn)}")
    return 0


def _build_study_summary(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also draw each measure per condition (PNG)")
    p.add_argument("--who", choices=("auto", "people", "pilot"), default="auto",
                   help="whose data: people, the pilot's simulated participants, or auto (people if any; default)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the summary as JSON")
    p.add_argument("--force", action="store_true", help="overwrite --plot / --json if they exist")


@_study_action(
    "summary",
    "per condition: means and 95 % intervals of the outcomes and of each questionnaire item",
    "One value per participant and condition (finished conditions only); Student's t interval\n"
    "over participants. People and simulated participants are never pooled.\n\n"
    "examples:\n"
    "  dpf study summary runs/study --plot runs/study_summary.png\n"
    "  dpf study summary runs/study --who pilot --json summary.json",
    _build_study_summary,
)
def cmd_study_summary(args: argparse.Namespace) -> int:
    from dpf_gui.fileio import write_json_atomic
    from dpf_gui.studies.folder import Study
    from dpf_gui.studies.summary import plot_summary, summarise_study, summary_table

    plot = check_file_out(args.plot, args.force, kind=("a PNG image", ".png")) if args.plot else None
    json_out = check_file_out(args.json, args.force, kind=("JSON", ".json")) if args.json else None
    study = Study(args.study)
    summary = summarise_study(study, simulated={"auto": None, "people": False, "pilot": True}[args.who])
    if not summary["participants"]:
        print(f"{study.protocol.title}: no {summary['who']} finished a condition yet: nothing to summarise"
              + (" (nothing written)" if plot or json_out else ""))
        return 0
    print(f"{study.protocol.title}: {summary['who']}, n = {summary['participants']}")
    print(summary_table(summary))
    if plot is not None:
        print(f"wrote {plot_summary(summary, plot, study.protocol.title)}")
    if json_out is not None:
        print(f"wrote {write_json_atomic(json_out, summary)}")
    return 0


def _build_study_participant(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY_DIR", help="the study folder")
    p.add_argument("--participant", required=True, metavar="ID", help="pseudonymous participant id (no names)")


@_study_action(
    "add",
    "add a participant (a pseudonymous id); prints their number and condition order",
    "examples:\n  dpf study add runs/study --participant P01",
    _build_study_participant,
)
def cmd_study_add(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study

    p = Study(args.study).add_participant(args.participant)
    print(f"added participant {p['id']}: number {p['number']}, order {', '.join(p['order'])}")
    return 0


def _build_study_withdraw(p: argparse.ArgumentParser) -> None:
    _build_study_participant(p)
    p.add_argument("--yes", action="store_true",
                   help="delete without asking (needed where no one can answer, e.g. in a script)")


@_study_action(
    "withdraw",
    "withdraw a participant: their data is deleted, the withdrawal logged",
    "On a terminal it asks for the participant's id again before deleting anything (a typo,\n"
    "P01 for P10, would delete another person's data); --yes skips the question.\n\n"
    "examples:\n  dpf study withdraw runs/study --participant P01\n"
    "  dpf study withdraw runs/study --participant P01 --yes",
    _build_study_withdraw,
)
def cmd_study_withdraw(args: argparse.Namespace) -> int:
    from dpf_gui.studies.folder import Study

    study = Study(args.study)
    before = any(p["id"] == args.participant for p in study.withdrawn())
    if not before and not args.yes:
        p = study.participant(args.participant)  # an unknown id is refused here, before any question
        what = f"participant {p['id']} (number {p['number']}) and delete their data in {study.participant_dir(p['id'])}"
        if not sys.stdin.isatty():
            raise UserError(f"withdrawing would remove {what}, which cannot be undone: run it again with --yes "
                            "to confirm")
        try:
            answer = input(f"Withdraw {what}? This cannot be undone. Type {p['id']} to confirm: ").strip()
        except EOFError:  # Ctrl-D: no answer
            answer = ""
        if answer != p["id"]:
            print(f"not withdrawn: {answer!r} is not {p['id']!r}; nothing was deleted")
            return 1
    p = study.withdraw(args.participant)
    if before:
        print(f"participant {p['id']} (number {p['number']}) was withdrawn already; their data is deleted")
    else:
        print(f"withdrew participant {p['id']} (number {p['number']}): their data was deleted; the study log "
              "keeps the withdrawal")
    return 0

"""What every ``dpf`` sub-command shares: the one-line-error parser, the command registry, argparse types
with ranges, checks of output paths made before any work, the wish and feedback-noise options, and the warning about
lopsided labels.

``dpf-gui`` uses the same :class:`Parser`, :func:`int_in` and :func:`float_in` (through ``dpf_gui.cli``).
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dpf_gui.checkpoints import SIDECAR_FILE, WEIGHTS_FILE
from dpf_gui.data.trajectories import npz_path
from dpf_gui.errors import UserError
from dpf_gui.fileio import cannot_write_in
from dpf_gui.oracles import SIGMA_MAX
from dpf_gui.overrides import Allowed
from dpf_gui.paths import task_path

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (no usage dump) and exit code 2 (``dpf`` and ``dpf-gui``); an
    unknown option is said by the command it was given to, with the options it may have meant."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command_parser = innermost(self, parsed)
            command_parser.error(unrecognized(extras, command_parser))
        return parsed


def long_options(command_parser: argparse.ArgumentParser) -> list[str]:
    """The command's long options (``--work``, ...)."""
    return [s for action in command_parser._actions for s in action.option_strings if s.startswith("--")]


def innermost(command_parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the action chosen within a command that has actions (``dpf study pilot``), else the
    command's."""
    for action in command_parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            return innermost(action.choices[getattr(args, action.dest)], args)
    return command_parser


def unrecognized(extras: Sequence[str], command_parser: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" for a command, with the command's options nearest each unknown one
    (``--wish`` on ``dpf label``: ``--preset``, ``--prefer`` and ``--avoid`` say a wish there)."""
    options = long_options(command_parser)
    hints = []
    for word in extras:
        name = word.partition("=")[0]
        if not name.startswith("--"):
            continue
        near = [o for o in options if len(o) > 4 and name.startswith(o)]  # --environment: --env
        near += [o for o in difflib.get_close_matches(name, options, n=3, cutoff=0.7) if o not in near]
        if name in ("--wish", "--region") and "--prefer" in options:
            near = [o for o in ("--preset", "--prefer", "--avoid") if o in options]
        if near:
            listed = near[0] if len(near) == 1 else f"{', '.join(near[:-1])} or {near[-1]}"
            hints.append(f"for {name}, {command_parser.prog} has {listed}")
    return f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else "")


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str, help: str, epilog: str, build: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = fn
        fn.cli_spec = (help, epilog, build)  # type: ignore[attr-defined]
        return fn

    return register


# --- shared option helpers ---------------------------------------------------
SHIPPED_DATA = ("an environment name (gridnav, highway, pong) that is no file here means the trajectories its "
                "shipped agent learned from (see `dpf envs`)")


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless one ("1 trajectory", "2 trajectories", "0 participants")."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1] + 'ies' if noun.endswith('y') and noun[-2:-1] not in 'aeiou' else noun + 's'}"


def writable_folder(folder: Path) -> None:
    """Refuse (before any work is done) an output whose folder cannot be made or written into."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write into {folder}: {existing} is a file, not a folder")
    exc = cannot_write_in(existing)
    if exc is not None:
        raise UserError(f"cannot write into {existing}: making a file there failed "
                        f"({exc.strerror or exc.__class__.__name__})")


def existing_folder(folder: Path, what: str) -> None:
    """Refuse an output whose folder does not exist: a typo in a path never makes folders silently."""
    folder = folder if str(folder) else Path(".")
    if folder.is_dir():
        return
    if folder.exists():
        raise UserError(f"cannot write {what}: {folder} is a file, not a folder")
    raise UserError(f"cannot write {what}: folder {folder} does not exist (create it first, or write into an "
                    "existing folder)")


def _file_out(given: str, npz: bool = False) -> Path:
    """The file ``given`` names (``npz``: with ``.npz`` added as the saver does), to (over)write: a folder, a device,
    a pipe or a socket is refused (``--force`` must never turn one into a file: the atomic rename would replace
    it); a symbolic link is written through, to its file."""
    if Path(given).is_dir() or Path(given).name in ("", ".", ".."):
        raise UserError(f"{given} is a folder; give the name of a file to write")
    out = npz_path(given) if npz else Path(given)
    if out.is_dir():
        raise UserError(f"{given} is a folder; give the name of a file to write")
    if out.is_symlink():
        out = out.resolve()
    if out.exists() and not out.is_file():
        raise UserError(f"{out} is not a regular file (a device, pipe or socket); give the name of a file to write")
    return out


def check_file_out(path: str, force: bool, npz: bool = False, kind: tuple[str, str] | None = None) -> Path:
    """The file an output option names (``npz``: with ``.npz`` added as the saver does), checked before the work:
    its folder must exist already (never made silently) and be writable. ``kind``: (what is written, its suffix),
    for a writer whose format does not follow the name (a PNG named s.pdf opens in no PDF viewer)."""
    out = _file_out(path, npz)
    if kind is not None and out.suffix.lower() != kind[1]:
        raise UserError(f"{out.name}: this writes {kind[0]}; give a file name ending in {kind[1]}")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it")
    existing_folder(out.parent, out.name)
    writable_folder(out.parent)
    return out


def check_markdown_out(path: str, what: str) -> tuple[Path, str]:
    """A Markdown page a command writes its section into (``dpf benchmark``, ``dpf results``), checked before any
    cell runs: a text file or none yet, in a writable folder. Returns the path and its text now ("" if new); a
    file that is not UTF-8 text is refused, never appended to or overwritten after the work."""
    out = _file_out(path)
    existing_folder(out.parent, f"--out {out.name}")
    writable_folder(out.parent if str(out.parent) else Path("."))
    if not out.is_file():
        return out, ""
    try:
        return out, out.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"--out {out} is not a text file; {what} writes Markdown: give a .md file (new, or one it "
                        "wrote before)") from None
    except OSError as exc:
        raise UserError(f"cannot read --out {out} ({exc.strerror or exc.__class__.__name__})") from None


def check_checkpoint_out(path: str, force: bool, writes: Sequence[str] = ()) -> Path:
    """A checkpoint's ``--out`` folder, checked before the work: a folder (made if missing) whose files of the
    checkpoint's names (the sidecar, the weights and ``writes``, the other files the command writes there) are
    overwritten only with ``force``: a user's own ``trajectories.npz`` or ``training_curve.csv`` in it, beside no
    checkpoint, was silently replaced."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give a folder for the checkpoint")
    if (out / SIDECAR_FILE).exists() and not force:
        raise UserError(f"{out} already holds a checkpoint; pass --force to overwrite it")
    there = [name for name in (WEIGHTS_FILE, *writes) if (out / name).exists()]
    if there and not force:
        raise UserError(f"{out} already holds {', '.join(there)}, which the checkpoint would overwrite; give a new "
                        "folder, or pass --force to overwrite")
    writable_folder(out)
    return out


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number in ``low..high``."""
    allowed = Allowed(low=low, high=high)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not allowed.allows(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed: {allowed.describe()}")
        return value

    return parse


def float_in(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number within the bounds (``low_open``: ``low`` itself excluded)."""
    allowed = Allowed(low=low, high=high, low_open=low_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if not allowed.allows(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed: {allowed.describe()}")
        return value

    return parse


MAX_EPISODES = 1_000_000
MAX_JOBS = 256
nonneg_int = int_in(0, 2**32 - 1)  # seeds: what numpy and torch seeding accept
pos_int = int_in(1, 10**10)  # counts: steps, episodes of a results cell
episode_count = int_in(1, MAX_EPISODES)
probability = float_in(0.0, 1.0)
finite = float_in()


def add_agent_options(p: argparse.ArgumentParser, live: bool | None) -> None:
    """``--env``, ``--task`` and ``--intent``: the agents that play (``live`` True: of the strategies the views
    offer; None: of all)."""
    from dpf_gui.strategies import names

    p.add_argument("--env", default=None, help="an environment: gridnav, highway, pong or a registered one (dpf envs; "
                   "default: the one --task or else --intent was made for)")
    p.add_argument("--task", default=None, metavar="DIR",
                   help="task-agent checkpoint folder, or an environment's name for its shipped agent (default: the "
                        "shipped agent of --env)")
    p.add_argument("--intent", default=None, metavar="DIR",
                   help=f"intent-model checkpoint (needed by {', '.join(names(live=live, needs_intent=True))})")


def add_wish_options(p: argparse.ArgumentParser, required: bool) -> None:
    g = p.add_argument_group("the wish (a preset, or region expressions)")
    g.add_argument("--preset", choices=("avoid", "prefer", "mixed"), help="the environment's named wish")
    g.add_argument("--prefer", action="append", default=[], metavar="EXPR",
                   help="preferred region (repeatable, OR-ed; or 'A | B' in one)")
    g.add_argument("--avoid", action="append", default=[], metavar="EXPR",
                   help="avoided region (repeatable, OR-ed; or 'A | B' in one)")
    p.set_defaults(_wish_required=required)


def wish_from_args(args: argparse.Namespace, region_features, env_name: str):
    """The wish the options describe, or None when none was given and none is required."""
    from dpf_gui.envs import env_spec
    from dpf_gui.wish import make_wish

    if args.preset and (args.prefer or args.avoid):
        raise UserError("give either --preset or --prefer/--avoid expressions, not both")
    if not (args.preset or args.prefer or args.avoid):
        if args._wish_required:
            raise UserError("no wish given: use --preset avoid|prefer|mixed, or --prefer EXPR / --avoid EXPR")
        return None
    preset = env_spec(env_name).preset(args.preset) if args.preset else None
    return make_wish(region_features, prefer=args.prefer, avoid=args.avoid, preset=preset)


def env_of(args: argparse.Namespace) -> str:
    """``--env``, else the environment the ``--task`` or ``--intent`` folder was made for (both sidecars say it),
    so ``dpf evaluate --intent runs/intent`` needs nothing more; a mismatch is said later by the loaders."""
    from dpf_gui.cache import read_json

    if args.env:
        return args.env
    for option, folder in (("--task", args.task and task_path(args.task)), ("--intent", args.intent)):
        if folder:
            meta = read_json(Path(folder) / SIDECAR_FILE)
            env = meta.get("env") if isinstance(meta, dict) else None
            if not isinstance(env, str):
                raise UserError(f"{option} {folder}: no readable {SIDECAR_FILE} saying its environment; give --env")
            return env
    raise UserError("which environment? give --env (gridnav, highway, pong or a registered one: dpf envs), or "
                    "--task or --intent, whose folder says it")


def wish_of_run(args: argparse.Namespace, task):
    """The wish the options give, else the one recorded with ``--intent``'s labels (said on stdout), else None:
    an intent model trained for a wish is measured on it without the person writing it again."""
    from dpf_gui.cache import read_json
    from dpf_gui.episode import recorded_wish
    from dpf_gui.pipeline import task_region_features

    features = task_region_features(task)
    wish = wish_from_args(args, features, args.env)
    if wish is None and args.intent:
        wish = recorded_wish(features, read_json(Path(args.intent) / SIDECAR_FILE))
        if wish is not None:
            d = wish.describe()
            print(f"wish: prefer {' or '.join(d['prefer']) or '-'}; avoid {' or '.join(d['avoid']) or '-'} (recorded "
                  "with the intent model's labels; --preset or --prefer / --avoid measure another)")
    return wish


def add_noise_options(p: argparse.ArgumentParser, title: str) -> None:
    """A simulated user's feedback noise (``oracles.FeedbackNoise``): dpf label and dpf study pilot."""
    from dpf_gui.oracles import NOISE_HELP as HELP

    g = p.add_argument_group(title)
    g.add_argument("--binary", action="store_true", help=HELP["binary"])
    g.add_argument("--relative", action="store_true", help=HELP["relative"])
    g.add_argument("--flip", type=probability, default=0.0, metavar="P", help=HELP["flip"])
    g.add_argument("--skip", type=probability, default=0.0, metavar="P", help=HELP["skip"])
    g.add_argument("--sigma", type=float_in(0.0, SIGMA_MAX), default=0.0, help=f"{HELP['sigma']} (0..{SIGMA_MAX:g})")
    g.add_argument("--myopic", type=float_in(0.0, 1.0, low_open=True), default=1.0, metavar="GAMMA",
                   help=HELP["myopic"])
    g.add_argument("--equal", type=float_in(0.0, SIGMA_MAX), default=0.0, metavar="E", help=HELP["equal"])
    g.add_argument("--stochastic", type=float_in(0.0, SIGMA_MAX), default=0.0, metavar="T", help=HELP["stochastic"])


def noise_from_args(args: argparse.Namespace):
    from dpf_gui.oracles import FeedbackNoise

    if args.relative and not args.binary:
        raise UserError("--relative marks signs against a typical trajectory: give --binary too")
    return FeedbackNoise(binary=args.binary, flip=args.flip, skip=args.skip, sigma=args.sigma, relative=args.relative,
                         myopic=args.myopic, equal=args.equal, stochastic=args.stochastic)


def warn_lopsided(command: str, labels) -> None:
    """Say on stderr when nearly every labelled trajectory has one score (the rest carry all there is to learn)."""
    from dpf_gui.session.training import lopsided_note

    note = lopsided_note(labels)
    if note:
        print(f"{command}: warning: {note}", file=sys.stderr)


def note_unreached(command: str, data, labels, config, intent: str = "the intent") -> None:
    """Say on stderr when many stored decisions lead into places no labelled trajectory reaches, and what an intent
    trained with ``config`` (called ``intent`` in the words) does there, so a wish about such a place is not
    silently unlearnable."""
    from dpf_gui.session.training import unreached_note

    note = unreached_note(data, labels, config, intent)
    if note:
        print(f"{command}: note: {note}", file=sys.stderr)


#: options naming this machine's folders or files, left out of the command a report prints for regenerating it
LOCAL_OPTIONS = ("--work", "--out")


def machine_text() -> str:
    """The machine a report's (or a kept reference's) figures come from, as its regenerate lines say it."""
    import platform

    return (f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}, CPU only")


def regenerate_command(argv: Sequence[str]) -> str:
    """The command a report prints to regenerate itself: what was typed (``argv``, the command first), less the
    folders it was written to on this machine (``LOCAL_OPTIONS`` and their values) and ``--quiet``."""
    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word in LOCAL_OPTIONS:
            skip = True
        elif word != "--quiet" and not word.startswith(tuple(f"{o}=" for o in LOCAL_OPTIONS)) and word:
            words.append(shlex.quote(word))
    return " ".join(["dpf", *words])

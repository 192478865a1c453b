"""The ``dpf`` command line: everything the app does, scriptable.

Each sub-command is a thin layer over a core function, registered by its group's module (envs, data,
training, evaluation, episodes, studies; the order of the imports below is the order of ``dpf --help``). User
mistakes raise :class:`UserError` (or are argparse errors) and end as one line on stderr with exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

# the groups register their commands on import, in this order
from dpf_gui.cli import envs, data, training, evaluation, episodes, studies  # noqa: F401 # isort: skip
from dpf_gui.cli.options import (
    COMMANDS,
    EXIT_USAGE,
    Parser,
    float_in,
    formatter,
    int_in,
    long_options,
)
from dpf_gui.errors import UserError
from dpf_gui.threads import limit_threads

__all__ = ["COMMANDS", "Parser", "build_parser", "float_in", "int_in", "main"]


# --- entry point -------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dpf",
        description="Dynamic Policy Fusion: personalise a trained RL agent from trajectory feedback.",
        epilog="Run `dpf COMMAND --help` for a command's options and examples.",
        formatter_class=formatter,
    )
    from dpf_gui import __version__

    parser.add_argument("--version", action="version", version=f"dpf-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, fn in COMMANDS.items():
        help_text, epilog, build = fn.cli_spec  # type: ignore[attr-defined]
        # argparse %-formats a command's help line (not its description): "95 % intervals" must not be a format code
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text, epilog=epilog,
                           formatter_class=formatter)
        build(p)
        p.set_defaults(_run=fn)
    parser.commands = sub.choices  # each command's parser, for spelled_out
    return parser


def spelled_out(argv: Sequence[str], command_parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with every long option argparse took as an abbreviation (``--wo`` for ``--work``) written in
    full, by argparse's rule: the one option of the command that begins so."""
    options = long_options(command_parser)
    words = []
    for word in argv:
        name, eq, value = word.partition("=")
        if name.startswith("--") and name not in options:
            matches = [o for o in options if o.startswith(name)]
            if len(matches) == 1:
                word = matches[0] + eq + value
        words.append(word)
    return words


#: exit code when the reader of stdout went away (``dpf ... | head``): a shell's code for SIGPIPE, 128 + 13
EXIT_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``dpf`` command; its exit code (2: a user mistake)."""
    try:
        try:
            return _main(argv)
        finally:  # also after --help: a reader that went away shows here, not as a traceback at exit
            sys.stdout.flush()
    except BrokenPipeError:
        # nothing more can reach the reader; send what is still buffered nowhere so that exit stays quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE


def _main(argv: Sequence[str] | None) -> int:
    quiet_progress_in_logs(sys.stderr)  # before the parser, whose commands import tqdm
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    # as typed (options in full), for a report's "regenerate" line
    args._argv = spelled_out(sys.argv[1:] if argv is None else argv, parser.commands[args.command])
    try:
        if args.command not in ("envs", "merge"):
            # Our networks are tiny: one thread each for torch and numpy's BLAS is fastest
            # (dpf_gui.threads). DPF_TORCH_THREADS overrides.
            import torch  # noqa: F401 (loaded here, so that its threads are set now)

            limit_threads(_torch_threads())
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"dpf {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"dpf {args.command}: interrupted", file=sys.stderr)
        return 130


#: seconds between progress-bar updates when stderr is a file or a pipe, not a terminal
LOG_PROGRESS_INTERVAL = 10


def quiet_progress_in_logs(stream) -> None:
    """Progress bars written to a log file or a pipe redraw every :data:`LOG_PROGRESS_INTERVAL` seconds, not ten
    times a second: a training piped to a file wrote 300 kB of redraws. tqdm reads its defaults from ``TQDM_*``
    (tqdm >= 4.66) when it is imported, so this runs before any command imports it; the benchmark's worker
    processes inherit it. A ``TQDM_MININTERVAL`` already set wins."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        os.environ.setdefault("TQDM_MININTERVAL", str(LOG_PROGRESS_INTERVAL))


def _torch_threads() -> int:
    text = os.environ.get("DPF_TORCH_THREADS", "1")
    try:
        return int_in(1, 1024)(text)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"DPF_TORCH_THREADS={text}: {exc}") from None

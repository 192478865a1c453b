"""The exception type for user mistakes, and the one for a worker process that failed.

Core functions raise :class:`UserError` with a one-line message naming what was
wrong and what is allowed; the CLI prints it and exits with code 2, the app
shows it in a dialog. :class:`WorkerError` says, in one line, that a worker
process failed or went away (its traceback went to stderr). Anything else
escaping is a bug in dpf-gui.
"""

import sys


class UserError(Exception):
    """Bad input from the user (file, expression, option): message is shown as is."""


class WorkerError(RuntimeError):
    """A worker process failed or stopped: the message says what happened and is shown as is."""


def worker_stopped(name: str, code: int | None) -> str:
    """The line for a worker process (started with ``spawn``) that went away.

    Such a process imports the script that started it again; a script that builds the window at its top level,
    without ``if __name__ == "__main__":``, makes the process build one too and fail while starting (Python's
    own explanation goes to stderr). Said here when the starting script has no such guard.
    """
    line = f"the {name} process stopped unexpectedly (exit code {code if code is not None else 'unknown'})"
    script = _unguarded_main_script()
    if code == 1 and script:
        line += (f": {script} starts dpf-gui's processes at its top level; put that under "
                 "`if __name__ == \"__main__\":` (each process imports the script again)")
    return line


def _unguarded_main_script() -> str | None:
    """The script this program was started as when it has no ``__main__`` guard (None: a module run with -m, an
    interactive session, or a guarded script)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return None if "__main__" in text else path

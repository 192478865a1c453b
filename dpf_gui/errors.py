"""The exception type for user mistakes, and the one for a worker process that failed.

Core functions raise :class:`UserError` with a one-line message naming what was
wrong and what is allowed; the CLI prints it and exits with code 2, the app
shows it in a dialog. :class:`WorkerError` says, in one line, that a worker
process failed or went away (its traceback went to stderr). Anything else
escaping is a bug in dpf-gui.
"""


class UserError(Exception):
    """Bad input from the user (file, expression, option): message is shown as is."""


class WorkerError(RuntimeError):
    """A worker process failed or stopped: the message says what happened and is shown as is."""

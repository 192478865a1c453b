"""The one exception type for user mistakes.

Core functions raise :class:`UserError` with a one-line message naming what was
wrong and what is allowed; the CLI prints it and exits with code 2, the app
shows it in a dialog. Anything else escaping is a bug in dpf-gui.
"""


class UserError(Exception):
    """Bad input from the user (file, expression, option): message is shown as is."""

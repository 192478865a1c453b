"""``python -m dpf_gui.cli``: the ``dpf`` command (guarded: importing the module, as the architecture tests do
with every module, runs nothing)."""

import sys

from dpf_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())

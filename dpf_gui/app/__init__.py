"""The Qt desktop application: the only part of dpf_gui that imports Qt."""

import sys

import PySide6

if PySide6.__version__ == "6.12.0" and sys.version_info < (3, 12):
    # Every void Qt call drops a reference to None; Python 3.11 aborts within seconds
    # ("Fatal Python error: none_dealloc"). pyproject excludes this release.
    raise ImportError(
        "dpf-gui: PySide6 6.12.0 crashes on Python 3.11; install another release: "
        "pip install 'PySide6-Essentials!=6.12.0'"
    )

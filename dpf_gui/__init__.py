"""dpf-gui: Dynamic Policy Fusion, the engine and the desktop app."""

__version__ = "0.1.0"

"""Headless, deterministic test set-up shared by every test."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

# The app keeps labels and settings under DPF_GUI_DATA: never the tester's home folder.
import tempfile  # noqa: E402

os.environ.setdefault("DPF_GUI_DATA", tempfile.mkdtemp(prefix="dpf-gui-test-"))

# Our networks are tiny: one torch thread is fastest, and two threads on a busy 2-core
# machine made single layers 100x slower (the CLI and the app do the same).
import torch  # noqa: E402

torch.set_num_threads(1)

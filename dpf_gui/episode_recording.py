"""Episodes of the fused agent written to a GIF (or MP4) as the Play view shows them, without Qt: ``dpf record``.

The app's Record button grabs what the window shows; a script, a paper's
figure or a lesson prepared on a machine without a display needs the same
picture from the command line. Each frame is the environment's picture with
the Play view's overlay (:mod:`dpf_gui.frame_paint`: the wish's regions, the
intent's saliency) over a strip that says what the fusion did at that
decision: the strategy, the fusion weight w, the temperature T_psi, the
collected intent reward G_t, and the task's, the intent's and the fused
action distributions as bars. The episode is played by the same
:class:`~dpf_gui.episode.EpisodeRunner` the Play view uses, so a seed shows
the same episode in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.episode import EpisodeRunner, Snapshot
from dpf_gui.frame_paint import font, paint
from dpf_gui.palette import FUSED, INK, INTENT, TASK
from dpf_gui.recorder import Recorder

FONT_PX = 13  # the strip's text
LINE_PX = 18  # one line of the strip
BARS_PX = 46  # the action distributions' bars, action names included
HOLD_S = 1.0  # the last frame of each episode stays this long, so a viewer sees how it ended
BACKGROUND = (248, 248, 248)


@dataclass
class RecordedEpisodes:
    """What :func:`record_episodes` wrote: the file, its frames and each episode's metrics."""

    path: Path
    frames: int
    episodes: list[dict[str, Any]] = field(default_factory=list)
    stopped_because: str | None = None  # the frame cap cut the recording short


def strip_lines(snap: Snapshot, wish_text: str | None, action_names: Sequence[str]) -> list[str]:
    """The strip's text for one shown state: the wish, where the episode is, what the fusion does now."""
    m = snap.metrics
    lines = [wish_text] if wish_text else []
    lines.append(f"{snap.strategy} · seed {snap.seed} · decision {snap.t} · task return {m['task_return']:.2f}")
    d = snap.decision
    if d is None:
        ended = {True: "task done", False: "task failed", None: "ended"}[m.get("task_success")]
        lines.append(f"episode over: {ended} after {m['steps']} decisions")
    else:
        parts = [f"next: {action_names[d.action] if d.action < len(action_names) else d.action}"]
        if d.weight is not None:
            parts.append(f"w {d.weight:.2f}")
        if d.T_psi is not None:
            parts.append(f"T_psi {d.T_psi:.2f}")
        if d.p_intent is not None:
            parts.append(f"G_t {d.collected:+.2f}")
        lines.append(" · ".join(parts))
    return lines


def recording_frame(snap: Snapshot, action_names: Sequence[str], wish_text: str | None = None,
                    overlay: bool = True) -> np.ndarray:
    """One frame of a recording: the picture with its overlay, over the strip (RGB uint8)."""
    from PIL import Image, ImageDraw

    picture = paint(snap.frame, snap.overlay, show=overlay)
    width = picture.shape[1]
    lines = strip_lines(snap, wish_text, action_names)
    height = 6 + LINE_PX * len(lines) + BARS_PX
    strip = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(lines):
        draw.text((6, 4 + LINE_PX * i), text, fill=INK, font=font(FONT_PX))
    if snap.decision is not None:
        _bars(draw, snap, action_names, (0, 6 + LINE_PX * len(lines), width, height))
    return np.concatenate([picture, np.asarray(strip)], axis=0)


def _bars(draw, snap: Snapshot, action_names: Sequence[str], box: tuple[int, int, int, int]) -> None:
    """Task, intent and fused probabilities per action, side by side, with the action's name under them (the one
    taken in bold) and a legend of their colours."""
    d = snap.decision
    rows = [(d.p_task, TASK, "task"), (d.p_intent, INTENT, "intent"), (d.p_fused, FUSED, "fused")]
    rows = [(np.asarray(p, float), colour, name) for p, colour, name in rows if p is not None]
    if snap.strategy == "task":
        rows = rows[:1]  # the task agent alone: its distribution is the one played
    x0, y0, x1, y1 = box
    small = font(10)
    right = x1 - 6
    for _, colour, name in reversed(rows):  # the legend, top right
        right -= draw.textlength(name, font=small)
        draw.text((right, y0), name, fill=INK, font=small)
        right -= 11
        draw.rectangle((right, y0 + 2, right + 7, y0 + 9), fill=colour)
        right -= 8
    names = list(action_names)[:len(d.p_task)]
    slot = (x1 - x0 - 12) / max(1, len(names))
    top, base = y0 + 2, y1 - 14
    bar = max(2.0, min(12.0, (slot - 8) / len(rows)))
    for a, name in enumerate(names):
        left = x0 + 6 + a * slot + (slot - bar * len(rows)) / 2
        for j, (p, colour, _) in enumerate(rows):
            h = float(np.clip(p[a], 0.0, 1.0)) * (base - top)
            draw.rectangle((left + j * bar, base - h, left + (j + 1) * bar - 1, base), fill=colour)
        label = name if len(name) <= 10 else name[:9] + "…"
        centre = x0 + 6 + (a + 0.5) * slot
        for dx in ((0, 1) if a == d.action else (0,)):  # the action taken in bold (drawn twice, a pixel apart)
            draw.text((centre + dx, y1 - 1), label, fill=INK, font=small, anchor="ms")
    draw.line((x0 + 6, base, x1 - 6, base), fill=(180, 180, 180))


def record_episodes(runner: EpisodeRunner, seeds: Sequence[int], path: str | Path, fps: float = 15.0,
                    every: int = 1, overlay: bool = True, max_frames: int = 3000,
                    progress: Callable[[int], None] | None = None) -> RecordedEpisodes:
    """Play one episode per seed with ``runner`` and write every ``every``-th decision (and each episode's last
    state, held :data:`HOLD_S`) to ``path`` (.gif, or .mp4 with imageio-ffmpeg). ``progress(decisions)`` is
    called after each decision. A recording that reaches ``max_frames`` stops there (the file keeps what it
    has; ``stopped_because`` says so)."""
    # each frame its own 256 colours: a colour first seen late (a crashed car) keeps its own; 10-20 % larger files
    recorder = Recorder(path, fps=fps, max_frames=max_frames)
    wish = runner.wish
    wish_text = None
    if wish is not None:
        d = wish.describe()
        wish_text = "wish: " + "; ".join(f"{part} {' or '.join(d[part])}" for part in ("prefer", "avoid") if d[part])
    names = runner.action_names
    out = RecordedEpisodes(path=Path(path), frames=0)
    hold = max(1, round(HOLD_S * recorder.fps))
    try:
        for seed in seeds:
            snap = runner.reset(int(seed))
            while True:
                last = snap.done
                if last or snap.t % every == 0:
                    frame = recording_frame(snap, names, wish_text, overlay)
                    for _ in range(hold if last else 1):
                        if not recorder.add(frame):
                            out.stopped_because = f"{recorder.max_frames} frames, the most one recording holds"
                            break
                if last or out.stopped_because:
                    break
                snap = runner.advance()
                if progress is not None:
                    progress(1)
            out.episodes.append({"seed": int(seed), **runner.metrics.to_dict()})
            if out.stopped_because:
                break
    finally:
        recorder.close(wait=True)
    out.frames = recorder.frames
    return out


__all__ = ["RecordedEpisodes", "record_episodes", "recording_frame", "strip_lines"]

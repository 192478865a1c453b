"""The Play and Compare views' Record button: what the view shows, written to an animated GIF (or MP4).

:class:`RecordingView` gives both views the same Record button and recording
methods (one implementation, two views). The view hands every shown frame
(overlays included) to the core's :class:`~dpf_gui.recorder.Recorder`, which
encodes off the UI thread. With *whole view* (Compare: always) a frame is the
whole view as it is on screen (picture, plots, legend, metrics) under a
caption bar: a lesson's slide rather than the game alone. A recording stops
(and its file is written, saying why) when the picture changes size (another
environment) or the frame cap is reached, never dropping frames silently;
closing the view waits for every recording still being written.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QPushButton

from dpf_gui.app.overlays import qimage_to_array
from dpf_gui.app.save_dialog import ask_save_path
from dpf_gui.errors import UserError
from dpf_gui.recorder import Recorder, available_formats

#: whole-view recordings: frames scaled to this width, and at most this many (a GIF keeps them in memory)
WHOLE_VIEW_WIDTH = 800
WHOLE_VIEW_MAX_FRAMES = 400
CAPTION_HEIGHT = 26  # pixels of the caption bar over a whole-view frame


class RecordingView:
    """Mixin of the Play and Compare views: record what the view shows, the picture alone or the whole view.

    The view calls :meth:`_init_recording` while building (it makes ``record_button`` and, where the picture
    alone can be recorded, ``record_whole_check``), :meth:`_record_shown` after every frame it shows and
    :meth:`_record_episode_ended` when an episode (Compare: the pair) ends, and stops a recording in its
    ``shutdown``. It provides ``status_label``, ``speed_spin``, ``restart()``, ``play()``, ``pause()`` and
    three methods: ``_recording_picture()`` (the picture alone as a ``QImage``, None before the first frame),
    ``_recording_caption()`` (the caption of a whole-view frame) and ``_recording_name()`` (a file name to
    offer).
    """

    recordingFinished = Signal(str, str)  # path, error ("" if none)
    _recorderDone = Signal(str, str, str)  # path, error, what the status line says

    def _init_recording(self, prefix: str, picture: str | None) -> None:
        """The Record button and the *whole view* box (object names ``{prefix}RecordButton`` /
        ``{prefix}RecordWholeCheck``, first letter lower-cased without a prefix); ``picture``: the picture
        alone, in words, for the tooltips; None: the view records the whole view only (no box)."""
        def name(rest: str) -> str:
            return prefix + rest if prefix else rest[0].lower() + rest[1:]

        self._recorder: Recorder | None = None
        self._finishing: list[Recorder] = []  # stopped, their files still being written
        self._record_whole = False
        self._record_episodes_left: int | None = None
        self._recorderDone.connect(self._on_recorder_done, Qt.QueuedConnection)
        self.record_button = QPushButton("Record")
        self.record_button.setObjectName(name("RecordButton"))
        self.record_button.setCheckable(True)
        fmts = available_formats()
        whole = (f"the whole view (pictures, plots, metrics) with a caption, for a slide, scaled to "
                 f"{WHOLE_VIEW_WIDTH} px wide (at most {WHOLE_VIEW_MAX_FRAMES} frames)")
        self.record_button.setToolTip(f"record {picture or whole} to " + " or ".join(f.upper() for f in fmts)
                                      + ("" if "mp4" in fmts else " (MP4 needs imageio-ffmpeg: GIF only)"))
        self.record_whole_check: QCheckBox | None = None
        if picture is not None:
            self.record_whole_check = QCheckBox("whole view")
            self.record_whole_check.setObjectName(name("RecordWholeCheck"))
            self.record_whole_check.setToolTip(f"Record {whole}; off: {picture} alone")
        self.record_button.toggled.connect(self._on_record_toggled)

    def start_recording(self, path: str | Path, fps: float | None = None, whole: bool | None = None) -> None:
        """Record every frame shown from now on, until :meth:`stop_recording`; ``whole`` (default: the *whole
        view* box; always, in a view without one): the whole view, plots included, with a caption
        (:meth:`whole_view_image`)."""
        if self._recorder is not None:
            self.stop_recording(wait=False)
        check = self.record_whole_check
        self._record_whole = check is None or (check.isChecked() if whole is None else bool(whole))
        rate = fps if fps is not None else (self.speed_spin.value() or 30)

        made: list[Recorder] = []

        def finished(p: Path, err: str | None) -> None:  # on the encoder thread
            rec = made[0] if made else None
            if err:
                said = f"recording failed: {err}"
            else:
                n = rec.frames if rec else 0
                said = f"recorded {n} frame{'' if n == 1 else 's'} to {p}"
                if rec is not None and rec.stopped_because:
                    said += f" (stopped: {rec.stopped_because})"
            self._recorderDone.emit(str(p), err or "", said)

        self._recorder = Recorder(path, fps=rate, max_frames=WHOLE_VIEW_MAX_FRAMES if self._record_whole else 3000,
                                  on_finished=finished, shared_palette=self._record_whole)
        made.append(self._recorder)
        self._record_shown()  # the frame on screen now is the recording's first
        self._show_record_button(True)

    def stop_recording(self, wait: bool = False) -> Path | None:
        """Stop and write the file (encoding continues in the background unless ``wait``: then also every earlier
        recording still being written is waited for, so closing the view right after *Stop recording* keeps it)."""
        rec, self._recorder = self._recorder, None
        self._record_episodes_left = None
        self._show_record_button(False)
        self._finishing = [r for r in self._finishing if not r.finished]
        if wait:
            for earlier in self._finishing:
                with contextlib.suppress(UserError):  # its failure is said by _on_recorder_done
                    earlier.close(wait=True)
            self._finishing.clear()
        if rec is None:
            return None
        if not wait:
            self._finishing.append(rec)
        return rec.close(wait=wait)

    def record(self, path: str | Path, episodes: int = 1, fps: float | None = None) -> None:
        """Restart with the current seed, play ``episodes`` episodes while recording, then stop.

        Asynchronous: ``recordingFinished(path, error)`` is emitted when the file is written.
        """
        if self._recording_picture() is None:
            raise UserError("nothing to record: load an agent first")
        self.restart()
        self.start_recording(path, fps)
        self._record_episodes_left = int(episodes)
        self.play()

    def is_recording(self) -> bool:
        return self._recorder is not None

    def whole_view_image(self) -> QImage:
        """The whole view as it is on screen, scaled to ``WHOLE_VIEW_WIDTH`` pixels, under a caption bar (the
        view's ``_recording_caption()``): a frame of a whole-view recording."""
        view = self.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        view = view.scaledToWidth(WHOLE_VIEW_WIDTH, Qt.TransformationMode.SmoothTransformation)
        bar = CAPTION_HEIGHT
        out = QImage(view.width(), view.height() + bar, QImage.Format.Format_RGB888)
        out.fill(QColor(40, 40, 40))
        p = QPainter(out)
        p.drawImage(0, bar, view)
        font = QFont(self.font())
        font.setPointSize(11)
        font.setBold(True)
        p.setFont(font)
        p.setPen(QColor(255, 255, 255))
        p.drawText(8, 0, out.width() - 16, bar, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                   self._recording_caption())
        p.end()
        return out

    # --- for the view ------------------------------------------------------------------
    def _record_shown(self) -> None:
        """Add what is on screen now to the recording, if one runs."""
        if self._recorder is None:
            return
        picture = self._recording_picture()
        if picture is None:
            return
        rec = self._recorder
        frame = qimage_to_array(self.whole_view_image() if self._record_whole else picture)
        first = rec.size
        if first is not None and frame.shape[:2] != first:
            if self._record_whole:  # the window was resized: the view, fitted into the first frame's size
                frame = _fit(frame, first)
            else:
                rec.stopped_because = "the picture changed size (another environment or agent)"
        if rec.stopped_because is None and rec.frames >= rec.max_frames:
            rec.stopped_because = f"{rec.max_frames} frames, the most one recording holds"
        if rec.stopped_because is not None:
            self.stop_recording(wait=False)
            return
        rec.add(frame)

    def _record_episode_ended(self) -> None:
        """Count an episode of :meth:`record`; after the last one, stop recording and pause."""
        if self._record_episodes_left is not None:
            self._record_episodes_left -= 1
            if self._record_episodes_left <= 0:
                self.stop_recording(wait=False)
                self.pause()

    # --- internals -------------------------------------------------------------------------
    def _show_record_button(self, recording: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(recording)
        self.record_button.setText("Stop recording" if recording else "Record")
        self.record_button.blockSignals(False)

    def _on_record_toggled(self, on: bool) -> None:
        if not on:
            self.stop_recording(wait=False)
            return
        filters = ";;".join(f"{f.upper()} (*.{f})" for f in available_formats())
        path = ask_save_path(self, "Record to", self._recording_name(), filters)
        if path is None:
            self._show_record_button(False)
            return
        try:
            self.start_recording(path)
        except UserError as exc:
            self.status_label.setText(str(exc))
            self._show_record_button(False)

    def _on_recorder_done(self, path: str, error: str, said: str) -> None:
        self.status_label.setText(said)
        self.recordingFinished.emit(path, error)


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` scaled to fit ``size`` (height, width), keeping its shape, centred on the caption's dark grey."""
    h, w = size
    image = QImage(frame.data, frame.shape[1], frame.shape[0], frame.strides[0], QImage.Format.Format_RGB888)
    scaled = image.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    out = QImage(w, h, QImage.Format.Format_RGB888)
    out.fill(QColor(40, 40, 40))
    p = QPainter(out)
    p.drawImage((w - scaled.width()) // 2, (h - scaled.height()) // 2, scaled)
    p.end()
    return qimage_to_array(out)


__all__ = ["CAPTION_HEIGHT", "WHOLE_VIEW_MAX_FRAMES", "WHOLE_VIEW_WIDTH", "RecordingView"]

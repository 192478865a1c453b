"""Recording what the Play and Compare views show to an animated GIF (or MP4), encoded off the UI thread.

:class:`RecordingView` gives both views the same Record button and recording
methods (one implementation, two views). The view hands every shown frame
(overlays included) to :meth:`Recorder.add`, which only queues a copy; a
background thread does the slow part. With *whole view* (Compare: always) a
frame is the whole view as it is on screen (picture, plots, legend, metrics)
under a caption bar: a lesson's slide rather than the game alone.

* GIF (always available, Pillow): each frame is quantised to 256 colours as it
  arrives (1 byte per pixel), the file is written when the recording stops.
  Memory therefore grows with the length of the recording (about 160 kB per
  400 x 400 frame): ``max_frames`` caps it and the rest is dropped (and
  counted in ``dropped``).
* MP4 (only where ``imageio-ffmpeg`` is installed): frames stream to ffmpeg,
  constant memory. Without it an ``.mp4`` path is refused with a message
  saying GIF only.

Files are written under a temporary name and renamed when complete, so a
crash never leaves a half-written recording under the requested name. A folder
that cannot be written is refused when the recording starts, not after it; a
recording stops (and its file is written, saying why) when the picture changes
size (another environment) or the frame cap is reached, never dropping frames
silently; closing the view waits for every recording still being written.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QPushButton

from dpf_gui.app.overlays import qimage_to_array
from dpf_gui.app.save_dialog import ask_save_path
from dpf_gui.errors import UserError
from dpf_gui.fileio import cannot_write_in

_STOP = object()

#: whole-view recordings: frames scaled to this width, and at most this many (a GIF keeps them in memory)
WHOLE_VIEW_WIDTH = 800
WHOLE_VIEW_MAX_FRAMES = 400
CAPTION_HEIGHT = 26  # pixels of the caption bar over a whole-view frame


def mp4_available() -> bool:
    """True where imageio can write MP4 (the ``imageio-ffmpeg`` package is installed)."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def available_formats() -> tuple[str, ...]:
    return ("gif", "mp4") if mp4_available() else ("gif",)


class Recorder:
    """Queue frames from the UI thread; encode and write them in a background thread.

    ``on_finished(path, error)`` is called from the encoder thread when the
    file is complete (``error`` None) or failed.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 15.0, max_frames: int = 3000,
                 on_finished: Callable[[Path, str | None], None] | None = None, shared_palette: bool = False):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".gif", ".mp4"):
            raise UserError(f"recording {self.path.name}: use a .gif (or .mp4) file name")
        if suffix == ".mp4" and not mp4_available():
            raise UserError("MP4 recording needs the imageio-ffmpeg package; GIF only here (use a .gif name)")
        self.format = suffix[1:]
        self.fps = float(min(max(fps, 1.0), 50.0))  # GIF viewers ignore delays below 20 ms
        self.max_frames = int(max_frames)
        #: GIF: every frame in the first frame's 256 colours, so that only what changed is stored (a recording
        #: of the whole view, where the window around the plots stays the same, gets several times smaller)
        self.shared_palette = bool(shared_palette)
        self.frames = 0  # accepted
        self.dropped = 0
        self.error: str | None = None
        self._on_finished = on_finished
        self._queue: queue.Queue = queue.Queue(maxsize=256)
        self._size: tuple[int, int] | None = None
        self._closed = False
        #: why the recording stopped before the person stopped it (said with the result), None if it did not
        self.stopped_because: str | None = None
        self._tmp: Path | None = None
        _check_writable(self.path)
        self._thread = threading.Thread(target=self._run, name="dpf-recorder", daemon=True)
        self._thread.start()

    def add(self, frame: np.ndarray) -> bool:
        """Queue one RGB uint8 frame (H, W, 3); False if dropped (cap reached, size changed, closed)."""
        if self._closed or self.error is not None:
            return False
        frame = np.asarray(frame, dtype=np.uint8)
        if self._size is None:
            self._size = frame.shape[:2]
        if frame.shape[:2] != self._size or self.frames >= self.max_frames:
            self.dropped += 1
            return False
        self._queue.put(frame)  # blocks only if the encoder is 256 frames behind
        self.frames += 1
        return True

    def close(self, wait: bool = True, timeout: float | None = None) -> Path:
        """Stop accepting frames and finish the file; with ``wait``, block until it is written."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        if wait:
            self._thread.join(timeout)
            if self.error is not None:
                raise UserError(f"recording {self.path.name} failed: {self.error}")
        return self.path

    @property
    def size(self) -> tuple[int, int] | None:
        """(height, width) of the recording's frames: its first frame's; None before it."""
        return self._size

    @property
    def finished(self) -> bool:
        return self._closed and not self._thread.is_alive()

    # --- encoder thread -----------------------------------------------------
    def _run(self) -> None:
        try:
            if self.format == "gif":
                self._encode_gif()
            else:
                self._encode_mp4()
            os.replace(self._tmp, self.path)
        except Exception as exc:  # noqa: BLE001 (reported, never raised in the thread)
            if isinstance(exc, OSError):
                self.error = f"cannot write {self.path}: {exc.strerror or exc}"
            elif isinstance(exc, _NothingShown):
                self.error = "nothing was shown while recording, so nothing was written"
            else:
                self.error = f"{exc.__class__.__name__}: {exc}"
            if self._tmp is not None:
                with contextlib.suppress(OSError):
                    self._tmp.unlink(missing_ok=True)
            self._drain()
        if self._on_finished is not None:
            self._on_finished(self.path, self.error)

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if self._closed:
                    return
                item = self._queue.get()
            if item is _STOP:
                return

    def _encode_gif(self) -> None:
        from PIL import Image

        frames: list = []
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            image = Image.fromarray(item, "RGB")
            if self.shared_palette and frames:
                frames.append(image.quantize(palette=frames[0], dither=Image.Dither.NONE))
            else:
                frames.append(image.quantize(256, method=Image.Quantize.FASTOCTREE))
        if not frames:
            raise _NothingShown
        duration = round(1000.0 / self.fps)
        self._tmp = _temporary_beside(self.path)
        frames[0].save(self._tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration,
                       loop=0, disposal=1)

    def _encode_mp4(self) -> None:
        import imageio.v2 as iio

        writer = None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if writer is None:
                    self._tmp = _temporary_beside(self.path)
                    writer = iio.get_writer(self._tmp, format="FFMPEG", fps=self.fps, codec="libx264",
                                            quality=7, macro_block_size=2)
                writer.append_data(item)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise _NothingShown


class _NothingShown(Exception):
    """No frame reached the recorder."""


def _check_writable(path: Path) -> None:
    """Refuse, before anything is recorded, a file that could not be written at the end: a folder that does not
    exist or cannot be written into (a read-only or full disk, no permission), or a folder of that name."""
    folder = path.parent
    if path.is_dir():
        raise UserError(f"cannot record to {path}: a folder of that name exists; give a .gif (or .mp4) file name")
    if not folder.is_dir():
        raise UserError(f"cannot record to {path}: {folder} " + ("is a file, not a folder" if folder.exists()
                                                                 else "does not exist"))
    exc = cannot_write_in(folder)
    if exc is not None:
        raise UserError(f"cannot record to {path}: the folder cannot be written ({exc.strerror or exc}); "
                        "choose another folder")


def _temporary_beside(path: Path) -> Path:
    """A new, unique file beside ``path`` with its suffix (two recordings to one name never share one)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part" + path.suffix)
    os.close(fd)
    return Path(name)


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


__all__ = ["CAPTION_HEIGHT", "WHOLE_VIEW_MAX_FRAMES", "WHOLE_VIEW_WIDTH", "Recorder", "RecordingView",
           "available_formats", "mp4_available"]

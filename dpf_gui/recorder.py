"""Writing frames to an animated GIF (or MP4) in a background thread, for the app's Record and ``dpf record``.

The caller hands every frame to :meth:`Recorder.add`, which only queues a copy;
a background thread does the slow part.

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
that cannot be written is refused when the recording starts, not after it.
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

from dpf_gui.errors import UserError
from dpf_gui.fileio import cannot_write_in, file_mode

_STOP = object()


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
            os.chmod(self._tmp, file_mode())  # mkstemp made it 0600: a recording is for others to open
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


__all__ = ["Recorder", "available_formats", "mp4_available"]

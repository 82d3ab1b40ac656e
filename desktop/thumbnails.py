"""Thumbnails made in worker threads from the photos themselves and kept only in memory (never written to disk)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from PIL import Image, ImageOps
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from engine.imaging.decode import ImageDecodeError, open_oriented

THUMBNAIL_SIDE = 160
CACHE_SIZE = 3000  # pixmaps kept (about 100 KB each at 160 px)


def thumbnail_image(path: str, side: int = THUMBNAIL_SIDE) -> QImage:
    """The photo fitted into a transparent `side` x `side` square (draft JPEG decoding, EXIF-rotated), as a QImage,
    so a grid of them lines up; a null QImage when the photo cannot be read."""
    try:
        img = open_oriented(path, side)
    except (ImageDecodeError, OSError):
        return QImage()
    return pil_to_qimage(ImageOps.pad(img.convert("RGBA"), (side, side), Image.Resampling.BICUBIC, color=(0, 0, 0, 0)))


def pil_to_qimage(img: Image.Image) -> QImage:
    """A deep copy of a Pillow image as a QImage (safe to use after `img` is gone, in any thread)."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


class _Drain(QRunnable):
    """A loader thread's work: decode the cache's queued thumbnails, oldest request first, until none is left."""

    def __init__(self, cache: ThumbnailCache):
        super().__init__()
        self.take, self.side, self.signals = cache._take, cache.side, cache._signals

    def run(self) -> None:
        while (path := self.take()) is not None:
            self.signals.loaded.emit(path, thumbnail_image(path, self.side))


class _LoadSignals(QObject):
    loaded = Signal(str, QImage)


class ThumbnailCache(QObject):
    """Asks for a thumbnail: returns it when cached, else queues it for loading and emits `ready(path)` later.

    The queue is the cache's own, not the thread pool's: at most `threads` loaders run, each taking the oldest
    request still queued, so the view can drop the requests of rows scrolled out of sight (`keep_queued`) before
    anything decodes them. A fast scroll through a large library then decodes about what is on screen when it stops,
    not every row it went past.
    """

    ready = Signal(str)

    def __init__(self, side: int = THUMBNAIL_SIDE, capacity: int = CACHE_SIZE, threads: int = 2):
        super().__init__()
        self.side = side
        self.capacity = capacity
        self.threads = threads
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()  # queued or being decoded (GUI thread only)
        self._queue: OrderedDict[str, None] = OrderedDict()  # requested, not started: shared with the loaders
        self._lock = threading.Lock()
        self._loaders = 0  # loaders running (under the lock)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._signals = _LoadSignals()
        self._signals.loaded.connect(self._on_loaded)

    def get(self, path: str) -> QPixmap | None:
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._pending:
            self._pending.add(path)
            with self._lock:
                self._queue[path] = None
                start = self._loaders < self.threads
                self._loaders += start
            if start:
                self._pool.start(_Drain(self))
        return None

    def held(self) -> int:
        """Thumbnails in memory (at most `capacity`)."""
        return len(self._pixmaps)

    def queued(self) -> int:
        """Requests no loader has started yet."""
        with self._lock:
            return len(self._queue)

    def keep_queued(self, wanted: set[str]) -> list[str]:
        """Drop the queued requests of photos not in `wanted` (rows no longer on screen; a later paint asks again);
        returns their paths. Loads already under way finish and are cached."""
        with self._lock:
            dropped = [path for path in self._queue if path not in wanted]
            for path in dropped:
                del self._queue[path]
        self._pending.difference_update(dropped)
        return dropped

    def clear(self) -> None:
        """Drop every thumbnail (after forgetting photos or wiping)."""
        with self._lock:
            self._queue.clear()
        self._pixmaps.clear()
        self._pending.clear()

    def retain(self, paths: set[str]) -> None:
        """Drop the thumbnails of photos no longer in the library (forgotten ones leave memory too)."""
        for path in [p for p in self._pixmaps if p not in paths]:
            del self._pixmaps[path]

    def wait(self, timeout_ms: int = 10_000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _take(self) -> str | None:
        """The oldest queued request, or None, and the calling loader stops (called in the loaders' threads)."""
        with self._lock:
            if self._queue:
                return self._queue.popitem(last=False)[0]
            self._loaders -= 1
            return None

    def _on_loaded(self, path: str, image: QImage) -> None:
        if path not in self._pending:
            return  # cleared meanwhile
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(path)

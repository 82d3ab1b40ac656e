"""Thumbnails made in worker threads from the photos themselves and kept only in memory (never written to disk)."""

from __future__ import annotations

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


class _Load(QRunnable):
    def __init__(self, path: str, side: int, signals: _LoadSignals):
        super().__init__()
        self.path, self.side, self.signals = path, side, signals

    def run(self) -> None:
        self.signals.loaded.emit(self.path, thumbnail_image(self.path, self.side))


class _LoadSignals(QObject):
    loaded = Signal(str, QImage)


class ThumbnailCache(QObject):
    """Asks for a thumbnail: returns it when cached, else starts loading it and emits `ready(path)` later."""

    ready = Signal(str)

    def __init__(self, side: int = THUMBNAIL_SIDE, capacity: int = CACHE_SIZE, threads: int = 2):
        super().__init__()
        self.side = side
        self.capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
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
            self._pool.start(_Load(path, self.side, self._signals))
        return None

    def clear(self) -> None:
        """Drop every thumbnail (after forgetting photos or wiping)."""
        self._pool.clear()
        self._pixmaps.clear()
        self._pending.clear()

    def retain(self, paths: set[str]) -> None:
        """Drop the thumbnails of photos no longer in the library (forgotten ones leave memory too)."""
        for path in [p for p in self._pixmaps if p not in paths]:
            del self._pixmaps[path]

    def wait(self, timeout_ms: int = 10_000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _on_loaded(self, path: str, image: QImage) -> None:
        if path not in self._pending:
            return  # cleared meanwhile
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(path)

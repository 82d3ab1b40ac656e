"""A label that shows a picture scaled to fit, keeping its aspect ratio, sharp on high-DPI screens."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy


class ScaledImageLabel(QLabel):
    def __init__(self, placeholder: str = ""):
        super().__init__(placeholder)
        self._pixmap = QPixmap()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(200, 200)

    def set_picture(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._rescale()

    def picture(self) -> QPixmap:
        return self._pixmap

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            return
        ratio = self.devicePixelRatioF()
        scaled = self._pixmap.scaled(self.size() * ratio, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        scaled.setDevicePixelRatio(ratio)
        self.setPixmap(scaled)

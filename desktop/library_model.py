"""The photo grid's model: photo paths with lazily loaded thumbnails, or search hits with their scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QPixmap

from desktop.thumbnails import ThumbnailCache

PathRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class PhotoListModel(QAbstractListModel):
    """Rows of photos; the decoration is the thumbnail, requested from the cache only when a row is painted."""

    def __init__(self, thumbnails: ThumbnailCache):
        super().__init__()
        self.thumbnails = thumbnails
        self._paths: list[str] = []
        self._scores: list[float] | None = None
        self._waiting: dict[str, int] = {}  # rows painted before their thumbnail was ready, by path
        self._placeholder = _placeholder(thumbnails.side)
        thumbnails.ready.connect(self._on_thumbnail)

    def set_photos(self, paths: Sequence[str], scores: Sequence[float] | None = None) -> bool:
        """Show these rows; False, and the view keeps its scroll position and selection, when they are the rows
        already shown (an index run that changed nothing)."""
        paths = list(paths)
        scores = list(scores) if scores is not None else None
        if paths == self._paths and scores == self._scores:
            return False
        self.beginResetModel()
        self._paths, self._scores = paths, scores
        self._waiting.clear()
        self.endResetModel()
        return True

    def paths(self) -> list[str]:
        return list(self._paths)

    def path(self, row: int) -> str:
        return self._paths[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            name = Path(path).name
            return f"{name}\n{self._scores[index.row()]:.2f}" if self._scores is not None else name
        if role == Qt.ItemDataRole.DecorationRole:
            thumbnail = self.thumbnails.get(path)
            if thumbnail is None:
                self._waiting[path] = index.row()
            return thumbnail or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return path
        if role == PathRole:
            return path
        if role == Qt.ItemDataRole.SizeHintRole:
            side = self.thumbnails.side
            return QSize(side + 16, side + 44)
        return None

    def forget_waiting(self, paths: Sequence[str]) -> None:
        """Their thumbnails were not loaded after all (dropped from the queue): a later paint asks again."""
        for path in paths:
            self._waiting.pop(path, None)

    def _on_thumbnail(self, path: str) -> None:
        row = self._waiting.pop(path, None)  # no dict of every row: ~50 ms and ~10 MB at 100k photos
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _placeholder(side: int) -> QPixmap:
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(235, 235, 238))
    return pixmap

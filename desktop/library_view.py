"""The library: a lazily loaded thumbnail grid, live indexing status and semantic search over the photos."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.indexing import IndexRunner, IndexStatus
from desktop.library_model import PhotoListModel
from desktop.session import Session
from desktop.tasks import run_task
from desktop.thumbnails import ThumbnailCache
from engine.profile.indexer import IndexReport

SEARCH_HITS = 60


class IndexPanel(QWidget):
    """Progress bar, speed, what failed and why, pause/resume."""

    def __init__(self, runner: IndexRunner):
        super().__init__()
        self.runner = runner
        self.bar = QProgressBar()
        self.bar.setFormat("%v / %m photos")
        self.label = QLabel("Not indexing.")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setEnabled(False)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.index_button = QPushButton("Index now")
        self.index_button.setToolTip("Bring the library up to date (F5)")
        self.index_button.clicked.connect(lambda: self.runner.start())
        self.failures = QListWidget()
        self.failures.setMaximumHeight(90)
        self.failures.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.pause_button)
        row.addWidget(self.index_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.label)
        layout.addWidget(self.failures)
        runner.started.connect(self._on_started)
        runner.progressed.connect(self._on_progress)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.paused_changed.connect(self._on_paused)
        runner.holding.connect(lambda: self.label.setText(self.label.text().split(" (paus")[0] + " (paused)"))

    def _toggle_pause(self) -> None:
        (self.runner.resume if self.runner.paused else self.runner.pause)()

    def _on_started(self) -> None:
        self.bar.setFormat("%v / %m photos")
        self.bar.setRange(0, 0)  # busy until the first batch reports the total
        self.label.setText("Scanning folders…")
        self.pause_button.setEnabled(True)
        self.index_button.setEnabled(False)

    def _on_progress(self, status: IndexStatus) -> None:
        self.bar.setRange(0, max(status.total, 1))
        self.bar.setValue(status.done)
        self.label.setText(f"Indexing: {status.done} of {status.total} photos, {status.per_second:.1f} photos/s")

    def _on_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.label.setText(self.label.text().split(" (paus")[0] + " (pausing after the current batch)")

    def _on_finished(self, report: IndexReport) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.bar.setFormat("Up to date")
        self.pause_button.setEnabled(False)
        self.pause_button.setText("Pause")
        self.index_button.setEnabled(True)
        parts = [f"{report.added} added", f"{report.updated} updated", f"{report.moved} moved",
                 f"{report.removed} removed", f"{report.unchanged} unchanged"]
        speed = f", {report.images_per_second:.1f} photos/s" if report.decoded else ""
        known = self.runner.session.lens.failures() if self.runner.session.is_unlocked else []
        failed = f"; {len(known)} file(s) could not be read (below)" if known else ""
        self.label.setText(f"Up to date: {', '.join(parts)}{speed}{failed}.")
        self.failures.clear()  # every file that could not be read, not just this run's: each is reported once
        for failure in known:
            self.failures.addItem(f"{failure.path}: {failure.reason}")
        self.failures.setVisible(bool(known))

    def _on_failed(self, message: str) -> None:
        self._on_finished(IndexReport())
        self.label.setText(f"Indexing stopped: {message}")


class LibraryView(QWidget):
    """Search box on top, indexing status, and the photo grid (all photos, or the search hits)."""

    search_done = Signal(int)

    def __init__(self, session: Session, runner: IndexRunner, thumbnails: ThumbnailCache):
        super().__init__()
        self.session = session
        self.thumbnails = thumbnails
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search your photos, e.g. “sunset at the beach” (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.returnPressed.connect(self.search)
        self.search_box.textChanged.connect(lambda text: text or self.show_all())
        self.summary = QLabel()
        self.model = PhotoListModel(thumbnails)
        self.grid = QListView()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(200)
        self.grid.setIconSize(QSize(thumbnails.side, thumbnails.side))
        self.grid.setGridSize(QSize(thumbnails.side + 24, thumbnails.side + 52))
        self.grid.setWordWrap(True)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.grid.setModel(self.model)
        forget = QAction("Forget selected photos", self.grid)
        forget.setShortcut(QKeySequence.StandardKey.Delete)
        forget.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        forget.triggered.connect(self.forget_selected)
        self.grid.addAction(forget)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.index_panel = IndexPanel(runner)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search_box)
        layout.addWidget(self.index_panel)
        layout.addWidget(self.summary)
        layout.addWidget(self.grid, 1)
        session.unlocked.connect(self.show_all)
        session.library_changed.connect(self._on_library_changed)
        session.wiped.connect(lambda: self.model.set_photos([]))
        runner.progressed.connect(self._on_progress)
        self._shown_during_run = 0

    def selected_paths(self) -> list[str]:
        return [self.model.paths()[index.row()] for index in self.grid.selectionModel().selectedIndexes()]

    def forget_selected(self) -> int:
        """Remove the selected photos from the profile now (the files themselves stay where they are)."""
        paths = self.selected_paths()
        removed = sum(self.session.lens.forget(path) for path in paths)
        if paths:
            self.session.library_changed.emit()
        return removed

    def show_all(self, paths: list[str] | None = None) -> None:
        """Show every photo of the library (`paths` when the caller has just read them from the store)."""
        if self.session.is_unlocked:
            paths = self.session.lens.photo_paths() if paths is None else paths
            self.model.set_photos(paths)
            self.summary.setText(f"{len(paths)} photos in your library")

    def search(self) -> None:
        text = self.search_box.text().strip()
        if not text or not self.session.is_unlocked:
            return
        self.summary.setText(f"Searching for “{text}”…")
        lens = self.session.lens
        run_task(lambda _: lens.search(text, k=SEARCH_HITS), done=self._on_hits, failed=self._on_search_failed)

    def _on_hits(self, hits) -> None:
        self.model.set_photos([h.path for h in hits], [h.score for h in hits])
        self.summary.setText(f"{len(hits)} best matches for “{self.search_box.text().strip()}”")
        self.search_done.emit(len(hits))

    def _on_search_failed(self, exc: BaseException) -> None:
        self.summary.setText(f"Search failed: {exc}")
        self.search_done.emit(-1)

    def _on_library_changed(self) -> None:
        if not self.session.is_unlocked:
            return
        paths = self.session.lens.photo_paths()  # read once: it is the whole library
        self.thumbnails.retain(set(paths))
        if not self.search_box.text().strip():
            self.show_all(paths)

    def _on_progress(self, status: IndexStatus) -> None:
        """Show new photos while indexing, at most every 64 photos (a full refresh is cheap, not free)."""
        if status.done - self._shown_during_run >= 64 or status.done == status.total:
            self._shown_during_run = status.done if status.done < status.total else 0
            if not self.search_box.text().strip():
                self.show_all()

"""The library: a lazily loaded thumbnail grid, live indexing status and semantic search over the photos."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
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
    """Search box on top, indexing status, and the photo grid (all photos, or the search hits).

    The library's list of paths is read in a worker at unlock and while indexing (at 100,000 photos the read takes
    about 0.3 s, more while a catch-up scan runs), and kept: clearing the search shows it again without a read. A
    change the user made (forgetting photos) is read at once, so a forgotten photo never stays on screen. Only rows
    on screen ask for thumbnails, and the requests of rows scrolled away are dropped before they are decoded.
    """

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
        self._library: list[str] | None = None  # every photo's path, as last read
        self._reads = 0  # numbers the reads of the list: a read overtaken by a newer one is dropped
        self._reading = False  # a background read is under way
        self._read_again = False  # ... and another was asked for meanwhile
        self._run_ended = False  # the next library_changed is an index run's: read in the background
        self._drop_hidden = QTimer(self)
        self._drop_hidden.setSingleShot(True)
        self._drop_hidden.setInterval(0)
        self._drop_hidden.timeout.connect(self.drop_hidden_loads)
        self.grid.verticalScrollBar().valueChanged.connect(lambda _: self._drop_hidden.start())
        self.model.modelReset.connect(lambda: self._drop_hidden.start())
        session.unlocked.connect(self._on_unlocked)
        session.library_changed.connect(self._on_library_changed)
        session.closed.connect(self._on_closed)
        runner.progressed.connect(self._on_progress)
        runner.finished.connect(self._on_run_ended)
        runner.failed.connect(self._on_run_ended)
        self._shown_during_run = 0

    def selected_paths(self) -> list[str]:
        return [self.model.path(index.row()) for index in self.grid.selectionModel().selectedIndexes()]

    def visible_rows(self) -> range:
        """The rows on screen (partly or wholly), without looking at any other row."""
        viewport = self.grid.viewport().rect()
        cell = self.grid.gridSize()
        hits = [self.grid.indexAt(QPoint(x, y)).row() for y in (0, cell.height() // 2, cell.height())
                for x in (0, cell.width() // 2)]
        hits = [row for row in hits if row >= 0]
        if not hits:
            return range(0)
        first = min(hits)
        while first > 0 and self.grid.visualRect(self.model.index(first - 1)).intersects(viewport):
            first -= 1
        last = first
        while last + 1 < self.model.rowCount():
            rect = self.grid.visualRect(self.model.index(last + 1))
            if rect.top() > viewport.bottom():
                break
            last += 1
        return range(first, last + 1)

    def drop_hidden_loads(self) -> int:
        """Drop the queued thumbnail loads of rows no longer on screen (after a scroll or a new list)."""
        dropped = self.thumbnails.keep_queued({self.model.path(row) for row in self.visible_rows()})
        self.model.forget_waiting(dropped)
        return len(dropped)

    def forget_selected(self) -> int:
        """Remove the selected photos from the profile now (the files themselves stay where they are)."""
        paths = self.selected_paths()
        removed = sum(self.session.lens.forget(path) for path in paths)
        if paths:
            self.session.library_changed.emit()
        return removed

    def show_all(self, paths: list[str] | None = None) -> None:
        """Show every photo of the library (`paths` when the caller has just read them from the store, else the
        list as last read)."""
        if not self.session.is_unlocked:
            return
        if paths is not None:
            self._library = paths
            self._reads += 1  # a read started before this list is older than it
        elif self._library is None:  # not read yet: shown when the read is done
            self.read_library()
            return
        self.model.set_photos(self._library)
        self.summary.setText(f"{len(self._library)} photos in your library")

    def read_library(self) -> None:
        """Read the list of photos in a worker, then show it (unless a search is shown); one read at a time."""
        if not self.session.is_unlocked:  # locked, or wiped, since this read was asked for
            return
        if self._reading:
            self._read_again = True
            return
        self._reading, self._read_again = True, False
        self._reads += 1
        lens, read = self.session.lens, self._reads
        run_task(lambda _: (read, lens.photo_paths()), done=self._on_read, failed=self._on_read_failed)

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

    def _on_unlocked(self) -> None:
        self._library = None
        self.summary.setText("Opening your library…")
        self.read_library()

    def _on_read(self, result: tuple[int, list[str]]) -> None:
        read, paths = result
        self._reading = False
        if self._read_again and self.session.is_unlocked:
            self.read_library()
        if read != self._reads or not self.session.is_unlocked:
            return  # overtaken by a newer read, or locked meanwhile
        self._library = paths
        self.thumbnails.retain(set(paths))
        if not self.search_box.text().strip():
            self.show_all()

    def _on_read_failed(self, exc: BaseException) -> None:
        self._reading = False
        self.summary.setText(f"Could not read the library: {exc}")

    def _on_run_ended(self, *_) -> None:
        """The runner announces the end of a run just before its library_changed (a start that failed tells nothing
        more: the flag lasts until the event loop turns)."""
        self._run_ended = True
        QTimer.singleShot(0, self._forget_run_ended)

    def _forget_run_ended(self) -> None:
        self._run_ended = False

    def _on_library_changed(self) -> None:
        if not self.session.is_unlocked:
            return
        if self._run_ended:  # an index run added or updated photos (or nothing): no need to hold the UI for it
            self._run_ended = False
            # once the other views have read what they show: the store serves one reader at a time, and one that
            # waited on this read (~0.3 s at 100,000 photos) would hold the UI as long as reading here would
            QTimer.singleShot(0, self.read_library)
            return
        paths = self.session.lens.photo_paths()  # read once: it is the whole library
        self.thumbnails.retain(set(paths))
        if not self.search_box.text().strip():
            self.show_all(paths)
        else:
            self._library, self._reads = paths, self._reads + 1

    def _on_closed(self) -> None:
        self._library = None
        self._reads += 1
        self.model.set_photos([])

    def _on_progress(self, status: IndexStatus) -> None:
        """Show new photos while indexing, at most every 64 photos (the list is read in a worker)."""
        if status.done - self._shown_during_run >= 64 or status.done == status.total:
            self._shown_during_run = status.done if status.done < status.total else 0
            self.read_library()

"""Keeps the library up to date by itself: a watchdog watcher on the library folders feeds the index runner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.indexing import IndexRunner
from desktop.session import Session
from engine.library.watcher import LibraryWatcher


class LiveWatch(QObject):
    """Watches whatever folders the library holds; each settled burst of changes becomes an incremental index run."""

    changed = Signal(object)  # set[Path], emitted on the watcher's thread, handled on the GUI thread

    def __init__(self, session: Session, runner: IndexRunner, quiet_seconds: float = 2.0):
        super().__init__()
        self.session = session
        self.runner = runner
        self.quiet_seconds = quiet_seconds
        self._watcher: LibraryWatcher | None = None
        self.changed.connect(self._index)
        session.unlocked.connect(self.follow)
        session.library_changed.connect(self.follow)
        session.closed.connect(self.stop)

    @property
    def folders(self) -> tuple[Path, ...]:
        return self._watcher.folders if self._watcher else ()

    def follow(self) -> None:
        """Watch exactly the library's folders (restarting the watcher only when they changed)."""
        if not self.session.is_unlocked:
            return
        wanted = tuple(dict.fromkeys(Path(f).resolve() for f in self.session.lens.folders()))
        if wanted == self.folders:
            return
        self.stop()
        if wanted:
            self._watcher = LibraryWatcher(wanted, self.changed.emit, quiet_seconds=self.quiet_seconds)
            self._watcher.start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def _index(self, folders: set[Path]) -> None:
        if self.session.is_unlocked:
            self.runner.refresh(sorted(str(f) for f in folders))

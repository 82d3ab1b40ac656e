"""Indexing off the UI thread, with progress, speed, failures, pause/resume and cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.session import Session
from desktop.tasks import Report, run_task
from engine.profile.indexer import IndexProgress, IndexReport


@dataclass(frozen=True)
class IndexStatus:
    """What the status panel shows while a run goes on."""

    done: int
    total: int
    per_second: float
    current: str


class IndexRunner(QObject):
    """Runs `VisualLens.refresh` in a worker; a paused run holds between batches (each batch is already committed).

    Folders the user chooses join the library first (`VisualLens.include`, which may bring back one they forgot);
    a run only ever indexes folders still in the library when it starts. Asking for a run while one is going queues
    it: the folders are indexed right after the current run.
    """

    started = Signal()
    progressed = Signal(object)  # IndexStatus
    finished = Signal(object)  # IndexReport
    failed = Signal(str)
    paused_changed = Signal(bool)
    holding = Signal()  # a paused run has reached the end of its batch and waits
    lifted = Signal(list)  # forgotten paths the user chose again, indexed from now on

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self._running = False
        self._resume = threading.Event()
        self._resume.set()
        self._cancel = threading.Event()
        self._queued: list[str | Path] | None = None
        self._queued_all = False
        self._runs = 0  # numbers the runs: what a run abandoned by `stop` reports later is ignored

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def start(self, folders: Sequence[str | Path] | None = None) -> None:
        """Index `folders` the user chose (they join the library), or by default every library folder; now or right
        after the run in progress."""
        if folders is not None:
            try:
                lifted = self.session.lens.include(folders)
            except Exception as exc:  # noqa: BLE001 - shown like a failed run
                self.failed.emit(str(exc))
                return
            if lifted:
                self.lifted.emit(lifted)
            self.session.library_changed.emit()
        self.refresh(folders)

    def refresh(self, folders: Sequence[str | Path] | None = None) -> None:
        """Bring library folders (default: all) up to date, now or right after the run in progress; a folder that
        left the library meanwhile (forgotten) is left alone."""
        if self._running:
            self._queue(folders)
            return
        lens = self.session.lens
        targets = list(folders) if folders is not None else None
        self._running = True
        self._cancel.clear()
        self.started.emit()
        started = time.perf_counter()

        def work(report: Report) -> IndexReport:
            def on_progress(p: IndexProgress) -> None:
                elapsed = max(time.perf_counter() - started, 1e-6)
                report(IndexStatus(p.done, p.total, p.done / elapsed, p.path))

            return lens.refresh(targets, progress=on_progress, should_stop=self._hold)

        self._runs += 1
        run_task(work, done=partial(self._on_done, self._runs), failed=partial(self._on_failed, self._runs),
                 progress=partial(self._on_progress, self._runs))

    def pause(self) -> None:
        self._resume.clear()
        self.paused_changed.emit(True)

    def resume(self) -> None:
        self._resume.set()
        self.paused_changed.emit(False)

    def cancel(self) -> None:
        """Stop after the current batch and drop queued runs."""
        self._queued, self._queued_all = None, False
        self._cancel.set()
        self._resume.set()

    def stop(self) -> None:
        """Cancel the run in progress and forget it (its profile is closing): it reports nothing from now on."""
        self.cancel()
        self._runs += 1
        self._running = False

    def _queue(self, folders: Sequence[str | Path] | None) -> None:
        if folders is None:
            self._queued_all = True
        else:
            self._queued = [*(self._queued or []), *folders]

    def _start_queued(self) -> None:
        queued, everything = self._queued, self._queued_all
        self._queued, self._queued_all = None, False
        if everything or queued:
            self.refresh(None if everything else queued)

    def _hold(self) -> bool:
        """Called by the indexer between batches: wait while paused; True stops the run."""
        if not self._resume.is_set():
            self.holding.emit()
        while not self._resume.wait(0.1):
            if self._cancel.is_set():
                break
        return self._cancel.is_set()

    def _on_progress(self, run: int, status: IndexStatus) -> None:
        if run == self._runs:
            self.progressed.emit(status)

    def _on_done(self, run: int, report: IndexReport) -> None:
        if run != self._runs:
            return
        self._running = False
        self.finished.emit(report)
        self.session.library_changed.emit()
        self._start_queued()

    def _on_failed(self, run: int, exc: BaseException) -> None:
        if run != self._runs:
            return
        self._running = False
        self.failed.emit(str(exc))
        self.session.library_changed.emit()
        self._start_queued()

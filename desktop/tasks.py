"""Background work for the UI: a function runs in the global QThreadPool and reports back through Qt signals.

Signals are emitted from the worker thread and delivered, queued, on the receivers' (GUI) thread, so views
never block and never touch widgets from a worker.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

Report = Callable[[object], None]


class TaskSignals(QObject):
    progress = Signal(object)
    done = Signal(object)
    failed = Signal(object)  # the exception
    finished = Signal()  # after done or failed


class Task(QRunnable):
    """Runs `work(report)`; `report(x)` emits `progress(x)`; the result is emitted as `done`, an error as `failed`."""

    def __init__(self, work: Callable[[Report], Any]):
        super().__init__()
        self.work = work
        self.signals = TaskSignals()

    def run(self) -> None:
        try:
            result = self.work(self.signals.progress.emit)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the UI, none is swallowed
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)
        finally:
            self.signals.finished.emit()


_running: set[Task] = set()  # keeps Python wrappers (and their signals) alive until the task ends


def run_task(
    work: Callable[[Report], Any],
    done: Callable[[Any], None] | None = None,
    failed: Callable[[BaseException], None] | None = None,
    progress: Callable[[Any], None] | None = None,
    pool: QThreadPool | None = None,
) -> Task:
    """Start `work` in a worker thread; connect the callbacks (preferably bound methods of widgets)."""
    task = Task(work)
    task.setAutoDelete(False)
    for signal, slot in ((task.signals.done, done), (task.signals.failed, failed), (task.signals.progress, progress)):
        if slot is not None:
            signal.connect(slot)
    _running.add(task)
    task.signals.finished.connect(lambda: _running.discard(task))
    (pool or QThreadPool.globalInstance()).start(task)
    return task


class ProfileEpoch:
    """Counts the profiles a view has shown (`advance` when one closes): the callbacks of a task started for an
    earlier profile do nothing, so a closed profile's late result is never shown and its failure never reported."""

    def __init__(self) -> None:
        self._epoch = 0

    def advance(self) -> None:
        self._epoch += 1

    def guard(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """`callback`, for a task started now: it runs only while the same profile is shown."""
        started = self._epoch
        return lambda value: callback(value) if started == self._epoch else None


def wait_for_tasks(timeout_ms: int = 30_000) -> bool:
    """Block until every started task has finished (at quit, so no worker outlives the store)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)

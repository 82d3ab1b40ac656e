"""Headless live indexing: reconcile the store with the disk, then index each debounced batch of changes until
SIGINT/SIGTERM (or a stop event)."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.library.scan import FolderNotFoundError
from engine.library.watcher import AvailabilityCallback, LibraryWatcher

if TYPE_CHECKING:
    from engine.api import VisualLens
    from engine.profile.indexer import IndexReport

ReportCallback = Callable[[Sequence[Path], "IndexReport"], None]
IndexRun = Callable[..., "IndexReport"]  # VisualLens.index or VisualLens.refresh


def summary_line(report: IndexReport) -> str:
    """One line about an index run: counts only, nothing about the photos themselves."""
    return (
        f"{report.added} added, {report.updated} updated, {report.moved} moved, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.failed)} skipped ({report.decoded} decoded)"
    )


def print_report(folders: Sequence[Path], report: IndexReport) -> None:
    print(f"{len(folders)} folder(s): {summary_line(report)}", flush=True)


def watch(
    lens: VisualLens,
    folders: Iterable[str | Path],
    *,
    named: bool = True,
    on_report: ReportCallback = print_report,
    on_ready: Callable[[set[Path]], None] | None = None,
    on_availability: AvailabilityCallback | None = None,
    stop: threading.Event | None = None,
    quiet_seconds: float = 2.0,
    max_delay_seconds: float = 60.0,
    poll_seconds: float = 1.0,
) -> None:
    """Keep `lens`'s profile of `folders` up to date until `stop` is set (or, on the main thread, SIGINT/SIGTERM).

    Watching starts first, so nothing that happens during the initial reconcile is missed; the reconcile is an
    ordinary incremental index of the folders present (unchanged photos are not decoded, renamed ones keep their
    profile): `named` folders are the user's choice and join the library (`VisualLens.index`), otherwise they are
    library folders brought up to date. `on_ready(watched_folders)` follows it. Then every batch of changes (several
    queued meanwhile are merged) is one incremental run over those of its folders still in the library, so what
    the user forgot meanwhile stays out (`VisualLens.refresh`), reported through `on_report(folders, report)`. A
    stop request lets the index run in flight finish the commit batch it is on; the rest waits for the next start.
    """
    stop = stop or threading.Event()
    batches: queue.Queue[set[Path]] = queue.Queue()
    watcher = LibraryWatcher(
        folders, batches.put, quiet_seconds=quiet_seconds, max_delay_seconds=max_delay_seconds,
        poll_seconds=poll_seconds, on_availability=on_availability,
    )
    with _stopped_by_signals(stop), watcher:
        present = watcher.available
        if present:
            _index(lens.index if named else lens.refresh, present, stop, on_report)
        if on_ready:
            on_ready(present)
        while not stop.is_set():
            try:
                changed = batches.get(timeout=0.2)
            except queue.Empty:
                continue
            while not batches.empty():
                changed |= batches.get_nowait()
            _index(lens.refresh, changed, stop, on_report)


def _index(run: IndexRun, folders: set[Path], stop: threading.Event, on_report: ReportCallback) -> None:
    present = sorted(f for f in folders if f.is_dir())
    if not present:
        return
    try:
        report = run(present, should_stop=stop.is_set)
    except (FileNotFoundError, FolderNotFoundError):  # removed since the batch was due: back when it reappears
        return
    on_report(present, report)


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """On the main thread, the first SIGINT/SIGTERM sets `stop` (work in flight ends at a commit); a second one
    acts as usual (KeyboardInterrupt, termination). The previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in wanted}

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in wanted:
        signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

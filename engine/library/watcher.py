"""Watch library folders live (watchdog) and hand debounced batches of changed folders to an indexing callback.

The watcher decides *when* to index, never *what*: each batch names the watched folders that changed, and the
caller runs an ordinary incremental index of them (new, modified, renamed and deleted photos are all found by the
Indexer's scan, renames by content hash without decoding). So the desktop can index in its worker thread and the
headless runner in its main thread.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from engine.imaging.decode import SUPPORTED_SUFFIXES
from engine.library.debounce import Debouncer
from engine.library.scan import SKIPPED_DIR_NAMES

log = logging.getLogger(__name__)

BatchCallback = Callable[[set[Path]], None]
AvailabilityCallback = Callable[[Path, bool], None]

# Directory "modified" events only echo changes to their children (which arrive as events of their own, or are
# ignored on purpose, like a .part file growing); open/close-without-write changes nothing.
_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})
_IGNORED_DIR_EVENTS = frozenset({"modified", "attrib"})


def is_photo_change(root: str, path: str, is_directory: bool) -> bool:
    """Whether a change at `path` under `root` can matter to the index, by the scan's own rules.

    Hidden names (dotfiles, `.~lock.*#`, rsync partials) and anything under a hidden or skipped folder are left
    out; a file must have a photo suffix, so downloads and editor temp files (`*.part`, `*.crdownload`, `*.tmp`,
    `~$*` owner files, `name~` backups) only count once they are renamed to their final photo name.
    """
    prefix = root.rstrip(os.sep) + os.sep
    if not path.startswith(prefix) or path == prefix:
        return False
    parts = path[len(prefix) :].split(os.sep)
    if any(part.startswith(".") or part in SKIPPED_DIR_NAMES for part in parts):
        return False
    return is_directory or os.path.splitext(parts[-1])[1].lower() in SUPPORTED_SUFFIXES


@dataclass
class _Armed:
    watch: ObservedWatch
    identity: tuple[int, int]


class _Handler(FileSystemEventHandler):
    def __init__(self, on_event: Callable[[FileSystemEvent], None]):
        self._on_event = on_event

    def dispatch(self, event: FileSystemEvent) -> None:
        self._on_event(event)


class LibraryWatcher:
    """Watches `folders` recursively and calls `on_batch(changed_folders)` after bursts of photo changes settle.

    - Bursts are debounced per folder: a batch is due `quiet_seconds` after the last event once every changed file
      kept its size and mtime for that long (a file still being copied waits), or `max_delay_seconds` after the
      first event of a long stream (a 2,000-photo import becomes a few batches, not 2,000 or one at the very end).
    - A folder that disappears (unmounted, deleted, renamed away) is left alone, not reported as changed; its
      existence is polled every `poll_seconds` and, when it is back (or replaced by another folder), it is watched
      again and reported as changed, so what happened meanwhile gets indexed. `on_availability(folder, available)`
      is told about each such transition (and, from `start()`, about folders missing from the outset).
    - `on_batch` runs on the watcher's own thread, one batch at a time; it should only queue the work (or do it:
      events keep being collected meanwhile). Folders in a batch exist at the time it is handed out.
    """

    def __init__(
        self,
        folders: Iterable[str | Path],
        on_batch: BatchCallback,
        *,
        quiet_seconds: float = 2.0,
        max_delay_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        on_availability: AvailabilityCallback | None = None,
    ):
        self.folders = tuple(dict.fromkeys(Path(f).expanduser().resolve() for f in folders))
        if not self.folders:
            raise ValueError("no folders to watch")
        self._on_batch = on_batch
        self._on_availability = on_availability or (lambda folder, available: None)
        self._poll_seconds = poll_seconds
        self._tick = max(0.02, min(poll_seconds, quiet_seconds / 4))
        self._debouncer: Debouncer[Path] = Debouncer(quiet_seconds, max_delay_seconds)
        self._observer: BaseObserver | None = None
        self._handler = _Handler(self._on_event)
        self._armed: dict[Path, _Armed] = {}
        self._missing: set[Path] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching: every available folder is observed when this returns."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the watcher was already started")
            self._observer = Observer()
            self._observer.start()
            changes = self._check_folders()
            self._thread = threading.Thread(target=self._run, name="visuallens-watcher", daemon=True)
            self._thread.start()
        self._announce(changes)

    def stop(self) -> None:
        """Stop watching; a batch being handed out finishes first. Events not yet batched are dropped (the next
        start reconciles the store with the disk anyway)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            if self._observer is not None and self._observer.is_alive():
                self._observer.stop()
                self._observer.join()

    def __enter__(self) -> LibraryWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def available(self) -> set[Path]:
        """The folders being watched right now (the others are missing and polled for)."""
        with self._lock:
            return set(self._armed)

    # -- threads --------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_poll = time.monotonic() + self._poll_seconds
        while not self._stop.wait(self._tick):
            if time.monotonic() >= next_poll:
                with self._lock:
                    if self._stop.is_set():
                        return
                    changes = self._check_folders()
                self._announce(changes)
                next_poll = time.monotonic() + self._poll_seconds
            due = self._debouncer.pop_due() & self.available
            if due:
                try:
                    self._on_batch(due)
                except Exception:  # a failed batch must not end the watching
                    log.exception("handling a batch of library changes failed")

    def _on_event(self, event: FileSystemEvent) -> None:
        """Observer thread: note photo changes under each watched folder they touch."""
        if event.event_type in _IGNORED_EVENTS or (event.is_directory and event.event_type in _IGNORED_DIR_EVENTS):
            return
        for raw in (event.src_path, event.dest_path):
            path = os.fsdecode(raw)
            if not path:
                continue
            for folder in self.folders:
                if is_photo_change(str(folder), path, event.is_directory):
                    self._debouncer.add(folder, None if event.is_directory else path)

    def _check_folders(self) -> list[tuple[Path, bool]]:
        """(Re)arm the observer for folders that exist, disarm it for folders gone; caller holds `_lock`.

        Returns the availability transitions, to announce once the lock is released."""
        assert self._observer is not None
        changes = []
        for folder in self.folders:
            identity = _identity(folder)
            armed = self._armed.get(folder)
            if armed is not None and armed.identity == identity:
                continue
            if armed is not None:  # gone, or another folder now has its name: the old watch sees nothing
                self._observer.unschedule(armed.watch)
                del self._armed[folder]
            if identity is not None:
                try:
                    watch = self._observer.schedule(self._handler, str(folder), recursive=True)
                except OSError:  # vanished again, or cannot be read: polled like a missing folder
                    identity = None
                else:
                    self._armed[folder] = _Armed(watch, identity)
            if identity is None:
                self._debouncer.discard(folder)
                if folder not in self._missing:
                    self._missing.add(folder)
                    changes.append((folder, False))
            elif armed is not None or folder in self._missing:
                self._missing.discard(folder)
                self._debouncer.add(folder)  # reconcile whatever changed while it was away
                changes.append((folder, True))
        return changes

    def _announce(self, changes: list[tuple[Path, bool]]) -> None:
        for folder, available in changes:
            try:
                self._on_availability(folder, available)
            except Exception:
                log.exception("reporting a folder's availability failed")


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None if it is not there (or is not a folder)."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None

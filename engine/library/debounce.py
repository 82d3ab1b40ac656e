"""Group bursts of file events into batches: due after a quiet period in which nothing changed, never later than a
maximum delay after the first event."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
FileState = tuple[int, int] | None  # (size, mtime_ns), None when the file is gone


def file_state(path: str) -> FileState:
    """(size, mtime_ns) of `path`, or None if it cannot be stat'ed (gone, unreadable)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


@dataclass
class _Pending:
    first: float
    last: float
    files: dict[str, FileState] = field(default_factory=dict)

    def settled(self, now: float) -> bool:
        """True if no tracked file changed size or mtime since it was last seen; else note the change as activity."""
        changed = False
        for path, before in self.files.items():
            state = file_state(path)
            if state != before:
                self.files[path] = state
                changed = True
        if changed:
            self.last = now
        return not changed


class Debouncer(Generic[Key]):
    """Thread-safe: `add` from any thread (e.g. the observer's), `pop_due` from a polling loop.

    A key is due once `quiet_seconds` passed without an event under it and without a size/mtime change of any file
    recorded for it (a file still being written is not complete yet, even if the writer emits no events); or once
    `max_delay_seconds` passed since its first pending event, so a long stream of events still yields batches.
    """

    def __init__(self, quiet_seconds: float, max_delay_seconds: float, clock: Callable[[], float] = time.monotonic):
        if not 0 < quiet_seconds <= max_delay_seconds:
            raise ValueError(f"need 0 < quiet_seconds ({quiet_seconds}) <= max_delay_seconds ({max_delay_seconds})")
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[Key, _Pending] = {}

    def add(self, key: Key, path: str | None = None) -> None:
        """Note activity under `key`; a file `path` is then checked for stability until the key is due."""
        state = file_state(path) if path is not None else None
        now = self._clock()
        with self._lock:
            pending = self._pending.setdefault(key, _Pending(first=now, last=now))
            pending.last = now
            if path is not None:
                pending.files[path] = state

    def discard(self, key: Key) -> None:
        """Forget what is pending under `key`."""
        with self._lock:
            self._pending.pop(key, None)

    def pop_due(self) -> set[Key]:
        """The keys whose batch is due now; they are forgotten as they are returned."""
        now = self._clock()
        due: set[Key] = set()
        with self._lock:
            for key, pending in list(self._pending.items()):
                overdue = now - pending.first >= self.max_delay_seconds
                if overdue or (now - pending.last >= self.quiet_seconds and pending.settled(now)):
                    due.add(key)
                    del self._pending[key]
        return due


"""The one base of the bundle's ONNX models, in the spirit of Immich's `InferenceModel`.

A model opens its sessions under a lock when it is made (a broken bundle fails there, not mid-index); every call
runs through `_loaded()`, which opens them again if an idle app let them go (`unload_if_idle`); `close` releases
the sessions and the lane threads. A call in flight keeps its own reference to the session, so an unload never
pulls a session from under a running call, and a model with calls in flight is never unloaded.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

Loaded = TypeVar("Loaded")


class InferenceModel(ABC, Generic[Loaded]):
    """A model whose open state (`Loaded`: its sessions and what was read from them) comes and goes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._state: Loaded | None = None
        self._pools: list[ThreadPoolExecutor] = []
        self._in_flight = 0
        self._last_used = clock()

    @abstractmethod
    def _load(self) -> Loaded:
        """Open the sessions (and check them against the manifest); raise BundleError when they cannot be used."""

    def load(self) -> None:
        """Open the sessions now if they are not open (subclasses do it when made, so a broken bundle fails early)."""
        with self._running():
            pass

    @property
    def loaded(self) -> bool:
        return self._state is not None

    @contextmanager
    def _running(self) -> Iterator[Loaded]:
        """The open state for one call, opened if it was unloaded; the model counts as in use until the call ends."""
        with self._lock:
            if self._state is None:
                self._state = self._load()
            state = self._state
            self._in_flight += 1
        try:
            yield state
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_used = self._clock()

    def _pool(self, lanes: int, name: str) -> ThreadPoolExecutor:
        """A thread pool of `lanes` workers for the state `_load` makes (call it there, under the lock), shut down
        when the model closes or unloads."""
        pool = ThreadPoolExecutor(lanes, thread_name_prefix=name)
        self._pools.append(pool)
        return pool

    def unload_if_idle(self, idle_seconds: float) -> bool:
        """Release the sessions and threads if no call ran for `idle_seconds` and none is running; True if it did."""
        with self._lock:
            idle = self._in_flight == 0 and self._clock() - self._last_used >= idle_seconds
            if self._state is None or not idle:
                return False
            self._release()
            return True

    def close(self) -> None:
        """Release the sessions and threads now (lane work already running finishes); a later call opens them again."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        self._state = None
        pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=False)

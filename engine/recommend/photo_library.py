"""The photos questions are asked of, held in memory for one state of the store, with what every question would
otherwise recompute from all of them."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import numpy as np

from engine.profile.quantized_vectors import QuantizedVectors

Value = TypeVar("Value")
MEMO_ITEMS = 20_000  # catalog items whose nearest photos a library remembers (~640 bytes each: 13 MB at most)
MEMO_QUERIES = 1_000  # questions whose top photos a library remembers (~1 KB each)
# Rows each scan rescores per query, as a multiple of the rows it keeps (at least SHORTLIST_MIN more): the integer
# scores' rounding moves a photo's similarity by about 5e-4, so a photo just outside the kept rows by integer score
# can be inside them by its true similarity. The recall is measured by `python -m benchmarks.perf.ann`.
SHORTLIST = 2
SHORTLIST_MIN = 32


class PhotoLibrary:
    """Photo ids (int64 [n]), paths and their unit vectors' 8-bit codes in id order, as loaded from the store.

    A library is never changed: the store's next state is a new library. So what is derived from all its photos is
    derived once and kept with it: their mean (the start of every question's direction), each question's top
    photos and each catalog item's nearest photos (the two O(photos) scans of a question), which a question asked
    again, or a ranking redone after a judgement, reads back instead of scanning the library again.
    """

    def __init__(self, ids: np.ndarray, paths: list[str], vectors: QuantizedVectors):
        self.ids = ids
        self.paths = paths
        self.vectors = vectors
        self.neighbours: KeyedMemo[tuple[np.ndarray, np.ndarray]] = KeyedMemo(MEMO_ITEMS)
        self._tops: KeyedMemo[tuple[np.ndarray, np.ndarray]] = KeyedMemo(MEMO_QUERIES)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def mean(self) -> np.ndarray:
        """The mean of the photos' vectors (taken when they were quantized; a zero for an empty library)."""
        return self.vectors.mean if len(self) else np.zeros((), np.float32)

    def nearest(self, queries: np.ndarray, m: int, excluded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """([q, m] similarities, [q, m] rows) of each query's `m` most similar photos, best first, rows `excluded`
        left out; with fewer photos the missing places hold similarity -1 and row -1 (as `retrieval.nearest`)."""
        sims, rows = self.vectors.top(queries, m, shortlist(m), excluded)
        sims[rows < 0] = -1.0
        return sims, rows

    def top_w(self, query: np.ndarray, w: int, excluded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the `w` photos most similar to `query` (best first; rows `excluded` left out) and their
        similarities, as read-only arrays, remembered by the query vector, `w` and the rows excluded."""

        def scan(_: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
            sims, rows = self.vectors.top(query, w, shortlist(w), excluded)
            found = rows[0] >= 0
            rows, sims = rows[0][found], sims[0][found]
            rows.flags.writeable = sims.flags.writeable = False
            return [(rows, sims)]

        key = row_keys(np.asarray(query, np.float32)[None], salt=excluded_key(excluded) + w.to_bytes(4, "little"))
        return self._tops.get(key, scan)[0]


class KeyedMemo(Generic[Value]):
    """Values by key, computed only for keys not seen before; the least recently used go past `capacity`.
    Safe to share between threads (two asking at once may both compute a value; either is kept)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._values: OrderedDict[bytes, Value] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def get(self, keys: Sequence[bytes], compute: Callable[[list[int]], list[Value]]) -> list[Value]:
        """The value of each key; `compute` gets the positions of the keys not remembered and returns their values."""
        with self._lock:
            found = [self._values.get(key) for key in keys]
            for key, value in zip(keys, found):
                if value is not None:
                    self._values.move_to_end(key)
        todo = [i for i, value in enumerate(found) if value is None]
        if todo:
            for i, value in zip(todo, compute(todo)):
                found[i] = value
            with self._lock:
                for i in todo:
                    self._values[keys[i]] = found[i]  # type: ignore[assignment]
                    self._values.move_to_end(keys[i])
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
        return found  # type: ignore[return-value]


def shortlist(keep: int) -> int:
    """How many rows a scan that keeps `keep` rescores."""
    return max(SHORTLIST * keep, keep + SHORTLIST_MIN)


def excluded_key(excluded: np.ndarray | None) -> bytes:
    """The rows `excluded` as bytes, the same for any order (and for none and an empty set)."""
    return np.unique(excluded).astype("<i8").tobytes() if excluded is not None else b""


def row_keys(*parts: np.ndarray, salt: bytes = b"") -> list[bytes]:
    """One digest per row of the matrices `parts` (rows side by side) and `salt`: what the row's value depends on."""
    rows = len(parts[0])
    contiguous = [np.ascontiguousarray(p) for p in parts]
    keys = []
    for r in range(rows):
        digest = hashlib.blake2b(salt, digest_size=16)
        for part in contiguous:
            digest.update(part[r].tobytes())
        keys.append(digest.digest())
    return keys

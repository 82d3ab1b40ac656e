"""Records kept in the profile store: a photo's spectrum profile, its fingerprint and indexing failures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PhotoProfile:
    """A photo's spectrum profile: image vector, caption and aspect words, plus what identifies the file."""

    path: str
    folder: str
    size: int
    mtime_ns: int
    content_hash: str
    caption: str
    aspects: tuple[str, ...]
    vector: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        vector = np.array(self.vector, dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise ValueError(f"profile vector of {self.path} must be a non-empty 1-D array, got shape {vector.shape}")
        vector.setflags(write=False)
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "aspects", tuple(self.aspects))


@dataclass(frozen=True)
class Fingerprint:
    """What tells whether a file changed since it was indexed."""

    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed; it is not retried until its size or mtime changes."""

    path: str
    folder: str
    size: int
    mtime_ns: int
    reason: str
    seen_at: float

"""Records kept in the profile store: a photo's spectrum profile, its fingerprint and indexing failures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PhotoProfile:
    """A photo's spectrum profile: image vector, caption and aspect words, plus what identifies the file.

    `caption_vector` is the caption in the text encoder's space, computed once at indexing so that queries do not
    embed the captions of the photos they retrieve (None in profiles from stores older than it).
    """

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
    caption_vector: np.ndarray | None = None

    def __post_init__(self) -> None:
        vector = np.array(self.vector, dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise ValueError(f"profile vector of {self.path} must be a non-empty 1-D array, got shape {vector.shape}")
        vector.setflags(write=False)
        object.__setattr__(self, "vector", vector)
        if self.caption_vector is not None:
            caption_vector = np.array(self.caption_vector, dtype=np.float32)
            if caption_vector.shape != vector.shape:
                raise ValueError(f"caption vector of {self.path} has shape {caption_vector.shape}, not {vector.shape}")
            caption_vector.setflags(write=False)
            object.__setattr__(self, "caption_vector", caption_vector)
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

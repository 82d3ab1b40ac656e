"""Records kept in the profile store: a photo's spectrum profile, its fingerprint, indexing failures and the
user's judgements of catalog items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog.items import CatalogItem


@dataclass(frozen=True, eq=False)
class PhotoProfile:
    """A photo's spectrum profile: image vector, caption and aspect words, plus what identifies the file.

    `caption_vector` is the caption in the text encoder's space, computed once at indexing so that queries do not
    embed the captions of the photos they retrieve (None in profiles from stores older than it).
    `visual_vector` holds the pooled visual features of bundles whose image encoder has a `visual` output (its
    width is the bundle's, not the image vector's); None for other bundles, whose readers use `vector` instead.
    `encoded_with` is the identity of the model bundle that made the vectors (`Bundle.identity`): vectors of
    another bundle are not comparable, so such a profile waits to be re-encoded ('' when unknown).
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
    visual_vector: np.ndarray | None = None
    encoded_with: str = ""

    def __post_init__(self) -> None:
        vector = _frozen_vector(self.vector, f"profile vector of {self.path}")
        object.__setattr__(self, "vector", vector)
        if self.caption_vector is not None:
            caption_vector = _frozen_vector(self.caption_vector, f"caption vector of {self.path}")
            if caption_vector.shape != vector.shape:
                raise ValueError(f"caption vector of {self.path} has shape {caption_vector.shape}, not {vector.shape}")
            object.__setattr__(self, "caption_vector", caption_vector)
        if self.visual_vector is not None:
            object.__setattr__(self, "visual_vector", _frozen_vector(self.visual_vector, f"visual vector of {self.path}"))
        object.__setattr__(self, "aspects", tuple(self.aspects))

    def visual_or_vector(self) -> np.ndarray:
        """The photo's visual vector: `visual_vector`, or the image vector for bundles without a `visual` output."""
        return self.vector if self.visual_vector is None else self.visual_vector


def _frozen_vector(value: np.ndarray, what: str) -> np.ndarray:
    """A read-only float32 copy of a non-empty 1-D vector (profiles are shared between threads)."""
    vector = np.array(value, dtype=np.float32)
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {vector.shape}")
    vector.setflags(write=False)
    return vector


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


@dataclass(frozen=True)
class Judgement:
    """The user's "like" (`liked`) or "not for me" of a catalog item, when ranked in its category (`at`: Unix time).
    The item is kept whole (name, description, picture path) so its vectors can be made again by any bundle."""

    item: CatalogItem
    liked: bool
    at: float


@dataclass(frozen=True)
class Corrections:
    """The user's corrections of what the profile says about a category (those made for every category included):
    aspect words removed ("not me") and pinned ("more of this"), and photos excluded (by id)."""

    removed_words: frozenset[str] = frozenset()
    pinned_words: frozenset[str] = frozenset()
    excluded_photos: frozenset[int] = frozenset()

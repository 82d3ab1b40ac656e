"""Your taste for a category: the aspect words your photos hold for it, how much each weighs, the photos behind each
word, and the photos that would fill the evidence grid, with your corrections marked. The same retrieval a
recommendation runs (category direction, top-w photos, exclusions), read out instead of ranked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.recommend.photo_library import PhotoLibrary
from engine.recommend.recommender import ProfileSource, Steering
from engine.recommend.retrieval import query_direction


@dataclass(frozen=True)
class TasteWord:
    """An aspect word of the photos retrieved for a category."""

    word: str
    weight: float  # the share of the retrieved photos' relevance carried by the photos that have it (0-1)
    photos: tuple[str, ...]  # paths of those photos, most relevant first
    pinned: bool = False  # the user asked for more of this
    removed: bool = False  # the user said "not me": recommendations ignore it


@dataclass(frozen=True)
class Taste:
    category: str
    words: list[TasteWord]  # heaviest first; corrected words even without photos (so they can be undone)
    grid_paths: list[str]  # the photos that would fill the evidence grid, most relevant first
    excluded: list[str]  # photos the user keeps out of this category's recommendations

    def as_dict(self) -> dict:
        """The taste as plain data (photo paths included: it is read on the user's own machine)."""
        return {
            "category": self.category,
            "words": [{"word": t.word, "weight": round(t.weight, 4), "photos": list(t.photos), "pinned": t.pinned,
                       "removed": t.removed} for t in self.words],
            "grid": self.grid_paths,
            "excluded_photos": self.excluded,
        }


def read_taste(
    category: str, item_vectors: np.ndarray, library: PhotoLibrary, store: ProfileSource, steering: Steering,
    w: int = 64,
) -> Taste:
    """The taste for `category`, whose items' vectors are `item_vectors`, over the photo `library`."""
    v_c = query_direction(item_vectors, library.mean)
    rows, relevance = library.top_w(v_c, w, steering.excluded_rows)
    grid = [library.paths[r] for r in rows]
    by_path = {p.path: p for p in store.profiles(grid)}
    weights = np.maximum(relevance.astype(np.float64), 0.0)
    total = weights.sum() or 1.0
    holders: dict[str, list[int]] = {}
    for i, path in enumerate(grid):
        for word in by_path[path].aspects:
            holders.setdefault(word, []).append(i)
    words = [
        TasteWord(word, float(weights[held].sum() / total), tuple(grid[i] for i in held),
                  pinned=word in steering.pinned_words, removed=word in steering.removed_words)
        for word, held in holders.items()
    ]
    words += [TasteWord(word, 0.0, (), pinned=True) for word in sorted(steering.pinned_words - holders.keys())]
    words += [TasteWord(word, 0.0, (), removed=True) for word in sorted(steering.removed_words - holders.keys())]
    words.sort(key=lambda t: (-t.weight, t.word))
    excluded = [library.paths[r] for r in (steering.excluded_rows if steering.excluded_rows is not None else ())]
    return Taste(category, words, grid, excluded)

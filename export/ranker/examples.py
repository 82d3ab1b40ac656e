"""Benchmark queries -> the ranker's inputs, built exactly as the engine builds them at recommendation time.

For each query: the category direction from the category's items and the user's history, the top-w history
photos (or w random ones, for the "w/o retrieval" ablation), their spectrum profiles as the engine's
`HistoryContext`, and `engine.recommend.ranker.ranker_feeds`. Ablations that hide a part of the profile zero
it here, so one flag changes both training and evaluation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.recommend.candidates import candidate_vectors
from engine.recommend.ranker import ranker_feeds
from engine.recommend.retrieval import query_direction, top_w, unit
from engine.recommend.scorer import HistoryContext

if TYPE_CHECKING:
    from export.data.benchmark.format import Benchmark, BenchQuery
    from export.ranker.features import BenchmarkFeatures


@dataclass(frozen=True)
class ProfileView:
    """Which parts of the spectrum profile the ranker sees (the paper's ablations)."""

    retrieval: str = "top"  # "top": top-w by the category direction; "random": w random history photos
    photos: bool = True  # False: the ranker sees no history at all (an item-prior control)
    captions: bool = True
    aspects: bool = True
    w: int = 64

    def __post_init__(self) -> None:
        if self.retrieval not in ("top", "random"):
            raise ValueError(f"retrieval must be 'top' or 'random', got {self.retrieval!r}")


@dataclass(frozen=True)
class QueryExample:
    """One query's ranker inputs (no batch axis), its labels and the ids/words they index."""

    query_id: str
    feeds: dict[str, np.ndarray]
    labels: np.ndarray  # [n] 1.0 for a ground-truth candidate
    candidate_ids: tuple[str, ...]
    words: tuple[str, ...]  # aspect words, in `feeds["aspect_vectors"]` order
    history_mean: np.ndarray  # [d] the mean of all the user's photo vectors (the CLIP-style baseline)
    context: HistoryContext


class ExampleBuilder:
    """Builds `QueryExample`s for one benchmark and its features; `history_limit` truncates histories."""

    def __init__(self, bench: Benchmark, features: BenchmarkFeatures, view: ProfileView = ProfileView()):
        self.bench = bench
        self.features = features
        self.view = view
        items = features.item_rows
        self._category_rows: dict[str, list[int]] = {}
        for item in bench.items.values():
            self._category_rows.setdefault(item.category, []).append(items[item.id])

    def build(self, query: BenchQuery, history_limit: int | None = None, seed: int = 0) -> QueryExample:
        f, view = self.features, self.view
        history = [f.photos.rows[str(p)] for p in self.bench.users[query.user_id].history]
        rng = np.random.default_rng([seed, _stable_hash(query.id)])
        if history_limit is not None and history_limit < len(history):
            history = sorted(rng.choice(history, history_limit, replace=False).tolist())
        library = f.photos.vectors[history]
        category_rows = self._category_rows[query.category]
        category_items = candidate_vectors(f.item_image[category_rows], f.item_text[category_rows])
        v_c = query_direction(category_items, library)
        if view.retrieval == "top":
            picked, relevance = top_w(library, v_c, view.w)
        else:
            picked = rng.permutation(len(history))[: view.w]
            relevance = (library[picked] @ v_c).astype(np.float32)
        rows = [history[i] for i in picked]
        context = self._context(rows, relevance)
        cand_rows = [f.item_rows[c] for c in query.candidates]
        feeds = ranker_feeds(context, v_c, f.item_image[cand_rows], f.item_text[cand_rows])
        if not view.photos:
            for name in ("photo_image", "photo_caption", "photo_aspect", "photo_relevance", "aspect_mask"):
                feeds[name] = np.zeros_like(feeds[name])
            feeds["category"] = category_items.mean(axis=0)
        if not view.captions:
            feeds["photo_caption"] = np.zeros_like(feeds["photo_caption"])
        if not view.aspects:
            feeds["photo_aspect"] = np.zeros_like(feeds["photo_aspect"])
            feeds["aspect_mask"] = np.zeros_like(feeds["aspect_mask"])
        truth = set(query.ground_truth)
        return QueryExample(
            query_id=query.id,
            feeds=feeds,
            labels=np.array([c in truth for c in query.candidates], np.float32),
            candidate_ids=tuple(query.candidates),
            words=tuple(context.aspect_words),
            history_mean=unit(library.mean(axis=0)),
            context=context,
        )

    def _context(self, rows: list[int], relevance: np.ndarray) -> HistoryContext:
        """The engine's `HistoryContext` for these photos (as `Recommender._context` builds it from the store)."""
        photos = self.features.photos
        aspects = [photos.aspects[r] for r in rows]
        words = sorted({word for group in aspects for word in group})
        dim = photos.vectors.shape[1]
        return HistoryContext(
            vectors=photos.vectors[rows].reshape(len(rows), dim),
            relevance=relevance.astype(np.float32),
            caption_vectors=photos.caption_vectors[rows].reshape(len(rows), dim),
            aspects=aspects,
            aspect_words=words,
            aspect_vectors=self.features.words(words),
        )


def _stable_hash(text: str) -> int:
    """A process-independent integer for seeding (Python's `hash` of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")

"""Benchmark queries -> the ranker's inputs, built exactly as the engine builds them at recommendation time.

For each query: the category direction from its candidates and the user's history (as the engine serves a
catalog), the top-w history photos and each candidate's nearest library photos (or random ones, for the "w/o
retrieval" ablation), their spectrum profiles as the engine's `HistoryContext` and `CandidateSet`, and
`engine.recommend.ranker.ranker_feeds`.
Ablations that hide a part of the profile zero it here, so one flag changes both training and evaluation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.recommend.candidates import NEIGHBOURS, CandidateSet, candidate_vectors
from engine.recommend.ranker import ranker_feeds
from engine.recommend.retrieval import library_mean, query_direction, top_w, unit
from engine.recommend.scorer import HistoryContext

if TYPE_CHECKING:
    from export.data.benchmark.format import Benchmark, BenchQuery
    from export.ranker.features import BenchmarkFeatures


@dataclass(frozen=True)
class ProfileView:
    """Which parts of the spectrum profile the ranker sees (the paper's ablations)."""

    retrieval: str = "top"  # "top": top-w by the category direction and each candidate's nearest photos;
    # "random": w random history photos, and each candidate's similarities to as many random ones
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
    candidates: CandidateSet


class ExampleBuilder:
    """Builds `QueryExample`s for one benchmark and its features; `history_limit` truncates histories."""

    def __init__(self, bench: Benchmark, features: BenchmarkFeatures, view: ProfileView = ProfileView()):
        self.bench = bench
        self.features = features
        self.view = view

    def build(
        self, query: BenchQuery, history_limit: int | None = None, seed: int = 0, names_only: bool = False
    ) -> QueryExample:
        """The query's example; `names_only` reads the candidates as a catalog without descriptions lists them."""
        f, view = self.features, self.view
        history = [f.photos.rows[str(p)] for p in self.bench.users[query.user_id].history]
        rng = np.random.default_rng([seed, _stable_hash(query.id)])
        if history_limit is not None and history_limit < len(history):
            history = sorted(rng.choice(history, history_limit, replace=False).tolist())
        library = f.photos.vectors[history]
        cand_rows = [f.item_rows[c] for c in query.candidates]
        image, visual = f.item_image[cand_rows], f.item_visual[cand_rows]
        text = (f.item_name if names_only else f.item_text)[cand_rows]
        category_items = candidate_vectors(image, text)  # as the engine serves a catalog: its items define v_c
        v_c = query_direction(category_items, library_mean(library))
        if view.retrieval == "top":
            picked, relevance = top_w(library, v_c, view.w)
            candidates = CandidateSet.against(image, text, visual, library)
        else:
            picked = rng.permutation(len(history))[: view.w]
            relevance = (library[picked] @ v_c).astype(np.float32)
            sample = rng.permutation(len(history))[:NEIGHBOURS]
            candidates = CandidateSet.against(image, text, visual, library[sample])
            rows = np.where(candidates.neighbour_rows < 0, -1, sample[candidates.neighbour_rows])
            candidates = replace(candidates, neighbour_rows=rows)
        rows = [history[i] for i in picked]
        context = self._context(rows, relevance)
        feeds = ranker_feeds(context, v_c, candidates)
        if not view.photos:
            for name in ("photo_image", "photo_caption", "photo_aspect", "photo_visual", "photo_relevance", "aspect_mask"):
                feeds[name] = np.zeros_like(feeds[name])
            feeds["candidate_neighbours"] = np.full_like(feeds["candidate_neighbours"], -1.0)
            feeds["library_size"] = np.ones_like(feeds["library_size"])
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
            candidates=candidates,
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
            visual_vectors=photos.visual_vectors[rows].reshape(len(rows), photos.visual_vectors.shape[1]),
        )


def _stable_hash(text: str) -> int:
    """A process-independent integer for seeding (Python's `hash` of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")

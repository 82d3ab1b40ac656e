"""Recommend: category vector -> top-w history photos -> numbered grid -> scored candidates with evidence."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from PIL import Image

from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError, open_oriented
from engine.imaging.grid import GridLayout, grid_side, gridify, highlight_cells
from engine.models.encoders import TextEncoder
from engine.profile.records import Judgement, PhotoProfile
from engine.recommend.candidates import ItemEmbedder
from engine.recommend.feedback import feedback_shift
from engine.recommend.photo_library import PhotoLibrary
from engine.recommend.ranker import OnnxRanker
from engine.recommend.retrieval import query_direction, unit
from engine.recommend.scorer import (
    HistoryContext,
    ScoredCandidates,
    ZeroShotScorer,
    centred,
    zscore,
)

GRID_CELL = 112
EVIDENCE_CELLS = 3
EVIDENCE_WORDS = 3
PROFILE_WORDS = 8
MIN_WORD_PHOTOS = 3  # an aspect word is shown only when this many different photos carry it: none discloses one photo
MIN_SUPPORT = 3  # fewer photos like any candidate than this: the photos say too little to rank on
CITE_TEMPERATURE = 0.05
PIN_WEIGHT = 1.0  # pinned aspect words' pull, in standard deviations of the scores (free text pulls 2.5)
TRAINED, ZERO_SHOT = "trained ranker", "zero-shot scorer"


@dataclass(frozen=True)
class Evidence:
    """Why a candidate ranks where it does: 1-based grid cells and aspect words that support it, and the user's
    judgement that moved it to this place (None when no judgement did)."""

    cells: tuple[int, ...]
    aspect_words: tuple[str, ...]
    feedback: Judgement | None = None

    def record(self) -> dict:
        """The evidence as plain data (no photo paths)."""
        moved = None if self.feedback is None else {
            "item": self.feedback.item.id, "name": self.feedback.item.name, "liked": self.feedback.liked}
        return {"cells": list(self.cells), "aspect_words": list(self.aspect_words), "feedback": moved}


@dataclass(frozen=True)
class Steering:
    """What the user told VisualLens about a category: judgements of its items, aspect words removed ("not me") and
    pinned ("more of this"), and library rows (photos) excluded from it."""

    judgements: Sequence[Judgement] = ()
    removed_words: frozenset[str] = frozenset()
    pinned_words: frozenset[str] = frozenset()
    excluded_rows: np.ndarray | None = None


@dataclass(frozen=True)
class RankedItem:
    item: CatalogItem
    score: float
    rank: int
    evidence: Evidence


@dataclass
class Recommendation:
    """A ranked answer; `grid_paths[i]` is the photo in grid cell i+1 (the grid itself is rendered on demand)."""

    category: str
    query: str | None
    ranked: list[RankedItem]
    grid_paths: list[str]
    profile_aspects: tuple[str, ...]
    w: int
    scorer: str  # TRAINED or ZERO_SHOT
    support: int | None = None  # library photos like some candidate (None: the bundle declares no threshold)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def cold_start(self) -> bool:
        """Too few of the user's photos relate to these candidates for the ranking to say much about their taste."""
        return self.support is not None and self.support < MIN_SUPPORT

    def records(self) -> list[dict]:
        """The ranking as plain records {id, name, score, rank, evidence: {cells, aspect_words, feedback}} (no photo
        paths; feedback: the judgement {item, name, liked} that moved the item, or None)."""
        return [
            {"id": r.item.id, "name": r.item.name, "score": round(r.score, 4), "rank": r.rank,
             "evidence": r.evidence.record()}
            for r in self.ranked
        ]

    def as_dict(self) -> dict:
        """The answer as plain data: who ranked, how much the photos had to say, and the ranking (no photo paths)."""
        return {
            "category": self.category,
            "query": self.query,
            "scorer": self.scorer,
            "photos_used": len(self.grid_paths),
            "support": self.support,
            "cold_start": self.cold_start,
            "profile_aspect_words": list(self.profile_aspects),
            "ranking": self.records(),
        }

    def cold_start_note(self) -> str:
        """What to tell the user when the photos say too little about this question ('' when they say enough)."""
        if not self.cold_start:
            return ""
        few = "none" if not self.support else f"only {self.support}"
        return (f"{few.capitalize()} of your photos look like these {self.category} items, so this ranking says little "
                "about your taste yet; photos of such things, or a few words of what you want, will change that.")

    def render_grid(self, highlight: RankedItem | None = None) -> Image.Image:
        """The numbered d x d grid of the retrieved photos, in memory; optionally framing one item's cells."""
        layout = GridLayout(d=grid_side(self.w), cell=GRID_CELL, gap=2)
        grid = gridify([_thumbnail(p) for p in self.grid_paths], w=self.w, cell=GRID_CELL, gap=2)
        return highlight_cells(grid, highlight.evidence.cells, layout) if highlight else grid


class ProfileSource(Protocol):
    """What a recommendation reads from the profile store (`ProfileStore` is one)."""

    def profiles(self, keys: Iterable[int | str]) -> list[PhotoProfile]: ...

    def word_vectors(self, words: Iterable[str]) -> dict[str, np.ndarray]: ...


class Recommender:
    """Recommends over the in-memory photo library with the bundle's trained ranker, else the zero-shot scorer."""

    def __init__(
        self,
        embedder: ItemEmbedder,
        text_encoder: TextEncoder,
        ranker: OnnxRanker | None = None,
        scorer: ZeroShotScorer | None = None,
        evidence_similarity: float | None = None,
    ):
        self.embedder = embedder
        self.text_encoder = text_encoder
        self.ranker = ranker
        self.scorer = scorer or ZeroShotScorer()
        self.evidence_similarity = evidence_similarity  # a photo this like a candidate shows its kind of thing

    def with_embedder(self, embedder: ItemEmbedder) -> Recommender:
        """The same models over candidates whose vectors `embedder` supplies (pictures held in memory, say)."""
        return Recommender(embedder, self.text_encoder, self.ranker, self.scorer, self.evidence_similarity)

    def recommend(
        self,
        category: str,
        candidates: Sequence[CatalogItem],
        category_items: Sequence[CatalogItem],
        library: PhotoLibrary,
        store: ProfileSource,
        query: str | None = None,
        w: int = 64,
        steering: Steering = Steering(),
    ) -> Recommendation:
        """Rank `candidates`; `category_items` define v_c; `store` holds the profiles of the `library`'s photos;
        `steering` applies the user's judgements and corrections."""
        grid_side(w)  # validates w early
        if not candidates:
            raise ValueError(f"no candidates in category {category!r}")
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        cands = self.embedder.candidate_set(candidates, library, steering.excluded_rows)
        cand_vectors = cands.vectors
        item_vectors = cand_vectors if category_items is candidates else self.embedder.vectors(category_items)
        v_c = query_direction(item_vectors, library.mean)
        timings["candidates"] = _ms(tick)

        tick = time.perf_counter()
        rows, _ = library.top_w(v_c, w, steering.excluded_rows)
        by_path = {p.path: p for p in store.profiles([library.paths[r] for r in rows])}
        profiles = [by_path[library.paths[r]] for r in rows]
        vectors = unit(np.stack([p.vector for p in profiles])) if profiles else np.zeros((0, len(v_c)), np.float32)
        relevance = (vectors @ v_c).astype(np.float32)  # exact: the scan's similarities carry its rounding
        order = np.argsort(-relevance, kind="stable")
        profiles = _without_words([profiles[i] for i in order], steering.removed_words)
        grid_paths = [p.path for p in profiles]
        ctx = self._context(profiles, vectors[order], relevance[order], store, cands.visual.shape[1])
        shown = _shared_words(profiles, ctx.aspect_words)
        timings["retrieve"] = _ms(tick)

        tick = time.perf_counter()
        query_vec = self.text_encoder.encode_one(query) if query else None
        if self.ranker is not None and len(ctx.vectors):
            ranked_by = TRAINED
            answer = self.ranker.rank(ctx, v_c, cands)
            cited = _cited(answer.scored, cand_vectors, ctx)
            scored = _with_free_text(cited, cand_vectors, query_vec, self.scorer.weights["query"])
            order = np.argsort(-answer.aspect_probs, kind="stable")
            profile_aspects = tuple([ctx.aspect_words[k] for k in order if shown[k]][:PROFILE_WORDS])
        else:
            ranked_by = ZERO_SHOT
            scored = self.scorer.score(cands, ctx, query_vec)
            profile_aspects = _profile_aspects(ctx, shown)
        if steering.pinned_words:  # "more of this": the pinned words steer like free text, more gently
            pinned = sorted(steering.pinned_words)
            scored = _with_free_text(scored, cand_vectors, unit(self._word_vectors(pinned, store).mean(axis=0)), PIN_WEIGHT)
            showable = {word for word, ok in zip(ctx.aspect_words, shown) if ok}  # never a word of one or two photos
            profile_aspects = tuple(dict.fromkeys([*(w for w in pinned if w in showable), *profile_aspects]))[:PROFILE_WORDS]
        scores, moved_by = self._judged(scored.scores, cand_vectors, steering.judgements)
        order = np.argsort(-scores, kind="stable")
        ranked = [
            RankedItem(
                item=candidates[i],
                score=float(scores[i]),
                rank=rank,
                evidence=_evidence(scored.cell_weights[i], scored.aspect_weights[i] * shown, ctx.aspect_words, moved_by[i]),
            )
            for rank, i in enumerate(order, start=1)
        ]
        timings["score"] = _ms(tick)
        return Recommendation(
            category=category,
            query=query,
            ranked=ranked,
            grid_paths=grid_paths,
            profile_aspects=profile_aspects,
            w=w,
            scorer=ranked_by,
            support=None if self.evidence_similarity is None else cands.support(self.evidence_similarity),
            timings_ms=timings,
        )

    def _word_vectors(self, words: list[str], store: ProfileSource) -> np.ndarray:
        """The words' vectors: stored by indexing where a photo has the word, else embedded now."""
        stored = store.word_vectors(words)
        return self._text_vectors(words, [stored.get(word) for word in words])

    def _judged(
        self, scores: np.ndarray, candidates: np.ndarray, judgements: Sequence[Judgement]
    ) -> tuple[np.ndarray, list[Judgement | None]]:
        """The scores standardised and shifted by the judgements, and the judgement behind each candidate's place:
        the one that moved it to another place, or its own (None where neither is)."""
        if not judgements:
            return scores, [None] * len(scores)
        judged = self.embedder.vectors([j.item for j in judgements])
        shift = feedback_shift(candidates, judged, np.array([j.liked for j in judgements], bool))
        shifted = zscore(scores) + shift.shift
        before, after = _places(scores), _places(shifted)
        moved_by = [
            judgements[s] if s >= 0 and (before[i] != after[i] or shift.judged[i]) else None
            for i, s in enumerate(shift.source)
        ]
        return shifted, moved_by

    def _context(
        self, profiles: list[PhotoProfile], vectors: np.ndarray, relevance: np.ndarray, store: ProfileSource, visual_dim: int
    ) -> HistoryContext:
        aspects = [tuple(p.aspects) for p in profiles]
        words = sorted({word for group in aspects for word in group})
        stored_words = store.word_vectors(words)
        dim = self.text_encoder.dim
        visual = [_visual_vector(p, visual_dim) for p in profiles]
        return HistoryContext(
            vectors=vectors.astype(np.float32).reshape(len(profiles), dim),
            relevance=relevance,
            caption_vectors=self._text_vectors([p.caption for p in profiles], [p.caption_vector for p in profiles]),
            aspects=aspects,
            aspect_words=words,
            aspect_vectors=self._text_vectors(words, [stored_words.get(word) for word in words]),
            visual_vectors=np.stack(visual).astype(np.float32) if visual else np.zeros((0, visual_dim), np.float32),
        )

    def _text_vectors(self, texts: list[str], stored: list[np.ndarray | None]) -> np.ndarray:
        """The vectors indexing stored for these texts; embedded here only where none is stored (profiles of a
        store older than them that no index run has filled in yet)."""
        missing = [text for text, vector in zip(texts, stored) if vector is None]
        encoded = iter(self.text_encoder.encode_cached(missing))
        rows = [next(encoded) if vector is None else vector for vector in stored]
        return np.stack(rows) if rows else np.zeros((0, self.text_encoder.dim), dtype=np.float32)


def _visual_vector(profile: PhotoProfile, dim: int) -> np.ndarray:
    """The photo's visual vector (zeros if it is another bundle's width, which only a stale profile could have)."""
    vector = profile.visual_or_vector()
    return vector if len(vector) == dim else np.zeros(dim, np.float32)


def _cited(scored: ScoredCandidates, candidates: np.ndarray, ctx: HistoryContext) -> ScoredCandidates:
    """The ranker's attention over the grid cells, kept where the photos also look like the candidate.

    The ranker decides mostly from how densely the user's photos gather around a candidate, so the photos to cite are
    the ones it attended to that are also among the most like it (a softmax of cosine similarity over the cells).
    """
    likeness = np.exp((candidates @ ctx.vectors.T) / CITE_TEMPERATURE)
    weights = scored.cell_weights * likeness / likeness.sum(axis=1, keepdims=True)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return ScoredCandidates(scored.scores, weights.astype(np.float32), scored.aspect_weights)


def _without_words(profiles: list[PhotoProfile], removed: frozenset[str]) -> list[PhotoProfile]:
    """The profiles with the words the user removed taken out of their aspect words."""
    if not removed:
        return profiles
    return [replace(p, aspects=tuple(word for word in p.aspects if word not in removed)) for p in profiles]


def _shared_words(profiles: Sequence[PhotoProfile], words: Sequence[str]) -> np.ndarray:
    """Which `words` at least `MIN_WORD_PHOTOS` different photos (by content) carry: the words fit to show."""
    holders: dict[str, set[str]] = {}
    for profile in profiles:
        for word in profile.aspects:
            holders.setdefault(word, set()).add(profile.content_hash)
    return np.array([len(holders.get(word, ())) >= MIN_WORD_PHOTOS for word in words], dtype=bool)


def _evidence(
    cell_weights: np.ndarray, aspect_weights: np.ndarray, words: list[str], feedback: Judgement | None
) -> Evidence:
    cells = tuple(int(c) + 1 for c in np.argsort(-cell_weights, kind="stable")[:EVIDENCE_CELLS] if cell_weights[c] > 0)
    supporting = [k for k in np.argsort(-aspect_weights, kind="stable")[:EVIDENCE_WORDS] if aspect_weights[k] > 0]
    return Evidence(cells=cells, aspect_words=tuple(words[k] for k in supporting), feedback=feedback)


def _places(scores: np.ndarray) -> np.ndarray:
    """Each candidate's 0-based place in the ranking by `scores`."""
    places = np.empty(len(scores), np.int64)
    places[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return places


def _with_free_text(
    scored: ScoredCandidates, candidates: np.ndarray, query: np.ndarray | None, weight: float
) -> ScoredCandidates:
    """The user's optional free text shifts the ranker's scores, as the zero-shot scorer's text channel does."""
    if query is None:
        return scored
    text = zscore(centred((candidates @ query)[:, None])[:, 0])
    return ScoredCandidates(zscore(scored.scores) + weight * text, scored.cell_weights, scored.aspect_weights)


def _profile_aspects(ctx: HistoryContext, shown: np.ndarray, limit: int = PROFILE_WORDS) -> tuple[str, ...]:
    """The shown words most carried by the photos, weighted by how relevant each photo is."""
    showable = {word for word, ok in zip(ctx.aspect_words, shown) if ok}
    counts: dict[str, float] = {}
    for rel, group in zip(ctx.relevance, ctx.aspects):
        for word in showable.intersection(group):
            counts[word] = counts.get(word, 0.0) + max(float(rel), 0.0)
    return tuple(sorted(counts, key=lambda w: (-counts[w], w))[:limit])


def _thumbnail(path: str) -> Image.Image | None:
    try:
        return open_oriented(path, GRID_CELL)
    except ImageDecodeError:
        return None  # vanished or unreadable since indexing: a black cell


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0

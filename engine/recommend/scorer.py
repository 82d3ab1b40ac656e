"""Zero-shot scoring of candidates against the query-conditioned profile (the spectrum triplet).

Each channel compares candidates with one view of the retrieved photos: their image vectors, their captions
and their aspect words (plus the user's optional free text); one more reads how densely the user's whole library
gathers around each candidate (its nearest photos, `CandidateSet.neighbours`). Similarities are centred across candidates, so
what every candidate of the category shares (the category itself) cancels and only preference remains.
Channels are z-scored and mixed with fixed weights. The trained ranker (a later bundle component) replaces
this scorer; it stays as the fallback for bundles without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.recommend.candidates import CandidateSet


@dataclass(frozen=True)
class HistoryContext:
    """The query-conditioned profile: the top-w photos (grid order) and their spectrum triplets."""

    vectors: np.ndarray  # [w, d] image vectors
    relevance: np.ndarray  # [w] cosine to the category vector
    caption_vectors: np.ndarray  # [w, d]
    aspects: list[tuple[str, ...]]  # per photo
    aspect_words: list[str]  # unique words, in `aspect_vectors` row order
    aspect_vectors: np.ndarray  # [k, d]
    visual_vectors: np.ndarray  # [w, v] the photos' visual vectors


@dataclass(frozen=True)
class ScoredCandidates:
    scores: np.ndarray  # [n]
    cell_weights: np.ndarray  # [n, w] how much each photo supports each candidate
    aspect_weights: np.ndarray  # [n, k] how much each aspect word supports each candidate


@dataclass(frozen=True)
class ZeroShotScorer:
    """Mixes the image, caption, aspect-word, library-density and free-text channels."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"image": 1.0, "caption": 0.5, "aspects": 0.75, "density": 1.5, "query": 2.5}
    )
    relevance_temperature: float = 0.1
    pooling_temperature: float = 0.05
    density_temperature: float = 0.1

    def score(self, candidate_set: CandidateSet, ctx: HistoryContext, query: np.ndarray | None = None) -> ScoredCandidates:
        candidates = candidate_set.vectors
        n, w = len(candidates), len(ctx.vectors)
        if w == 0:
            zeros = np.zeros(n, dtype=np.float32)
            base = centred((candidates @ query)[:, None])[:, 0] if query is not None else zeros
            return ScoredCandidates(base, np.zeros((n, 0), np.float32), np.zeros((n, 0), np.float32))
        attention = softmax(ctx.relevance / self.relevance_temperature)
        image, image_cells = self._pooled(candidates, ctx.vectors, attention)
        caption, caption_cells = self._pooled(candidates, ctx.caption_vectors, attention)
        aspects, aspect_weights = self._aspects(candidates, ctx, attention)
        total = (
            self.weights["image"] * zscore(image)
            + self.weights["caption"] * zscore(caption)
            + self.weights["aspects"] * zscore(aspects)
            + self.weights["density"] * zscore(library_density(candidate_set, self.density_temperature))
        )
        if query is not None:
            total = total + self.weights["query"] * zscore(centred((candidates @ query)[:, None])[:, 0])
        cells = image_cells + 0.5 * caption_cells
        return ScoredCandidates(total.astype(np.float32), cells, aspect_weights)

    def _pooled(self, candidates: np.ndarray, views: np.ndarray, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Soft-max pooling over photos: a candidate that strongly matches a few relevant photos scores high."""
        sims = centred(candidates @ views.T) / self.pooling_temperature  # [n, w]
        logits = sims + np.log(attention + 1e-12)[None, :]
        peak = logits.max(axis=1, keepdims=True)
        weights = np.exp(logits - peak)
        pooled = (peak[:, 0] + np.log(weights.sum(axis=1))) * self.pooling_temperature
        return pooled, weights / weights.sum(axis=1, keepdims=True)

    def _aspects(self, candidates: np.ndarray, ctx: HistoryContext, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(ctx.aspect_words) == 0:
            n = len(candidates)
            return np.zeros(n, np.float32), np.zeros((n, 0), np.float32)
        mass = word_mass(ctx, attention)
        contributions = centred(candidates @ ctx.aspect_vectors.T) * mass[None, :]  # [n, k]
        return contributions.sum(axis=1), contributions


def library_density(candidates: CandidateSet, temperature: float) -> np.ndarray:
    """log of the mean kernel exp(cos / T) over the library at each candidate, from its nearest photos (the rest of
    the library adds almost nothing at a small T): how much of the user's photos gather around it."""
    logits = candidates.neighbours[:, 0].astype(np.float64) / temperature
    peak = logits.max(axis=1, keepdims=True)
    total = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
    return (total - np.log(max(candidates.library_size, 1))).astype(np.float32)


def word_mass(ctx: HistoryContext, attention: np.ndarray) -> np.ndarray:
    """Each profile word's share of the photos' attention (in `ctx.aspect_words` order, sums to 1)."""
    index = {word: k for k, word in enumerate(ctx.aspect_words)}
    mass = np.zeros(len(index), dtype=np.float64)
    for a, words in zip(attention, ctx.aspects):
        for word in words:
            mass[index[word]] += a
    return (mass / max(mass.sum(), 1e-12)).astype(np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def centred(sims: np.ndarray) -> np.ndarray:
    """Subtract each column's mean over the candidates (rows)."""
    return sims - sims.mean(axis=0, keepdims=True)


def zscore(x: np.ndarray) -> np.ndarray:
    """Standardise a score vector; all-equal scores become zeros."""
    std = x.std()
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)

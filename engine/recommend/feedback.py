"""Feedback on rankings: the user's "like" / "not for me" judgements of catalog items, turned on the device into a
shift of the scores of the candidates like the items judged, on top of the trained ranker (or the zero-shot scorer).

The shift has two parts. A broad vote: each judgement votes for (liked) or against (not for me) a candidate with a
weight that falls off with how unlike the judged item the candidate is, against a prior weight that stands for "no
judgement near this", so a candidate far from every judged item keeps its score and a few wrong judgements cannot
drag a whole ranking; this is what carries a taste from the items judged to the other items of their kind. A like
votes harder than a dislike: what someone likes says more about the things like it than what they pass over. And the
item's own: a judged item (or its twin) moves by a further fixed step, so what the user judged visibly moves, past
the items its vote moved with it. The broad vote's constants were fitted on the training users of the composed
benchmark (`visuallens-export eval --feedback`), never on its test users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOVED = 0.1  # a shift smaller than this (in standard deviations) is not named in the evidence


@dataclass(frozen=True)
class FeedbackSettings:
    temperature: float = 0.05  # cosine similarity per e-fold of a judgement's weight
    prior_similarity: float = 0.5  # a judged item this like a candidate weighs as much as "no judgement"
    like_strength: float = 2.0  # the broad vote's largest lift by likes, in standard deviations of the scores
    dislike_strength: float = 0.5  # ...and drop by "not for me": a dislike says less about the items like it
    own_similarity: float = 0.98  # a candidate this like a judged item is that item (or its twin)...
    own_strength: float = 2.0  # ...and moves this much further (standard deviations)


@dataclass(frozen=True)
class FeedbackShift:
    """What the judgements do to each of n candidates."""

    shift: np.ndarray  # [n] added to the candidates' standardised scores
    source: np.ndarray  # [n] the judgement that weighs most on each candidate (-1: none moved it)
    judged: np.ndarray  # [n] bool: the candidate is (a twin of) an item judged


def feedback_shift(
    candidates: np.ndarray, judged: np.ndarray, liked: np.ndarray, settings: FeedbackSettings = FeedbackSettings()
) -> FeedbackShift:
    """The shift the judgements of items `judged` ([k, d] unit vectors; `liked` [k] booleans) give `candidates`
    ([n, d] unit vectors)."""
    n = len(candidates)
    if len(judged) == 0:
        return FeedbackShift(np.zeros(n, np.float32), np.full(n, -1, np.int64), np.zeros(n, bool))
    similarity = candidates @ judged.T  # [n, k]
    weights = np.exp((similarity - 1.0) / settings.temperature)  # 1 for the judged item itself
    votes = np.where(np.asarray(liked, bool), 1.0, -1.0)
    strengths = np.where(votes > 0, settings.like_strength, settings.dislike_strength)
    prior = np.exp((settings.prior_similarity - 1.0) / settings.temperature)
    shift = (weights * votes * strengths).sum(axis=1) / (weights.sum(axis=1) + prior)
    own = similarity >= settings.own_similarity
    shift += settings.own_strength * (own * votes).sum(axis=1)
    source = np.where(np.abs(shift) >= MOVED, np.argmax(weights * (votes * np.sign(shift)[:, None] > 0), axis=1), -1)
    return FeedbackShift(shift.astype(np.float32), source.astype(np.int64), own.any(axis=1))

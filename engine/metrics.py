"""Ranking metrics for queries with one or more relevant items: Hit@k, MRR and a bootstrap interval."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np


def first_relevant_rank(ranked_ids: Sequence[Hashable], relevant_ids: Collection[Hashable]) -> int | None:
    """1-based rank of the first relevant item in `ranked_ids`, or None if none is ranked."""
    if not relevant_ids:
        raise ValueError("relevant set is empty: every query needs at least one relevant item")
    if len(set(ranked_ids)) != len(ranked_ids):
        raise ValueError("ranking lists the same item more than once")
    relevant = set(relevant_ids)
    return next((rank for rank, item in enumerate(ranked_ids, start=1) if item in relevant), None)


def hit_at_k(ranked_ids: Sequence[Hashable], relevant_ids: Collection[Hashable], k: int) -> float:
    """1.0 if the first relevant item is ranked <= k, else 0.0."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rank = first_relevant_rank(ranked_ids, relevant_ids)
    return float(rank is not None and rank <= k)


def reciprocal_rank(ranked_ids: Sequence[Hashable], relevant_ids: Collection[Hashable]) -> float:
    """1 / rank of the first relevant item, 0.0 if no relevant item is ranked."""
    rank = first_relevant_rank(ranked_ids, relevant_ids)
    return 0.0 if rank is None else 1.0 / rank


def evaluate(
    rankings: Sequence[Sequence[Hashable]],
    relevant: Sequence[Collection[Hashable]],
    ks: Sequence[int] = (1, 3, 10),
) -> dict[str, float]:
    """Mean "hit@k" for each k and "mrr" over queries; `relevant[i]` holds the answers to `rankings[i]`."""
    if len(rankings) != len(relevant):
        raise ValueError(f"{len(rankings)} rankings but {len(relevant)} relevant sets")
    if not rankings:
        raise ValueError("no queries to evaluate")
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {tuple(ks)}")
    ranks = [first_relevant_rank(ranked, answers) for ranked, answers in zip(rankings, relevant)]
    scores = {f"hit@{k}": float(np.mean([rank is not None and rank <= k for rank in ranks])) for k in ks}
    scores["mrr"] = float(np.mean([0.0 if rank is None else 1.0 / rank for rank in ranks]))
    return scores


def bootstrap_ci(
    values: Sequence[float], n_resamples: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) confidence interval of the mean of per-query `values`."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("bootstrap needs a non-empty 1-D sequence of values")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    rng = np.random.default_rng(seed)
    means = np.fromiter((rng.choice(data, data.size).mean() for _ in range(n_resamples)), np.float64, n_resamples)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)

"""Ranking metrics from each query's first relevant rank: Hit@k, MRR, and a bootstrap interval of their mean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def per_query_metrics(ranks: Sequence[int | None] | np.ndarray, ks: Sequence[int] = (1, 3, 10)) -> dict[str, np.ndarray]:
    """Each query's "hit@k" (0/1) for each k and "mrr" (its reciprocal rank) from its first relevant rank (1-based;
    None or 0 when no relevant item is ranked)."""
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {tuple(ks)}")
    ranked = np.array([rank or 0 for rank in ranks], dtype=np.float64)
    found = ranked > 0
    metrics = {f"hit@{k}": (found & (ranked <= k)).astype(np.float64) for k in ks}
    metrics["mrr"] = np.divide(1.0, ranked, out=np.zeros_like(ranked), where=found)
    return metrics


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

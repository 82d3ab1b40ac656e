"""Ranking methods on benchmark queries and their Hit@k / MRR with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.metrics import bootstrap_ci, per_query_metrics
from engine.recommend.candidates import candidate_vectors
from engine.recommend.ranker import OnnxRanker
from engine.recommend.scorer import ZeroShotScorer
from export.data.benchmark.format import Benchmark
from export.ranker.examples import QueryExample
from export.ranker.train import predict

KS = (1, 3, 10)


@dataclass(frozen=True)
class Metric:
    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{100 * self.mean:.1f} [{100 * self.low:.1f}, {100 * self.high:.1f}]"


@dataclass(frozen=True)
class MethodResult:
    """One method's first-relevant rank per query (1-based)."""

    name: str
    ranks: np.ndarray

    def metrics(self, resamples: int = 1000) -> dict[str, Metric]:
        return {key: Metric(float(v.mean()), *bootstrap_ci(v, n_resamples=resamples)) for key, v in self.per_query().items()}

    def per_query(self) -> dict[str, np.ndarray]:
        """Each query's Hit@k (0/1) and reciprocal rank."""
        return per_query_metrics(self.ranks, KS)


def paired_difference(a: MethodResult, b: MethodResult, resamples: int = 1000) -> dict[str, Metric]:
    """`a` minus `b` on the same queries, per metric, with a bootstrap interval of the per-query differences."""
    if len(a.ranks) != len(b.ranks):
        raise ValueError(f"{a.name} and {b.name} were scored on different queries")
    ours, theirs = a.per_query(), b.per_query()
    return {
        key: Metric(float((ours[key] - theirs[key]).mean()), *bootstrap_ci(ours[key] - theirs[key], n_resamples=resamples))
        for key in ours
    }


def gap_closed(result: MethodResult, random: MethodResult, oracle: MethodResult, key: str = "hit@3") -> float:
    """The share of the way from random to the true-taste oracle that `result` covers on `key`."""
    low, high = random.metrics()[key].mean, oracle.metrics()[key].mean
    return (result.metrics()[key].mean - low) / (high - low) if high > low else float("nan")


def first_relevant_ranks(scores: Sequence[np.ndarray], examples: Sequence[QueryExample]) -> np.ndarray:
    """Rank of the best-ranked ground truth per query; ties count against the ground truth."""
    ranks = []
    for s, ex in zip(scores, examples, strict=True):
        best = s[ex.labels > 0].max()
        ranks.append(1 + int((s[ex.labels == 0] >= best).sum()))
    return np.array(ranks)


def oracle_scores(bench: Benchmark, examples: Sequence[QueryExample], seed: int = 0) -> list[np.ndarray]:
    """The true-taste oracle: each candidate's utility under the user's hidden liked aspects and weights (the
    simulator's truth, which no model sees), combined as the simulator does (`meta["utility"]`: "max" or "sum");
    ties are broken at random. It cannot foresee the noise in the user's choice, so it is the ceiling to beat."""
    queries = {query.id: query for query in bench.queries}
    combine = max if bench.meta.get("utility") == "max" else sum
    rng = np.random.default_rng(seed)
    scores = []
    for ex in examples:
        user = bench.users[queries[ex.query_id].user_id]
        liked = dict(zip(user.liked, user.liked_weights))
        utility = [combine([liked[t] for t in bench.items[c].tags if t in liked] or [0.0]) for c in ex.candidate_ids]
        scores.append(np.asarray(utility, np.float64) + 1e-9 * rng.random(len(utility)))
    return scores


def random_scores(examples: Sequence[QueryExample], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(len(ex.candidate_ids)) for ex in examples]


def clip_style_scores(examples: Sequence[QueryExample]) -> list[np.ndarray]:
    """The zero-shot baseline of the paper's CLIP rows: mean history vector · candidate vector."""
    return [_items(ex) @ ex.history_mean for ex in examples]


def zero_shot_scores(examples: Sequence[QueryExample]) -> list[np.ndarray]:
    """The engine's fallback scorer over the same retrieved profile."""
    scorer = ZeroShotScorer()
    return [scorer.score(ex.candidates, ex.context).scores for ex in examples]


def onnx_scores(ranker: OnnxRanker, examples: Sequence[QueryExample]) -> list[np.ndarray]:
    """The served path: the bundle's ranker.onnx through the engine, one call per query."""
    return [ranker.rank(ex.context, ex.feeds["category"], ex.candidates).scored.scores for ex in examples]


def torch_scores(model: torch.nn.Module, examples: Sequence[QueryExample]) -> list[np.ndarray]:
    return [scores for scores, _ in predict(model, examples)]


def shuffled_cells(examples: Sequence[QueryExample], seed: int = 0) -> list[QueryExample]:
    """The same queries with the grid cells in a random order (each photo keeps its profile and relevance)."""
    rng = np.random.default_rng(seed)
    out = []
    for ex in examples:
        order = rng.permutation(len(ex.feeds["photo_mask"]))
        feeds = {k: (v[order] if k.startswith("photo_") else v) for k, v in ex.feeds.items()}
        out.append(replace(ex, feeds=feeds))
    return out


def _items(ex: QueryExample) -> np.ndarray:
    return candidate_vectors(ex.feeds["candidate_image"], ex.feeds["candidate_text"])

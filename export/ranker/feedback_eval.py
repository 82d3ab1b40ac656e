"""Feedback curves: how k "like" / "not for me" judgements per category move Hit@3 and MRR on simulated users.

Each query's user has judged k other items of the query's category before asking (never one of its candidates):
drawn half from the items of the kinds they like and half from the rest (where both exist), and judged by their
true taste ("like" when the item is of a liked kind). "Wrong" feedback is the same draws judged against it. The
judgements shift the served ranker's scores through the engine's own `feedback_shift`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.models.bundle import Bundle
from engine.recommend.candidates import candidate_vectors
from engine.recommend.feedback import FeedbackSettings, feedback_shift
from engine.recommend.ranker import OnnxRanker
from engine.recommend.scorer import zscore
from export.data.benchmark.format import Benchmark, BenchQuery
from export.ranker.evaluate import MethodResult, first_relevant_ranks, onnx_scores, zero_shot_scores
from export.ranker.examples import ExampleBuilder, QueryExample
from export.ranker.features import BenchmarkFeatures

JUDGEMENTS = (0, 1, 3, 5, 10)


@dataclass(frozen=True)
class FeedbackStudy:
    """The served ranker with k right and k wrong judgements per query, and the zero-shot scorer without any."""

    right: dict[int, MethodResult]
    wrong: dict[int, MethodResult]
    zero_shot: MethodResult


@dataclass(frozen=True)
class Judgements:
    vectors: np.ndarray  # [k, d] the judged items' candidate vectors
    liked: np.ndarray  # [k] bool


def draw_judgements(
    bench: Benchmark, features: BenchmarkFeatures, query: BenchQuery, k: int, wrong: bool = False, seed: int = 0
) -> Judgements:
    """k judgements of the query user's on items of its category that are not its candidates (see the module)."""
    user = bench.users[query.user_id]
    taken = set(query.candidates)
    pool = sorted(i.id for i in bench.items.values() if i.category == query.category and i.id not in taken)
    liked_kinds = set(user.liked)
    good = [i for i in pool if liked_kinds.intersection(bench.items[i].tags)]
    other = [i for i in pool if not liked_kinds.intersection(bench.items[i].tags)]
    rng = np.random.default_rng([seed, _stable(query.user_id), _stable(query.category), k])
    good, other = list(rng.permutation(good)), list(rng.permutation(other))
    picked: list[tuple[str, bool]] = []
    for turn in range(k):
        side = good if (turn % 2 == 0 and good) or not other else other
        if not side:
            break
        picked.append((side.pop(), side is good))
    rows = [features.item_rows[i] for i, _ in picked]
    vectors = candidate_vectors(features.item_image[rows], features.item_text[rows]) if rows else np.zeros((0, 1))
    liked = np.array([is_good != wrong for _, is_good in picked], bool)
    return Judgements(vectors.astype(np.float32), liked)


def with_feedback(
    scores: Sequence[np.ndarray], examples: Sequence[QueryExample], judgements: Sequence[Judgements],
    settings: FeedbackSettings = FeedbackSettings(),
) -> list[np.ndarray]:
    """Each query's scores standardised and shifted by its judgements, as the engine ranks with feedback."""
    out = []
    for s, ex, j in zip(scores, examples, judgements, strict=True):
        cands = candidate_vectors(ex.feeds["candidate_image"], ex.feeds["candidate_text"])
        out.append(zscore(np.asarray(s, np.float64)) + feedback_shift(cands, j.vectors, j.liked, settings).shift)
    return out


def feedback_study(
    bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, settings: FeedbackSettings = FeedbackSettings()
) -> FeedbackStudy:
    """The bundle's ranker (ONNX, as served) on the test users with k = each of JUDGEMENTS right and wrong
    judgements per query."""
    queries = bench.split("test")
    builder = ExampleBuilder(bench, features)
    examples = [builder.build(q) for q in queries]
    scores = onnx_scores(OnnxRanker(bundle, "cpu"), examples)
    curves: dict[bool, dict[int, MethodResult]] = {False: {}, True: {}}
    for wrong in (False, True):
        for k in JUDGEMENTS:
            judged = [draw_judgements(bench, features, q, k, wrong) for q in queries]
            shifted = with_feedback(scores, examples, judged, settings)
            name = f"ranker + {k} {'wrong' if wrong else 'right'} judgements"
            curves[wrong][k] = MethodResult(name, first_relevant_ranks(shifted, examples))
    zero_shot = MethodResult("zero-shot scorer, no feedback", first_relevant_ranks(zero_shot_scores(examples), examples))
    return FeedbackStudy(curves[False], curves[True], zero_shot)


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")

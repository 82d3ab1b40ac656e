"""The evaluation study: the paper's main table, its ablations and the history-length / candidate-count curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.models.bundle import Bundle
from engine.recommend.ranker import OnnxRanker
from export.data.benchmark.format import Benchmark, BenchQuery
from export.ranker.evaluate import (
    MethodResult,
    Metric,
    clip_style_scores,
    first_relevant_ranks,
    onnx_scores,
    oracle_scores,
    random_scores,
    shuffled_cells,
    torch_scores,
    zero_shot_scores,
)
from export.ranker.examples import ExampleBuilder, ProfileView
from export.ranker.features import BenchmarkFeatures
from export.ranker.pipeline import Recipe, fit

Log = Callable[[str], None]
RANDOM, ORACLE = "Random", "True-taste oracle (knows the liked kinds)"
RANKER = "VisualLens ranker (ONNX, this bundle)"
FULL, NO_HISTORY = "full (torch)", "no history (candidates only)"
HISTORY_LENGTHS = (10, 25, 50, 100, 200, 500)
CANDIDATE_COUNTS = (10, 25, 50, 100, 200)


@dataclass(frozen=True)
class Ablation:
    name: str
    recipe: Callable[[Recipe], Recipe]


ABLATIONS = (
    Ablation(NO_HISTORY, lambda r: replace(r, view=replace(r.view, photos=False))),
    Ablation("w/o retrieval (random photos)", lambda r: replace(r, view=replace(r.view, retrieval="random"))),
    Ablation("images only", lambda r: replace(r, view=replace(r.view, captions=False, aspects=False))),
    Ablation("w/o captions", lambda r: replace(r, view=replace(r.view, captions=False))),
    Ablation("w/o aspect words", lambda r: replace(r, view=replace(r.view, aspects=False))),
    Ablation("w/o joint training", lambda r: replace(r, train=replace(r.train, joint=False))),
    Ablation("w/o refinement", lambda r: replace(r, refine_rounds=0)),
)


def main_table(bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle) -> list[MethodResult]:
    """Random, the true-taste oracle (when the users' taste is known), the CLIP-style zero-shot baseline, the
    engine's zero-shot scorer and the bundle's ranker (ONNX, as the engine serves it)."""
    examples = _examples(bench, features, bench.split("test"))
    rows = [(RANDOM, random_scores(examples))]
    if all(user.liked for user in bench.users.values()):
        rows.append((ORACLE, oracle_scores(bench, examples)))
    rows += [
        ("Zero-shot CLIP-style (mean history · candidate)", clip_style_scores(examples)),
        ("Zero-shot spectrum scorer (engine fallback)", zero_shot_scores(examples)),
    ]
    results = [MethodResult(name, first_relevant_ranks(scores, examples)) for name, scores in rows]
    return results + ([served_ranker(bench, features, bundle)] if OnnxRanker.available(bundle) else [])


def served_ranker(bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, name: str = RANKER) -> MethodResult:
    """The bundle's ranker on the test users, through ONNX Runtime as the engine serves it (`features` must be
    this bundle's)."""
    examples = _examples(bench, features, bench.split("test"))
    return MethodResult(name, first_relevant_ranks(onnx_scores(OnnxRanker(bundle, "cpu"), examples), examples))


def ablations(
    bench: Benchmark, features: BenchmarkFeatures, recipe: Recipe, log: Log, only: Sequence[str] = ()
) -> list[MethodResult]:
    """The full recipe and each ablation trained from scratch on the training users, scored on the test users."""
    test = bench.split("test")
    full = fit(bench, features, recipe, log)
    full_examples = _examples(bench, features, test, recipe.view)
    results = [
        MethodResult(FULL, first_relevant_ranks(torch_scores(full.model, full_examples), full_examples)),
        MethodResult(
            "grid cells shuffled (no cell numbers)",
            first_relevant_ranks(torch_scores(full.model, shuffled_cells(full_examples)), full_examples),
        ),
    ]
    for ablation in ABLATIONS:
        if only and ablation.name not in only:
            continue
        log(f"ablation: {ablation.name}")
        variant = ablation.recipe(recipe)
        fitted = fit(bench, features, variant, log)
        examples = _examples(bench, features, test, variant.view)
        results.append(MethodResult(ablation.name, first_relevant_ranks(torch_scores(fitted.model, examples), examples)))
    return results


def history_curve(
    bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, lengths: Sequence[int] = HISTORY_LENGTHS
) -> dict[str, dict[int, Metric]]:
    """MRR when each test user's history is cut to a random subset of each length (capped at its full length)."""
    ranker = OnnxRanker(bundle, "cpu")
    builder = ExampleBuilder(bench, features)
    curves: dict[str, dict[int, Metric]] = {"VisualLens ranker": {}, "Zero-shot CLIP-style": {}}
    for length in lengths:
        examples = [builder.build(q, history_limit=length) for q in bench.split("test")]
        curves["VisualLens ranker"][length] = _mrr(onnx_scores(ranker, examples), examples)
        curves["Zero-shot CLIP-style"][length] = _mrr(clip_style_scores(examples), examples)
    return curves


def candidates_curve(
    bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, counts: Sequence[int] = CANDIDATE_COUNTS, seed: int = 0
) -> dict[str, dict[int, Metric]]:
    """MRR with N candidates per query: the ground truth plus N-1 others of its category.

    Extra candidates are drawn from items that carry none of the user's liked aspects, so the simulated
    ground truth stays the best item; counts larger than a category are skipped for that category.
    """
    ranker = OnnxRanker(bundle, "cpu")
    builder = ExampleBuilder(bench, features)
    by_category: dict[str, list[str]] = {}
    for item in bench.items.values():
        by_category.setdefault(item.category, []).append(item.id)
    curves: dict[str, dict[int, Metric]] = {"VisualLens ranker": {}, "Zero-shot CLIP-style": {}}
    for count in counts:
        rng = np.random.default_rng([seed, count])
        queries = [q for q in (_resized(bench, q, count, by_category, rng) for q in bench.split("test")) if q]
        if not queries:
            continue
        examples = [builder.build(q) for q in queries]
        curves["VisualLens ranker"][count] = _mrr(onnx_scores(ranker, examples), examples)
        curves["Zero-shot CLIP-style"][count] = _mrr(clip_style_scores(examples), examples)
    return curves


def _resized(
    bench: Benchmark, query: BenchQuery, count: int, by_category: dict[str, list[str]], rng: np.random.Generator
) -> BenchQuery | None:
    liked = set(bench.users[query.user_id].liked)
    truth = set(query.ground_truth)
    others = [c for c in query.candidates if c not in truth]
    if count <= len(query.candidates):
        kept = list(truth) + rng.choice(others, count - len(truth), replace=False).tolist()
    else:
        pool = [
            i for i in by_category[query.category]
            if i not in query.candidates and not liked & set(bench.items[i].tags)
        ]
        if len(pool) < count - len(query.candidates):
            return None
        kept = list(query.candidates) + rng.choice(pool, count - len(query.candidates), replace=False).tolist()
    order = rng.permutation(len(kept))
    return replace(query, candidates=tuple(kept[i] for i in order))


def _examples(bench: Benchmark, features: BenchmarkFeatures, queries: Sequence[BenchQuery], view=ProfileView()):
    builder = ExampleBuilder(bench, features, view)
    return [builder.build(q) for q in queries]


def _mrr(scores, examples) -> Metric:
    return MethodResult("", first_relevant_ranks(scores, examples)).metrics()["mrr"]

"""Iterative aspect-word refinement: keep the words that help predict the ground truth, until the sets settle.

W⁰(q) is the bundle's zero-shot aspect words of the query's retrieved photos (the most relevance-weighted
ones). Each round proposes words — the previous set plus, from round 2 on, the aspect words the ranker
trained on the previous set predicts — and keeps those that single out the ground truth: among the
candidates, the ground truth is one of the closest to the word. The paper asks a 70B LLM to do this filter
with the ground truth in hand; here the filter is the bundle's own embedding space, and the training labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from engine.recommend.candidates import candidate_vectors
from export.ranker.examples import QueryExample
from export.ranker.train import AspectTargets

PER_QUERY = 6  # words proposed per query and round
TOP_FRACTION = 0.1  # a word helps when the ground truth is among its closest 10% of candidates


@dataclass(frozen=True)
class RefinementRound:
    round: int
    mean_words: float  # per query
    vocabulary: int  # distinct words over all queries
    changed: float  # fraction of queries whose set changed in this round

    def to_dict(self) -> dict:
        return asdict(self)


def initial_aspects(examples: Sequence[QueryExample], per_query: int = PER_QUERY) -> AspectTargets:
    """W⁰: each query's zero-shot words with the largest relevance-weighted mass."""
    return {ex.query_id: _top_words(ex, ex.feeds["aspect_prior"], per_query) for ex in examples}


def helpful_words(example: QueryExample, words: frozenset[str]) -> frozenset[str]:
    """The words of `words` for which a ground-truth candidate ranks in the top `TOP_FRACTION` by similarity."""
    if not words:
        return frozenset()
    items = candidate_vectors(example.feeds["candidate_image"], example.feeds["candidate_text"])
    index = {word: k for k, word in enumerate(example.words)}
    chosen = sorted(words)
    sims = items @ example.feeds["aspect_vectors"][[index[w] for w in chosen]].T  # [n, m]
    ranks = (sims[None, :, :] > sims[example.labels > 0][:, None, :]).sum(axis=1).min(axis=0)  # best GT rank - 1
    limit = max(1, round(TOP_FRACTION * len(items)))
    return frozenset(word for word, rank in zip(chosen, ranks) if rank < limit)


def refine(
    examples: Sequence[QueryExample],
    predict_words: Callable[[AspectTargets], list[np.ndarray]],
    max_rounds: int = 6,
    tolerance: float = 0.02,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[AspectTargets, list[RefinementRound]]:
    """Refine W⁰ until fewer than `tolerance` of the queries change; `predict_words(targets)` trains a ranker
    on `targets` and returns its aspect-word probabilities per example (in `example.words` order)."""
    current = initial_aspects(examples)
    history = [_summary(0, current, changed=1.0)]
    for round_no in range(1, max_rounds + 1):
        proposals = dict(current)
        if round_no > 1:
            for ex, probs in zip(examples, predict_words(current)):
                proposals[ex.query_id] = current[ex.query_id] | _top_words(ex, probs, PER_QUERY)
        refined = {ex.query_id: helpful_words(ex, proposals[ex.query_id]) for ex in examples}
        changed = float(np.mean([refined[q] != current[q] for q in refined])) if refined else 0.0
        current = refined
        history.append(_summary(round_no, current, changed))
        log(f"refinement round {round_no}: {history[-1].mean_words:.2f} words/query, "
            f"{history[-1].vocabulary} distinct, {changed:.1%} of queries changed")
        if changed < tolerance:
            break
    return current, history


def _top_words(example: QueryExample, weights: np.ndarray, count: int) -> frozenset[str]:
    order = np.argsort(-np.asarray(weights), kind="stable")[:count]
    return frozenset(example.words[k] for k in order)


def _summary(round_no: int, targets: AspectTargets, changed: float) -> RefinementRound:
    sizes = [len(words) for words in targets.values()]
    vocabulary = len(set().union(*targets.values())) if targets else 0
    return RefinementRound(round_no, float(np.mean(sizes)) if sizes else 0.0, vocabulary, changed)

import numpy as np
import pytest

from engine.metrics import bootstrap_ci, evaluate, first_relevant_rank, hit_at_k, reciprocal_rank


def test_first_relevant_item_decides_with_several_answers():
    ranked = ["a", "b", "c", "d", "e"]
    assert first_relevant_rank(ranked, {"d", "b"}) == 2
    assert hit_at_k(ranked, {"d", "b"}, 1) == 0.0
    assert hit_at_k(ranked, {"d", "b"}, 2) == 1.0
    assert reciprocal_rank(ranked, {"d", "b"}) == 0.5
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    assert hit_at_k(ranked, {"z"}, 10) == 0.0


def test_evaluate_three_hand_checked_queries():
    rankings = [
        [10, 11, 12, 13, 14],  # relevant {10}: rank 1
        [20, 21, 22, 23, 24],  # relevant {23, 24}: first at rank 4
        [30, 31, 32],  # relevant {99}: never ranked
    ]
    relevant = [{10}, [24, 23], {99}]
    scores = evaluate(rankings, relevant, ks=(1, 3, 10))
    assert scores == pytest.approx(
        {
            "hit@1": 1 / 3,  # only query 1
            "hit@3": 1 / 3,  # query 2's first answer is at rank 4
            "hit@10": 2 / 3,
            "mrr": (1 + 1 / 4 + 0) / 3,  # 0.41667
        }
    )


def test_random_rankings_give_the_chance_rate():
    # 1 relevant item among 50 shuffled candidates: Hit@3 = 3/50, MRR = H_50 / 50.
    rng = np.random.default_rng(7)
    n_queries, n_candidates = 20_000, 50
    rankings = [rng.permutation(n_candidates).tolist() for _ in range(n_queries)]
    scores = evaluate(rankings, [{0}] * n_queries, ks=(3,))
    assert scores["hit@3"] == pytest.approx(3 / 50, abs=0.01)
    harmonic_50 = sum(1 / rank for rank in range(1, 51))
    assert scores["mrr"] == pytest.approx(harmonic_50 / 50, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: hit_at_k([1, 2], set(), 1), "relevant set is empty"),
        (lambda: reciprocal_rank([1, 2], []), "relevant set is empty"),
        (lambda: hit_at_k([1, 2], {1}, 0), "k must be >= 1"),
        (lambda: hit_at_k([1, 2, 1], {1}, 1), "more than once"),
        (lambda: evaluate([[1]], [{1}, {2}]), "1 rankings but 2 relevant sets"),
        (lambda: evaluate([], []), "no queries"),
        (lambda: evaluate([[1]], [{1}], ks=(0,)), "every k must be >= 1"),
        (lambda: bootstrap_ci([]), "non-empty"),
        (lambda: bootstrap_ci([1.0], alpha=1.5), "alpha"),
        (lambda: bootstrap_ci([1.0], n_resamples=0), "n_resamples"),
    ],
)
def test_bad_input_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = [1.0] * 30 + [0.0] * 70  # mean 0.3, standard error ~0.046
    low, high = bootstrap_ci(values, n_resamples=2000, seed=1)
    assert low < 0.3 < high
    assert 0.19 < low < 0.25 and 0.35 < high < 0.41  # ~ 0.3 -/+ 1.96 * 0.046
    assert bootstrap_ci(values, n_resamples=2000, seed=1) == (low, high)
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5)

import numpy as np
import pytest

from engine.metrics import bootstrap_ci, per_query_metrics


def test_hit_at_k_and_reciprocal_rank_per_query():
    metrics = per_query_metrics([2, None, 1, 4], ks=(1, 2, 10))
    assert metrics["hit@1"].tolist() == [0, 0, 1, 0] and metrics["hit@2"].tolist() == [1, 0, 1, 0]
    assert metrics["hit@10"].tolist() == [1, 0, 1, 1] and metrics["mrr"].tolist() == [0.5, 0, 1, 0.25]
    assert {key: values.mean() for key, values in metrics.items()} == pytest.approx(
        {"hit@1": 1 / 4, "hit@2": 2 / 4, "hit@10": 3 / 4, "mrr": (0.5 + 1 + 0.25) / 4}
    )


def test_random_rankings_give_the_chance_rate():
    # 1 relevant item among 50 shuffled candidates: Hit@3 = 3/50, MRR = H_50 / 50.
    rng = np.random.default_rng(7)
    ranks = [int(np.flatnonzero(rng.permutation(50) == 0)[0]) + 1 for _ in range(20_000)]
    metrics = per_query_metrics(ranks, ks=(3,))
    assert metrics["hit@3"].mean() == pytest.approx(3 / 50, abs=0.01)
    assert metrics["mrr"].mean() == pytest.approx(sum(1 / rank for rank in range(1, 51)) / 50, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: per_query_metrics([1], ks=(0,)), "every k must be >= 1"),
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

"""Per-candidate retrieval: each candidate's nearest library photos, how many photos back a question, density."""

from __future__ import annotations

import numpy as np

from engine.recommend.candidates import NEIGHBOURS, VIEWS, CandidateSet
from engine.recommend.retrieval import nearest, unit
from engine.recommend.scorer import library_density


def test_nearest_agrees_with_a_full_sort():
    rng = np.random.default_rng(0)
    library, candidates = unit(rng.normal(size=(500, 16))), unit(rng.normal(size=(7, 16)))
    sims, rows = nearest(candidates, library, 10)
    full = candidates @ library.T
    expected_rows = np.argsort(-full, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected_rows, axis=1), rtol=1e-6)


def test_a_small_library_leaves_the_missing_places_empty():
    rng = np.random.default_rng(1)
    sims, rows = nearest(unit(rng.normal(size=(3, 8))), unit(rng.normal(size=(2, 8))), 5)
    assert (rows[:, 2:] == -1).all() and (sims[:, 2:] == -1).all() and (rows[:, :2] >= 0).all()
    empty_sims, empty_rows = nearest(unit(rng.normal(size=(3, 8))), np.zeros((0, 8), np.float32), 5)
    assert (empty_rows == -1).all() and (empty_sims == -1).all()


def _candidates(library: np.ndarray, pictures: np.ndarray) -> CandidateSet:
    return CandidateSet.against(pictures, pictures, np.zeros((len(pictures), 4), np.float32), library)


def test_support_counts_distinct_photos_like_some_candidate():
    axes = np.eye(4, dtype=np.float32)
    library = unit(np.stack([axes[0] + 0.1 * axes[1], axes[0] + 0.2 * axes[2], axes[3], axes[3] + 0.1 * axes[0]]))
    cands = _candidates(library, axes[:2])  # two candidates, both close to the first two photos
    assert cands.neighbours.shape == (2, len(VIEWS), NEIGHBOURS) and cands.library_size == 4
    assert cands.support(0.9) == 2  # photos 0 and 1 are near candidate 0; counted once
    assert cands.support(0.999) == 0


def test_library_density_rises_where_photos_gather():
    rng = np.random.default_rng(2)
    taste = unit(rng.normal(size=16))
    library = unit(np.concatenate([rng.normal(size=(200, 16)), taste + 0.3 * rng.normal(size=(40, 16))]))
    liked, other = taste, unit(rng.normal(size=16))
    density = library_density(_candidates(library, np.stack([liked, other])), temperature=0.1)
    assert density[0] > density[1] + 1.0

"""Per-candidate retrieval: each candidate's nearest library photos, how many photos back a question, density."""

from __future__ import annotations

import numpy as np
import pytest

from engine.recommend import retrieval
from engine.recommend.candidates import NEIGHBOURS, VIEWS, CandidateSet
from engine.recommend.retrieval import nearest, unit
from engine.recommend.scorer import library_density


@pytest.mark.parametrize("block", [retrieval.BLOCK, 128])
@pytest.mark.parametrize("m", [3, 10])
def test_nearest_agrees_with_a_full_sort(monkeypatch, block, m):
    monkeypatch.setattr(retrieval, "BLOCK", block)  # 128: several blocks, each thresholded on a sample
    rng = np.random.default_rng(0)
    library, candidates = unit(rng.normal(size=(500, 16))), unit(rng.normal(size=(7, 16)))
    sims, rows = nearest(candidates, library, m)
    full = candidates @ library.T
    expected_rows = np.argsort(-full, axis=1, kind="stable")[:, :m]
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected_rows, axis=1), rtol=1e-6)


def test_the_three_views_match_retrieving_each_view_on_its_own(monkeypatch):
    monkeypatch.setattr(retrieval, "BLOCK", 256)
    rng = np.random.default_rng(3)
    library = unit(rng.normal(size=(1000, 16)))
    pictures, names = unit(rng.normal(size=(5, 16))), unit(rng.normal(size=(5, 16)))
    pictures[2] = 0.0  # an item without a usable picture: its picture view is all ties at 0
    cands = CandidateSet.against(pictures, names, np.zeros((5, 4), np.float32), library)
    for view, vectors in enumerate((unit(pictures + names), pictures, names)):
        expected, expected_rows = nearest(vectors, library, NEIGHBOURS)
        np.testing.assert_allclose(cands.neighbours[:, view], expected, atol=1e-6)
        if view == 0:
            np.testing.assert_array_equal(cands.neighbour_rows, expected_rows)
    assert (cands.neighbours[2, 1] == 0).all()


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

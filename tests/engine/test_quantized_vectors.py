"""8-bit codes of the library's vectors and their scan through ONNX Runtime: the photos an exact float scan finds."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.profile.quantized_vectors import GRAPH, QuantizedVectors
from engine.recommend.retrieval import unit

DIM = 384


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    """Photos in bursts around a few hundred subjects, as a library's are (not spread evenly over the sphere)."""
    rng = np.random.default_rng(seed)
    subjects = unit(rng.standard_normal((300, DIM)))
    return unit(subjects[rng.integers(0, 300, n)] + 0.6 * unit(rng.standard_normal((n, DIM))))


def test_the_shipped_graph_is_the_one_the_export_side_writes():
    from export.scan_graph import similarity_graph

    assert onnx.load(GRAPH).graph == similarity_graph().graph


@pytest.mark.parametrize("keep", [32, 64])
def test_the_scan_finds_the_exact_scans_photos(keep):
    vectors = _clustered(40_000)
    codes = QuantizedVectors.of(vectors)
    rng = np.random.default_rng(1)
    queries = np.concatenate([unit(vectors[rng.integers(0, len(vectors), 20)] + 0.3 * rng.standard_normal((20, DIM))),
                              unit(rng.standard_normal((5, DIM)))])  # near photos, and far from every photo
    sims, rows = codes.top(queries, keep, 2 * keep)
    exact = queries @ vectors.T
    best = np.argsort(-exact, axis=1)[:, :keep]
    recall = np.mean([len(np.intersect1d(a, b)) / keep for a, b in zip(rows, best)])
    assert recall >= 0.995
    assert np.abs(sims - np.take_along_axis(exact, rows, axis=1)).max() < 1e-4
    assert np.all(np.diff(sims, axis=1) <= 0)  # best first


def test_hidden_rows_and_small_libraries():
    vectors = _clustered(50)
    codes = QuantizedVectors.of(vectors)
    query = vectors[:1]
    _, rows = codes.top(query, 5, 20)
    assert rows[0, 0] == 0
    sims, without = codes.top(query, 5, 20, hidden=np.array([0, 0, rows[0, 1]]))
    assert not np.isin(without, [0, rows[0, 1]]).any() and np.isfinite(sims).all()
    sims, rows = QuantizedVectors.of(vectors[:3]).top(query, 5, 20)
    assert sorted(rows[0, :3]) == [0, 1, 2] and list(rows[0, 3:]) == [-1, -1] and np.isneginf(sims[0, 3:]).all()
    sims, rows = QuantizedVectors.of(vectors[:3]).top(query, 5, 20, hidden=np.arange(3))
    assert (rows == -1).all()


def test_codes_keep_each_dimension_to_its_own_range():
    vectors = np.zeros((4, 3), np.float32)
    vectors[:, 0] = [0.5, -0.5, 0.25, 0.0]  # dimension 1 stays zero: it must not divide by zero
    vectors[:, 2] = [0.01, 0.02, -0.01, 0.0]
    codes = QuantizedVectors.of(vectors)
    np.testing.assert_allclose(codes.rows(np.arange(4)), vectors, atol=1e-5)
    np.testing.assert_allclose(codes.rows(np.arange(4))[:, 2], vectors[:, 2], atol=1e-6)
    assert codes.codes.dtype == np.uint8 and codes.nbytes == 2 * 4 * 3 + 2 * 3 * 4

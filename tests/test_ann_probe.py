"""The approximate-search probe: a structured library shaped by its seeds, and recall measured against the engine's
exact scans (a tiny library, so the index at its top effort finds nearly everything)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.perf.ann import (
    CANDIDATES,
    EFFORTS,
    HNSW_LINKS,
    SHORTLISTS,
    Question,
    exact,
    measure_codes,
    measure_index,
)
from benchmarks.perf.library_vectors import Seeds, spread_figures, structured_library
from engine.recommend.candidates import NEIGHBOURS, view_mix
from engine.recommend.retrieval import library_mean, nearest, query_direction, unit


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    rng = np.random.default_rng(0)
    things = [f"thing{k // 2}" for k in range(120)] + [""] * 40  # two pictures of each thing, then everyday photos
    return Seeds(unit(rng.standard_normal((160, 32)).astype(np.float32)), things)


def _question(library: np.ndarray, rng: np.random.Generator) -> Question:
    pictures, names = (unit(rng.standard_normal((CANDIDATES, library.shape[1])).astype(np.float32)) for _ in "pn")
    return Question(query_direction(unit(pictures + names), library_mean(library)), np.concatenate([pictures, names]),
                    view_mix(pictures, names))


def test_the_structured_library_is_bursts_of_unit_vectors_around_the_seeds(seeds):
    library = structured_library(seeds.vectors, 5000, seed=1)
    assert library.shape == (5000, 32) and library.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(library, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(library, structured_library(seeds.vectors, 5000, seed=1))
    assert np.median((library @ seeds.vectors.T).max(axis=1)) > 0.7  # photos sit near seeds (or between two)
    figures = spread_figures(seeds, library, sample=200)
    assert figures["synthetic_nearest_photo"] > figures["synthetic_10th_nearest"] > figures["real_nearest_other_thing"]


def test_a_question_asks_an_index_what_the_engine_scans_exactly(seeds):
    library = structured_library(seeds.vectors, 3000)
    question = _question(library, np.random.default_rng(2))
    queries = question.queries
    assert queries.shape == (3 * CANDIDATES, 32)
    mixed = nearest(question.pictures_and_names, library, NEIGHBOURS, question.mix)[1][2 * CANDIDATES :]
    explicit = nearest(queries[2 * CANDIDATES :], library, NEIGHBOURS)[1]
    np.testing.assert_array_equal(np.sort(mixed, axis=1), np.sort(explicit, axis=1))  # a mix is a query of its own


@pytest.mark.parametrize("name", list(EFFORTS))
def test_recall_against_the_exact_scans_rises_with_the_effort(seeds, name):
    pytest.importorskip("faiss")
    library = structured_library(seeds.vectors, 3000)
    rng = np.random.default_rng(3)
    asked = [_question(library, rng) for _ in range(2)]
    tops, nears, baseline = exact(library, asked)
    assert baseline["bytes_per_photo"] == 32 * 4
    result = measure_index(name, library, asked, tops, nears)
    recalls = [effort["recall_nearest"] for effort in result.efforts]
    assert recalls[-1] >= 0.95 and recalls[-1] >= recalls[0]
    links = 2 * HNSW_LINKS * 4 if name.startswith("HNSW") else 0  # the graph's bottom layer, 4 bytes a link
    assert 32 * 2 <= result.bytes_per_photo <= 32 * 2 + links + 64  # float16 codes, the links, ids and lists
    assert all(e["nearest_p95_ms"] > 0 for e in result.efforts)


def test_the_engines_codes_find_the_exact_scans_photos(seeds):
    library = structured_library(seeds.vectors, 3000)
    rng = np.random.default_rng(4)
    asked = [_question(library, rng) for _ in range(2)]
    tops, nears, _ = exact(library, asked)
    result = measure_codes(library, asked, tops, nears)
    assert result.bytes_per_photo == pytest.approx(2 * 32, abs=1)  # two bytes a value
    assert [e["effort"] for e in result.efforts] == list(SHORTLISTS)
    assert all(e["recall_top_w"] >= 0.99 and e["recall_nearest"] >= 0.99 for e in result.efforts[1:])

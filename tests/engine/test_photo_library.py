"""The in-memory photo library keeps what every question would recompute from all photos, and only as long as the
photos stay as they are: the same answers as computing it afresh, fewer passes over the library."""

from __future__ import annotations

import numpy as np
import pytest

from engine.api import unlock
from engine.home import Home
from engine.profile.quantized_vectors import QuantizedVectors
from engine.recommend.candidates import NEIGHBOURS, VIEWS, CandidateSet
from engine.recommend.photo_library import KeyedMemo, PhotoLibrary, row_keys
from engine.recommend.retrieval import library_mean, query_direction, top_w, unit

DIM = 96


def _library(n: int = 3000, dim: int = DIM, seed: int = 0) -> PhotoLibrary:
    vectors = unit(np.random.default_rng(seed).standard_normal((n, dim)))
    return PhotoLibrary(np.arange(n, dtype=np.int64), [f"/p/{i}.jpg" for i in range(n)], QuantizedVectors.of(vectors))


def _exact(library: PhotoLibrary) -> np.ndarray:
    return unit(library.vectors.rows(np.arange(len(library))))  # the vectors as the codes hold them


def _candidates(n: int, dim: int = DIM, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return unit(rng.standard_normal((n, dim))), unit(rng.standard_normal((n, dim))), np.zeros((n, 4), np.float32)


@pytest.fixture()
def scans(monkeypatch) -> list[int]:
    """How many queries each pass over a library's codes scanned for."""
    passes: list[int] = []
    real = QuantizedVectors.top

    def counted(self, queries, keep, shortlist, hidden=None):
        passes.append(len(np.atleast_2d(queries)))
        return real(self, queries, keep, shortlist, hidden)

    monkeypatch.setattr(QuantizedVectors, "top", counted)
    return passes


def test_remembered_neighbours_are_the_scanned_ones_and_only_new_candidates_are_scanned(scans):
    library = _library()
    image, text, visual = _candidates(12)
    exact = CandidateSet.against(image, text, visual, _exact(library))

    first = CandidateSet.remembered(image[:8], text[:8], visual[:8], library)
    again = CandidateSet.remembered(image, text, visual, library)  # 8 known, 4 new

    assert scans == [3 * 8, 3 * 4]  # three views a candidate, in one pass
    np.testing.assert_array_equal(again.neighbour_rows[:8], first.neighbour_rows)
    np.testing.assert_allclose(again.neighbours, exact.neighbours, atol=2e-3)  # the codes' rounding only
    found = [len(np.intersect1d(a, b)) for a, b in zip(again.neighbour_rows, exact.neighbour_rows)]
    assert np.mean(found) >= 0.97 * NEIGHBOURS
    assert again.neighbours.shape == (12, len(VIEWS), NEIGHBOURS) and again.library_size == len(library)


def test_excluded_photos_are_remembered_apart(scans):
    library = _library()
    image, text, visual = _candidates(5)
    whole = CandidateSet.remembered(image, text, visual, library)
    hidden = np.unique(whole.neighbour_rows[:, :3])  # each candidate's three nearest photos

    without = CandidateSet.remembered(image, text, visual, library, excluded=hidden)
    again = CandidateSet.remembered(image, text, visual, library, excluded=hidden[::-1].copy())  # same set

    assert scans == [15, 15]
    assert not np.isin(without.neighbour_rows, hidden).any()
    np.testing.assert_array_equal(again.neighbour_rows, without.neighbour_rows)
    for kept, before in zip(without.neighbour_rows, whole.neighbour_rows):  # the others keep their order
        rest = before[~np.isin(before, hidden)]
        np.testing.assert_array_equal(kept[: len(rest)], rest)


def test_top_photos_are_remembered_by_query_w_and_exclusions(scans):
    library = _library()
    query = unit(np.random.default_rng(3).standard_normal(DIM))
    rows, sims = library.top_w(query, 16)
    exact_rows, exact_sims = top_w(_exact(library), query, 16)
    assert len(np.intersect1d(rows, exact_rows)) >= 15 and np.all(np.diff(sims) <= 0)
    np.testing.assert_allclose(sims, _exact(library)[rows] @ query, atol=2e-3)
    assert library.top_w(query.copy(), 16)[0] is rows and scans == [1]
    library.top_w(query, 8)
    without = library.top_w(query, 16, excluded=rows[:2])
    assert scans == [1, 1, 1] and not np.isin(without[0], rows[:2]).any() and len(without[0]) == 16
    with pytest.raises(ValueError):
        rows[0] = 1  # shared by every asker: read-only


def test_the_mean_is_the_plain_mean_of_the_vectors_before_rounding():
    vectors = unit(np.random.default_rng(0).standard_normal((500, DIM)))
    library = PhotoLibrary(np.arange(500), [str(i) for i in range(500)], QuantizedVectors.of(vectors))
    np.testing.assert_allclose(library.mean, vectors.mean(axis=0), atol=1e-6)
    items = unit(np.random.default_rng(2).standard_normal((3, DIM)))
    empty = PhotoLibrary(np.zeros(0, np.int64), [], QuantizedVectors.of(np.zeros((0, 0), np.float32)))
    np.testing.assert_allclose(query_direction(items, empty.mean), unit(unit(items).mean(axis=0)), atol=1e-6)
    assert library_mean(np.zeros((0, DIM), np.float32)).shape == ()
    assert empty.top_w(items[0], 8)[0].size == 0 and empty.nearest(items, 4)[1].tolist() == [[-1] * 4] * 3


def test_keyed_memo_computes_the_missing_keys_and_forgets_the_least_recently_used():
    memo: KeyedMemo[int] = KeyedMemo(capacity=3)
    asked: list[list[int]] = []

    def square(todo: list[int]) -> list[int]:
        asked.append(todo)
        return [keys[i][0] ** 2 for i in todo]

    keys = [bytes([k]) for k in (1, 2, 3)]
    assert memo.get(keys, square) == [1, 4, 9]
    assert memo.get(keys[:1], square) == [1] and asked == [[0, 1, 2]]  # 1 is now the most recently used
    keys = [bytes([4])]
    assert memo.get(keys, square) == [16]  # 2 goes
    keys = [bytes([k]) for k in (1, 2, 3)]
    assert memo.get(keys, square) == [1, 4, 9] and asked[-1] == [1] and len(memo) == 3
    memo.clear()
    assert len(memo) == 0


def test_row_keys_depend_on_every_part_and_the_salt():
    a, b = np.eye(3, dtype=np.float32), np.ones((3, 3), np.float32)
    assert len(set(row_keys(a, b))) == 3
    assert row_keys(a, b) == row_keys(a.copy(), b.copy())
    assert row_keys(a, b) != row_keys(b, a) and row_keys(a, b) != row_keys(a, b, salt=b"x")


def test_a_question_asked_again_scans_nothing_until_the_photos_change(indexed, catalog, photo_dir, scans):
    with unlock(Home.default()) as lens:
        first = lens.recommend("outing", catalog)
        library = lens.photo_library()
        lens.judge("outing", catalog, first.ranked[-1].item.id, liked=True)  # a write that leaves the photos be
        judged = lens.recommend("outing", catalog)
        assert lens.photo_library() is library
        assert len(scans) == 2  # the candidates' neighbours and the top 64, once: the second ranking read them back

        lens.unjudge("outing", first.ranked[-1].item.id)
        assert [r.item.id for r in lens.recommend("outing", catalog).ranked] == [r.item.id for r in first.ranked]
        assert judged.ranked[0].item.id == first.ranked[-1].item.id

        lens.forget(photo_dir / sorted(p.name for p in photo_dir.iterdir())[0])
        lens.recommend("outing", catalog)
        assert lens.photo_library() is not library and len(lens.photo_library()) == len(library) - 1
        assert len(scans) == 4


def test_photos_changed_by_another_process_reload_the_library(indexed, photo_dir):
    with unlock(Home.default()) as lens, unlock(Home.default()) as other:
        library = lens.photo_library()
        assert lens.photo_library() is library
        other.forget(photo_dir / sorted(p.name for p in photo_dir.iterdir())[0])
        assert len(lens.photo_library()) == len(library) - 1


def test_a_profile_without_photos_still_answers(home, catalog):
    from engine.api import initialise

    initialise(Home.default(), "pass phrase", use_keyring=False)
    with unlock(Home.default(), "pass phrase") as lens:
        rec = lens.recommend("outing", catalog)
        assert len(lens.photo_library()) == 0 and rec.grid_paths == [] and len(rec.ranked) == 3
        assert lens.search("a cat") == []

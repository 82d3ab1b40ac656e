"""Your taste and its corrections: what the profile holds for a category, and the user's "not me", "more of this" and
excluded photos, applied to every ranking, kept in the profile, undone exactly, and forgotten with their photo."""

import json

import numpy as np
import pytest

from engine.api import unlock
from engine.home import Home
from engine.recommend.retrieval import nearest, top_w, unit
from tests.engine.conftest import ranking
from tests.engine.fault_tools import run_cli_in_process


def test_excluded_rows_are_left_out_of_both_scans_as_if_they_were_not_there():
    rng = np.random.default_rng(3)
    library, queries = unit(rng.normal(size=(300, 16))), unit(rng.normal(size=(5, 16)))
    excluded = np.array([7, 42, 42, 299])
    kept = np.setdiff1d(np.arange(300), excluded)
    sims, rows = nearest(queries, library, 8, excluded=excluded)
    expected_sims, expected_rows = nearest(queries, library[kept], 8)
    np.testing.assert_allclose(sims, expected_sims, atol=1e-6)
    assert (rows == kept[expected_rows]).all()
    top, _ = top_w(library, queries[0], 10, excluded=excluded)
    assert list(top) == list(kept[top_w(library[kept], queries[0], 10)[0]])
    tiny_sims, tiny_rows = nearest(queries, library[:3], 4, excluded=np.array([1]))  # fewer photos than places
    assert (tiny_rows[:, 2:] == -1).all() and (tiny_sims[:, 2:] == -1).all() and 1 not in tiny_rows
    assert len(top_w(library[:3], queries[0], 10, excluded=np.array([0, 1, 2]))[0]) == 0


def test_taste_weighs_the_words_of_the_photos_that_inform_the_category(indexed, catalog):
    with unlock(Home.default()) as lens:
        taste = lens.taste("outing", catalog)
        rec = lens.recommend("outing", catalog)
    assert taste.grid_paths == rec.grid_paths and len(taste.grid_paths) == 4
    assert taste.words and all(0 <= t.weight <= 1 for t in taste.words) and taste.words[0].weight > 0
    assert [t.weight for t in taste.words] == sorted((t.weight for t in taste.words), reverse=True)
    assert all(t.photos and set(t.photos) <= set(taste.grid_paths) for t in taste.words)
    assert set(rec.profile_aspects) <= {t.word for t in taste.words}
    assert json.loads(json.dumps(taste.as_dict()))["words"][0]["word"] == taste.words[0].word


def test_not_me_takes_a_word_out_of_every_ranking_and_undo_restores_it(indexed, catalog):
    with unlock(Home.default()) as lens:
        before, rec = ranking(lens, catalog)
        word = lens.taste("outing", catalog).words[0].word
        lens.correct_word("outing", word, pinned=False)
        after, rec = ranking(lens, catalog)
        assert word not in rec.profile_aspects and all(word not in r.evidence.aspect_words for r in rec.ranked)
        assert after != before  # the ranker read the photos without it
        assert next(t for t in lens.taste("outing", catalog).words if t.word == word).removed
        assert lens.uncorrect_word("outing", word) and not lens.uncorrect_word("outing", word)
        assert ranking(lens, catalog)[0] == before


def test_more_of_this_lifts_the_items_like_the_word(indexed, catalog):
    with unlock(Home.default()) as lens:
        before, _ = ranking(lens, catalog)
        lens.correct_word("", "rocket", pinned=True)  # for every category
        after, rec = ranking(lens, catalog)
        assert "rocket" not in rec.profile_aspects  # pinned, but no three photos carry it: never disclosed
        assert after[0][0] == "c3"  # rocket launch viewing
        assert next(t for t in lens.taste("outing", catalog).words if t.word == "rocket").pinned
        assert lens.uncorrect_word("", "rocket")
        assert ranking(lens, catalog)[0] == before


def test_an_excluded_photo_leaves_the_grid_and_the_evidence_until_included(indexed, catalog):
    with unlock(Home.default()) as lens:
        before, rec = ranking(lens, catalog)
        photo = rec.grid_paths[0]
        assert lens.exclude_photo(photo, "Outing") == photo
        _, rec = ranking(lens, catalog)
        assert photo not in rec.grid_paths and len(rec.grid_paths) == 3
        taste = lens.taste("outing", catalog)
        assert taste.excluded == [photo] and photo not in taste.grid_paths
        assert lens.corrections() == [("outing", "excluded", photo)]
        with pytest.raises(ValueError, match="not a photo of your library"):
            lens.exclude_photo(photo + ".missing")
        assert not lens.include_photo(photo)  # excluded from "outing", not from every category
        assert lens.include_photo(photo, "outing")
        assert ranking(lens, catalog)[0] == before


def test_forgetting_a_photo_forgets_its_corrections_and_wipe_forgets_them_all(indexed, catalog):
    with unlock(Home.default()) as lens:
        photo = lens.recommend("outing", catalog).grid_paths[0]
        lens.exclude_photo(photo)
        lens.correct_word("outing", "cat", pinned=True)
        lens.forget(photo)
        assert lens.corrections() == [("outing", "pinned", "cat")]
        lens.store.wipe_all()
        assert lens.corrections() == []


def test_the_taste_and_correct_commands(indexed, catalog):
    shown = run_cli_in_process("taste", "outing", "--catalog", str(catalog), "--json")
    assert shown.returncode == 0, shown.stderr
    taste = json.loads(shown.stdout)
    word, photo = taste["words"][0]["word"], taste["grid"][0]
    assert run_cli_in_process("correct", "-c", "outing", "--not-me", word).returncode == 0
    assert run_cli_in_process("correct", "--everywhere", "--exclude", photo).returncode == 0
    listed = json.loads(run_cli_in_process("correct", "--list", "--json").stdout)
    assert listed == [{"category": "outing", "kind": "removed", "target": word},
                      {"category": "", "kind": "excluded", "target": photo}]
    table = run_cli_in_process("taste", "outing", "--catalog", str(catalog))
    assert "not me" in table.stdout and "Kept out of outing" in table.stdout
    assert run_cli_in_process("correct", "-c", "outing", "--undo-word", word).returncode == 0
    assert run_cli_in_process("correct", "--everywhere", "--include", photo).returncode == 0
    again = run_cli_in_process("correct", "--everywhere", "--include", photo)
    assert again.returncode == 1 and "nothing to undo" in again.stderr
    usage = run_cli_in_process("correct", "--not-me", word)
    assert usage.returncode == 2 and "--everywhere" in usage.stderr

"""Feedback on rankings: "like" / "not for me" judgements move the items like them, say so, persist encrypted in the
profile, and withdraw cleanly."""

import json

import numpy as np
import pytest

from engine.api import unlock
from engine.catalog.items import CatalogError, CatalogItem
from engine.home import Home
from engine.recommend.feedback import FeedbackSettings, feedback_shift
from engine.recommend.retrieval import unit
from tests.engine.conftest import ranking
from tests.engine.fault_tools import run_cli_in_process


def test_a_judgement_moves_its_item_and_its_likes_but_not_the_unlike():
    rng = np.random.default_rng(0)
    judged = unit(rng.normal(size=(1, 64)))
    twin = unit(judged[0] + 0.05 * unit(rng.normal(size=64)))
    far = unit(rng.normal(size=64))  # random directions in 64-d: cosine near 0
    candidates = np.stack([judged[0], twin, far])
    liked = feedback_shift(candidates, judged, np.array([True]))
    disliked = feedback_shift(candidates, judged, np.array([False]))
    settings = FeedbackSettings()
    up = settings.like_strength + settings.own_strength  # the item judged: the broad vote and its own step
    down = settings.dislike_strength + settings.own_strength
    assert liked.shift[0] == pytest.approx(up, rel=1e-3) and liked.shift[1] > 0.9 * up  # its twin: nearly as much
    assert disliked.shift[0] == pytest.approx(-down, rel=1e-3) and disliked.shift[1] < -0.9 * down
    assert abs(liked.shift[2]) < 1e-3 and abs(disliked.shift[2]) < 1e-3  # unlike the judged item: untouched
    assert list(liked.source) == list(disliked.source) == [0, 0, -1]


def test_judgements_vote_by_likeness_and_none_leave_the_scores_alone():
    rng = np.random.default_rng(1)
    a, b = unit(rng.normal(size=(2, 32)))
    both = feedback_shift(np.stack([a, b]), np.stack([a, b]), np.array([True, False]))
    assert both.shift[0] > 0 > both.shift[1] and list(both.source) == [0, 1]
    none = feedback_shift(np.stack([a, b]), np.zeros((0, 32), np.float32), np.zeros(0, bool))
    assert not none.shift.any() and list(none.source) == [-1, -1]


def test_like_lifts_an_item_says_why_and_undo_restores_theranking(indexed, catalog):
    with unlock(Home.default()) as lens:
        before, _ = ranking(lens, catalog)
        last = before[-1][0]
        item = lens.judge("Outing", catalog, last, liked=True)  # categories match case-insensitively
        assert item.id == last
        after, rec = ranking(lens, catalog)
        moved = next(r for r in rec.ranked if r.item.id == last)
        assert moved.rank < len(before)
        assert moved.evidence.feedback is not None and moved.evidence.feedback.item.id == last
        assert rec.as_dict()["ranking"][moved.rank - 1]["evidence"]["feedback"] == {
            "item": last, "name": item.name, "liked": True}
    with unlock(Home.default()) as lens:  # kept in the profile: a new session ranks with it too
        assert ranking(lens, catalog)[0] == after
        assert [(j.item.id, j.liked) for j in lens.judgements("outing")] == [(last, True)]
        assert lens.unjudge("outing", last) and not lens.unjudge("outing", last)
        restored, rec = ranking(lens, catalog)
        assert restored == before and all(r.evidence.feedback is None for r in rec.ranked)


def test_not_for_me_sinks_the_top_item_and_the_latest_judgement_stands(indexed, catalog):
    with unlock(Home.default()) as lens:
        before, _ = ranking(lens, catalog)
        top = before[0][0]
        lens.judge("outing", catalog, top, liked=True)
        lens.judge("outing", catalog, top, liked=False)  # changed their mind: replaces the like
        assert [(j.item.id, j.liked) for j in lens.judgements()] == [(top, False)]
        after, rec = ranking(lens, catalog)
        assert after[0][0] != top
        sunk = next(r for r in rec.ranked if r.item.id == top)
        assert sunk.evidence.feedback is not None and not sunk.evidence.feedback.liked


def test_judging_an_unknown_item_is_a_clear_error_and_wipe_forgets_judgements(indexed, catalog):
    with unlock(Home.default()) as lens:
        with pytest.raises(CatalogError, match="no item 'nope' in category 'outing'"):
            lens.judge("outing", catalog, "nope", liked=True)
        lens.store.judge(CatalogItem("c1", "cat cafe", "outing"), liked=True)
        lens.store.wipe_all()
        assert lens.judgements() == []


def test_the_feedback_command_likes_lists_and_undoes(indexed, catalog):
    liked = run_cli_in_process("feedback", "c3", "--category", "outing", "--catalog", str(catalog), "--like")
    assert liked.returncode == 0 and "you like rocket launch viewing" in liked.stdout
    listed = run_cli_in_process("feedback", "--list", "--json")
    assert [(j["id"], j["liked"], j["category"]) for j in json.loads(listed.stdout)] == [("c3", True, "outing")]
    ranked = run_cli_in_process("recommend", "--category", "outing", "--catalog", str(catalog), "--json")
    moved = [r for r in json.loads(ranked.stdout)["ranking"] if r["evidence"]["feedback"]]
    assert moved and moved[0]["evidence"]["feedback"]["item"] == "c3"
    assert run_cli_in_process("feedback", "c3", "--category", "outing", "--undo").returncode == 0
    again = run_cli_in_process("feedback", "c3", "--category", "outing", "--undo")
    assert again.returncode == 1 and "nothing to undo" in again.stderr
    assert json.loads(run_cli_in_process("feedback", "--list", "--json").stdout) == []
    usage = run_cli_in_process("feedback", "c3", "--category", "outing", "--like")
    assert usage.returncode == 2 and "--catalog" in usage.stderr

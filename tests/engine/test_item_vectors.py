"""Catalog items' vectors persist in the encrypted store: a catalog asked before, in a new process, embeds nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.api import initialise, unlock
from engine.home import Home
from engine.models.encoders import ImageEncoder, TextEncoder

PASS = "correct horse battery staple"


@pytest.fixture()
def profile(home, photo_dir):
    initialise(Home.default(), PASS, use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([photo_dir])
    return Home.default()


def _ranking(lens, catalog):
    answer = lens.recommend("outing", catalog)
    return [(r.item.id, round(float(r.score), 5)) for r in answer.ranked]


def _refuse_encoding(monkeypatch):
    """From here on, any picture or text the encoders are asked to embed fails the test."""
    def refuse(self, batch, *args, **kwargs):
        raise AssertionError(f"embedded again: {batch!r:.80}")

    monkeypatch.setattr(ImageEncoder, "encode", refuse)
    monkeypatch.setattr(TextEncoder, "encode", refuse)
    monkeypatch.setattr(TextEncoder, "encode_lane", refuse)


def test_a_catalog_asked_before_embeds_nothing_in_a_new_session(profile, catalog, monkeypatch):
    with unlock(profile) as lens:
        first = _ranking(lens, catalog)
    with unlock(profile) as lens:  # a new process would start from the store alone: so does this session
        _refuse_encoding(monkeypatch)
        assert _ranking(lens, catalog) == first
        assert not lens.recommender.embedder.image_encoder.loaded  # neither encoder even opened its session
        assert not lens.recommender.text_encoder.loaded


def test_a_picture_changed_in_place_is_embedded_again(profile, catalog, photo_dir):
    with unlock(profile) as lens:
        items = lens.recommend("outing", catalog).ranked
        before = {r.item.id: r for r in items}
        cat = lens.recommender.embedder.image_vectors([before["c1"].item])[0]
        shutil.copy(photo_dir / "rocket.jpg", catalog.parent / "chelsea.png")  # the cat cafe's picture is a rocket now
    with unlock(profile) as lens:
        rocket = lens.recommender.embedder.image_vectors([before["c3"].item])[0]
        now = lens.recommender.embedder.image_vectors([before["c1"].item])[0]
    assert not np.allclose(now, cat) and np.allclose(now, rocket, atol=1e-5)


def test_the_item_vectors_go_with_a_wipe_of_the_rows_and_a_bundle_change(profile, catalog):
    with unlock(profile) as lens:
        _ranking(lens, catalog)
        identity = lens.bundle.identity
        assert _rows(lens, "item_vectors") == 6 and _rows(lens, "item_files") == 3  # 3 pictures, 3 texts
        lens.store.use_bundle("another@bundle#0")  # another model's vectors are not comparable: gone
        assert _rows(lens, "item_vectors") == 0 and _rows(lens, "item_files") == 3  # file hashes still hold
        lens.store.use_bundle(identity)
        _ranking(lens, catalog)
        lens.store.wipe_all()
        assert _rows(lens, "item_vectors") == 0 and _rows(lens, "item_files") == 0


def _rows(lens, table: str) -> int:
    with lens.store._reading() as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

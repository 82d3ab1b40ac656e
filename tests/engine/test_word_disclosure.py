"""Aspect words in answers never disclose a single photo: only words several different photos carry are shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from engine.api import initialise, unlock
from engine.catalog.items import CatalogItem
from engine.home import Home
from engine.recommend.recommender import MIN_WORD_PHOTOS

PASS = "correct horse battery staple"


@pytest.fixture()
def library(home, photo_dir, tmp_path) -> Path:
    """Three versions each of two everyday photos, and one photo of a kind nothing else in the library shows."""
    folder = tmp_path / "library"
    folder.mkdir()
    for name in ("coffee.jpg", "chelsea.png"):
        image = Image.open(photo_dir / name).convert("RGB")
        for i, version in enumerate((image, ImageOps.mirror(image), image.rotate(4))):
            version.save(folder / f"{Path(name).stem}-{i}.jpg", quality=90)
    shutil.copy(photo_dir / "rocket.jpg", folder / "the-only-rocket.jpg")
    initialise(Home.default(), PASS, use_keyring=False)
    return folder


def test_a_photo_alone_of_its_kind_lends_no_words_to_an_answer(library):
    items = [CatalogItem(id=name, name=name, category="outings") for name in ("rocket launch", "space museum", "cafe")]
    with unlock(Home.default()) as lens:
        assert lens.index([library]).added == 7
        profiles = {p.path: p for p in lens.store.profiles(lens.photo_paths())}
        holders: dict[str, set[str]] = {}
        for profile in profiles.values():
            for word in profile.aspects:
                holders.setdefault(word, set()).add(profile.path)
        lone = {w for w in profiles[str(library / "the-only-rocket.jpg")].aspects if len(holders[w]) < MIN_WORD_PHOTOS}
        assert lone, "the rocket photo should have words of its own"

        for query in (None, "a rocket"):
            answer = lens.recommend_items("outings", items, query)
            shown = set(answer.profile_aspects) | {w for r in answer.ranked for w in r.evidence.aspect_words}
            assert shown, "words the library's photos share are still shown"
            assert not shown & lone, f"words of one photo disclosed: {shown & lone}"
            assert all(len(holders[w]) >= MIN_WORD_PHOTOS for w in shown)

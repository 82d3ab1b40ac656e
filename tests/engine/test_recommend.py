"""Recommendations follow the user's photos, with evidence that points at the photos that drove them."""

import json

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from engine.api import initialise, unlock
from engine.home import Home

NOISE = ["brick", "grass", "gravel", "moon", "camera", "page", "hubble_deep_field", "colorwheel"]


def _variants(array, n, seed):
    """Different shots of one subject: crops, flips, small colour changes."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(array).convert("RGB")
    shots = []
    for _ in range(n):
        w, h = img.size
        left, top = int(rng.integers(0, w // 5)), int(rng.integers(0, h // 5))
        shot = img.crop((left, top, left + int(w * 0.8), top + int(h * 0.8)))
        if rng.random() < 0.5:
            shot = ImageOps.mirror(shot)
        shots.append(Image.eval(shot, lambda v, g=float(rng.uniform(0.85, 1.15)): min(255, int(v * g))))
    return shots


@pytest.fixture()
def catalog(tmp_path):
    root = tmp_path / "catalog"
    (root / "img").mkdir(parents=True)
    items = []
    for item_id, name, subject in [
        ("cat-cafe", "cat cafe", "chelsea"),
        ("espresso-bar", "espresso bar", "coffee"),
        ("space-museum", "space museum", "rocket"),
    ]:
        _variants(getattr(data, subject)(), 1, seed=99)[0].save(root / "img" / f"{item_id}.jpg")
        items.append({"id": item_id, "name": name, "category": "outing", "image": f"img/{item_id}.jpg"})
    (root / "catalog.json").write_text(json.dumps({"items": items}))
    return root / "catalog.json"


def _library(folder, subject, seed):
    folder.mkdir(parents=True)
    for i, shot in enumerate(_variants(getattr(data, subject)(), 12, seed)):
        shot.save(folder / f"{subject}-{i}.jpg")
    for name in NOISE:
        Image.fromarray(getattr(data, name)()).convert("RGB").save(folder / f"{name}.png")
    return folder


SLOW = pytest.mark.slow  # the same path with another subject: CI runs them, `./run test fast` the first one


@pytest.mark.parametrize("subject, expected", [("chelsea", "cat-cafe"), pytest.param("coffee", "espresso-bar", marks=SLOW),
                                               pytest.param("rocket", "space-museum", marks=SLOW)])
def test_the_users_photos_decide_the_ranking(home, tmp_path, catalog, subject, expected):
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([_library(tmp_path / "photos", subject, seed=1)])
        rec = lens.recommend("outing", catalog, w=16)
        assert rec.ranked[0].item.id == expected, [(r.item.id, r.score) for r in rec.ranked]
        top = rec.ranked[0]
        assert top.evidence.cells, "the top item must cite photos"
        cited = [rec.grid_paths[c - 1] for c in top.evidence.cells]
        assert all(f"/{subject}-" in p for p in cited), cited
        assert top.evidence.aspect_words
        assert len(rec.grid_paths) == 16 and [r.rank for r in rec.ranked] == [1, 2, 3]


def test_free_text_steers_the_ranking(home, tmp_path, catalog):
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([_library(tmp_path / "photos", "chelsea", seed=2)])
        rec = lens.recommend("outing", catalog, query="I want to see rockets and spaceflight", w=16)
        assert rec.ranked[0].item.id == "space-museum"


def test_grid_is_rendered_in_memory_with_the_retrieved_photos(home, tmp_path, catalog):
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([_library(tmp_path / "photos", "coffee", seed=3)])
        rec = lens.recommend("outing", catalog, w=64)
        assert len(rec.grid_paths) == 20  # fewer photos than cells: the rest are black
        grid = rec.render_grid(highlight=rec.ranked[0])
        assert grid.size[0] == grid.size[1] > 8 * 112
        assert not any(tmp_path.rglob("*grid*")), "the grid must not be written anywhere unless asked"


def test_a_question_embeds_only_its_candidates_not_the_photos_captions_or_aspect_words(home, tmp_path, catalog):
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([_library(tmp_path / "photos", "chelsea", seed=4)])
        assert lens.store.words_without_vectors() == []  # indexing stored every aspect word's vector
        encoded: list[str] = []
        encode = lens.text_encoder.encode
        lens.text_encoder.encode = lambda texts: encoded.extend(texts) or encode(texts)
        rec = lens.recommend("outing", catalog, w=16)
    assert rec.profile_aspects and rec.ranked[0].evidence.aspect_words
    assert sorted(encoded) == ["cat cafe", "espresso bar", "space museum"]


def test_photos_unlike_every_candidate_make_an_honest_cold_start(home, tmp_path, catalog):
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    folder = tmp_path / "textures"
    folder.mkdir()
    for name in ["brick", "grass", "gravel", "moon", "page", "colorwheel"]:
        Image.fromarray(getattr(data, name)()).convert("RGB").save(folder / f"{name}.png")
    with unlock(Home.default()) as lens:
        lens.index([folder])
        cold = lens.recommend("outing", catalog, w=16)
        lens.index([_library(tmp_path / "photos", "rocket", seed=5)])
        warm = lens.recommend("outing", catalog, w=16)
    assert cold.cold_start and cold.support < 3 and "says little about your taste" in cold.cold_start_note()
    assert cold.as_dict()["cold_start"] is True and len(cold.ranked) == 3  # still ranked, and said so
    assert not warm.cold_start and warm.support >= 3 and warm.cold_start_note() == ""

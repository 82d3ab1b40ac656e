"""The trained bridge's parts: composed photos, captioned pictures, the projection, whitening and the metrics."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from export.data.compose import PHOTO_SIDE, compose, on_white
from export.data.pairs import HELD_OUT_SOURCE, LICENCES, SUBCATEGORY_KINDS, describe, emoji_things, pictures
from export.lite.bridge_eval import kind_precision, text_to_image_recall
from export.lite.projection import ProjectionConfig, ProjectionData, project, train_projection, whitening

pytestmark = pytest.mark.slow  # not in `./run test fast`


def _item(colour: tuple[int, int, int]) -> Image.Image:
    """A round RGBA 'thing' on a transparent square."""
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    for x in range(64):
        for y in range(64):
            if (x - 32) ** 2 + (y - 32) ** 2 < 26**2:
                img.putpixel((x, y), (*colour, 255))
    return img


def test_a_composed_photo_shows_the_thing_and_is_reproducible():
    item = _item((220, 20, 20))
    first = compose(item, random.Random("seed"), backgrounds=())
    again = compose(item, random.Random("seed"), backgrounds=())
    other = compose(item, random.Random("another seed"), backgrounds=())
    assert first.mode == "RGB" and first.size == (PHOTO_SIDE, PHOTO_SIDE)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))
    pixels = np.asarray(first).astype(int)
    reddish = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert reddish.mean() > 0.03  # the thing covers a good part of the photo (scaled 35-85% of its side)


def test_a_plain_picture_is_composited_on_white():
    flat = on_white(_item((0, 0, 255)))
    assert flat.mode == "RGB" and flat.getpixel((0, 0)) == (255, 255, 255) and flat.getpixel((32, 32)) == (0, 0, 255)


def test_captioned_pictures_name_things_and_their_kinds():
    things = {t.key: t for t in emoji_things()}
    assert len(things) > 800
    ramen = things["ramen"]
    assert "asian food" in ramen.kinds and ramen.name == "steaming bowl"
    assert describe(ramen)[0] == "steaming bowl" and "noodle" in describe(ramen)[1]
    assert all(t.kinds[0] in SUBCATEGORY_KINDS.values() for t in things.values())
    found = pictures()
    sources = {p.source for p in found}
    assert HELD_OUT_SOURCE in sources and sources <= set(LICENCES)
    assert all(p.path.is_file() and p.texts and p.kinds for p in found[::50])


def _clustered(rng: np.random.Generator, things: int, views: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(things, dim))
    rows = np.repeat(np.arange(things), views)
    return (centres[rows] + 0.3 * rng.normal(size=(len(rows), dim))).astype(np.float32), rows


def test_the_projection_learns_to_land_pictures_on_their_texts():
    rng = np.random.default_rng(0)
    features, things = _clustered(rng, things=40, views=6, dim=32)
    texts = rng.normal(size=(40, 16)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    kinds = np.eye(4, dtype=np.float32)[np.arange(40) % 4]
    kind_vectors = rng.normal(size=(4, 16)).astype(np.float32)
    kind_vectors /= np.linalg.norm(kind_vectors, axis=1, keepdims=True)
    config = ProjectionConfig(hidden=64, epochs=40, batch_size=48, learning_rate=3e-3)
    model = train_projection(ProjectionData(features, things, texts, kinds, kind_vectors), config)
    test, test_things = _clustered(np.random.default_rng(0), things=40, views=6, dim=32)  # same centres
    test += 0.1 * np.random.default_rng(1).normal(size=test.shape).astype(np.float32)
    recall = text_to_image_recall(project(model, test), test_things, texts)
    assert recall[1] > 0.8 and recall[5] == pytest.approx(1.0)  # random would be 1/40 and 5/40


def test_whitening_gives_unit_variance_components():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 20)) * np.linspace(0.1, 5.0, 20)
    mean, basis = whitening(features, 8)
    reduced = (features - mean) @ basis
    assert basis.shape == (20, 8)
    np.testing.assert_allclose(np.cov(reduced, rowvar=False), np.eye(8), atol=1e-6)


def test_recall_and_kind_precision_count_what_they_say():
    names = np.eye(3, dtype=np.float32)  # thing t's name is axis t
    views = np.array([[1, 0, 0], [0.1, 0.9, 0], [0.6, 0.5, 0], [0, 0, 1]], np.float32)
    things = np.array([0, 1, 1, 2])
    recall = text_to_image_recall(views, things, names, ks=(1, 2))
    # name 1 ranks view 2 (0.5) behind view 1 (0.9): hit at 1; every thing's own view is first
    assert recall == {1: 1.0, 2: 1.0}
    swapped = text_to_image_recall(views, np.array([1, 0, 0, 2]), names, ks=(1, 2))
    assert swapped[1] == pytest.approx(1 / 3)  # name 0's best view (0) belongs to thing 1
    kinds = [frozenset({"red"}), frozenset({"red"}), frozenset({"blue"}), frozenset({"blue"}), frozenset({"red"})] * 2
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.8, 0.2]] * 2, np.float32)
    precision = kind_precision(vectors, kinds, {"red": np.array([1, 0], np.float32)}, top=6)
    assert precision == pytest.approx(1.0)

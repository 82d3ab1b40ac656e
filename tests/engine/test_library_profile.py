"""Index real photos into the encrypted store through the facade: semantics, incremental updates, bad input."""

import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from engine.api import initialise, unlock
from engine.home import Home


@pytest.fixture()
def library(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    return folder


def _open():
    return unlock(Home.default())


def test_text_queries_rank_the_right_photo_first(library):
    with _open() as lens:
        report = lens.index([library])
        assert report.added == 4 and not report.failed
        for query, expected in [
            ("a cat", "chelsea.png"),
            ("a cup of coffee", "coffee.jpg"),
            ("a rocket", "rocket.jpg"),
            ("a person", "astronaut.png"),  # ImageNet has no astronaut class; "person" lands via helmet labels
        ]:
            hits = lens.search(query, k=4)
            assert os.path.basename(hits[0].path) == expected, (query, [(h.path, h.score) for h in hits])


def test_profiles_hold_a_caption_and_aspect_words(library):
    with _open() as lens:
        lens.index([library])
        (hit,) = [h for h in lens.search("a cat", k=4) if h.path.endswith("chelsea.png")]
        assert 3 <= len(hit.caption.split()) <= 30
        assert "cat" in " ".join(hit.aspects)


def test_reindex_skips_unchanged_and_follows_touch_modify_rename_delete(library):
    with _open() as lens:
        lens.index([library])
        again = lens.index([library])
        assert (again.unchanged, again.decoded, again.added) == (4, 0, 0)

        later = time.time() + 5
        os.utime(library / "coffee.jpg", (later, later))  # touched: same bytes
        Image.open(library / "rocket.jpg").rotate(90).save(library / "rocket.jpg")  # modified
        (library / "astronaut.png").rename(library / "renamed.png")  # moved
        (library / "chelsea.png").unlink()  # deleted
        report = lens.index([library])
        assert report.decoded == 1  # only the modified photo is decoded again
        assert (report.updated, report.moved, report.removed) == (2, 1, 1)
        paths = {os.path.basename(p) for p in lens.store.fingerprints()}
        assert paths == {"coffee.jpg", "rocket.jpg", "renamed.png"}
        assert lens.store.count() == 3


def test_bad_files_are_reported_once_and_lose_nothing(library):
    (library / "empty.jpg").write_bytes(b"")
    (library / "noise.png").write_bytes(os.urandom(4096))
    good = (library / "coffee.jpg").read_bytes()
    (library / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (library / "notes.txt").write_text("not a photo")
    with _open() as lens:
        report = lens.index([library])
        reasons = dict(report.failed)
        assert set(map(os.path.basename, reasons)) == {"empty.jpg", "noise.png", "truncated.jpg"}
        assert lens.store.count() == 4
        second = lens.index([library])
        assert second.failed == []  # scan problems are reported once too, like decode failures
        assert lens.store.count() == 4


def test_forget_a_photo_and_a_folder(library):
    sub = library / "trip"
    sub.mkdir()
    shutil.copy(library / "coffee.jpg", sub / "cafe.jpg")
    with _open() as lens:
        lens.index([library])
        assert lens.store.count() == 5
        assert lens.forget(library / "chelsea.png") == 1
        assert lens.forget(sub) == 1
        assert {os.path.basename(h.path) for h in lens.search("a cat", k=10)} == {"coffee.jpg", "rocket.jpg", "astronaut.png"}


def test_matrix_rows_are_unit_vectors(library):
    with _open() as lens:
        lens.index([library])
        _, paths, matrix = lens.store.load_matrix()
        assert matrix.shape == (4, 384)
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)

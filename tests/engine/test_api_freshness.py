"""The facade's in-memory library follows the store: its own changes and other connections' commits."""

from __future__ import annotations

import shutil

from engine.api import initialise, unlock
from engine.home import Home

PASS = "correct horse battery staple"


def test_a_second_connection_sees_photos_another_one_indexed(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    folder.mkdir()
    shutil.copy(photo_dir / "coffee.jpg", folder)
    initialise(Home(home), PASS, use_keyring=False)
    with unlock(Home(home), PASS) as indexer, unlock(Home(home), PASS) as reader:
        indexer.index([folder])
        assert [hit.path for hit in reader.search("coffee", k=5)] == [str(folder / "coffee.jpg")]
        shutil.copy(photo_dir / "chelsea.png", folder)
        indexer.index([folder])  # committed by another connection: the reader reloads its matrix
        assert reader.search("a cat", k=1)[0].path == str(folder / "chelsea.png")
        assert reader.forget(folder / "chelsea.png") == 1
        assert [hit.path for hit in indexer.search("a cat", k=5)] == [str(folder / "coffee.jpg")]


def test_forgetting_a_subfolder_keeps_it_out(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    (folder / "private").mkdir()
    (folder / "rocket.jpg").rename(folder / "private" / "rocket.jpg")
    initialise(Home(home), PASS, use_keyring=False)
    with unlock(Home(home), PASS) as lens:
        assert lens.index([folder]).added == 4
        assert lens.forget(folder / "private") == 1
        assert lens.index([folder]).added == 0 and lens.store.count() == 3
        assert lens.photo_paths() == sorted(str(folder / n) for n in ("astronaut.png", "chelsea.png", "coffee.jpg"))

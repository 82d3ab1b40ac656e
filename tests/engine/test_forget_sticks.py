"""Forgetting sticks: a forgotten photo or folder stays out of the profile through plain index runs, a parent folder
indexed by name, the watcher and concurrent index runs, until the user names that path to `index` again."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest
from PIL import Image

from engine.api import initialise, unlock
from engine.home import Home
from engine.library.scan import scan_folders
from engine.library.watch_runner import watch
from engine.profile.store import ProfileStore
from tests.engine.test_store import make_profile
from tests.test_cli import vl

PASS = "correct horse battery staple"


@pytest.fixture()
def library(home, photo_dir, tmp_path):
    """Pictures/: chelsea.png (a cat), coffee.jpg, astronaut.png, private/rocket.jpg and private/keep/kept.jpg."""
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    (folder / "private" / "keep").mkdir(parents=True)
    (folder / "rocket.jpg").rename(folder / "private" / "rocket.jpg")
    Image.open(photo_dir / "coffee.jpg").rotate(90).save(folder / "private" / "keep" / "kept.jpg")
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    return folder.resolve()


def _names(lens) -> set[str]:
    return {os.path.basename(path) for path in lens.photo_paths()}


# -- the engine ---------------------------------------------------------------------------------------------
def test_a_forgotten_photo_stays_out_when_its_folder_is_indexed_until_it_is_named(library):
    secret = library / "chelsea.png"
    with unlock(Home.default()) as lens:
        assert lens.index([library]).added == 5
        assert lens.forget(secret) == 1

        again = lens.index([library])  # naming a parent lifts nothing
        assert "chelsea.png" not in _names(lens) and lens.store.count() == 4
        assert str(secret) not in {hit.path for hit in lens.search("a cat", k=10)}
        assert (again.added, again.lifted, lens.store.exclusions()) == (0, [], [str(secret)])
        Image.open(secret).rotate(180).save(secret)  # changed on disk: still out
        assert lens.index([library]).added == 0 and "chelsea.png" not in _names(lens)

        back = lens.index([secret])  # named itself: back, and said so
        assert back.lifted == [str(secret)] and back.added == 1
        assert lens.store.exclusions() == [] and lens.search("a cat", k=1)[0].path == str(secret)


def test_a_forgotten_folder_stays_out_and_a_folder_named_inside_it_comes_back_alone(library):
    private = library / "private"
    with unlock(Home.default()) as lens:
        lens.index([library])
        assert lens.forget(private) == 2
        assert lens.index([library]).added == 0 and _names(lens) == {"chelsea.png", "coffee.jpg", "astronaut.png"}

        inside = lens.index([private / "keep"])  # the rest of the forgotten folder stays out
        assert (inside.added, inside.lifted) == (1, [])
        assert _names(lens) == {"chelsea.png", "coffee.jpg", "astronaut.png", "kept.jpg"}
        assert lens.index([library]).removed == 0 and "kept.jpg" in _names(lens)  # the parent does not drop it
        assert "rocket.jpg" not in _names(lens)
        with pytest.raises(ValueError, match="in a folder you asked VisualLens to forget"):
            lens.index([private / "rocket.jpg"])

        back = lens.index([private])
        assert back.lifted == [str(private)] and back.added == 1 and "rocket.jpg" in _names(lens)


def test_a_forgotten_library_folder_leaves_the_library_and_its_parent_does_not_bring_it_back(library):
    with unlock(Home.default()) as lens:
        lens.index([library])
        assert lens.forget(library) == 5
        assert lens.index([library.parent]).added == 0 and lens.store.count() == 0
        assert lens.store.folders() == [str(library.parent)] and lens.store.exclusions() == [str(library)]


def test_a_symlink_into_a_forgotten_folder_does_not_bring_it_back(library, tmp_path):
    elsewhere = library / "elsewhere"  # in the library: a scan follows no link out of it
    elsewhere.mkdir()
    shutil.copy(library / "coffee.jpg", elsewhere / "linked.jpg")
    (library / "link").symlink_to(elsewhere, target_is_directory=True)
    with unlock(Home.default()) as lens:
        lens.index([library])
        assert "linked.jpg" in _names(lens)
        assert lens.forget(library / "link") == 1  # through the link: its target is forgotten too
        assert lens.index([library]).added == 0 and "linked.jpg" not in _names(lens)
    scanned = {os.path.relpath(e.path, library) for e in scan_folders([library], excluded=[str(elsewhere)]).files}
    assert "coffee.jpg" in scanned and os.path.join("link", "linked.jpg") not in scanned  # by the real path too


def test_a_forget_during_an_index_run_wins_over_its_later_batches(library, monkeypatch):
    from engine.profile import indexer

    forget_now = threading.Event()
    original = indexer.Indexer._encode_and_store

    def forget_first(self, batch, changed, report):  # the user forgets while the run is under way
        if not forget_now.is_set():
            forget_now.set()
            with unlock(Home.default()) as other:
                other.forget(library / "private")
        return original(self, batch, changed, report)

    monkeypatch.setattr(indexer.Indexer, "_encode_and_store", forget_first)
    with unlock(Home.default()) as lens:
        lens.index([library])
        assert forget_now.is_set() and not {"rocket.jpg", "kept.jpg"} & _names(lens)


def test_the_store_refuses_profiles_and_failures_of_excluded_paths(tmp_path):
    with ProfileStore.open(tmp_path / "profile.db", os.urandom(32)) as store:
        store.add_folder("/photos")
        store.add_exclusion("/photos/private")
        store.add_folder("/photos/private/keep")  # named inside the forgotten folder: indexed
        store.add_profiles([make_profile(p, seed=i) for i, p in enumerate(
            ["/photos/a.jpg", "/photos/private/b.jpg", "/photos/private/keep/c.jpg", "/photos/privateer/d.jpg"])])
        kept = ["/photos/a.jpg", "/photos/private/keep/c.jpg", "/photos/privateer/d.jpg"]
        assert sorted(store.fingerprints()) == kept
        store.record_failure("/photos/private/bad.jpg", "/photos", 1, 1, "broken")
        assert store.failures() == []


def test_a_forgotten_photo_is_skipped_by_the_scan(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"photo bytes")
    found = scan_folders([tmp_path], excluded=[str(tmp_path / "b.jpg")]).files
    assert [os.path.basename(entry.path) for entry in found] == ["a.jpg"]


# -- the watcher ---------------------------------------------------------------------------------------------
def test_the_watcher_does_not_bring_back_a_forgotten_photo_when_it_changes(library, photo_dir):
    secret = library / "chelsea.png"
    reports, ready, stop, failure = [], threading.Event(), threading.Event(), []
    with unlock(Home.default()) as lens:
        lens.index([library])
        lens.forget(secret)
        lens.forget(library / "private")

        def run() -> None:
            try:
                watch(lens, [library], on_report=lambda f, r: reports.append(r), on_ready=lambda w: ready.set(),
                      stop=stop, quiet_seconds=0.3, max_delay_seconds=10, poll_seconds=0.1)
            except Exception as exc:  # surfaced below
                failure.append(exc)
                ready.set()

        thread = threading.Thread(target=run)
        thread.start()
        try:
            assert ready.wait(60) and not failure, failure
            assert "chelsea.png" not in _names(lens)  # not by the start-up reconcile
            Image.open(photo_dir / "chelsea.png").rotate(90).save(secret)  # the forgotten photo changes
            Image.open(photo_dir / "rocket.jpg").rotate(90).save(library / "private" / "new.jpg")
            Image.open(photo_dir / "astronaut.png").rotate(90).save(library / "fresh.jpg")  # and a new one comes
            deadline = time.monotonic() + 60
            while "fresh.jpg" not in _names(lens) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "fresh.jpg" in _names(lens), reports
            time.sleep(1.5)  # any batch for the forgotten photo has run by now
        finally:
            stop.set()
            thread.join(60)
        assert not failure, failure
        assert not {"chelsea.png", "new.jpg", "rocket.jpg", "kept.jpg"} & _names(lens)


# -- the command line ----------------------------------------------------------------------------------------
def test_cli_forget_sticks_through_plain_index_runs_until_the_path_is_indexed_by_name(library):
    secret, private = library / "chelsea.png", library / "private"
    assert json.loads(vl("index", library, "--json").stdout)["added"] == 5
    said = vl("forget", secret).stdout
    assert "Forgot 2 photo(s)" in vl("forget", private).stdout

    plain = json.loads(vl("index", "--json").stdout)  # every library folder, as remembered
    assert plain["added"] == 0 and plain["lifted"] == []
    found = {os.path.basename(h["path"]) for h in json.loads(vl("search", "a cat", "--json", "-k", "10").stdout)}
    assert found == {"coffee.jpg", "astronaut.png"}
    status = json.loads(vl("status", "--json").stdout)
    assert status["photos"] == 2 and status["excluded"] == sorted([str(secret), str(private)])
    assert said == (f"Forgot 1 photo(s) under {secret}. Future index runs and the watcher skip it, also in the folders "
                    f"that hold it, until you index it explicitly: `visuallens index {secret}`.\n")

    lifted = " ".join(vl("index", secret).stdout.split())
    assert f"Lifted the exclusion of {secret}" in lifted and "1 added" in lifted
    assert json.loads(vl("index", private, "--json").stdout)["lifted"] == [str(private)]
    assert json.loads(vl("status", "--json").stdout)["photos"] == 5
    assert json.loads(vl("index", "--json").stdout)["added"] == 0


def test_wipe_clears_what_was_forgotten(library, home):
    secret = library / "chelsea.png"
    vl("index", library)
    vl("forget", secret)
    assert json.loads(vl("status", "--json").stdout)["excluded"] == [str(secret)]
    vl("wipe", "--yes")
    vl("init", "--no-keyring")
    assert json.loads(vl("status", "--json").stdout)["excluded"] == []
    assert json.loads(vl("index", library, "--json").stdout)["added"] == 5

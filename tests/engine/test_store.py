"""The SQLCipher profile store: round trips, encryption at rest, wrong keys, concurrency and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sqlcipher3

from engine.profile.records import Fingerprint, PhotoProfile
from engine.profile.store import (
    CIPHER_PAGE_SIZE,
    MIGRATIONS,
    SCHEMA_VERSION,
    ProfileStore,
    StoreBusyError,
    StoreError,
    WrongKeyError,
)

DIM = 8
VISUAL_DIM = 5  # the visual vector's width is the bundle's own, unlike the caption vector's


def make_profile(path: str, folder: str = "/photos", seed: int = 0, caption: str = "a bowl of ramen") -> PhotoProfile:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return PhotoProfile(
        path=path, folder=folder, size=1000 + seed, mtime_ns=10**18 + seed, content_hash=f"hash-{seed}",
        caption=caption, aspects=("ramen", "noodles"), vector=vector, width=640, height=480,
    )


def assert_same_profile(actual: PhotoProfile, expected: PhotoProfile) -> None:
    for field in ("path", "folder", "size", "mtime_ns", "content_hash", "caption", "aspects", "width", "height"):
        assert getattr(actual, field) == getattr(expected, field), field
    np.testing.assert_array_equal(actual.vector, expected.vector)


def raw_connection(path: Path, key: bytes) -> sqlcipher3.Connection:
    """A second, independent SQLCipher connection to the store (what another process would hold)."""
    connection = sqlcipher3.connect(str(path), isolation_level=None)
    connection.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    connection.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
    return connection


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "data" / "profile.db"


@pytest.fixture
def store(db_path, key):
    with ProfileStore.open(db_path, key) as opened:
        yield opened


def test_profiles_round_trip_by_path_id_and_hash(store):
    profiles = [make_profile(f"/photos/{i}.jpg", seed=i) for i in range(3)]
    store.add_profiles(profiles)

    ids, paths, _ = store.load_matrix()
    assert store.count() == 3
    for got, expected in zip(store.profiles([profiles[2].path, int(ids[0]), "/photos/missing.jpg", 10**9]),
                             [profiles[2], profiles[0]], strict=True):
        assert_same_profile(got, expected)
    assert_same_profile(store.find_by_hash("hash-1"), profiles[1])
    assert store.find_by_hash("hash-unknown") is None
    assert store.fingerprints() == {p.path: Fingerprint(p.size, p.mtime_ns, p.content_hash) for p in profiles}


def test_matrix_rows_are_l2_normalised_vectors_in_id_order(store):
    profiles = [make_profile(f"/photos/{i}.jpg", seed=i) for i in range(5)]
    store.add_profiles(profiles)

    ids, paths, matrix = store.load_matrix()

    assert ids.dtype == np.int64 and matrix.dtype == np.float32 and matrix.shape == (5, DIM)
    assert list(ids) == sorted(ids)
    assert paths == [p.path for p in profiles]
    expected = np.stack([p.vector / np.linalg.norm(p.vector) for p in profiles])
    np.testing.assert_allclose(matrix, expected, rtol=1e-6)


def test_empty_store_gives_an_empty_matrix(store):
    ids, paths, matrix = store.load_matrix()
    assert (ids.shape, paths, matrix.shape) == ((0,), [], (0, 0))


def test_upsert_by_path_keeps_the_id_and_replaces_the_profile(store):
    store.add_profiles([make_profile("/photos/a.jpg", seed=1)])
    [first_id], _, _ = store.load_matrix()

    replacement = make_profile("/photos/a.jpg", seed=2, caption="a plate of sushi")
    store.add_profiles([replacement])

    [second_id], _, _ = store.load_matrix()
    assert second_id == first_id and store.count() == 1
    assert_same_profile(store.profiles(["/photos/a.jpg"])[0], replacement)


def test_vectors_of_another_size_are_refused(store):
    store.add_profiles([make_profile("/photos/a.jpg")])
    other = PhotoProfile("/photos/b.jpg", "/photos", 1, 1, "h", "c", (), np.ones(DIM + 1), 1, 1)

    with pytest.raises(StoreError, match=r"different sizes \[8, 9\]"):
        store.add_profiles([other])
    assert store.count() == 1


def test_move_and_touch_keep_the_profile(store):
    store.add_profiles([make_profile("/photos/a.jpg", seed=1), make_profile("/photos/b.jpg", seed=2)])

    store.move("/photos/a.jpg", "/photos/b.jpg", "/photos", 5, 6)  # a renamed over b
    store.touch("/photos/b.jpg", 7, 8)

    [moved] = store.profiles(["/photos/b.jpg"])
    assert (moved.caption, moved.content_hash) == ("a bowl of ramen", "hash-1")
    assert store.fingerprints() == {"/photos/b.jpg": Fingerprint(7, 8, "hash-1")}
    with pytest.raises(StoreError, match="cannot move /photos/a.jpg: it is not in store"):
        store.move("/photos/a.jpg", "/photos/c.jpg", "/photos", 1, 1)
    with pytest.raises(StoreError, match="cannot update /photos/a.jpg"):
        store.touch("/photos/a.jpg", 1, 1)


def test_remove_folder_matches_whole_path_components(store):
    inside = ["/a/b/1.jpg", "/a/b/sub/2.jpg"]
    outside = ["/a/bc/3.jpg", "/a/b.jpg", "/a/b0/4.jpg", "/a/5.jpg"]
    store.add_profiles([make_profile(p, folder="/a", seed=i) for i, p in enumerate(inside + outside)])
    store.record_failure("/a/b/broken.jpg", "/a", 1, 1, "truncated JPEG")
    store.record_failure("/a/bc/broken.jpg", "/a", 1, 1, "truncated JPEG")

    assert set(store.fingerprints("/a/b/")) == set(inside)
    assert store.remove_folder("/a/b/") == 2

    assert set(store.fingerprints()) == set(outside)
    assert [f.path for f in store.failures()] == ["/a/bc/broken.jpg"]
    assert store.remove(["/a/5.jpg", "/a/not-there.jpg"]) == 1


def test_failures_are_kept_until_the_file_indexes(store):
    store.record_failure("/photos/bad.jpg", "/photos", 10, 20, "cannot identify image file")
    store.record_failure("/photos/worse.jpg", "/photos", 1, 2, "truncated")

    [bad, worse] = store.failures()
    assert (bad.path, bad.size, bad.mtime_ns, bad.reason) == ("/photos/bad.jpg", 10, 20, "cannot identify image file")

    store.add_profiles([make_profile("/photos/bad.jpg")])
    assert [f.path for f in store.failures()] == ["/photos/worse.jpg"]
    assert store.clear_failures(["/photos/worse.jpg"]) == 1
    assert store.failures() == []


def test_folders_exclusions_and_meta(store):
    store.add_folder("/photos")
    store.add_folder("/more")
    store.add_folder("/photos")
    store.add_exclusion("/photos/private")
    store.set_meta("bundle", "lite-1")
    store.set_meta("bundle", "lite-2")

    assert store.folders() == ["/photos", "/more"]
    assert store.exclusions() == ["/photos/private"]
    assert (store.get_meta("bundle"), store.get_meta("missing")) == ("lite-2", None)
    store.remove_folder_entry("/more")
    store.remove_exclusion("/photos/private")
    assert (store.folders(), store.exclusions()) == (["/photos"], [])


def test_wrong_key_fails_before_writing_anything(db_path, key):
    with ProfileStore.open(db_path, key) as store:
        store.add_profiles([make_profile("/photos/a.jpg")])
    files_before = {p.name: p.read_bytes() for p in db_path.parent.iterdir()}

    with pytest.raises(WrongKeyError, match=f"cannot decrypt {db_path}: wrong key"):
        ProfileStore.open(db_path, os.urandom(32))

    assert {p.name: p.read_bytes() for p in db_path.parent.iterdir()} == files_before


def test_a_file_that_is_not_a_store_is_refused(tmp_path, key):
    plain = tmp_path / "plain.db"
    sqlcipher3.connect(str(plain)).execute("CREATE TABLE t(x)")

    with pytest.raises(WrongKeyError, match="not a VisualLens store"):
        ProfileStore.open(plain, key)


def test_nothing_readable_in_database_wal_or_shm(db_path, key):
    secret_path = "/home/alice/VerySecretHolidayFolder/beach.jpg"
    profile = replace(make_profile(secret_path, caption="alice kissing bob on the beach at sunset", seed=7),
                      visual_vector=np.random.default_rng(8).standard_normal(VISUAL_DIM), encoded_with="lite@1#abc")
    secrets = [profile.caption.encode(), b"VerySecretHolidayFolder", profile.vector.tobytes()[:16], b"noodles",
               profile.visual_vector.tobytes()[:16]]

    def readable_files() -> dict[str, list[bytes]]:
        found = {}
        for file in db_path.parent.iterdir():
            data = file.read_bytes()
            found[file.name] = [secret for secret in secrets if secret in data]
        return found

    with ProfileStore.open(db_path, key) as store:
        store.add_profiles([profile])
        store.record_failure(secret_path.replace("beach", "party"), "/home/alice", 1, 1, "truncated")
        wal = Path(f"{db_path}-wal")
        assert wal.stat().st_size > 0  # the profile is still in the WAL, not yet checkpointed
        assert readable_files() == {"profile.db": [], "profile.db-wal": [], "profile.db-shm": []}
    assert readable_files() == {"profile.db": []}


def test_store_files_are_private(db_path, key):
    with ProfileStore.open(db_path, key) as store:
        store.add_profiles([make_profile("/photos/a.jpg")])
        modes = {p.name: p.stat().st_mode & 0o777 for p in db_path.parent.iterdir()}
    assert modes == {"profile.db": 0o600, "profile.db-wal": 0o600, "profile.db-shm": 0o600}


def test_schema_version_is_recorded_and_newer_stores_are_refused(db_path, key):
    ProfileStore.open(db_path, key).close()
    connection = raw_connection(db_path, key)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}; this VisualLens reads up to"):
        ProfileStore.open(db_path, key)


def test_caption_vectors_round_trip_and_missing_ones_can_be_filled(store, db_path, key):
    with_vector = replace(make_profile("/photos/a.jpg", seed=1), caption_vector=np.arange(DIM, dtype=np.float32))
    store.add_profiles([with_vector, make_profile("/photos/b.jpg", seed=2, caption="a dome")])
    got = {p.path: p for p in store.profiles(["/photos/a.jpg", "/photos/b.jpg"])}
    np.testing.assert_array_equal(got["/photos/a.jpg"].caption_vector, with_vector.caption_vector)
    assert got["/photos/b.jpg"].caption_vector is None

    (missing,) = store.captions_without_vectors(limit=10)
    assert missing[1] == "a dome"
    store.set_caption_vectors([(missing[0], np.ones(DIM)), (10**9, np.ones(DIM))])  # a forgotten id is skipped
    assert store.captions_without_vectors(limit=10) == []
    np.testing.assert_array_equal(store.profiles(["/photos/b.jpg"])[0].caption_vector, np.ones(DIM))
    with pytest.raises(ValueError, match="caption vector"):
        replace(with_vector, caption_vector=np.ones(DIM + 1))

    store.add_profiles([replace(with_vector, caption="a new caption", caption_vector=None)])  # re-described
    assert store.profiles(["/photos/a.jpg"])[0].caption_vector is None
    store.remove(["/photos/b.jpg"])
    assert raw_connection(db_path, key).execute("SELECT count(*) FROM caption_vectors").fetchone() == (0,)


def with_visual(profile: PhotoProfile, seed: int, encoded_with: str = "lite@2#def") -> PhotoProfile:
    visual = np.random.default_rng(100 + seed).standard_normal(VISUAL_DIM)
    return replace(profile, visual_vector=visual, encoded_with=encoded_with)


def test_visual_vectors_round_trip_and_follow_their_photo(store, db_path, key):
    a, b = with_visual(make_profile("/photos/a.jpg", seed=1), 1), make_profile("/photos/b.jpg", seed=2)
    store.add_profiles([a, b])
    got_a, got_b = store.profiles(["/photos/a.jpg", "/photos/b.jpg"])
    np.testing.assert_array_equal(got_a.visual_vector, a.visual_vector.astype(np.float32))
    assert got_a.visual_vector.shape == (VISUAL_DIM,) and not got_a.visual_vector.flags.writeable
    np.testing.assert_array_equal(got_a.visual_or_vector(), got_a.visual_vector)
    assert (got_a.encoded_with, got_b.visual_vector, got_b.encoded_with) == ("lite@2#def", None, "")
    np.testing.assert_array_equal(got_b.visual_or_vector(), got_b.vector)
    with pytest.raises(ValueError, match="visual vector of /photos/a.jpg must be a non-empty 1-D array"):
        replace(a, visual_vector=np.ones((2, 2)))

    store.move("/photos/a.jpg", "/photos/moved.jpg", "/photos", 5, 6)  # renamed: same row, same vectors
    (moved,) = store.profiles(["/photos/moved.jpg"])
    np.testing.assert_array_equal(moved.visual_vector, got_a.visual_vector)
    assert moved.encoded_with == "lite@2#def"
    store.add_profiles([replace(moved, path="/photos/copy.jpg", size=1, mtime_ns=1)])  # a copy reuses the profile
    (copy,) = store.profiles(["/photos/copy.jpg"])
    np.testing.assert_array_equal(copy.visual_vector, got_a.visual_vector)
    assert store.find_by_hash("hash-1", encoded_with="lite@2#def").path in {"/photos/moved.jpg", "/photos/copy.jpg"}
    assert store.find_by_hash("hash-1", encoded_with="lite@3#xyz") is None

    store.add_profiles([replace(copy, visual_vector=None)])  # re-profiled by a bundle without a `visual` output
    assert store.profiles(["/photos/copy.jpg"])[0].visual_vector is None
    store.remove(["/photos/moved.jpg"])
    assert raw_connection(db_path, key).execute("SELECT count(*) FROM visual_vectors").fetchone() == (0,)


def test_vector_widths_must_agree_within_a_bundle_only(store):
    store.add_profiles([with_visual(make_profile("/photos/a.jpg", seed=1), 1, encoded_with="old")])
    wider = PhotoProfile("/photos/b.jpg", "/photos", 1, 1, "h", "c", (), np.ones(DIM + 4), 1, 1,
                         visual_vector=np.ones(3), encoded_with="new")
    store.add_profiles([wider])  # another bundle's vectors: another width is fine
    assert store.load_matrix(encoded_with="new")[2].shape == (1, DIM + 4)
    assert store.load_matrix(encoded_with="old")[2].shape == (1, DIM)

    with pytest.raises(StoreError, match=r"visual_vectors of different sizes \[3, 4\]"):
        store.add_profiles([replace(wider, path="/photos/c.jpg", visual_vector=np.ones(4))])
    with pytest.raises(StoreError, match=r"vectors of different sizes \[8, 12\]"):
        store.add_profiles([replace(wider, path="/photos/c.jpg", encoded_with="old", visual_vector=None)])
    assert store.count() == 2


def test_a_bundle_change_drops_the_word_vectors_of_its_text_encoder_and_marks_them_for_refilling(store):
    assert store.use_bundle("lite@1#abc") and not store.use_bundle("lite@1#abc")
    assert store.get_meta("text_vectors_missing") is None  # nothing was dropped
    store.add_profiles([replace(make_profile("/photos/a.jpg"), encoded_with="lite@1#abc")], [("ramen", np.ones(DIM))])

    assert store.use_bundle("clip@1#fed")
    assert store.word_vectors(["ramen"]) == {} and store.get_meta("text_vectors_missing") == "1"
    assert store.count() == 1 and store.count_stale("clip@1#fed") == 1  # the profile waits to be re-encoded


def test_word_vectors_are_kept_while_a_photo_has_the_word(store):
    ramen, dome = make_profile("/photos/a.jpg", seed=1), replace(make_profile("/trip/b.jpg", seed=2), aspects=("dome",))
    store.add_profiles([ramen, dome], [("ramen", np.ones(DIM)), ("noodles", np.zeros(DIM))])
    assert store.words_without_vectors() == ["dome"]  # in use, no vector yet (a store from before them)
    assert store.words_without_vectors(["dome", "arch", "ramen", "dome"]) == ["dome", "arch"]
    store.set_word_vectors([("dome", np.full(DIM, 2.0))])
    got = store.word_vectors(["dome", "ramen", "arch"])
    assert sorted(got) == ["dome", "ramen"]
    np.testing.assert_array_equal(got["dome"], np.full(DIM, 2.0))

    store.add_profiles([replace(ramen, aspects=("ramen",))])  # re-described: "noodles" is no photo's word any more
    assert sorted(store.word_vectors(["ramen", "noodles", "dome"])) == ["dome", "ramen"]
    store.remove([ramen.path])  # forgetting a photo forgets the words only it had
    assert sorted(store.word_vectors(["ramen", "noodles", "dome"])) == ["dome"]
    store.remove_folder("/trip")
    assert store.word_vectors(["dome"]) == {}


def old_store(db_path: Path, key: bytes, version: int) -> sqlcipher3.Connection:
    """A store of schema `version` made by that version's migrations, with one photo (id 1); left open for more."""
    db_path.parent.mkdir(parents=True)
    old = raw_connection(db_path, key)
    for statement in (s for migration in MIGRATIONS[:version] for s in migration):
        old.execute(statement)
    old.execute("INSERT INTO photos(path, folder, size, mtime_ns, content_hash, caption, aspects, width, height, "
                "indexed_at) VALUES ('/photos/a.jpg', '/photos', 1, 1, 'h', 'a dome', '[\"dome\"]', 4, 3, 0)")
    old.execute("INSERT INTO vectors(photo_id, vector) VALUES (1, ?)", (np.ones(DIM, dtype="<f4").tobytes(),))
    old.execute(f"PRAGMA user_version = {version}")
    return old


def test_a_store_from_before_text_vectors_is_migrated_without_losing_profiles(db_path, key):
    old_store(db_path, key, version=2).close()

    with ProfileStore.open(db_path, key) as store:
        (profile,) = store.profiles(["/photos/a.jpg"])
        assert (profile.caption, profile.aspects, profile.caption_vector) == ("a dome", ("dome",), None)
        assert store.captions_without_vectors(limit=10) == [(1, "a dome")]
        assert store.words_without_vectors() == ["dome"]
        assert store.get_meta("text_vectors_missing") == "1"  # the next index run fills them in
        assert profile.encoded_with == ""  # never indexed through a bundle: waits to be re-encoded by any
    assert raw_connection(db_path, key).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_store_from_before_visual_vectors_keeps_every_profile_and_who_encoded_it(db_path, key):
    old = old_store(db_path, key, version=3)
    old.execute("INSERT INTO photos(path, folder, size, mtime_ns, content_hash, caption, aspects, width, height, "
                "indexed_at) VALUES ('/photos/b.jpg', '/photos', 2, 2, 'h2', 'a cat', '[\"cat\"]', 4, 3, 0)")
    old.execute("INSERT INTO vectors(photo_id, vector) VALUES (2, ?)", (np.full(DIM, 2, dtype="<f4").tobytes(),))
    old.execute("INSERT INTO caption_vectors(photo_id, vector) VALUES (2, ?)", (np.ones(DIM, dtype="<f4").tobytes(),))
    old.execute("INSERT INTO word_vectors(word, vector) VALUES ('cat', ?)", (np.ones(DIM, dtype="<f4").tobytes(),))
    old.execute("INSERT INTO meta(key, value) VALUES ('bundle_identity', 'lite@1#abc')")
    old.close()

    with ProfileStore.open(db_path, key) as store:
        a, b = store.profiles(["/photos/a.jpg", "/photos/b.jpg"])
        assert (a.caption, b.caption, a.encoded_with, b.encoded_with) == ("a dome", "a cat", "lite@1#abc", "lite@1#abc")
        np.testing.assert_array_equal(b.vector, np.full(DIM, 2))
        np.testing.assert_array_equal(b.caption_vector, np.ones(DIM))
        assert (a.visual_vector, b.visual_vector) == (None, None)
        np.testing.assert_array_equal(b.visual_or_vector(), b.vector)  # bundles without a `visual` output
        assert store.word_vectors(["cat"]).keys() == {"cat"}
        assert store.stale_paths("lite@1#abc") == set() and store.count_stale("lite@1#abc") == 0
        assert store.stale_paths("lite@2#def") == {"/photos/a.jpg", "/photos/b.jpg"}
        assert store.load_matrix(encoded_with="lite@2#def")[1] == []
        assert store.load_matrix(encoded_with="lite@1#abc")[1] == ["/photos/a.jpg", "/photos/b.jpg"]
    raw = raw_connection(db_path, key)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert raw.execute("SELECT count(*) FROM visual_vectors").fetchone() == (0,)


def test_a_long_write_elsewhere_makes_writes_busy_not_corrupt(db_path, key):
    ProfileStore.open(db_path, key).close()
    other = raw_connection(db_path, key)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO meta(key, value) VALUES ('writer', 'other')")

    with ProfileStore.open(db_path, key, busy_timeout=0.2) as store:
        assert store.get_meta("writer") is None  # readers are not blocked, and see only committed data
        with pytest.raises(StoreBusyError, match=f"store {db_path} is busy"):
            store.add_profiles([make_profile("/photos/a.jpg")])
        other.execute("COMMIT")
        store.add_profiles([make_profile("/photos/a.jpg")])
        assert (store.get_meta("writer"), store.count(), store.integrity_ok()) == ("other", 1, True)
    other.close()


def test_threads_can_share_one_store(store):
    def write(start: int) -> None:
        for i in range(start, start + 20):
            store.add_profiles([make_profile(f"/photos/{i}.jpg", seed=i)])

    threads = [threading.Thread(target=write, args=(start,)) for start in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.count() == 40


def test_wipe_all_and_destroy_files(db_path, key):
    with ProfileStore.open(db_path, key) as store:
        store.add_profiles([make_profile("/photos/a.jpg")])
        store.add_folder("/photos")
        store.set_meta("bundle", "lite")
        store.wipe_all()
        assert (store.count(), store.folders(), store.get_meta("bundle"), store.integrity_ok()) == (0, [], None, True)

    ProfileStore.destroy_files(db_path)
    assert list(db_path.parent.iterdir()) == []


WRITER = """
import sys
import numpy as np
from pathlib import Path
from engine.profile.records import PhotoProfile
from engine.profile.store import ProfileStore

path, key, prefix, batches = Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with ProfileStore.open(path, key, busy_timeout=30) as store:
    for batch in range(batches):
        store.add_profiles([
            PhotoProfile(f"{prefix}/{batch}-{i}.jpg", prefix, 1, 1, f"{prefix}-{batch}-{i}", "caption", ("a",),
                         np.full(8, i + 1.0), 1, 1)
            for i in range(20)
        ])
        print(batch, flush=True)
"""


def start_writer(db_path: Path, key: bytes, prefix: str, batches: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), key.hex(), prefix, str(batches)],
        stdout=subprocess.PIPE, text=True,
    )


def test_two_processes_write_one_store_without_losing_rows(db_path, key):
    ProfileStore.open(db_path, key).close()
    writers = [start_writer(db_path, key, prefix, batches=15) for prefix in ("/one", "/two")]
    for writer in writers:
        writer.communicate(timeout=120)
    assert [writer.returncode for writer in writers] == [0, 0]

    with ProfileStore.open(db_path, key) as store:
        assert store.count() == 2 * 15 * 20
        assert store.integrity_ok()


def test_kill_9_mid_indexing_keeps_every_committed_batch_and_no_partial_one(db_path, key):
    ProfileStore.open(db_path, key).close()
    last_committed = -1
    with start_writer(db_path, key, "/photos", batches=100_000) as writer:
        for line in writer.stdout:
            last_committed = int(line)
            if last_committed >= 30:
                break
        writer.send_signal(signal.SIGKILL)
    assert last_committed >= 30 and writer.returncode == -signal.SIGKILL

    with ProfileStore.open(db_path, key) as store:
        assert store.integrity_ok()
        count = store.count()
        assert count >= (last_committed + 1) * 20
        assert count % 20 == 0  # each batch is one transaction: all of it or none
        committed = store.fingerprints()
        assert all(f"/photos/{batch}-{i}.jpg" in committed for batch in range(last_committed + 1) for i in range(20))

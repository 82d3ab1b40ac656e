"""The encrypted vector snapshot: used when current, never when stale, tampered with or of another bundle; gone with
forgotten photos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.profile import vector_snapshot
from engine.profile.quantized_vectors import QuantizedVectors
from engine.profile.records import PhotoProfile
from engine.profile.store import SNAPSHOT_SUFFIX, ProfileStore
from engine.profile.vector_snapshot import Matrix, VectorSnapshot

KEY = bytes(range(32))
DIM = 8


def _profiles(start: int, n: int, identity: str = "lite@1#abc") -> list[PhotoProfile]:
    rng = np.random.default_rng(start)
    return [
        PhotoProfile(path=f"/photos/IMG_{i}\n.jpg", folder="/photos", size=i, mtime_ns=i, content_hash=f"{i:032x}",
                     caption="a photo", aspects=("photo",), vector=rng.standard_normal(DIM).astype(np.float32),
                     width=4, height=3, encoded_with=identity)
        for i in range(start, start + n)
    ]


@pytest.fixture()
def store(tmp_path):
    with ProfileStore.open(tmp_path / "profile.db", KEY) as opened:
        opened.add_profiles(_profiles(0, 5))
        yield opened


def _snapshot(store: ProfileStore) -> Path:
    return Path(f"{store.path}{SNAPSHOT_SUFFIX}")


def _from_rows(store: ProfileStore, monkeypatch) -> list[bool]:
    """Record, per load, whether it read the store's rows (True) or the snapshot (False)."""
    loads: list[bool] = []
    read_rows = store._read_matrix
    monkeypatch.setattr(store, "_read_matrix", lambda *args: loads.append(True) or read_rows(*args))
    return loads


def _same(a: Matrix, b: Matrix) -> None:
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.paths == b.paths
    for part in ("codes", "scales", "mean"):
        np.testing.assert_array_equal(getattr(a.vectors, part), getattr(b.vectors, part))


def test_a_current_snapshot_gives_the_same_library_without_reading_the_rows(store, monkeypatch):
    loads = _from_rows(store, monkeypatch)
    first = store.load_library("lite@1#abc")
    second = store.load_library("lite@1#abc")
    assert loads == [True]  # the second load read the snapshot only
    _same(first, second)
    assert first.paths[0] == "/photos/IMG_0\n.jpg" and first.vectors.codes.dtype == np.uint8
    ids, paths, vectors = store.load_matrix("lite@1#abc")  # the rows, as the codes hold them
    np.testing.assert_allclose(first.vectors.rows(np.arange(len(paths))), vectors, atol=first.vectors.scales.max())
    np.testing.assert_allclose(first.vectors.mean, vectors.mean(axis=0), atol=1e-6)
    assert oct(_snapshot(store).stat().st_mode & 0o777) == "0o600"


def test_any_change_to_the_photos_makes_it_stale(store, monkeypatch):
    loads = _from_rows(store, monkeypatch)
    store.load_library()
    store.add_profiles(_profiles(5, 1))
    assert len(store.load_library().paths) == 6
    store.touch("/photos/IMG_1\n.jpg", 99, 99)
    store.load_library()
    store.move("/photos/IMG_2\n.jpg", "/photos/moved.jpg", "/photos", 2, 2)
    assert "/photos/moved.jpg" in store.load_library().paths
    assert loads == [True] * 4


def test_another_bundle_or_a_tampered_snapshot_is_not_used(store, monkeypatch):
    loads = _from_rows(store, monkeypatch)
    store.load_library("lite@1#abc")
    assert store.load_library("lite@2#def").paths == []  # another bundle's view: read from the rows
    data = bytearray(_snapshot(store).read_bytes())
    data[-20] ^= 1
    _snapshot(store).write_bytes(bytes(data))
    assert len(store.load_library("lite@2#def").paths) == 0 and len(loads) == 3
    assert VectorSnapshot(_snapshot(store), bytes(32)).read(store.photos_version(), "lite@2#def") is None  # other key


def test_forgetting_photos_removes_the_snapshot_with_their_vectors(store):
    store.load_library()
    assert _snapshot(store).exists()
    store.forget(["/photos/IMG_3\n.jpg"])
    assert not _snapshot(store).exists()
    assert "/photos/IMG_3\n.jpg" not in store.load_library().paths
    store.wipe_all()
    assert not _snapshot(store).exists()


def test_a_wiped_profile_shreds_the_snapshot(tmp_path):
    with ProfileStore.open(tmp_path / "profile.db", KEY) as opened:
        opened.add_profiles(_profiles(0, 2))
        opened.load_library()
    ProfileStore.destroy_files(tmp_path / "profile.db")
    assert not os.path.exists(tmp_path / f"profile.db{SNAPSHOT_SUFFIX}")


def test_chunks_cannot_be_dropped_or_reordered(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_snapshot, "CHUNK_BYTES", 64)  # many chunks for a small matrix
    snapshot = VectorSnapshot(tmp_path / "vectors", KEY)
    rng = np.random.default_rng(0)
    matrix = Matrix(np.arange(10, dtype=np.int64), [f"/p/{i}" for i in range(10)],
                    QuantizedVectors.of(rng.standard_normal((10, DIM)).astype(np.float32)))
    snapshot.write(7, None, matrix)
    again = snapshot.read(7, None)
    assert again is not None
    _same(again, matrix)
    data = (tmp_path / "vectors").read_bytes()
    header = 4 + int.from_bytes(data[:4], "little")
    sealed = 64 + 16
    swapped = data[:header] + data[header + sealed : header + 2 * sealed] + data[header : header + sealed] + data[header + 2 * sealed :]
    (tmp_path / "vectors").write_bytes(swapped)
    assert snapshot.read(7, None) is None
    (tmp_path / "vectors").write_bytes(data[:-sealed])  # the last chunk dropped
    assert snapshot.read(7, None) is None
    empty = Matrix(np.empty(0, np.int64), [], QuantizedVectors.of(np.empty((0, 0), np.float32)))
    snapshot.write(8, None, empty)
    assert (found := snapshot.read(8, None)) is not None and found.paths == [] and found.vectors.codes.shape == (0, 0)

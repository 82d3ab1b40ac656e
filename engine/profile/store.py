"""The encrypted profile store: spectrum profiles of indexed photos in a SQLCipher database.

Every page of the database and of its WAL is encrypted with the 256-bit store key; temporary tables stay in
memory. Vectors live in their own table on 16 KiB pages, so scans of the photo rows stay small and a 100k x 512
matrix loads in one to two seconds. Writes run in short ``BEGIN IMMEDIATE`` transactions, so several processes can
share one store and a killed process loses at most its open transaction.

Each photo row names the model bundle that made its vectors (``encoded_with``): after a bundle change a row keeps
the previous bundle's vectors until it is re-encoded (its new profile replaces it in one transaction), and queries
read only the rows of the active bundle.

Tampering: every page carries an HMAC, and a page that fails it is a `StoreDamagedError` wherever it is read. Every
transaction that changes the store advances its generation (a meta row); opened through its key file, the store
must be at least as new as the generation the key file records after each commit, so an older copy put back in
its place (forgotten photos coming back) is refused.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import sqlcipher3

from engine.catalog.items import CatalogItem, category_key
from engine.library.scan import is_excluded
from engine.profile.keys import KEY_BYTES, RESTORE_OR_WIPE, KeyManager, KeyStoreError, shred_file
from engine.profile.quantized_vectors import QuantizedVectors
from engine.profile.records import Corrections, Failure, Fingerprint, Judgement, PhotoProfile
from engine.profile.vector_snapshot import Matrix, VectorSnapshot

DEFAULT_BUSY_TIMEOUT = 5.0
CIPHER_PAGE_SIZE = 16384  # part of the file format: SQLCipher cannot read a store with another page size
# Opening through the key file checks every page's HMAC (PRAGMA cipher_integrity_check) of a store up to this size
# (database + WAL). The check reads the whole store at about 350 MB/s with the file in the page cache: 0.22 s for
# 10k synthetic profiles (79 MiB), 0.63 s for 30k, 2.2-2.5 s for 100k (786 MiB), on two busy cores. So every unlock
# checks a store of up to about 8k photos (~0.2 s, next to Argon2id's 0.3 s); bigger ones are checked by
# `visuallens status` and at the end of each index run, and their pages that a command reads are checked as read.
UNLOCK_CHECK_MAX_BYTES = 64 * 2**20

EVERY_CATEGORY = ""  # the category key of corrections that apply to every category
PHOTOS_VERSION = "photos_version"  # meta key: advanced by every change to the photos or their vectors
# An UPDATE of a row the migration makes: in a trigger an INSERT's conflict clause yields to the outer statement's.
_ADVANCE_PHOTOS_VERSION = f"UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = '{PHOTOS_VERSION}';"
# MIGRATIONS[i] upgrades a store from schema version i to i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE photos(
            id INTEGER PRIMARY KEY,
            path TEXT UNIQUE NOT NULL,
            folder TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            caption TEXT NOT NULL,
            aspects TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            indexed_at REAL NOT NULL)""",
        "CREATE INDEX photos_content_hash ON photos(content_hash)",
        "CREATE INDEX photos_folder ON photos(folder)",
        """CREATE TABLE vectors(
            photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
            vector BLOB NOT NULL)""",
        """CREATE TABLE failures(
            path TEXT PRIMARY KEY,
            folder TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            reason TEXT NOT NULL,
            seen_at REAL NOT NULL)""",
        "CREATE TABLE folders(path TEXT PRIMARY KEY, added_at REAL NOT NULL)",
        "CREATE TABLE exclusions(path TEXT PRIMARY KEY)",
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # What failed: a photo that would not decode ('decode': skipped until it changes) or an entry the scan had to
    # leave out ('scan': reported once, retried as soon as the scan lists it as a photo).
    ("ALTER TABLE failures ADD COLUMN kind TEXT NOT NULL DEFAULT 'decode'",),
    # Text-encoder vectors computed at indexing so queries need not: each caption's (a table of its own, so loading
    # the image-vector matrix reads no more pages) and each aspect word's that some photo has (dropped with its
    # last photo). Profiles already stored get theirs from the next index run, which the meta flag asks for.
    (
        """CREATE TABLE caption_vectors(
            photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
            vector BLOB NOT NULL)""",
        "CREATE TABLE word_vectors(word TEXT PRIMARY KEY, vector BLOB NOT NULL)",
        "INSERT INTO meta(key, value) SELECT 'text_vectors_missing', '1' WHERE EXISTS (SELECT 1 FROM photos)",
    ),
    # Visual vectors (the image encoder's `visual` output; a table of its own, like the caption vectors), and which
    # bundle encoded each photo: the one the store was last indexed with (the meta key BUNDLE_IDENTITY) for the
    # photos already there, so a bundle change re-encodes photo by photo instead of dropping every profile.
    (
        """CREATE TABLE visual_vectors(
            photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
            vector BLOB NOT NULL)""",
        "ALTER TABLE photos ADD COLUMN encoded_with TEXT NOT NULL DEFAULT ''",
        "UPDATE photos SET encoded_with = coalesce((SELECT value FROM meta WHERE key = 'bundle_identity'), '')",
        "CREATE INDEX photos_encoded_with ON photos(encoded_with)",
    ),
    # Catalog items' vectors, so a question over a catalog asked before embeds nothing: a picture's by the sha256
    # of its bytes, a text's by the sha256 of the text, per bundle; and the picture files already hashed, by path,
    # size and mtime, so an unchanged picture is not read again. The oldest go past ITEM_VECTORS_KEPT.
    (
        """CREATE TABLE item_vectors(
            key TEXT NOT NULL, encoded_with TEXT NOT NULL, vector BLOB NOT NULL, visual BLOB,
            PRIMARY KEY (key, encoded_with))""",
        """CREATE TABLE item_files(
            path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, content_hash TEXT NOT NULL)""",
    ),
    # A counter every change to a photo or its vector advances (triggers, so no code path can miss one): the
    # encrypted vector snapshot is of one value of it, and stale at any other.
    (
        f"INSERT OR IGNORE INTO meta(key, value) VALUES ('{PHOTOS_VERSION}', '0')",
        f"CREATE TRIGGER photos_insert_version AFTER INSERT ON photos BEGIN {_ADVANCE_PHOTOS_VERSION} END",
        f"CREATE TRIGGER photos_update_version AFTER UPDATE ON photos BEGIN {_ADVANCE_PHOTOS_VERSION} END",
        f"CREATE TRIGGER photos_delete_version AFTER DELETE ON photos BEGIN {_ADVANCE_PHOTOS_VERSION} END",
        f"CREATE TRIGGER vectors_insert_version AFTER INSERT ON vectors BEGIN {_ADVANCE_PHOTOS_VERSION} END",
        f"CREATE TRIGGER vectors_update_version AFTER UPDATE ON vectors BEGIN {_ADVANCE_PHOTOS_VERSION} END",
        f"CREATE TRIGGER vectors_delete_version AFTER DELETE ON vectors BEGIN {_ADVANCE_PHOTOS_VERSION} END",
    ),
    # The user's "like" / "not for me" of catalog items, per category (the latest judgement of an item stands), and
    # their corrections of what the profile says about a category.
    (
        """CREATE TABLE judgements(
            category TEXT NOT NULL, item_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
            image TEXT, liked INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (category, item_id))""",
        # The user's corrections of a category's profile ('' for every category): aspect words removed or pinned,
        # photos excluded (gone with their photo).
        """CREATE TABLE word_corrections(
            category TEXT NOT NULL, word TEXT NOT NULL, pinned INTEGER NOT NULL, at REAL NOT NULL,
            PRIMARY KEY (category, word))""",
        """CREATE TABLE photo_exclusions(
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE, category TEXT NOT NULL,
            at REAL NOT NULL, PRIMARY KEY (photo_id, category))""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
ITEM_VECTORS_KEPT = 50_000  # about 100 MB of catalog vectors for the lite bundle; item_files keeps as many paths

_SETTINGS = (
    "PRAGMA journal_mode = WAL",
    # FULL: each commit is on disk before the key file records its generation, so a power cut cannot leave the key
    # file ahead of the store (which would then be refused as an older copy). One WAL fsync per transaction.
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA foreign_keys = ON",
)
_SELECT_PROFILES = """
    SELECT p.id, p.path, p.folder, p.size, p.mtime_ns, p.content_hash, p.caption, p.aspects, v.vector, p.width, p.height,
        c.vector, s.vector, p.encoded_with
    FROM photos AS p JOIN vectors AS v ON v.photo_id = p.id LEFT JOIN caption_vectors AS c ON c.photo_id = p.id
        LEFT JOIN visual_vectors AS s ON s.photo_id = p.id
"""
_UPSERT_PHOTO = """
    INSERT INTO photos(path, folder, size, mtime_ns, content_hash, caption, aspects, width, height, indexed_at,
        encoded_with)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(path) DO UPDATE SET
        folder = excluded.folder, size = excluded.size, mtime_ns = excluded.mtime_ns,
        content_hash = excluded.content_hash, caption = excluded.caption, aspects = excluded.aspects,
        width = excluded.width, height = excluded.height, indexed_at = excluded.indexed_at,
        encoded_with = excluded.encoded_with
"""
_UPSERT_VECTOR = "INSERT OR REPLACE INTO vectors(photo_id, vector) VALUES ((SELECT id FROM photos WHERE path = ?), ?)"
# Per-photo vectors besides the image vector, each optional, in tables of their own: {table: PhotoProfile field}.
_SIDE_VECTORS = {"caption_vectors": "caption_vector", "visual_vectors": "visual_vector"}
_UPSERT_SIDE_VECTOR = "INSERT OR REPLACE INTO {table}(photo_id, vector) SELECT id, ? FROM photos WHERE {key} = ?"
# Vectors stacked into matrices, so of one width per bundle (a caption vector has its image vector's width).
_STACKED_VECTORS = {"vectors": "vector", "visual_vectors": "visual_vector"}
_UPSERT_WORD = "INSERT OR REPLACE INTO word_vectors(word, vector) VALUES (?, ?)"
_IN_JSON_LIST = "IN (SELECT value FROM json_each(?))"
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 6, 11, 26
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 10, 13, 14
DECODE_FAILURE, SCAN_PROBLEM = "decode", "scan"
TEXT_VECTORS_MISSING = "text_vectors_missing"  # meta key: some caption or aspect-word vectors are to be filled in
BUNDLE_IDENTITY = "bundle_identity"  # meta key: the bundle whose text encoder made the stored aspect-word vectors
GENERATION = "generation"  # meta key: how many transactions changed the store (absent before the first one)
SNAPSHOT_SUFFIX = "-vectors"  # the encrypted vector snapshot beside the store: profile.db-vectors


class StoreError(Exception):
    """The profile store cannot be opened or used."""


class WrongKeyError(StoreError):
    """The key does not decrypt the store (or the file is not a VisualLens store)."""


class StoreBusyError(StoreError):
    """Another connection held the write lock for longer than the busy timeout."""


class StoreWriteError(StoreError):
    """The store's files cannot be written: the disk is full, read-only or failing (what was committed is kept)."""


class StoreDamagedError(StoreError):
    """The store is damaged or was tampered with: a page fails authentication, it does not decrypt with the key of
    its key file, it is missing or empty next to that key file, or it is older than the key file says."""


class ProfileStore:
    """Spectrum profiles, indexing failures, library folders, exclusions and settings of one user."""

    def __init__(
        self, path: Path, connection: sqlcipher3.Connection, busy_timeout: float, snapshot: VectorSnapshot
    ) -> None:
        """Use :meth:`open`."""
        self.path = path
        self._snapshot = snapshot  # the matrix's encrypted copy beside the store
        self._db = connection
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._committed: Callable[[int], None] | None = None  # told each new generation once it is committed

    @classmethod
    def open(
        cls, path: Path, key: bytes, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, keys: KeyManager | None = None
    ) -> ProfileStore:
        """Open (creating if missing) the store at ``path``; a wrong key raises before anything is written.

        With ``keys``, the key file ``key`` came from, the store is held to it before anything is written: it must
        exist and not be empty (unless the key file has seen no commit yet: `init` was cut short), its pages must
        authenticate (checked here up to UNLOCK_CHECK_MAX_BYTES), and its generation must be at least the key
        file's. Each commit then advances the key file's generation after the store's, so a crash between the two
        leaves the store ahead, which is accepted.
        """
        if len(key) != KEY_BYTES:
            raise ValueError(f"the store key must be {KEY_BYTES} bytes, got {len(key)}")
        path = Path(path)
        expected = None if keys is None else keys.generation(key)  # read before the store's (see _hold_to)
        if keys is not None and expected != 0:
            _refuse_missing(path, keys)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite gives -wal/-shm the same mode
        except OSError as error:
            raise StoreWriteError(f"cannot create store {path}: {error.strerror or error}") from error
        connection = sqlcipher3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        store = cls(path, connection, busy_timeout, VectorSnapshot(Path(f"{path}{SNAPSHOT_SUFFIX}"), key))
        try:
            try:
                with store._errors():
                    connection.execute("PRAGMA cipher_log_level = NONE")  # failures surface as the errors below
                    connection.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
                    connection.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
                    connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    for setting in _SETTINGS:
                        connection.execute(setting)
            except WrongKeyError as error:
                if keys is None:
                    raise
                raise StoreDamagedError(  # the key file authenticated the key: the store is not what it was
                    f"store {path} does not decrypt with the key in {keys.path}: it is damaged, was replaced or was "
                    f"tampered with; {RESTORE_OR_WIPE}"
                ) from error
            if keys is not None:
                store._hold_to(keys, key, expected)
            store._migrate()
        except BaseException:
            connection.close()
            raise
        return store

    def _hold_to(self, keys: KeyManager, key: bytes, expected: int | None) -> None:
        """Check the store against its key file, whose generation was `expected` (None: a version 1 key file) before
        the store's was read: the store commits a generation before the key file records it, so reading in this
        order never sees the key file ahead of a store that is not. Then commits advance the key file too."""
        if sum(_size(Path(f"{self.path}{suffix}")) for suffix in ("", "-wal")) <= UNLOCK_CHECK_MAX_BYTES:
            self.check_integrity()
        stored = self.generation()
        if expected is None and stored is None:  # both from before generations: the key file gets one first
            keys.advance(key, 0)
            expected = 0
        elif expected is None:
            expected = keys.generation(key)  # another process may have just given it one
            if expected is None:
                raise KeyStoreError(
                    f"key file {keys.path} records no store generation, but store {self.path} has one: the key file "
                    f"was replaced by an older one or tampered with; {RESTORE_OR_WIPE}"
                )
        if (stored or 0) < expected:
            raise StoreDamagedError(
                f"store {self.path} is older than its key file {keys.path} says (generation {stored or 0}, expected at "
                f"least {expected}): an older copy was put back or it was tampered with; {RESTORE_OR_WIPE}"
            )
        self._committed = partial(keys.advance, key)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Photos

    def paths(self) -> list[str]:
        """The path of every photo (in no particular order): the library list needs no more."""
        with self._reading() as db:
            return [path for (path,) in db.execute("SELECT path FROM photos")]

    def fingerprints(self, folder: str | None = None) -> dict[str, Fingerprint]:
        """Size, mtime and content hash of every photo, or of those at or under ``folder``."""
        where, parameters = _under(folder) if folder is not None else ("1", ())
        with self._reading() as db:
            rows = db.execute(f"SELECT path, size, mtime_ns, content_hash FROM photos WHERE {where}", parameters)
            return {path: Fingerprint(size, mtime_ns, content_hash) for path, size, mtime_ns, content_hash in rows}

    def add_profiles(
        self, profiles: Sequence[PhotoProfile], word_vectors: Sequence[tuple[str, np.ndarray]] = ()
    ) -> None:
        """Insert or replace (by path) profiles, with vectors of their aspect words that are new to the store, in one
        transaction; their failures are cleared, and so are the vectors of words only the replaced profiles had.
        Profiles of excluded paths are left out (see :meth:`forget`)."""
        if not profiles:
            return
        now = time.time()
        with self._writing() as db:
            if excluded := _excluded(db, [p.path for p in profiles]):  # forgotten while an index run was under way
                profiles = [p for p in profiles if p.path not in excluded]
                words = {word for p in profiles for word in p.aspects}
                word_vectors = [(word, vector) for word, vector in word_vectors if word in words]
            photos = [
                (p.path, p.folder, p.size, p.mtime_ns, p.content_hash, p.caption, json.dumps(list(p.aspects)),
                 p.width, p.height, now, p.encoded_with)
                for p in profiles
            ]
            vectors = [(p.path, _blob(p.vector)) for p in profiles]
            paths_json = json.dumps([p.path for p in profiles])
            for table, field in _STACKED_VECTORS.items():
                self._check_widths(db, table, field, profiles)
            replaced_words = _aspect_words(db, f"path {_IN_JSON_LIST}", (paths_json,))
            db.executemany(_UPSERT_PHOTO, photos)
            db.executemany(_UPSERT_VECTOR, vectors)
            for table, field in _SIDE_VECTORS.items():
                _set_side_vectors(db, table, field, profiles)
            db.executemany(_UPSERT_WORD, [(word, _blob(vector)) for word, vector in word_vectors])
            _forget_unused_words(db, replaced_words)
            db.execute(f"DELETE FROM failures WHERE path {_IN_JSON_LIST}", (paths_json,))

    def _check_widths(
        self, db: sqlcipher3.Connection, table: str, field: str, profiles: Sequence[PhotoProfile]
    ) -> None:
        """Refuse vectors (`field` of the profiles, stored in `table`) whose width differs from the others made by
        the same bundle: a matrix stacks them. Another bundle's may differ (they wait to be re-encoded)."""
        for identity in sorted({p.encoded_with for p in profiles}):
            made = [getattr(p, field) for p in profiles if p.encoded_with == identity]
            widths = {vector.size for vector in made if vector is not None}
            if not widths:  # nothing to compare (and no probe of every photo of a bundle without such vectors)
                continue
            stored = db.execute(
                f"SELECT length(t.vector) / 4 FROM photos AS p JOIN {table} AS t ON t.photo_id = p.id "
                "WHERE p.encoded_with = ? LIMIT 1",
                (identity,),
            ).fetchone()
            if stored is not None:
                widths.add(stored[0])
            if len(widths) > 1:
                raise StoreError(f"store {self.path}: {table} of different sizes {sorted(widths)}")

    def find_by_hash(self, content_hash: str, encoded_with: str | None = None) -> PhotoProfile | None:
        """A profile of a file with this content (made by bundle `encoded_with`, if given), to reuse after a rename
        or a copy."""
        where, parameters = "p.content_hash = ?", [content_hash]
        if encoded_with is not None:
            where, parameters = f"{where} AND p.encoded_with = ?", [content_hash, encoded_with]
        with self._reading() as db:
            row = db.execute(f"{_SELECT_PROFILES} WHERE {where} LIMIT 1", parameters).fetchone()
        return None if row is None else _profile(row)

    def move(self, old_path: str, new_path: str, folder: str, size: int, mtime_ns: int) -> None:
        """Record that a photo was renamed or moved; a profile already at ``new_path`` is replaced, and one moved to
        an excluded path is forgotten."""
        with self._writing() as db:
            if _excluded(db, [new_path]):  # forgotten while an index run was under way
                _delete(db, "path IN (?, ?)", (old_path, new_path))
                return
            if new_path != old_path:
                db.execute("DELETE FROM photos WHERE path = ?", (new_path,))
            moved = db.execute(
                "UPDATE photos SET path = ?, folder = ?, size = ?, mtime_ns = ? WHERE path = ?",
                (new_path, folder, size, mtime_ns, old_path),
            )
            if moved.rowcount == 0:
                raise StoreError(f"cannot move {old_path}: it is not in store {self.path}")
            db.execute("DELETE FROM failures WHERE path IN (?, ?)", (old_path, new_path))

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new size and mtime for a photo whose content did not change."""
        with self._writing() as db:
            touched = db.execute("UPDATE photos SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))
            if touched.rowcount == 0:
                raise StoreError(f"cannot update {path}: it is not in store {self.path}")

    def remove(self, paths: Iterable[str]) -> int:
        """Forget these photos (and their failures); returns how many profiles were removed."""
        with self._writing() as db:
            removed = _delete(db, f"path {_IN_JSON_LIST}", (json.dumps(list(paths)),))
        return self._forgotten(removed)

    def remove_folder(self, folder: str) -> int:
        """Forget every photo and failure under ``folder``; returns how many profiles were removed."""
        with self._writing() as db:
            removed = _delete(db, *_under(folder))
        return self._forgotten(removed)

    def _forgotten(self, removed: int) -> int:
        """After `removed` photos went: their vectors and paths must not stay on disk in the snapshot either."""
        if removed:
            self._snapshot.discard()
        return removed

    def forget(self, paths: Sequence[str]) -> int:
        """Forget the photos and failures at or under `paths` and keep them out, in one transaction: each path
        becomes an exclusion, library folders at or under it are dropped, and profiles and failures of excluded
        paths are refused from then on (`is_excluded`), until :meth:`include` lifts it. Returns how many profiles
        were removed."""
        removed = 0
        with self._writing() as db:
            for path in paths:
                where, parameters = _under(path)
                removed += _delete(db, where, parameters)
                db.execute(f"DELETE FROM folders WHERE {where}", parameters)
                db.execute("INSERT OR IGNORE INTO exclusions(path) VALUES (?)", (path,))
        return self._forgotten(removed)

    def include(self, paths: Sequence[str], folders: Sequence[str]) -> list[str]:
        """Lift the exclusions of exactly `paths` (not those below them) and add `folders` to the library, in one
        transaction; returns the exclusions lifted."""
        now = time.time()
        with self._writing() as db:
            lifted = [path for path in paths if db.execute("DELETE FROM exclusions WHERE path = ?", (path,)).rowcount]
            db.executemany("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", [(f, now) for f in folders])
        return lifted

    def load_matrix(self, encoded_with: str | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Ids (int64 [n]), paths and L2-normalised vectors (float32 [n, d]) of all photos (of those the bundle
        `encoded_with` made, if given: another bundle's vectors are not comparable), in id order, from the rows."""
        return self._read_matrix(encoded_with)

    def load_library(self, encoded_with: str | None = None) -> Matrix:
        """`load_matrix` with the vectors quantized (`QuantizedVectors`), as questions scan them.

        From the encrypted snapshot when it is of the store's current photos version (one file read and decrypted),
        else from the store's rows, after which the snapshot is written again."""
        version = self.photos_version()
        found = self._snapshot.read(version, encoded_with)
        if found is not None:
            return found
        ids, paths, vectors = self._read_matrix(encoded_with)
        matrix = Matrix(ids, paths, QuantizedVectors.of(vectors))
        del vectors
        try:
            self._snapshot.write(version, encoded_with, matrix)
        except OSError:  # a full or read-only disk: the next start-up reads the rows again
            pass
        if self.photos_version() != version:  # changed meanwhile, photos forgotten perhaps: not theirs to keep
            self._snapshot.discard()
        return matrix

    def photos_version(self) -> int:
        """The counter every change to a photo or its vector advances (0 before the first)."""
        with self._reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (PHOTOS_VERSION,)).fetchone()
        return 0 if row is None else int(row[0])

    def _read_matrix(self, encoded_with: str | None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """`load_matrix` from the rows: they stream into one growing buffer that becomes the matrix, normalised in
        place (no list of every row and no copies of the matrix)."""
        ids: list[int] = []
        paths: list[str] = []
        vectors = bytearray()
        with self._reading() as db:
            cursor = db.execute(
                "SELECT p.id, p.path, v.vector FROM photos AS p JOIN vectors AS v ON v.photo_id = p.id "
                "WHERE ?1 IS NULL OR p.encoded_with = ?1 ORDER BY p.id",
                (encoded_with,),
            )
            while rows := cursor.fetchmany(4096):
                for photo_id, path, vector in rows:
                    ids.append(photo_id)
                    paths.append(path)
                    vectors += vector
        if not paths:
            return np.empty(0, dtype=np.int64), [], np.empty((0, 0), dtype=np.float32)
        matrix = np.frombuffer(vectors, dtype="<f4").reshape(len(paths), -1)  # writable: it shares the bytearray
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
        norms[norms == 0] = 1  # an all-zero vector stays zero
        matrix /= norms[:, None]
        return np.array(ids, dtype=np.int64), paths, matrix.astype(np.float32, copy=False)

    def profiles(self, keys: Iterable[int | str]) -> list[PhotoProfile]:
        """Profiles by id (int) or path (str), in the order asked; unknown keys are skipped."""
        wanted = [key if isinstance(key, str) else int(key) for key in keys]
        ids = [key for key in wanted if isinstance(key, int)]
        paths = [key for key in wanted if isinstance(key, str)]
        with self._reading() as db:
            rows = db.execute(
                f"{_SELECT_PROFILES} WHERE p.id {_IN_JSON_LIST} OR p.path {_IN_JSON_LIST}",
                (json.dumps(ids), json.dumps(paths)),
            ).fetchall()
        found: dict[int | str, PhotoProfile] = {}
        for row in rows:
            found[row[0]] = found[row[1]] = _profile(row)
        return [found[key] for key in wanted if key in found]

    def captions_without_vectors(self, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (photo id, caption) pairs whose caption vector is missing (profiles of older stores)."""
        with self._reading() as db:
            return db.execute(
                "SELECT id, caption FROM photos AS p "
                "WHERE NOT EXISTS (SELECT 1 FROM caption_vectors AS c WHERE c.photo_id = p.id) ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()

    def set_caption_vectors(self, vectors: Sequence[tuple[int, np.ndarray]]) -> None:
        """Store caption vectors by photo id, in one transaction (ids forgotten meanwhile are skipped)."""
        rows = [(_blob(vector), photo_id) for photo_id, vector in vectors]
        with self._writing() as db:
            db.executemany(_UPSERT_SIDE_VECTOR.format(table="caption_vectors", key="id"), rows)

    def word_vectors(self, words: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these aspect words (words without one are left out)."""
        with self._reading() as db:
            query = f"SELECT word, vector FROM word_vectors WHERE word {_IN_JSON_LIST}"
            rows = db.execute(query, (json.dumps(list(words)),))
            return {word: np.frombuffer(vector, dtype="<f4") for word, vector in rows}

    def words_without_vectors(self, words: Iterable[str] | None = None) -> list[str]:
        """Those of `words` (default: every photo's aspect words) that have no stored vector, in order."""
        with self._reading() as db:
            if words is None:
                rows = db.execute(
                    "SELECT DISTINCT j.value FROM photos AS p, json_each(p.aspects) AS j "
                    "WHERE j.value NOT IN (SELECT word FROM word_vectors) ORDER BY j.value"
                )
            else:
                rows = db.execute(
                    "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT word FROM word_vectors) ORDER BY key",
                    (json.dumps(list(dict.fromkeys(words))),),
                )
            return [word for (word,) in rows]

    def set_word_vectors(self, vectors: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store aspect-word vectors (of words the photos have)."""
        with self._writing() as db:
            db.executemany(_UPSERT_WORD, [(word, _blob(vector)) for word, vector in vectors])

    def count(self) -> int:
        with self._reading() as db:
            return db.execute("SELECT count(*) FROM photos").fetchone()[0]

    # Model bundles

    def stale_paths(self, identity: str) -> set[str]:
        """Paths of the photos whose vectors a bundle other than `identity` made: they wait to be re-encoded."""
        with self._reading() as db:
            return {path for (path,) in db.execute("SELECT path FROM photos WHERE encoded_with != ?", (identity,))}

    def count_stale(self, identity: str) -> int:
        """How many photos wait to be re-encoded by the bundle `identity` (see :meth:`stale_paths`)."""
        with self._reading() as db:
            return db.execute("SELECT count(*) FROM photos WHERE encoded_with != ?", (identity,)).fetchone()[0]

    def use_bundle(self, identity: str) -> bool:
        """Record that new profiles come from the bundle `identity`; True if that is a change.

        On a change the aspect-word vectors, which the previous bundle's text encoder made and which are shared by
        every photo with the word, are dropped in the same transaction and the next complete index run fills them
        in again (TEXT_VECTORS_MISSING); until then queries embed the few they need. Profiles keep their vectors
        until they are re-encoded one by one.
        """
        with self._writing() as db:
            stored = db.execute("SELECT value FROM meta WHERE key = ?", (BUNDLE_IDENTITY,)).fetchone()
            if stored is not None and stored[0] == identity:
                return False
            if db.execute("DELETE FROM word_vectors").rowcount:
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (TEXT_VECTORS_MISSING,))
            db.execute("DELETE FROM item_vectors WHERE encoded_with != ?", (identity,))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (BUNDLE_IDENTITY, identity))
        return True

    # Catalog items

    def item_vectors(self, keys: Sequence[str], identity: str) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """The stored (vector, visual vector) of those catalog-item `keys` the bundle `identity` embedded."""
        with self._reading() as db:
            rows = db.execute(
                f"SELECT key, vector, visual FROM item_vectors WHERE encoded_with = ? AND key {_IN_JSON_LIST}",
                (identity, json.dumps(list(keys))),
            )
            return {key: (np.frombuffer(vector, dtype="<f4"), _vector(visual)) for key, vector, visual in rows}

    def add_item_vectors(self, rows: Sequence[tuple[str, np.ndarray, np.ndarray | None]], identity: str) -> None:
        """Store catalog-item vectors (key, vector, visual vector or None) of the bundle `identity`; the oldest past
        ITEM_VECTORS_KEPT are dropped."""
        if not rows:
            return
        with self._writing() as db:
            db.executemany(
                "INSERT OR REPLACE INTO item_vectors(key, encoded_with, vector, visual) VALUES (?, ?, ?, ?)",
                [(key, identity, _blob(vector), None if visual is None else _blob(visual)) for key, vector, visual in rows],
            )
            for table in ("item_vectors", "item_files"):
                db.execute(f"DELETE FROM {table} WHERE rowid <= (SELECT max(rowid) FROM {table}) - ?", (ITEM_VECTORS_KEPT,))

    # Judgements of catalog items

    def judgements(self, category: str | None = None) -> list[Judgement]:
        """The user's judgements (of one category, if given; categories match case-insensitively), oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT category, item_id, name, description, image, liked, at FROM judgements "
                "WHERE ?1 IS NULL OR category = ?1 ORDER BY at, category, item_id",
                (None if category is None else category_key(category),),
            ).fetchall()
        return [
            Judgement(CatalogItem(item_id, name, category, description, None if image is None else Path(image)),
                      bool(liked), at)
            for category, item_id, name, description, image, liked, at in rows
        ]

    def judge(self, item: CatalogItem, liked: bool) -> None:
        """Record the user's judgement of `item` in its category, replacing an earlier one of it."""
        with self._writing() as db:
            db.execute(
                "INSERT OR REPLACE INTO judgements(category, item_id, name, description, image, liked, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (category_key(item.category), item.id, item.name, item.description,
                 None if item.image is None else str(item.image), int(liked), time.time()),
            )

    def unjudge(self, category: str, item_id: str) -> bool:
        """Withdraw the judgement of an item in `category`; False if there was none."""
        with self._writing() as db:
            deleted = db.execute("DELETE FROM judgements WHERE category = ? AND item_id = ?", (category_key(category), item_id))
            return deleted.rowcount > 0

    # Corrections of the profile

    def corrections(self, category: str) -> Corrections:
        """The corrections that apply to `category`: its own and those made for every category."""
        keys = (category_key(category), EVERY_CATEGORY)
        with self._reading() as db:
            words = db.execute("SELECT word, pinned FROM word_corrections WHERE category IN (?, ?)", keys).fetchall()
            photos = db.execute("SELECT photo_id FROM photo_exclusions WHERE category IN (?, ?)", keys).fetchall()
        return Corrections(removed_words=frozenset(word for word, pinned in words if not pinned),
                           pinned_words=frozenset(word for word, pinned in words if pinned),
                           excluded_photos=frozenset(photo_id for (photo_id,) in photos))

    def correct_word(self, category: str, word: str, pinned: bool) -> None:
        """Pin `word` ("more of this") or remove it ("not me") in `category` ('' for every category)."""
        with self._writing() as db:
            db.execute("INSERT OR REPLACE INTO word_corrections(category, word, pinned, at) VALUES (?, ?, ?, ?)",
                       (category_key(category), word, int(pinned), time.time()))

    def uncorrect_word(self, category: str, word: str) -> bool:
        """Undo the correction of `word` in `category`; False if there was none."""
        with self._writing() as db:
            return db.execute("DELETE FROM word_corrections WHERE category = ? AND word = ?",
                              (category_key(category), word)).rowcount > 0

    def exclude_photo(self, path: str, category: str) -> bool:
        """Keep the photo at `path` out of `category`'s rankings ('' for every category); False if no such photo."""
        with self._writing() as db:
            return db.execute("INSERT OR REPLACE INTO photo_exclusions(photo_id, category, at) "
                              "SELECT id, ?, ? FROM photos WHERE path = ?",
                              (category_key(category), time.time(), path)).rowcount > 0

    def include_photo(self, path: str, category: str) -> bool:
        """Undo `exclude_photo`; False if the photo was not excluded there."""
        with self._writing() as db:
            return db.execute("DELETE FROM photo_exclusions WHERE category = ? AND photo_id = "
                              "(SELECT id FROM photos WHERE path = ?)", (category_key(category), path)).rowcount > 0

    def all_corrections(self) -> list[tuple[str, str, str]]:
        """Every correction as (category, kind, word or photo path); kind: "removed", "pinned" or "excluded"."""
        with self._reading() as db:
            words = db.execute("SELECT category, CASE pinned WHEN 1 THEN 'pinned' ELSE 'removed' END, word "
                               "FROM word_corrections ORDER BY at").fetchall()
            photos = db.execute("SELECT e.category, 'excluded', p.path FROM photo_exclusions AS e "
                                "JOIN photos AS p ON p.id = e.photo_id ORDER BY e.at").fetchall()
        return [tuple(row) for row in words + photos]

    def item_files(self, paths: Sequence[str]) -> dict[str, Fingerprint]:
        """Size, mtime and content hash of those catalog picture files already hashed."""
        with self._reading() as db:
            rows = db.execute(
                f"SELECT path, size, mtime_ns, content_hash FROM item_files WHERE path {_IN_JSON_LIST}",
                (json.dumps(list(paths)),),
            )
            return {path: Fingerprint(size, mtime_ns, content_hash) for path, size, mtime_ns, content_hash in rows}

    def add_item_files(self, files: Sequence[tuple[str, Fingerprint]]) -> None:
        """Record catalog picture files' size, mtime and content hash, by path."""
        if files:
            with self._writing() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO item_files(path, size, mtime_ns, content_hash) VALUES (?, ?, ?, ?)",
                    [(path, f.size, f.mtime_ns, f.content_hash) for path, f in files],
                )

    # Failures

    def record_failure(
        self, path: str, folder: str, size: int, mtime_ns: int, reason: str, kind: str = DECODE_FAILURE
    ) -> None:
        """Remember a file that could not be indexed, so it is skipped until its size or mtime change."""
        self.record_failures([(path, folder, size, mtime_ns, reason)], kind)

    def record_failures(self, failures: Sequence[tuple[str, str, int, int, str]], kind: str = DECODE_FAILURE) -> None:
        """Remember (path, folder, size, mtime_ns, reason) of several files at once, as one kind of failure."""
        if not failures:
            return
        now = time.time()
        with self._writing() as db:
            excluded = _excluded(db, [failure[0] for failure in failures])  # forgotten during the index run
            db.executemany(
                "INSERT OR REPLACE INTO failures(path, folder, size, mtime_ns, reason, seen_at, kind)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*failure, now, kind) for failure in failures if failure[0] not in excluded],
            )

    def failures(self, kind: str | None = None) -> list[Failure]:
        """Every failure, or those of one kind (DECODE_FAILURE, SCAN_PROBLEM), by path."""
        where, parameters = ("kind = ?", (kind,)) if kind is not None else ("1", ())
        with self._reading() as db:
            rows = db.execute(
                f"SELECT path, folder, size, mtime_ns, reason, seen_at FROM failures WHERE {where} ORDER BY path",
                parameters,
            )
            return [Failure(*row) for row in rows]

    def clear_failures(self, paths: Iterable[str]) -> int:
        with self._writing() as db:
            return db.execute(f"DELETE FROM failures WHERE path {_IN_JSON_LIST}", (json.dumps(list(paths)),)).rowcount

    # Library folders and exclusions

    def add_folder(self, path: str) -> None:
        with self._writing() as db:
            db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (path, time.time()))

    def remove_folder_entry(self, path: str) -> None:
        """Stop watching a folder; its photos stay until :meth:`remove_folder`."""
        with self._writing() as db:
            db.execute("DELETE FROM folders WHERE path = ?", (path,))

    def folders(self) -> list[str]:
        with self._reading() as db:
            return [path for (path,) in db.execute("SELECT path FROM folders ORDER BY added_at, path")]

    def add_exclusion(self, path: str) -> None:
        with self._writing() as db:
            db.execute("INSERT OR IGNORE INTO exclusions(path) VALUES (?)", (path,))

    def remove_exclusion(self, path: str) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM exclusions WHERE path = ?", (path,))

    def exclusions(self) -> list[str]:
        with self._reading() as db:
            return [path for (path,) in db.execute("SELECT path FROM exclusions ORDER BY path")]

    # Settings and maintenance

    def get_meta(self, key: str) -> str | None:
        with self._reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def integrity_ok(self) -> bool:
        """Every page authenticates (SQLCipher HMACs) and the b-trees are consistent."""
        with self._reading() as db:
            cipher_errors = db.execute("PRAGMA cipher_integrity_check").fetchall()
            return not cipher_errors and db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    def check_integrity(self) -> None:
        """Raise StoreDamagedError unless every page authenticates (reads them all: see UNLOCK_CHECK_MAX_BYTES)."""
        with self._reading() as db:
            failures = [message for (message,) in db.execute("PRAGMA cipher_integrity_check")]
        if failures:
            raise StoreDamagedError(
                f"store {self.path} is damaged or was tampered with: {len(failures)} of its pages fail "
                f"authentication ({failures[0]}); {RESTORE_OR_WIPE}"
            )

    def generation(self) -> int | None:
        """How many transactions changed the store; None if none did since generations were kept."""
        with self._reading() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
                return None  # a new store, before its first migration
            row = db.execute("SELECT value FROM meta WHERE key = ?", (GENERATION,)).fetchone()
        return None if row is None else int(row[0])

    def wipe_all(self) -> None:
        """Delete every row of every table (the schema and the generation stay)."""
        with self._writing() as db:
            for table in ("caption_vectors", "visual_vectors", "vectors", "photos", "failures", "folders",
                          "exclusions", "word_vectors", "item_vectors", "item_files", "judgements", "word_corrections",
                          "photo_exclusions"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE key NOT IN (?, ?)", (GENERATION, PHOTOS_VERSION))
        self._snapshot.discard()

    @staticmethod
    def destroy_files(path: Path) -> None:
        """Overwrite and unlink a closed store's database, WAL and shared-memory files."""
        for suffix in ("", "-wal", "-shm", SNAPSHOT_SUFFIX):
            shred_file(Path(f"{path}{suffix}"))

    # Transactions and errors

    def _migrate(self) -> None:
        with self._reading() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        with self._writing(advance=True) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path} has schema version {version}; this VisualLens reads up to {SCHEMA_VERSION}"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _reading(self) -> Iterator[sqlcipher3.Connection]:
        with self._lock, self._errors():
            yield self._db

    @contextmanager
    def _writing(self, advance: bool = False) -> Iterator[sqlcipher3.Connection]:
        """One write transaction: the write lock is taken up front, so a busy store fails before any change. One
        that changed rows (or `advance`) advances the generation in the transaction, then tells the key file."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            changes = self._db.total_changes
            try:
                yield self._db
                generation = None
                if advance or self._db.total_changes != changes:
                    generation = int(self._db.execute(
                        "INSERT INTO meta(key, value) VALUES (?, '1') "
                        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value",
                        (GENERATION,),
                    ).fetchall()[0][0])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            if generation is not None and self._committed is not None:
                self._committed(generation)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlcipher3.DatabaseError as error:
            code = getattr(error, "sqlite_errorcode", 0) & 0xFF
            if code == _SQLITE_CORRUPT:
                raise StoreDamagedError(
                    f"store {self.path} is damaged or was tampered with ({error}); {RESTORE_OR_WIPE}"
                ) from error
            if code == _SQLITE_NOTADB:
                raise WrongKeyError(f"cannot decrypt {self.path}: wrong key, or not a VisualLens store") from error
            if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
                raise StoreBusyError(
                    f"store {self.path} is busy: another process kept it locked for over {self._busy_timeout:g} s"
                ) from error
            if code in _WRITE_ERRORS:
                message = _WRITE_ERRORS[code].format(path=self.path, folder=self.path.parent, error=error)
                raise StoreWriteError(message) from error
            raise StoreError(f"store {self.path}: {error}") from error


_KEPT = "everything committed before is kept"
_WRITE_ERRORS = {
    _SQLITE_FULL: "store {path}: the disk is full ({error}); free some space and run again, " + _KEPT,
    _SQLITE_IOERR: "store {path}: disk I/O failed ({error}): is the disk full, over a file size limit or failing? "
                   + _KEPT,
    _SQLITE_READONLY: "store {path} is read-only ({error}): VisualLens needs write access to {folder} and its files "
                      "(check the permissions, or whether the disk is mounted read-only); " + _KEPT,
    _SQLITE_CANTOPEN: "cannot open store {path} ({error}): check that {folder} exists and is writable",
}


def _refuse_missing(path: Path, keys: KeyManager) -> None:
    """A store that is missing or empty next to its key file is not a new profile: it was deleted or truncated."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        state = "is missing"
    except OSError:  # unreadable: opening it says why
        return
    else:
        state = "is empty (0 bytes)" if size == 0 else ""
    if state:
        raise StoreDamagedError(f"store {path} {state}, but its key file {keys.path} is there; {RESTORE_OR_WIPE}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _under(folder: str) -> tuple[str, tuple[str, str, str]]:
    """A SQL condition matching ``folder`` and the paths under it ('/a/b' holds '/a/b/x', not '/a/bc/x'),
    index-friendly."""
    prefix = folder.rstrip("/\\") + os.sep
    return "(path = ? OR (path >= ? AND path < ?))", (folder, prefix, prefix[:-1] + chr(ord(os.sep) + 1))


def _delete(db: sqlcipher3.Connection, where: str, parameters: Sequence) -> int:
    """Delete the photos and failures whose path matches `where`, and the vectors of words only those photos had;
    returns how many photos."""
    db.execute(f"DELETE FROM failures WHERE {where}", parameters)
    words = _aspect_words(db, where, parameters)
    removed = db.execute(f"DELETE FROM photos WHERE {where}", parameters).rowcount
    _forget_unused_words(db, words)
    return removed


def _excluded(db: sqlcipher3.Connection, paths: Sequence[str]) -> set[str]:
    """Those of `paths` the user asked to forget (`is_excluded` by the exclusions and library folders), read in the
    caller's write transaction: a forget committed while an index run was under way wins over its later batches."""
    excluded = [path for (path,) in db.execute("SELECT path FROM exclusions")]
    if not excluded:
        return set()
    folders = [path for (path,) in db.execute("SELECT path FROM folders")]
    return {path for path in paths if is_excluded(path, excluded, folders)}


def _profile(row: Sequence) -> PhotoProfile:
    """A profile from a row of ``_SELECT_PROFILES``."""
    (_, path, folder, size, mtime_ns, content_hash, caption, aspects, vector, width, height, caption_vector,
     visual_vector, encoded_with) = row
    return PhotoProfile(
        path=path,
        folder=folder,
        size=size,
        mtime_ns=mtime_ns,
        content_hash=content_hash,
        caption=caption,
        aspects=tuple(json.loads(aspects)),
        vector=np.frombuffer(vector, dtype="<f4"),
        width=width,
        height=height,
        caption_vector=_vector(caption_vector),
        visual_vector=_vector(visual_vector),
        encoded_with=encoded_with,
    )


def _vector(blob: bytes | None) -> np.ndarray | None:
    """A stored optional vector."""
    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def _set_side_vectors(db: sqlcipher3.Connection, table: str, field: str, profiles: Sequence[PhotoProfile]) -> None:
    """Store the profiles' optional vectors (`field`) in `table`, by path; a replaced profile without one loses the
    old one, which belonged to what it replaced (another caption, another model)."""
    present = [(_blob(getattr(p, field)), p.path) for p in profiles if getattr(p, field) is not None]
    absent = [(p.path,) for p in profiles if getattr(p, field) is None]
    db.executemany(_UPSERT_SIDE_VECTOR.format(table=table, key="path"), present)
    db.executemany(f"DELETE FROM {table} WHERE photo_id = (SELECT id FROM photos WHERE path = ?)", absent)


def _aspect_words(db: sqlcipher3.Connection, where: str, parameters: Sequence) -> list[str]:
    """The aspect words of the photos matching `where`."""
    rows = db.execute(
        f"SELECT DISTINCT j.value FROM (SELECT aspects FROM photos WHERE {where}) AS p, json_each(p.aspects) AS j",
        parameters,
    )
    return [word for (word,) in rows]


def _forget_unused_words(db: sqlcipher3.Connection, words: list[str]) -> None:
    """Drop the vectors of those `words` that no photo has any more (after deleting photos that had them)."""
    if words:
        db.execute(
            f"DELETE FROM word_vectors WHERE word {_IN_JSON_LIST} AND NOT EXISTS "
            "(SELECT 1 FROM photos AS p, json_each(p.aspects) AS j WHERE j.value = word_vectors.word)",
            (json.dumps(words),),
        )


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector).astype("<f4").tobytes()

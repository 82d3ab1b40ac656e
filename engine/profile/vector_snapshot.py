"""An encrypted copy of the library matrix beside the store, so a start-up reads one file instead of every row.

The store stays the source of truth. The snapshot holds the ids, paths and quantized unit vectors (8-bit codes, their
scales and mean: `QuantizedVectors`) of the photos one bundle encoded, as of one `photos_version` of the store (a
counter the store's triggers advance on every change to a photo or its vector). It is sealed with AES-GCM under a key derived from the store key (HKDF-SHA256, its own purpose), in
chunks of CHUNK_BYTES (memory stays bounded at a million photos), each chunk authenticated with the header (version,
bundle, shape), its number and whether it is the last: a chunk moved, dropped or changed fails authentication. A
snapshot that is missing, of another version or bundle, or that fails authentication is not used (the store is read
and the snapshot written again); it is written beside the store like a private file, replacing the old one at once.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.home import write_private_stream
from engine.profile.quantized_vectors import QuantizedVectors

FORMAT = "visuallens-vectors/2"  # /1 held float32 vectors: such a snapshot is stale, rebuilt from the store
CHUNK_BYTES = 16 << 20
_NONCE_PREFIX_BYTES = 8  # random per snapshot; the chunk number fills the nonce's last 4 bytes
_HEADER_LENGTH = struct.Struct("<I")
_TAG_BYTES = 16


@dataclass(frozen=True)
class Matrix:
    """What the library matrix is: photo ids (int64 [n]), paths and their unit vectors' codes, in id order."""

    ids: np.ndarray
    paths: list[str]
    vectors: QuantizedVectors


class VectorSnapshot:
    """The snapshot file of one store, sealed with a key derived from the store key."""

    def __init__(self, path: Path, store_key: bytes):
        self.path = path
        info = b"VisualLens vector snapshot"
        self._aead = AESGCM(HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(store_key))

    def read(self, version: int, identity: str | None) -> Matrix | None:
        """The matrix as of store `photos_version` `version` for bundle `identity`; None if the snapshot is missing,
        of another version or bundle, or fails authentication."""
        try:
            with open(self.path, "rb") as file:
                (length,) = _HEADER_LENGTH.unpack(file.read(_HEADER_LENGTH.size))
                header_bytes = file.read(length)
                header = json.loads(header_bytes)
                if header.get("format") != FORMAT or (header["version"], header["identity"]) != (version, identity):
                    return None
                sizes = _part_sizes(header["rows"], header["dim"], header["paths_bytes"])
                chunks = _chunk_sizes(sizes)
                expected = _HEADER_LENGTH.size + length + sum(chunks) + _TAG_BYTES * len(chunks)
                if os.fstat(file.fileno()).st_size != expected:  # before allocating what the header claims
                    return None
                parts = self._open(file, header_bytes, bytes.fromhex(header["prefix"]), sizes)
            return _matrix(parts, header["rows"], header["dim"])
        except (OSError, ValueError, KeyError, TypeError, struct.error, InvalidTag):
            return None

    def write(self, version: int, identity: str | None, matrix: Matrix) -> None:
        """Seal `matrix` as of `version` for `identity`, replacing the old snapshot in one rename."""
        paths = "\0".join(matrix.paths).encode("utf-8", "surrogateescape")  # NUL: the one byte no path holds
        vectors = matrix.vectors
        arrays = ((matrix.ids, "<i8"), (vectors.codes, "u1"), (vectors.fine, "i1"), (vectors.scales, "<f4"),
                  (vectors.mean, "<f4"))
        parts = [_bytes(np.ascontiguousarray(array, dtype)) for array, dtype in arrays] + [memoryview(paths)]
        dim = int(vectors.codes.shape[1])
        prefix = os.urandom(_NONCE_PREFIX_BYTES)
        header = {"format": FORMAT, "version": version, "identity": identity, "rows": len(matrix.paths), "dim": dim,
                  "paths_bytes": len(paths), "prefix": prefix.hex()}
        header_bytes = json.dumps(header).encode("utf-8")
        pieces = [part[start : start + CHUNK_BYTES] for part in parts for start in range(0, len(part), CHUNK_BYTES)]
        pieces = pieces or [memoryview(b"")]

        def sealed() -> Iterator[bytes]:
            yield _HEADER_LENGTH.pack(len(header_bytes)) + header_bytes
            for number, piece in enumerate(pieces):
                aad = _chunk_data(header_bytes, number, last=number == len(pieces) - 1)
                yield self._aead.encrypt(prefix + struct.pack(">I", number), bytes(piece), aad)

        write_private_stream(self.path, sealed())

    def discard(self) -> None:
        """Delete the snapshot (after photos were forgotten: their vectors and paths must not stay on disk)."""
        self.path.unlink(missing_ok=True)

    def _open(self, file: io.BufferedReader, header_bytes: bytes, prefix: bytes, sizes: list[int]) -> list[bytearray]:
        """The decrypted parts (ids, codes, fine codes, scales, mean, paths): each chunk read into one reused buffer
        and decrypted straight into its part's buffer (no copy of the matrix beyond the matrix itself)."""
        parts = [bytearray(size) for size in sizes]
        total = len(_chunk_sizes(sizes))
        sealed = memoryview(bytearray(min(CHUNK_BYTES, max(sizes)) + _TAG_BYTES))
        pieces = [(memoryview(part), start) for part in parts for start in range(0, len(part), CHUNK_BYTES)]
        for number, (part, start) in enumerate(pieces or [(memoryview(bytearray()), 0)]):
            size = min(CHUNK_BYTES, len(part) - start)
            if file.readinto(sealed[: size + _TAG_BYTES]) != size + _TAG_BYTES:
                raise ValueError("the snapshot is shorter than its header says")
            aad = _chunk_data(header_bytes, number, last=number == total - 1)
            nonce = prefix + struct.pack(">I", number)
            self._aead.decrypt_into(nonce, sealed[: size + _TAG_BYTES], aad, part[start : start + size])
        return parts


def _bytes(array: np.ndarray) -> memoryview:
    """A C-contiguous array's bytes, without a copy."""
    return array.reshape(-1).view(np.uint8).data


def _part_sizes(rows: int, dim: int, paths_bytes: int) -> list[int]:
    return [8 * rows, rows * dim, rows * dim, 4 * dim, 4 * dim, paths_bytes]


def _chunk_sizes(sizes: list[int]) -> list[int]:
    """The plaintext size of each chunk: every part cut into CHUNK_BYTES pieces; one empty chunk if all are empty."""
    chunks = [min(CHUNK_BYTES, size - start) for size in sizes for start in range(0, size, CHUNK_BYTES)]
    return chunks or [0]


def _chunk_data(header: bytes, number: int, last: bool) -> bytes:
    """A chunk's associated data: the header, its number and whether it is the last."""
    return header + struct.pack(">I?", number, last)


def _matrix(parts: list[bytearray], rows: int, dim: int) -> Matrix:
    ids, codes, fine, scales, mean, paths = parts
    names = paths.decode("utf-8", "surrogateescape").split("\0") if rows else []
    if len(names) != rows:
        raise ValueError("the snapshot's paths do not match its rows")
    vectors = QuantizedVectors(np.frombuffer(codes, dtype=np.uint8).reshape(rows, dim),
                               np.frombuffer(fine, dtype=np.int8).reshape(rows, dim),
                               np.frombuffer(scales, dtype="<f4").astype(np.float32),
                               np.frombuffer(mean, dtype="<f4").astype(np.float32))
    return Matrix(np.frombuffer(ids, dtype="<i8").astype(np.int64), names, vectors)

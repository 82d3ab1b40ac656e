"""Candidate pictures of an API request, decoded and embedded in memory (they are never written to disk)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError, open_oriented
from engine.imaging.preprocess import PreprocessSpec, to_tensor
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.recommend.candidates import ItemEmbedder

MAX_IMAGE_FILE_BYTES = 50 * 1024 * 1024
MAX_PATH_BYTES_PER_REQUEST = 512 * 1024 * 1024  # all pictures one request names by path, held at once
MAX_CANDIDATE_PIXELS = 40_000_000  # below the engine's photo limit: requests decode many pictures at once
DECODE_SLOTS = 2  # pictures decoded at once across all requests: at most ~2 x 160 MB of pixels however many ask
VECTOR_CACHE_SIZE = 2048
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)


def read_image_file(path: str, budget: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of a candidate picture named by path; `ImageDecodeError` when it is no readable regular file or
    holds more than `budget` (at most MAX_IMAGE_FILE_BYTES) bytes."""
    try:
        file = Path(path)
        if not file.is_file() or file.stat().st_size > min(budget, MAX_IMAGE_FILE_BYTES):
            raise ImageDecodeError("not a readable picture")
        return file.read_bytes()
    except (OSError, ValueError):
        raise ImageDecodeError("not a readable picture") from None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tensor(data: bytes, spec: PreprocessSpec) -> np.ndarray:
    """The image encoder's CHW input for picture bytes (a bounded number decoded at once, process-wide)."""
    with _decoding:
        return to_tensor(open_oriented(io.BytesIO(data), spec.resize_size, MAX_CANDIDATE_PIXELS), spec)


PictureVectors = tuple[np.ndarray, np.ndarray]  # a picture's (embedding, visual vector)


class ImageVectorCache:
    """Candidate picture vectors by content digest (bounded, in memory, thread-safe): repeated catalogs are
    not decoded or encoded again."""

    def __init__(self, size: int = VECTOR_CACHE_SIZE):
        self.size = size
        self._vectors: OrderedDict[str, PictureVectors] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, digests: Iterable[str]) -> dict[str, PictureVectors]:
        """The cached vectors among `digests`."""
        with self._lock:
            found = {d: self._vectors[d] for d in digests if d in self._vectors}
            for key in found:
                self._vectors.move_to_end(key)
        return found

    def add(self, vectors: Mapping[str, PictureVectors]) -> None:
        with self._lock:
            self._vectors.update(vectors)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


def encode_tensors(
    encoder: ImageEncoder, tensors: Mapping[str, np.ndarray], batch_size: int = 32
) -> dict[str, PictureVectors]:
    """Unit vectors (embedding, visual) of preprocessed pictures, keyed as `tensors` is."""
    keys = list(tensors)
    vectors: dict[str, PictureVectors] = {}
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        out = encoder.encode(np.stack([tensors[k] for k in chunk]))
        vectors.update(zip(chunk, zip(out.embeddings, out.visual_or_embeddings())))
    return vectors


class RequestEmbedder(ItemEmbedder):
    """Item vectors from pictures held in memory (a request's), looked up by item id."""

    def __init__(self, text_encoder: TextEncoder, pictures: Mapping[str, PictureVectors], visual_dim: int):
        super().__init__(text_encoder)
        self.pictures = pictures
        self.visual_dim = visual_dim

    def image_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._rows(items, 0, self.text_encoder.dim)

    def visual_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._rows(items, 1, self.visual_dim)

    def _rows(self, items: Sequence[CatalogItem], which: int, dim: int) -> np.ndarray:
        zero = np.zeros(dim, dtype=np.float32)
        return np.stack([self.pictures[i.id][which] if i.id in self.pictures else zero for i in items])

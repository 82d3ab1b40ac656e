"""Candidate vectors: each catalog item's picture and name/description embedded into the shared space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError
from engine.imaging.preprocess import load_tensor
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.recommend.retrieval import unit


class CandidateEmbedder:
    """Embeds catalog items; vectors are memoised per (image path, text) since catalogs are reused."""

    def __init__(self, image_encoder: ImageEncoder, text_encoder: TextEncoder, batch_size: int = 32):
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.batch_size = batch_size
        self._image_cache: dict[str, np.ndarray] = {}

    def image_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        """[n, d] unit vectors of the items' pictures; zero rows for items without a usable picture."""
        dim = self.text_encoder.dim
        todo = [str(i.image) for i in items if i.image is not None and str(i.image) not in self._image_cache]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            tensors, ok = [], []
            for path in chunk:
                try:
                    tensors.append(load_tensor(path, self.image_encoder.spec))
                    ok.append(path)
                except ImageDecodeError:
                    self._image_cache[path] = np.zeros(dim, dtype=np.float32)
            if tensors:
                for path, vec in zip(ok, self.image_encoder.encode(np.stack(tensors)).embeddings):
                    self._image_cache[path] = vec
        zero = np.zeros(dim, dtype=np.float32)
        return np.stack([self._image_cache.get(str(i.image), zero) if i.image else zero for i in items])

    def text_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self.text_encoder.encode_cached([item_text(i) for i in items])

    def vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        """The candidate vector: picture and text embeddings averaged (text alone when there is no picture)."""
        return candidate_vectors(self.image_vectors(items), self.text_vectors(items))


def candidate_vectors(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Rows of picture and text embeddings averaged into one unit vector per candidate."""
    return unit(image + text)


def item_text(item: CatalogItem) -> str:
    """What the text encoder reads for an item."""
    return f"{item.name}. {item.description}".strip().rstrip(".") if item.description else item.name

"""Candidate vectors: each catalog item's picture and name/description embedded into the shared space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError
from engine.imaging.preprocess import load_tensor
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.recommend.retrieval import nearest, unit

NEIGHBOURS = 32  # library photos retrieved per candidate and view
# The views of a candidate its neighbours are retrieved by: picture and name together, the picture alone, the name
# alone. Measured with a probe on the composed benchmark: the two single views add 3 points of the random -> oracle
# gap to the combined one (48% against 45%).
VIEWS = ("picture and name", "picture", "name")


@dataclass(frozen=True)
class CandidateSet:
    """The candidates of one query as the scorers read them, with the library photos nearest to each."""

    image: np.ndarray  # [n, d] picture vectors (zero rows: no usable picture)
    text: np.ndarray  # [n, d] name/description vectors
    visual: np.ndarray  # [n, v] pictures' visual vectors (zero rows: no usable picture)
    neighbours: np.ndarray  # [n, len(VIEWS), NEIGHBOURS] similarity to the nearest library photos, best first
    neighbour_rows: np.ndarray  # [n, NEIGHBOURS] rows of the nearest photos by picture and name (-1: none)
    library_size: int

    @property
    def vectors(self) -> np.ndarray:
        """The candidate vector: picture and text embeddings averaged."""
        return candidate_vectors(self.image, self.text)

    @classmethod
    def against(cls, image: np.ndarray, text: np.ndarray, visual: np.ndarray, library: np.ndarray) -> CandidateSet:
        """Candidates whose neighbours are retrieved from the `library` matrix of photo vectors: one pass over it
        with their pictures and names, the picture-and-name view mixed from those two."""
        n = len(image)
        picture_share, name_share = view_mix(image, text)

        def picture_and_name(sims: np.ndarray) -> np.ndarray:
            return picture_share[:, None] * sims[:n] + name_share[:, None] * sims[n:]

        sims, rows = nearest(np.concatenate([unit(image), unit(text)]), library, NEIGHBOURS, picture_and_name)
        neighbours = np.stack([sims[2 * n :], sims[:n], sims[n : 2 * n]], axis=1)  # in VIEWS order
        return cls(image, text, visual, neighbours, rows[2 * n :], len(library))

    def support(self, similarity: float) -> int:
        """How many distinct library photos are at least `similarity` like some candidate (picture and name)."""
        return len(np.unique(self.neighbour_rows[self.neighbours[:, 0] >= similarity]))


class ItemEmbedder(ABC):
    """Catalog items -> the vectors the scorers read: their pictures' (from wherever a subclass has them) and their
    texts' (from the text encoder)."""

    def __init__(self, text_encoder: TextEncoder):
        self.text_encoder = text_encoder

    @abstractmethod
    def image_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        """[n, d] unit vectors of the items' pictures; zero rows for items without a usable picture."""

    @abstractmethod
    def visual_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        """[n, v] unit visual vectors of the items' pictures; zero rows for items without a usable picture."""

    def text_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self.text_encoder.encode_cached([item_text(i) for i in items])

    def vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        """The candidate vector: picture and text embeddings averaged (text alone when there is no picture)."""
        return candidate_vectors(self.image_vectors(items), self.text_vectors(items))

    def candidate_set(self, items: Sequence[CatalogItem], library: np.ndarray) -> CandidateSet:
        """Everything the scorers read about `items`, against the library matrix."""
        return CandidateSet.against(self.image_vectors(items), self.text_vectors(items), self.visual_vectors(items), library)


class CandidateEmbedder(ItemEmbedder):
    """Embeds catalog items from their picture files; vectors are memoised per (image path, text) since catalogs
    are reused."""

    def __init__(self, image_encoder: ImageEncoder, text_encoder: TextEncoder, batch_size: int = 32):
        super().__init__(text_encoder)
        self.image_encoder = image_encoder
        self.batch_size = batch_size
        self._image_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # path -> (embedding, visual)

    def image_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._pictures(items, 0, self.text_encoder.dim)

    def visual_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._pictures(items, 1, self.image_encoder.visual_dim)

    def _pictures(self, items: Sequence[CatalogItem], which: int, dim: int) -> np.ndarray:
        self._encode_missing(items)
        zero = np.zeros(dim, dtype=np.float32)
        rows = [self._image_cache[str(i.image)][which] if i.image else zero for i in items]
        return np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    def _encode_missing(self, items: Sequence[CatalogItem]) -> None:
        todo = list(dict.fromkeys(str(i.image) for i in items if i.image is not None and str(i.image) not in self._image_cache))
        for start in range(0, len(todo), self.batch_size):
            tensors, ok = [], []
            for path in todo[start : start + self.batch_size]:
                try:
                    tensors.append(load_tensor(path, self.image_encoder.spec))
                    ok.append(path)
                except ImageDecodeError:  # no usable picture: the item is ranked on its text alone
                    self._image_cache[path] = (
                        np.zeros(self.text_encoder.dim, dtype=np.float32),
                        np.zeros(self.image_encoder.visual_dim, dtype=np.float32),
                    )
            if tensors:
                out = self.image_encoder.encode(np.stack(tensors))
                self._image_cache.update(zip(ok, zip(out.embeddings, out.visual_or_embeddings())))


def candidate_vectors(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Rows of picture and text embeddings averaged into one unit vector per candidate."""
    return unit(image + text)


def view_mix(image: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) per candidate with unit(image + text) = a * unit(image) + b * unit(text): the picture-and-name view
    as a mix of the other two, so its similarities come from theirs."""
    image, text = np.asarray(image, np.float32), np.asarray(text, np.float32)
    whole = np.maximum(np.linalg.norm(image + text, axis=-1), 1e-12)
    return np.linalg.norm(image, axis=-1) / whole, np.linalg.norm(text, axis=-1) / whole


def item_text(item: CatalogItem) -> str:
    """What the text encoder reads for an item."""
    return f"{item.name}. {item.description}".strip().rstrip(".") if item.description else item.name

"""Candidate vectors: each catalog item's picture and name/description embedded into the shared space."""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError
from engine.imaging.preprocess import load_tensor
from engine.library.fingerprint import content_hash
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.profile.records import Fingerprint
from engine.profile.store import StoreBusyError, StoreWriteError
from engine.recommend.photo_library import PhotoLibrary, excluded_key, row_keys
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
    def against(
        cls, image: np.ndarray, text: np.ndarray, visual: np.ndarray, library: np.ndarray,
        excluded: np.ndarray | None = None,
    ) -> CandidateSet:
        """Candidates whose neighbours are retrieved from the `library` matrix of photo vectors (rows `excluded`
        left out)."""
        neighbours, rows = nearest_views(image, text, library, excluded)
        return cls(image, text, visual, neighbours, rows, len(library))

    @classmethod
    def remembered(
        cls, image: np.ndarray, text: np.ndarray, visual: np.ndarray, library: PhotoLibrary,
        excluded: np.ndarray | None = None,
    ) -> CandidateSet:
        """As `against`, from the library's quantized vectors: only the neighbours of candidates it does not
        remember (by their picture and name vectors, with the same rows excluded) are retrieved, then remembered."""
        def retrieve(todo: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
            picture, name = unit(image[todo]), unit(text[todo])
            picture_share, name_share = view_mix(image[todo], text[todo])
            both = picture_share[:, None] * picture + name_share[:, None] * name  # its similarities mix theirs
            sims, rows = library.nearest(np.concatenate([both, picture, name]), NEIGHBOURS, excluded)
            n = len(todo)
            views = np.stack([sims[:n], sims[n : 2 * n], sims[2 * n :]], axis=1)  # in VIEWS order
            return list(zip(views, rows[:n]))

        found = library.neighbours.get(row_keys(image, text, salt=excluded_key(excluded)), retrieve)
        if not found:
            return cls(image, text, visual, np.zeros((0, len(VIEWS), NEIGHBOURS), np.float32),
                       np.zeros((0, NEIGHBOURS), np.int64), len(library))
        return cls(image, text, visual, np.stack([sims for sims, _ in found]), np.stack([r for _, r in found]),
                   len(library))

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

    def candidate_set(
        self, items: Sequence[CatalogItem], library: PhotoLibrary, excluded: np.ndarray | None = None
    ) -> CandidateSet:
        """Everything the scorers read about `items`, against the library (rows `excluded` left out)."""
        return CandidateSet.remembered(self.image_vectors(items), self.text_vectors(items), self.visual_vectors(items),
                                       library, excluded)


class ItemVectorStore(Protocol):
    """Where catalog items' vectors outlive a process: the profile's encrypted store."""

    def item_vectors(self, keys: Sequence[str], identity: str) -> dict[str, tuple[np.ndarray, np.ndarray | None]]: ...

    def add_item_vectors(self, rows: Sequence[tuple[str, np.ndarray, np.ndarray | None]], identity: str) -> None: ...

    def item_files(self, paths: Sequence[str]) -> dict[str, Fingerprint]: ...

    def add_item_files(self, files: Sequence[tuple[str, Fingerprint]]) -> None: ...


class CandidateEmbedder(ItemEmbedder):
    """Embeds catalog items from their picture files and texts, each once: a picture by its content hash (a file
    hashed before and unchanged since, by size and mtime, is not read again), a text by itself. Vectors are kept in
    memory and, with a `store`, in the profile's encrypted store, so a catalog asked before, even by another
    process, embeds nothing."""

    def __init__(
        self, image_encoder: ImageEncoder, text_encoder: TextEncoder, store: ItemVectorStore | None = None,
        batch_size: int = 32,
    ):
        super().__init__(text_encoder)
        self.image_encoder = image_encoder
        self.store = store
        self.batch_size = batch_size
        self._vectors: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}  # key -> (vector, visual or None)

    def image_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._pictures(items, 0, self.text_encoder.dim)

    def visual_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        return self._pictures(items, 1, self.image_encoder.visual_dim)

    def text_vectors(self, items: Sequence[CatalogItem]) -> np.ndarray:
        texts = [item_text(i) for i in items]
        keys = [_text_key(text) for text in texts]
        self._recall(keys)
        missing = list(dict.fromkeys((key, text) for key, text in zip(keys, texts) if key not in self._vectors))
        if missing:
            encoded = self.text_encoder.encode_cached([text for _, text in missing])
            self._keep([(key, vector, None) for (key, _), vector in zip(missing, encoded)])
        rows = [self._vectors[key][0] for key in keys]
        return np.stack(rows) if rows else np.zeros((0, self.text_encoder.dim), dtype=np.float32)

    def _pictures(self, items: Sequence[CatalogItem], which: int, dim: int) -> np.ndarray:
        keys = self._picture_keys([str(i.image) for i in items if i.image is not None])
        self._encode_missing(keys)
        zero = np.zeros(dim, dtype=np.float32)
        rows = [self._picture_vector(keys.get(str(i.image)), which, zero) for i in items]
        return np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    def _picture_vector(self, key: str | None, which: int, zero: np.ndarray) -> np.ndarray:
        """A picture's vector (`which` 0) or visual vector (1); `zero` for a picture that cannot be used."""
        found = self._vectors.get(key) if key is not None else None
        vector = None if found is None else found[which]
        return zero if vector is None else vector

    def _picture_keys(self, paths: list[str]) -> dict[str, str | None]:
        """Each picture file's key, from its content hash; None for a file that cannot be read."""
        paths = list(dict.fromkeys(paths))
        known = self.store.item_files(paths) if self.store is not None else {}
        keys: dict[str, str | None] = {}
        hashed: list[tuple[str, Fingerprint]] = []
        for path in paths:
            try:
                status = os.stat(path)
                before = known.get(path)
                if before is not None and (before.size, before.mtime_ns) == (status.st_size, status.st_mtime_ns):
                    digest = before.content_hash
                else:
                    digest = content_hash(path)
                    hashed.append((path, Fingerprint(status.st_size, status.st_mtime_ns, digest)))
                keys[path] = f"picture:{digest}"
            except OSError:  # missing or unreadable: the item is ranked on its text alone
                keys[path] = None
        if hashed and self.store is not None:
            self._write(lambda store: store.add_item_files(hashed))
        return keys

    def _encode_missing(self, keys: dict[str, str | None]) -> None:
        self._recall([key for key in keys.values() if key is not None])
        todo = list({key: path for path, key in keys.items() if key is not None and key not in self._vectors}.items())
        for start in range(0, len(todo), self.batch_size):
            tensors, ok = [], []
            for key, path in todo[start : start + self.batch_size]:
                try:
                    tensors.append(load_tensor(path, self.image_encoder.spec))
                    ok.append(key)
                except ImageDecodeError:  # no usable picture: the item is ranked on its text alone
                    self._vectors[key] = (np.zeros(self.text_encoder.dim, np.float32), None)
            if tensors:
                out = self.image_encoder.encode(np.stack(tensors))
                self._keep(list(zip(ok, out.embeddings, out.visual_or_embeddings())))

    def _recall(self, keys: list[str]) -> None:
        """Bring the stored vectors of `keys` not yet in memory into memory."""
        wanted = [key for key in dict.fromkeys(keys) if key not in self._vectors]
        if wanted and self.store is not None:
            self._vectors.update(self.store.item_vectors(wanted, self.image_encoder.identity))

    def _keep(self, rows: list[tuple[str, np.ndarray, np.ndarray | None]]) -> None:
        """Remember new vectors in memory and in the store."""
        self._vectors.update((key, (vector, visual)) for key, vector, visual in rows)
        if self.store is not None:
            identity = self.image_encoder.identity
            self._write(lambda store: store.add_item_vectors(rows, identity))

    def _write(self, change: Callable[[ItemVectorStore], None]) -> None:
        """Write to the store unless it is busy (an index run holds it) or cannot be written: vectors are a saving,
        never a reason for a question to fail."""
        try:
            change(cast(ItemVectorStore, self.store))
        except (StoreBusyError, StoreWriteError):
            pass


def nearest_views(
    image: np.ndarray, text: np.ndarray, library: np.ndarray, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """([n, len(VIEWS), NEIGHBOURS] similarities, [n, NEIGHBOURS] rows by picture and name) of the library photos
    nearest each candidate: one pass over the matrix with their pictures and names, the picture-and-name view mixed
    from those two."""
    n = len(image)
    picture_share, name_share = view_mix(image, text)

    def picture_and_name(sims: np.ndarray) -> np.ndarray:
        return picture_share[:, None] * sims[:n] + name_share[:, None] * sims[n:]

    sims, rows = nearest(np.concatenate([unit(image), unit(text)]), library, NEIGHBOURS, picture_and_name, excluded)
    return np.stack([sims[2 * n :], sims[:n], sims[n : 2 * n]], axis=1), rows[2 * n :]  # in VIEWS order


def candidate_vectors(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Rows of picture and text embeddings averaged into one unit vector per candidate."""
    return unit(image + text)


def view_mix(image: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) per candidate with unit(image + text) = a * unit(image) + b * unit(text): the picture-and-name view
    as a mix of the other two, so its similarities come from theirs."""
    image, text = np.asarray(image, np.float32), np.asarray(text, np.float32)
    whole = np.maximum(np.linalg.norm(image + text, axis=-1), 1e-12)
    return np.linalg.norm(image, axis=-1) / whole, np.linalg.norm(text, axis=-1) / whole


def _text_key(text: str) -> str:
    return "text:" + hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def item_text(item: CatalogItem) -> str:
    """What the text encoder reads for an item."""
    return f"{item.name}. {item.description}".strip().rstrip(".") if item.description else item.name

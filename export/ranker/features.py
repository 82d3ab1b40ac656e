"""Spectrum profiles of a benchmark's photos and items, computed once with the bundle the ranker will serve in.

Photos go through the engine's own decode -> encode -> describe path (the same as indexing a library), so
training sees exactly what a user's store holds. Results are cached per bundle identity, keyed by the photo's
content hash, so benchmark variants that share photos embed each one once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.catalog.items import CatalogItem
from engine.imaging.decode import open_oriented
from engine.imaging.preprocess import to_tensor
from engine.library.fingerprint import content_hash
from engine.models.bundle import Bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.profile.describers import load_describer
from engine.recommend.candidates import CandidateEmbedder
from export.data.benchmark.format import Benchmark

BATCH = 32
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PhotoFeatures:
    """Spectrum profiles by photo path: image vector, caption vector and aspect words."""

    rows: dict[str, int]
    vectors: np.ndarray  # [P, d]
    caption_vectors: np.ndarray  # [P, d]
    visual_vectors: np.ndarray  # [P, v]
    captions: list[str]
    aspects: list[tuple[str, ...]]


@dataclass(frozen=True)
class BenchmarkFeatures:
    """Everything the ranker's inputs are built from: photo profiles, item vectors and word vectors."""

    photos: PhotoFeatures
    item_rows: dict[str, int]
    item_image: np.ndarray  # [I, d]
    item_text: np.ndarray  # [I, d] name and description, as the engine reads a catalog item
    item_name: np.ndarray  # [I, d] the name alone (an item whose catalog gives no description)
    item_visual: np.ndarray  # [I, v]
    word_rows: dict[str, int]
    word_vectors: np.ndarray  # [V, d]

    def words(self, words: Sequence[str]) -> np.ndarray:
        return self.word_vectors[[self.word_rows[w] for w in words]].reshape(len(words), -1)


def embed_benchmark(
    bench: Benchmark, bundle: Bundle, cache_dir: Path, on_progress: Progress | None = None, threads: int | None = None
) -> BenchmarkFeatures:
    """Profiles for every history photo and every item of `bench` (cached under `cache_dir`)."""
    image_encoder = ImageEncoder(bundle, threads=threads)
    text_encoder = TextEncoder(bundle, threads=threads)
    photos = _photo_features(bench.photos(), bundle, image_encoder, text_encoder, cache_dir, on_progress)
    items = list(bench.items.values())
    catalog = [CatalogItem(id=i.id, name=i.name, category=i.category, image=i.image, description=i.description) for i in items]
    embedder = CandidateEmbedder(image_encoder, text_encoder)
    vocabulary = sorted({word for group in photos.aspects for word in group})
    return BenchmarkFeatures(
        photos=photos,
        item_rows={item.id: row for row, item in enumerate(items)},
        item_image=embedder.image_vectors(catalog),
        item_text=embedder.text_vectors(catalog),
        item_name=text_encoder.encode([i.name for i in items]),
        item_visual=embedder.visual_vectors(catalog),
        word_rows={word: row for row, word in enumerate(vocabulary)},
        word_vectors=text_encoder.encode(vocabulary),
    )


def _photo_features(
    paths: list[Path],
    bundle: Bundle,
    image_encoder: ImageEncoder,
    text_encoder: TextEncoder,
    cache_dir: Path,
    on_progress: Progress | None,
) -> PhotoFeatures:
    cache = _ProfileCache(cache_dir / hashlib.sha256(bundle.identity.encode()).hexdigest()[:16])
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = list(pool.map(content_hash, paths))
        todo = list({h: (p, h) for p, h in zip(paths, digests) if h not in cache.rows}.values())  # one per content
        describer = load_describer(bundle)
        spec = image_encoder.spec
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            images = list(pool.map(lambda item: open_oriented(item[0], spec.resize_size), chunk))
            encoded = image_encoder.encode(np.stack([to_tensor(img, spec) for img in images]))
            descriptions = describer.describe_batch(images, encoded)
            cache.add([h for _, h in chunk], encoded.embeddings, encoded.visual_or_embeddings(), descriptions)
            if on_progress:
                on_progress(min(start + BATCH, len(todo)), len(todo))
    cache.save()
    rows = [cache.rows[h] for h in digests]
    captions = [cache.captions[r] for r in rows]
    return PhotoFeatures(
        rows={str(p): i for i, p in enumerate(paths)},
        vectors=cache.vectors[rows],
        caption_vectors=text_encoder.encode(captions),
        visual_vectors=cache.visual[rows],
        captions=captions,
        aspects=[cache.aspects[r] for r in rows],
    )


class _ProfileCache:
    """Image and visual vectors, captions and aspect words by content hash, in two `.npy` + one `.json` per bundle."""

    def __init__(self, folder: Path):
        self.folder = folder
        meta_path, vectors_path, visual_path = folder / "profiles.json", folder / "vectors.npy", folder / "visual.npy"
        self.vectors, self.visual, self.captions, self.aspects, self.rows = None, None, [], [], {}
        if meta_path.is_file() and vectors_path.is_file() and visual_path.is_file():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            vectors, visual = np.load(vectors_path), np.load(visual_path)
            if len(vectors) == len(visual) == len(meta["hashes"]) == len(meta["captions"]):  # else: made again
                self.vectors, self.visual = vectors, visual
                self.captions, self.aspects = meta["captions"], [tuple(a) for a in meta["aspects"]]
                self.rows = {h: i for i, h in enumerate(meta["hashes"])}

    def add(self, hashes: list[str], vectors: np.ndarray, visual: np.ndarray, descriptions: list) -> None:
        for digest, description in zip(hashes, descriptions):
            self.rows[digest] = len(self.captions)
            self.captions.append(description.caption)
            self.aspects.append(tuple(description.aspects))
        self.vectors = vectors if self.vectors is None else np.concatenate([self.vectors, vectors])
        self.visual = visual if self.visual is None else np.concatenate([self.visual, visual])

    def save(self) -> None:
        """Write the cache, one row per content hash, in the same order in every file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        hashes = sorted(self.rows, key=self.rows.get)
        kept = [self.rows[h] for h in hashes]
        meta = {"hashes": hashes, "captions": [self.captions[i] for i in kept],
                "aspects": [list(self.aspects[i]) for i in kept]}
        for name, array in (("vectors", self.vectors), ("visual", self.visual)):
            np.save(self.folder / f"{name}.npy", array[kept] if array is not None else np.zeros((0, 0), np.float32))
        (self.folder / "profiles.json").write_text(json.dumps(meta), encoding="utf-8")

"""Synthetic photo vectors shaped like a real library's, for measuring search indexes at sizes no test folder reaches.

Isotropic noise has no neighbourhoods, so an approximate index cannot be judged on it (every photo is about equally
far from every query). Here the library grows from real embeddings: the bundle's image vectors of registry pictures
(everyday photos, and every emoji thing composed as a phone would catch it). A real library is made of bursts, many
shots of one scene, and of scenes near things the person photographs often; so each burst centres on a seed (a few
on the mean of two seeds, a scene of two things), moved by a random direction, and each of its photos moves from
the centre a little more. The random directions follow the seeds' own covariance (real embeddings fill about 80 of
the 384 dimensions; isotropic noise would fill them all and make every neighbourhood fuzzier than a real one).
`spread_figures` sets the synthetic neighbours' likeness beside the real vectors', for the report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.imaging.preprocess import to_tensor
from engine.models.bundle import load_bundle
from engine.models.encoders import ImageEncoder
from engine.recommend.retrieval import nearest, unit

BURST_MEAN = 8  # photos per burst, geometric
PAIR_SHARE = 0.2  # bursts of a scene of two things
CENTRE_SPREAD = 0.55  # noise norm relative to the unit seed: a burst centre sits at cos ~0.88 to its seed
PHOTO_SPREAD = 0.35  # a photo sits at cos ~0.94 to its burst centre
ENCODE_BATCH = 64


@dataclass(frozen=True)
class Seeds:
    """Real image vectors of registry pictures, and which thing each emoji picture shows (for the spread figures)."""

    vectors: np.ndarray  # [k, d] unit
    things: list[str]  # "" for everyday photos


def seed_vectors(bundle_dir: Path, cache: Path) -> Seeds:
    """The bundle's vectors of the everyday photos and of every emoji thing composed in each style (cached)."""
    bundle = load_bundle(bundle_dir)
    target = cache / f"seeds-{bundle.identity[:16]}.npz"
    if target.is_file():
        saved = np.load(target)
        return Seeds(saved["vectors"], list(saved["things"]))
    from PIL import Image

    from export.data.compose import background_paths, compose, load_item
    from export.data.pairs import emoji_things
    from export.data.samples import everyday_photos

    rng, backgrounds = random.Random(0), background_paths()
    pictures: list[tuple[str, object]] = [("", path) for path in everyday_photos()]
    pictures += [(thing.key, path) for thing in emoji_things() for path in thing.pictures.values()]
    encoder, spec = ImageEncoder(bundle), bundle.manifest.image_encoder.preprocess
    vectors = []
    for start in range(0, len(pictures), ENCODE_BATCH):
        batch = []
        for thing, path in pictures[start : start + ENCODE_BATCH]:
            if thing:
                image = compose(load_item(path), rng, backgrounds)
            else:
                with Image.open(path) as opened:
                    image = opened.convert("RGB")
            batch.append(to_tensor(image, spec))
        vectors.append(encoder.encode(np.stack(batch)).embeddings)
    encoder.close()
    seeds = Seeds(unit(np.concatenate(vectors)), [thing for thing, _ in pictures])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(target, vectors=seeds.vectors, things=np.array(seeds.things))
    return seeds


def structured_library(seeds: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` unit vectors in bursts around the seeds (float32, [n, d]); the same `seed` gives the same library."""
    rng = np.random.default_rng(seed)
    k, d = seeds.shape
    shape = _covariance_shape(seeds)
    sizes = rng.geometric(1 / BURST_MEAN, size=n // BURST_MEAN * 2 + 16)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    first = rng.integers(k, size=len(sizes))
    second = np.where(rng.random(len(sizes)) < PAIR_SHARE, rng.integers(k, size=len(sizes)), first)
    centres = unit(unit(seeds[first] + seeds[second]) + _noise(rng, len(sizes), shape, CENTRE_SPREAD))
    library = np.empty((n, d), dtype=np.float32)
    start = 0
    for block in np.array_split(np.arange(len(sizes)), max(1, len(sizes) // 4096)):
        owners = np.repeat(block, sizes[block])
        library[start : start + len(owners)] = unit(centres[owners] + _noise(rng, len(owners), shape, PHOTO_SPREAD))
        start += len(owners)
    return library


def spread_figures(seeds: Seeds, library: np.ndarray, sample: int = 2000, seed: int = 0) -> dict[str, float]:
    """Median cosines that show the synthetic spreads beside the real ones: a thing in two styles, a thing and its
    nearest other thing (real); neighbouring photos, and a photo and its 10th nearest (synthetic)."""
    rng = np.random.default_rng(seed)
    by_thing: dict[str, list[int]] = {}
    for row, thing in enumerate(seeds.things):
        if thing:
            by_thing.setdefault(thing, []).append(row)
    pairs = [rows[:2] for rows in by_thing.values() if len(rows) >= 2]
    same = [float(seeds.vectors[a] @ seeds.vectors[b]) for a, b in pairs]
    firsts = seeds.vectors[[rows[0] for rows in by_thing.values()]]
    sims = firsts @ firsts.T
    np.fill_diagonal(sims, -1)
    picked = library[rng.choice(len(library), size=min(sample, len(library)), replace=False)]
    near, _ = nearest(picked, library, 11)  # the engine's blocked exact scan; the first column is the photo itself
    return {"real_same_thing_two_styles": float(np.median(same)), "real_nearest_other_thing": float(np.median(sims.max(1))),
            "synthetic_nearest_photo": float(np.median(near[:, 1])), "synthetic_10th_nearest": float(np.median(near[:, 10]))}


def _covariance_shape(seeds: np.ndarray) -> np.ndarray:
    """[d, d]: maps standard normal draws to draws of the seeds' covariance, scaled to an expected norm of 1."""
    values, vectors = np.linalg.eigh(np.cov((seeds - seeds.mean(0)).T))
    values = np.clip(values, 0, None)
    return (vectors * np.sqrt(values / values.sum())).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, shape: np.ndarray, spread: float) -> np.ndarray:
    """Random directions distributed as the seeds vary, of norm about `spread`."""
    return (rng.standard_normal((n, shape.shape[0]), dtype=np.float32) @ shape.T) * np.float32(spread)

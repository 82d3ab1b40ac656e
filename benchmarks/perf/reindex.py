"""Re-index of an unchanged library: how long the no-op takes and how many files it decodes and hashes (0 and 0).

The library is `count` small synthetic JPEGs (distinct content); its profiles are written straight into a real
encrypted store through `ProfileStore.add_profiles` with the files' real fingerprints (size, mtime, content hash)
and the bundle's identity, which is what a first index run with that bundle leaves behind. The timed run is the
real `VisualLens.index`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import engine.profile.indexer as indexer_module
from benchmarks.perf.workspace import new_profile, open_profile
from engine.library.fingerprint import content_hash
from engine.library.scan import scan_folders
from engine.profile.records import PhotoProfile

MARKER = ".complete"
CHUNK = 2000


@dataclass(frozen=True)
class ReindexResult:
    photos: int
    seconds: float
    unchanged: int
    decoded: int  # files opened by the decoder
    hashed: int  # files read to hash their content


def build_small_library(root: Path, count: int = 10_000, seed: int = 0) -> Path:
    """`count` distinct 48 x 48 JPEGs in 100 folders (cached)."""
    root = Path(root)
    marker = root / MARKER
    if marker.exists() and json.loads(marker.read_text()) == {"count": count, "seed": seed}:
        return root
    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = root / f"{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{i:05d}.jpg", quality=80)
    marker.write_text(json.dumps({"count": count, "seed": seed}))
    return root


def measure_reindex(bundle: Path, library: Path, work: Path) -> ReindexResult:
    new_profile(work, bundle)
    files = scan_folders([library]).files
    with open_profile(work) as lens:
        dim, visual_dim = lens.bundle.embedding_dim, lens.bundle.visual_dim
        lens.store.add_folder(str(library.resolve()))
        rng = np.random.default_rng(1)
        for start in range(0, len(files), CHUNK):
            lens.store.add_profiles([
                PhotoProfile(
                    path=e.path, folder=e.folder, size=e.size, mtime_ns=e.mtime_ns, content_hash=content_hash(e.path),
                    caption="a synthetic photo", aspects=("synthetic",), vector=rng.standard_normal(dim), width=48,
                    height=48, caption_vector=rng.standard_normal(dim),
                    visual_vector=rng.standard_normal(visual_dim) if visual_dim else None,
                    encoded_with=lens.bundle.identity,  # made by this bundle: a different one re-encodes every photo
                )
                for e in files[start : start + CHUNK]
            ])
    with open_profile(work) as lens:
        _ = lens.image_encoder, lens.text_encoder, lens.bundle  # a running app has its models loaded
        counts = {"decoded": 0, "hashed": 0}
        with _counting(counts):
            start = time.perf_counter()
            report = lens.index([library])
            seconds = time.perf_counter() - start
    return ReindexResult(len(files), seconds, report.unchanged, counts["decoded"], counts["hashed"])


class _counting:
    """Count calls of the indexer's decoder and hasher while the block runs."""

    def __init__(self, counts: dict[str, int]):
        self.counts = counts
        self.originals = (indexer_module.open_oriented, indexer_module.content_hash)

    def __enter__(self) -> None:
        decode, digest = self.originals

        def counted_decode(*args, **kwargs):
            self.counts["decoded"] += 1
            return decode(*args, **kwargs)

        def counted_hash(*args, **kwargs):
            self.counts["hashed"] += 1
            return digest(*args, **kwargs)

        indexer_module.open_oriented, indexer_module.content_hash = counted_decode, counted_hash

    def __exit__(self, *exc: object) -> None:
        indexer_module.open_oriented, indexer_module.content_hash = self.originals


if __name__ == "__main__":  # a quick look: python -m benchmarks.perf.reindex BUNDLE WORKDIR
    import sys

    work_root = Path(sys.argv[2])
    lib = build_small_library(work_root / "small-library", int(os.environ.get("COUNT", "10000")))
    print(measure_reindex(Path(sys.argv[1]), lib, work_root / "profile"))

"""The benchmark photo folder: the sample photos plus camera-size JPEG variants of the MATE wallpapers.

The wallpapers (Debian `mate-backgrounds`, 1280 to 5640 px wide) are the only large real JPEGs in the registries
we use, so each variant is one of them cropped to 80-100 % of each side, sometimes mirrored, re-encoded at
quality 85-95 and, for every fifth, tagged with EXIF orientation 6 as phones do: every file has its own content
hash, so the indexer cannot reuse one profile for another. Built once and cached (a `.complete` marker).
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from engine.library.fingerprint import content_hash
from engine.library.scan import scan_folders
from export.data.registry import debian_package
from export.data.samples import WALLPAPERS_PACKAGE, build_sample_photos

WALLPAPER_GLOB = "usr/share/backgrounds/mate/**/*.jpg"
MARKER = ".complete"
EXIF_ORIENTATION_TAG = 0x0112


PHOTO_PARTS = ("wallpapers", "samples")  # the large JPEG variants; the demo's sample photos


@dataclass(frozen=True)
class PhotoFolder:
    """A built photo folder and what it holds."""

    root: Path
    files: int
    large_jpegs: int  # JPEGs of at least 2 megapixels
    megapixels_median: float
    bytes_total: int
    part_files: dict[str, int]  # files per part (subfolder)
    part_megapixels_median: dict[str, float]


def build_photo_folder(root: Path, total: int = 600, seed: int = 0) -> PhotoFolder:
    """`root/samples` (the demo's sample photos) and `root/wallpapers` (variants), `total` files in all."""
    root = Path(root)
    params = {"total": total, "seed": seed, "version": 2}
    marker = root / MARKER
    if not (marker.exists() and json.loads(marker.read_text()) == params):
        shutil.rmtree(root, ignore_errors=True)
        samples = build_sample_photos(root / "samples")
        have = len(scan_folders([samples]).files)
        _write_variants(root / "wallpapers", max(0, total - have), seed)
        marker.write_text(json.dumps(params))
    return describe_folder(root)


def describe_folder(root: Path) -> PhotoFolder:
    files = scan_folders([root]).files
    pixels: dict[str, list[float]] = {part: [] for part in PHOTO_PARTS}
    large = 0
    for entry in files:
        with Image.open(entry.path) as img:
            mp = img.width * img.height / 1e6
            pixels[Path(entry.path).relative_to(root.resolve()).parts[0]].append(mp)
            large += img.format == "JPEG" and mp >= 2.0
    return PhotoFolder(
        root=root,
        files=len(files),
        large_jpegs=large,
        megapixels_median=_median([mp for values in pixels.values() for mp in values]),
        bytes_total=sum(e.size for e in files),
        part_files={part: len(values) for part, values in pixels.items()},
        part_megapixels_median={part: _median(values) for part, values in pixels.items()},
    )


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else 0.0


def _write_variants(folder: Path, count: int, seed: int) -> None:
    sources = sorted((debian_package(WALLPAPERS_PACKAGE)).glob(WALLPAPER_GLOB))
    sources = [s for s in sources if _pixels(s) >= 4_000_000]  # 2560 x 1600 and up
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    hashes: set[str] = set()
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"IMG_{i:05d}.jpg"
        while True:
            _write_variant(source, target, rng, orientation=6 if i % 5 == 4 else None)
            digest = content_hash(target)
            if digest not in hashes:
                hashes.add(digest)
                break


def _write_variant(source: Path, target: Path, rng: random.Random, orientation: int | None) -> None:
    with Image.open(source) as img:
        img = img.convert("RGB")
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.8, 1.0)), int(h * rng.uniform(0.8, 1.0))
        left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = img.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        exif = Image.Exif()
        if orientation:
            exif[EXIF_ORIENTATION_TAG] = orientation
        img.save(target, "JPEG", quality=rng.randint(85, 95), exif=exif.tobytes())


def _pixels(path: Path) -> int:
    with Image.open(path) as img:
        return img.width * img.height

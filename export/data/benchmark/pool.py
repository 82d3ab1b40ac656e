"""The photo pool: real images from Debian packages standing in for a user's everyday photos, with their tags.

- tuxpaint-stamps-default: the photo-like stamps (those with a `.txt` description, no symbols,
  cartoons, road signs or flags); tags from the folder path and the description's first line.
- openclipart-png: clip art in category folders, minus icon, symbol and shape sets; tags from
  the folder path and the file name. Files over `MAX_FILE_BYTES` or `MAX_PIXELS` are skipped.
- mate-backgrounds: the nature wallpapers and the elephants photo; tags from folder and file name.

Copies are downscaled so that no side exceeds `MAX_SIDE` pixels (PNG stays PNG, JPEG stays JPEG).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from export.data.benchmark.tags import Tagger
from export.data.registry import debian_package
from export.data.samples import (
    STAMPS_DIR,
    STAMPS_PACKAGE,
    WALLPAPERS,
    WALLPAPERS_DIR,
    WALLPAPERS_PACKAGE,
    debian_licences,
    debian_version,
    photo_stamps,
)

CLIPART_PACKAGE = "openclipart-png"
CLIPART_DIR = "usr/share/openclipart/png"
# Clip-art folders of icons, symbols, shapes and card faces: nothing one takes a photo of.
SKIPPED_CLIPART = (
    "shapes/", "computer/", "special/", "signs_and_symbols/", "buttons/", "logos/", "transportation/aiga-symbols/",
    "transportation/roadsigns/", "recreation/games/cards/", "people/smilies/", "people/stickmen/", "unsorted/duplicates/",
)  # fmt: skip
# openclipart-png's copyright file is not machine-readable; this is what it states.
CLIPART_LICENCE = "public domain (Creative Commons Public Domain Dedication)"
MAX_FILE_BYTES = 3_000_000
MAX_PIXELS = 25_000_000  # a few clip-art PNGs are 16000 px renders
MAX_SIDE = 1024
JPEG_QUALITY = 90


@dataclass(frozen=True)
class PoolPhoto:
    """One candidate everyday photo: its file in the package cache, where it comes from, and its tags."""

    source: Path
    package: str
    origin: str  # path inside the package
    tags: tuple[str, ...]


def photo_pool(tagger: Tagger) -> list[PoolPhoto]:
    """All pool photos, in a fixed order (package, then path)."""
    return _stamps(tagger) + _clipart(tagger) + _wallpapers(tagger)


def pool_sources() -> list[dict[str, str]]:
    """Package, version and licence of each source of pool photos."""
    sources = []
    for package in (STAMPS_PACKAGE, CLIPART_PACKAGE, WALLPAPERS_PACKAGE):
        root = debian_package(package)
        licence = ", ".join(debian_licences(root, package)) or CLIPART_LICENCE
        sources.append({"package": package, "registry": "debian", "version": debian_version(root, package),
                        "licence": licence, "used_for": "photos"})  # fmt: skip
    return sources


def copy_photo(source: Path, target: Path) -> Path:
    """Copy `source` to `target` (suffix from the source), downscaled to `MAX_SIDE`; return the written path."""
    target = target.with_suffix(source.suffix.lower())
    with Image.open(source) as img:
        if max(img.size) <= MAX_SIDE:
            shutil.copyfile(source, target)
            return target
        img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
        small = img.convert("RGBA" if img.format == "PNG" else "RGB")
    small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if target.suffix == ".png":
        small.save(target, format="PNG")
    else:
        small.save(target, format="JPEG", quality=JPEG_QUALITY)
    return target


def _stamps(tagger: Tagger) -> list[PoolPhoto]:
    root = debian_package(STAMPS_PACKAGE)
    photos = []
    for folder, paths in sorted(photo_stamps(root / STAMPS_DIR).items()):
        for path in paths:
            description = path.with_suffix(".txt").read_text(encoding="utf-8").splitlines()[0]
            origin = path.relative_to(root).as_posix()
            photos.append(PoolPhoto(path, STAMPS_PACKAGE, origin, tagger.tags([folder, description])))
    return photos


def _clipart(tagger: Tagger) -> list[PoolPhoto]:
    root = debian_package(CLIPART_PACKAGE)
    base = root / CLIPART_DIR
    photos = []
    for path in sorted(base.rglob("*.png")):
        relative = path.relative_to(base).as_posix()
        if relative.startswith(SKIPPED_CLIPART) or path.stat().st_size > MAX_FILE_BYTES or _pixels(path) > MAX_PIXELS:
            continue
        tags = tagger.tags([path.parent.relative_to(base).as_posix(), path.stem])
        photos.append(PoolPhoto(path, CLIPART_PACKAGE, path.relative_to(root).as_posix(), tags))
    return photos


def _wallpapers(tagger: Tagger) -> list[PoolPhoto]:
    root = debian_package(WALLPAPERS_PACKAGE)
    base = root / WALLPAPERS_DIR
    paths = [path for pattern in WALLPAPERS for path in sorted(base.glob(pattern))]
    return [
        PoolPhoto(path, WALLPAPERS_PACKAGE, path.relative_to(root).as_posix(),
                  tagger.tags([path.parent.name, path.stem.partition("_")[0]]))
        for path in paths
    ]  # fmt: skip


def _pixels(path: Path) -> int:
    """Width times height from the file header; the largest renders trip Pillow's bomb check, which is fine here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                return img.width * img.height
        except Image.DecompressionBombError:
            return MAX_PIXELS + 1

"""Everyday-looking photos composed from item pictures: a thing on a background, as a phone would catch it.

An item picture (an emoji render, a clip-art cut-out, with alpha) is placed at a random scale, position and
rotation over a background (a crop of a real wallpaper photo, a colour gradient, a blurred noise texture or a
flat colour), sometimes with smaller distractor objects, then blurred, re-lit and JPEG-compressed. The bridge is
trained on such views so that a photo of a thing lands near its name, and the composed benchmark builds its
users' photo histories from them.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from export.data.registry import debian_package
from export.data.samples import WALLPAPERS_DIR, WALLPAPERS_PACKAGE

PHOTO_SIDE = 320  # composed photos are square; the encoders resize to 224-260 px anyway
BACKGROUND_PACKAGES = ((WALLPAPERS_PACKAGE, WALLPAPERS_DIR), ("plasma-workspace-wallpapers", "usr/share/wallpapers"))
MIN_BACKGROUND_BYTES = 100_000  # skips thumbnails and tiny screenshots that ship next to the wallpapers


@dataclass(frozen=True)
class Scene:
    """How one photo is composed (every range inclusive)."""

    item_scale: tuple[float, float] = (0.35, 0.85)  # item side / photo side
    rotation: float = 30.0  # degrees either way
    distractors: tuple[int, ...] = (0, 0, 1, 2)  # drawn uniformly: how many smaller other objects
    distractor_scale: tuple[float, float] = (0.15, 0.3)
    blur: float = 0.4  # chance of a Gaussian blur of radius 0.5-2 px
    relight: float = 0.3  # chance of a brightness change of 0.6-1.4x
    jpeg_quality: tuple[int, int] = (30, 90)


def background_paths() -> list[Path]:
    """Real wallpaper photos from Debian packages, in a fixed order."""
    paths: list[Path] = []
    for package, folder in BACKGROUND_PACKAGES:
        root = debian_package(package) / folder
        found = sorted(root.rglob("*.jpg")) + sorted(root.rglob("*.png"))
        paths += [path for path in found if path.stat().st_size >= MIN_BACKGROUND_BYTES]
    return paths


def load_item(path: Path) -> Image.Image:
    """An item picture as RGBA (pictures without alpha become opaque rectangles, as a printed photo would)."""
    with Image.open(path) as img:
        return img.convert("RGBA")


def compose(
    item: Image.Image,
    rng: random.Random,
    backgrounds: Sequence[Path],
    distractors: Sequence[Path] = (),
    scene: Scene = Scene(),
    side: int = PHOTO_SIDE,
) -> Image.Image:
    """One photo (RGB, `side` x `side`) showing `item` (RGBA) over a random background, with some smaller
    pictures drawn from `distractors` around it."""
    canvas = _background(rng, backgrounds, side)
    count = rng.choice(scene.distractors) if distractors else 0
    for _ in range(count):
        other = load_item(distractors[rng.randrange(len(distractors))])
        _paste(canvas, other, rng, side, scene.distractor_scale, 40.0)
    _paste(canvas, item, rng, side, scene.item_scale, scene.rotation)
    if rng.random() < scene.blur:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    if rng.random() < scene.relight:
        canvas = ImageEnhance.Brightness(canvas).enhance(rng.uniform(0.6, 1.4))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=rng.randint(*scene.jpeg_quality))
    buffer.seek(0)
    with Image.open(buffer) as jpeg:
        return jpeg.convert("RGB")


def on_white(item: Image.Image) -> Image.Image:
    """The item picture as the engine decodes a catalog image: alpha composited on white."""
    background = Image.new("RGB", item.size, (255, 255, 255))
    background.paste(item, mask=item.getchannel("A"))
    return background


def _background(rng: random.Random, backgrounds: Sequence[Path], side: int) -> Image.Image:
    kind = rng.random()
    if kind < 0.45 and backgrounds:
        photo = _wallpaper(backgrounds[rng.randrange(len(backgrounds))])
        crop = rng.randint(min(side, *photo.size), min(photo.size))
        x, y = rng.randint(0, photo.width - crop), rng.randint(0, photo.height - crop)
        return photo.crop((x, y, x + crop, y + crop)).resize((side, side), Image.Resampling.BILINEAR)
    if kind < 0.75:
        top, bottom = (np.array([rng.randint(0, 255) for _ in range(3)], np.float32) for _ in range(2))
        ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None, None]
        pixels = top * (1 - ramp) + bottom * ramp
        return Image.fromarray(np.broadcast_to(pixels, (side, side, 3)).astype(np.uint8))
    if kind < 0.9:
        noise = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (side // 8, side // 8, 3), np.uint8)
        return Image.fromarray(noise).resize((side, side), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    return Image.new("RGB", (side, side), tuple(rng.randint(0, 255) for _ in range(3)))


@lru_cache(maxsize=None)
def _wallpaper(path: Path, longest: int = 640) -> Image.Image:
    """A wallpaper decoded at a reduced size (JPEG draft), cached for the process: backgrounds repeat across
    photos, and the couple of hundred of them take about 250 MB at this size."""
    with Image.open(path) as img:
        img.draft("RGB", (longest, longest))
        img = img.convert("RGB")
    img.thumbnail((longest, longest))
    return img


def _paste(
    canvas: Image.Image,
    picture: Image.Image,
    rng: random.Random,
    side: int,
    scale: tuple[float, float],
    rotation: float,
) -> None:
    size = max(8, int(side * rng.uniform(*scale)))
    resized = picture.resize((size, size), Image.Resampling.BICUBIC)
    turned = resized.rotate(rng.uniform(-rotation, rotation), expand=True, resample=Image.Resampling.BICUBIC)
    x = rng.randint(0, max(0, side - turned.width))
    y = rng.randint(0, max(0, side - turned.height))
    canvas.paste(turned, (x, y), turned)

"""Decode photos safely and cheaply: draft/reduce decoding, EXIF orientation, HEIC, bomb limits."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF support; the wheel ships libheif.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a hard dependency
    pass

# Refuse decompression bombs before allocating: 24 MP photos are normal, 16k x 16k clip art is not.
MAX_PIXELS = 120_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Encoders scale the short side up to their input size, so a 1 x 100000 strip would need gigabytes: refused. The widest
# phone panoramas are about 12:1.
MAX_ASPECT_RATIO = 25

SOURCE_SIZE = "source_size"  # `Image.info` key: the photo's full (width, height) as displayed, before reducing
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED = frozenset({5, 6, 7, 8})  # orientations that swap width and height

SUPPORTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".gif", ".tif", ".tiff"})


class ImageDecodeError(Exception):
    """A file that cannot be used as a photo; the message says why in one line."""


def open_oriented(source: str | Path | BinaryIO, min_side: int, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image (a path or a binary stream) as RGB, EXIF-rotated, decoded no larger than needed for `min_side`.

    JPEGs use `draft()` (DCT scaling, decodes at 1/2, 1/4 or 1/8 size); other formats are
    shrunk with Pillow's reducing resize. The shorter side of the result is >= `min_side`
    unless the source is smaller. Images over `max_pixels` are refused before decoding.
    The photo's own size, as displayed, is in `result.info[SOURCE_SIZE]`.
    """
    source = source if hasattr(source, "read") else Path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                img: Image.Image = opened
                if img.width * img.height > max_pixels:
                    raise ImageDecodeError(f"{img.width}x{img.height} pixels exceeds the {max_pixels:,} pixel limit")
                check_aspect_ratio(img.width, img.height)
                transposed = img.getexif().get(_EXIF_ORIENTATION) in _TRANSPOSED
                source_size = (img.height, img.width) if transposed else img.size
                if img.format == "JPEG":
                    scale = min(img.width, img.height) / max(min_side, 1)
                    if scale >= 2:
                        img.draft("RGB", (max(1, round(img.width / scale)), max(1, round(img.height / scale))))
                img = _first_frame(img)
                img.load()
                img = ImageOps.exif_transpose(img) or img
                img = _to_rgb(img)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"refused as a decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not a recognised image format") from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError("file vanished before it could be read") from exc
    except PermissionError as exc:
        raise ImageDecodeError("permission denied") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"corrupt or truncated image ({exc})") from exc
    result = shrink_to_min_side(img, min_side)
    result.info[SOURCE_SIZE] = source_size
    return result


def check_aspect_ratio(width: int, height: int) -> None:
    """Refuse an image too long and thin to be a photo (`ImageDecodeError`)."""
    short, long = sorted((width, height))
    if short < 1 or long > MAX_ASPECT_RATIO * short:
        raise ImageDecodeError(f"{width}x{height} is too long and thin for a photo (over {MAX_ASPECT_RATIO}:1)")


def shrink_to_min_side(img: Image.Image, min_side: int) -> Image.Image:
    """Downscale so the shorter side is `min_side` (never upscale), with Pillow's reducing resize."""
    short = min(img.width, img.height)
    if short <= min_side:
        return img
    scale = min_side / short
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def _first_frame(img: Image.Image) -> Image.Image:
    if getattr(img, "is_animated", False):
        img.seek(0)
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any mode (palette, alpha, CMYK, 16-bit, greyscale) to RGB; alpha composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v * (1 / 256)).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return background
    return img.convert("RGB")

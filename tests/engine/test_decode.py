"""Decoding: draft/reduce for big JPEGs, EXIF orientation, HEIC/WebP, odd modes, and bombs refused up front."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from engine.imaging import decode
from engine.imaging.decode import SOURCE_SIZE, ImageDecodeError, open_oriented


def _noise(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def test_large_jpeg_is_decoded_with_draft_not_at_full_size(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    _noise(4000, 3000).save(path, quality=80)
    requested = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        requested.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    img = open_oriented(path, 256)
    assert requested and requested[0][0] <= 4000 // 2  # DCT scaling asked for
    assert min(img.size) == 256 and img.size == (341, 256)
    assert img.info[SOURCE_SIZE] == (4000, 3000)  # what the photo is, not what was decoded


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    _noise(400, 200).save(path, exif=exif.tobytes())
    assert open_oriented(path, 1000).size == (200, 400)
    assert open_oriented(path, 100).info[SOURCE_SIZE] == (200, 400)


@pytest.mark.parametrize("fmt, suffix", [("HEIF", ".heic"), ("WEBP", ".webp"), ("PNG", ".png")])
def test_modern_formats_decode(tmp_path, fmt, suffix):
    path = tmp_path / f"photo{suffix}"
    _noise(300, 200).save(path, format=fmt)
    assert open_oriented(path, 100).size == (150, 100)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "I;16", "LA"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    path = tmp_path / f"img-{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
    Image.new(mode, (64, 48)).save(path)
    img = open_oriented(path, 32)
    assert img.mode == "RGB" and img.size == (43, 32)


def _png_header_only(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_before_allocating(tmp_path):
    path = tmp_path / "bomb.png"
    _png_header_only(path, 40_000, 40_000)
    with pytest.raises(ImageDecodeError, match="pixel limit|decompression bomb"):
        open_oriented(path, 224)
    assert decode.MAX_PIXELS < 40_000 * 40_000


@pytest.mark.parametrize("content, reason", [(b"", "not a recognised"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "corrupt|not a recognised")])
def test_broken_files_raise_one_clear_error(tmp_path, content, reason):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason):
        open_oriented(path, 224)


def test_vanished_file(tmp_path):
    with pytest.raises(ImageDecodeError, match="vanished"):
        open_oriented(tmp_path / "gone.jpg", 224)

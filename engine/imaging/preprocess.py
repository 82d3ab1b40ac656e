"""Turn a decoded image into the encoder's input tensor, exactly as the bundle's manifest says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.imaging.decode import check_aspect_ratio, open_oriented

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


RESIZE_MODES = ("shortest_edge", "squash")
MAX_INPUT_SIZE = 4096  # pixels per side of the encoder's input: far above any image tower's, far below a memory bomb


@dataclass(frozen=True)
class PreprocessSpec:
    """Preprocessing of a bundle's image encoder (manifest `image_encoder.preprocess`)."""

    image_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    crop: str = "center"
    resize: str = "shortest_edge"  # or "squash": straight to a square, no crop (Hugging Face ViTImageProcessor)

    @classmethod
    def from_manifest(cls, spec: dict) -> PreprocessSpec:
        """The spec a manifest declares; `ValueError` (or `KeyError`/`TypeError`) for one this code cannot apply."""
        spec_ = cls(
            image_size=int(spec["image_size"]),
            resize_size=int(spec.get("resize_size", spec["image_size"])),
            mean=_channel_triple(spec["mean"], "mean"),
            std=_channel_triple(spec["std"], "std"),
            interpolation=spec.get("interpolation", "bicubic"),
            crop=spec.get("crop", "center"),
            resize=spec.get("resize", "shortest_edge"),
        )
        if spec_.resize not in RESIZE_MODES:
            raise ValueError(f"resize mode {spec_.resize!r} is not supported (expected one of {RESIZE_MODES})")
        if spec_.interpolation not in _INTERPOLATION:
            raise ValueError(f"interpolation {spec_.interpolation!r} is not supported (expected one of "
                             f"{tuple(_INTERPOLATION)})")
        if not 0 < spec_.image_size <= spec_.resize_size <= MAX_INPUT_SIZE:
            raise ValueError(f"image_size {spec_.image_size} and resize_size {spec_.resize_size} must satisfy "
                             f"0 < image_size <= resize_size <= {MAX_INPUT_SIZE}")
        if any(not np.isfinite(v) for v in spec_.mean) or any(not (np.isfinite(v) and v > 0) for v in spec_.std):
            raise ValueError("mean must be finite and std finite and positive")
        return spec_

    def to_manifest(self) -> dict:
        return {
            "image_size": self.image_size,
            "resize_size": self.resize_size,
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
            "layout": "NCHW",
            "value_range": "0..1 before normalisation",
        }


def _channel_triple(values: object, name: str) -> tuple[float, float, float]:
    if not isinstance(values, (list, tuple)) or len(values) != 3:
        raise ValueError(f"{name} must list 3 numbers, one per RGB channel")
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def to_tensor(img: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """Resize (shortest edge + centre crop, or squash to a square), normalise; returns CHW float32.

    Images over the aspect-ratio limit are refused (`ImageDecodeError`), which bounds the resized intermediate to
    `resize_size`² x `MAX_ASPECT_RATIO` pixels whatever the source."""
    check_aspect_ratio(img.width, img.height)
    img = _squash(img, spec) if spec.resize == "squash" else _resize_and_crop(img, spec)
    pixels = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    arr = (pixels - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _resize_and_crop(img: Image.Image, spec: PreprocessSpec) -> Image.Image:
    # Rounding as torchvision's Resize (long side truncated) and CenterCrop (offsets rounded), which
    # open_clip and most exporters use: the engine then feeds the encoder bit-identical pixels.
    short, long = sorted((img.width, img.height))
    other = max(spec.image_size, int(spec.resize_size * long / short))
    size = (spec.resize_size, other) if img.width == short else (other, spec.resize_size)
    img = img.resize(size, _INTERPOLATION[spec.interpolation], reducing_gap=None)
    left = int(round((img.width - spec.image_size) / 2))
    top = int(round((img.height - spec.image_size) / 2))
    return img.crop((left, top, left + spec.image_size, top + spec.image_size))


def _squash(img: Image.Image, spec: PreprocessSpec) -> Image.Image:
    """What Hugging Face's ViTImageProcessor does: the whole photo, squashed to the square input."""
    return img.resize((spec.image_size, spec.image_size), _INTERPOLATION[spec.interpolation], reducing_gap=None)


def load_tensor(path: str | Path, spec: PreprocessSpec) -> np.ndarray:
    """Decode `path` cheaply (draft/reduce) and preprocess it for the encoder; CHW float32."""
    return to_tensor(open_oriented(path, spec.resize_size), spec)

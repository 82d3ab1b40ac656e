"""open_clip's inference preprocessing as the engine's `PreprocessSpec`, and how closely the engine reproduces it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image

from engine.imaging.preprocess import PreprocessSpec, load_tensor

_INTERPOLATIONS = ("bicubic", "bilinear")


class UnsupportedPreprocessError(ValueError):
    """open_clip preprocessing that `PreprocessSpec` cannot express."""


@dataclass(frozen=True)
class PreprocessAgreement:
    """Engine preprocessing vs open_clip's transform on the same photo files (normalised-tensor units)."""

    max_abs_diff: float
    mean_abs_diff: float
    min_embedding_cosine: float
    inputs: list[str]

    def to_manifest(self) -> dict:
        return asdict(self)


def preprocess_spec(cfg: dict[str, Any]) -> PreprocessSpec:
    """open_clip's 'shortest' resize + centre crop + normalise; any other resize mode is refused by name."""
    if cfg["resize_mode"] != "shortest":
        raise UnsupportedPreprocessError(
            f"resize_mode {cfg['resize_mode']!r}: PreprocessSpec only expresses 'shortest' (resize + centre crop)"
        )
    if cfg["interpolation"] not in _INTERPOLATIONS:
        raise UnsupportedPreprocessError(f"interpolation {cfg['interpolation']!r}: expected one of {_INTERPOLATIONS}")
    size = cfg["size"]
    height, width = (size, size) if isinstance(size, int) else size
    if height != width:
        raise UnsupportedPreprocessError(f"image size {height}x{width}: PreprocessSpec only expresses square inputs")
    return PreprocessSpec(
        image_size=int(height),
        resize_size=int(height),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
        interpolation=cfg["interpolation"],
    )


@torch.inference_mode()
def compare_with_open_clip(
    spec: PreprocessSpec, cfg: dict[str, Any], photos: dict[str, Path], image_tower: torch.nn.Module
) -> PreprocessAgreement:
    """Preprocess each photo file the engine's way and open_clip's way; compare tensors and their embeddings."""
    transform = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    engine = torch.from_numpy(np.stack([load_tensor(path, spec) for path in photos.values()]))
    reference = torch.stack([transform(Image.open(path)) for path in photos.values()])
    diff = (engine - reference).abs()
    cosine = torch.nn.functional.cosine_similarity(image_tower(engine), image_tower(reference), dim=-1)
    return PreprocessAgreement(
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        min_embedding_cosine=float(cosine.min()),
        inputs=list(photos),
    )

"""A Hugging Face image processor's preprocessing as the engine's manifest `preprocess` section."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from transformers import AutoImageProcessor
from transformers.image_processing_utils import BaseImageProcessor

from engine.imaging.preprocess import PreprocessSpec

SQUASH = "squash"
_RESAMPLE_NAMES = {
    Image.Resampling.NEAREST: "nearest",
    Image.Resampling.BILINEAR: "bilinear",
    Image.Resampling.BICUBIC: "bicubic",
    Image.Resampling.LANCZOS: "lanczos",
}


class UnsupportedPreprocessingError(ValueError):
    """The image processor does something the engine's preprocessing cannot reproduce."""


def load_image_processor(folder: Path) -> BaseImageProcessor:
    """The slow (PIL) image processor saved in `folder`: the reference the engine's PIL preprocessing matches."""
    return AutoImageProcessor.from_pretrained(folder, use_fast=False)


def preprocess_manifest(processor: BaseImageProcessor, where: Path) -> dict:
    """Map size/crop/resample/rescale/mean/std; `where` (the processor's folder) names the file in errors.

    A processor that resizes to {"height", "width"} squashes the photo to that square (`resize: squash`);
    one that resizes the shortest edge then centre-crops maps to the engine's default.
    """
    config = where / "preprocessor_config.json"
    if not getattr(processor, "do_resize", False) or not getattr(processor, "do_rescale", False):
        raise UnsupportedPreprocessingError(f"{config}: only processors that resize and rescale are supported")
    if abs(float(processor.rescale_factor) * 255.0 - 1.0) > 1e-6:
        raise UnsupportedPreprocessingError(f"{config}: rescale_factor {processor.rescale_factor} is not 1/255")
    resample = _RESAMPLE_NAMES.get(Image.Resampling(processor.resample))
    if resample is None:
        raise UnsupportedPreprocessingError(f"{config}: resample {processor.resample} has no engine equivalent")
    normalize = getattr(processor, "do_normalize", False)
    mean = tuple(processor.image_mean) if normalize else (0.0, 0.0, 0.0)
    std = tuple(processor.image_std) if normalize else (1.0, 1.0, 1.0)
    size = processor.size
    if "height" in size and size["height"] == size["width"] and not getattr(processor, "do_center_crop", False):
        spec = PreprocessSpec(
            size["height"], size["height"], mean, std, interpolation=resample, crop="none", resize=SQUASH
        )
        return spec.to_manifest()
    if "shortest_edge" in size and getattr(processor, "do_center_crop", False):
        crop = processor.crop_size
        if crop["height"] != crop["width"]:
            raise UnsupportedPreprocessingError(f"{config}: crop_size {crop} is not square")
        return PreprocessSpec(crop["height"], size["shortest_edge"], mean, std, interpolation=resample).to_manifest()
    crop = getattr(processor, "do_center_crop", False)
    raise UnsupportedPreprocessingError(f"{config}: size {size} with centre crop {crop} is not supported")

"""`resize: squash` preprocessing: resize to the square input without keeping the aspect ratio or cropping.

This is what Hugging Face's `ViTImageProcessor` does (size {"height", "width"}); captioners trained with it
see whole, squashed photos.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.imaging.preprocess import PreprocessSpec


def squash_to_tensor(img: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """Resize to `image_size` x `image_size` with the spec's interpolation, normalise; returns CHW float32."""
    resample = Image.Resampling[spec.interpolation.upper()]
    img = img.resize((spec.image_size, spec.image_size), resample, reducing_gap=None)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))

"""Real inputs for parity checks and the temperature choice: scikit-image sample photos and text queries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from engine.imaging.preprocess import PreprocessSpec, load_tensor

SAMPLE_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "chelsea": data.chelsea,  # tabby cat
    "coffee": data.coffee,  # espresso cup
    "rocket": data.rocket,  # rocket launch
    "astronaut": data.astronaut,  # astronaut portrait
    "motorcycle": lambda: data.stereo_motorcycle()[0],  # scooter in a garage
    "camera": data.camera,  # photographer with a tripod (greyscale)
}

# Free-text queries and the sample photos each one should retrieve.
PROBE_QUERIES: dict[str, frozenset[str]] = {
    "a cat": frozenset({"chelsea"}),
    "my pet": frozenset({"chelsea"}),
    "a cup of coffee": frozenset({"coffee"}),
    "a hot drink": frozenset({"coffee"}),
    "a rocket launch": frozenset({"rocket"}),
    "space travel": frozenset({"rocket", "astronaut"}),
    "an astronaut": frozenset({"astronaut"}),
    "a person": frozenset({"astronaut", "camera"}),
    "a motorbike": frozenset({"motorcycle"}),
    "a scooter": frozenset({"motorcycle"}),
    "a photographer": frozenset({"camera"}),
    "a tripod": frozenset({"camera"}),
}

# Texts for text-encoder parity: varied lengths, so padding inside a batch is exercised.
PARITY_TEXTS = (
    "a cat",
    "a cup of coffee on a saucer",
    "a rocket launch at dusk with a long plume of smoke",
    "an astronaut",
    "cozy Italian restaurant with handmade pasta and a quiet terrace, good for a first date",
    "hiking boots",
    "tabby",
    "a photo of a sports car parked on a wet street at night",
)


def write_sample_photos(dest: Path) -> dict[str, Path]:
    """Save the sample photos as PNG files in `dest` (as a user's photo folder would hold them)."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, load in SAMPLE_PHOTOS.items():
        paths[name] = dest / f"{name}.png"
        Image.fromarray(load()).save(paths[name])
    return paths


def photo_batch(paths: dict[str, Path], spec: PreprocessSpec) -> torch.Tensor:
    """Decode and preprocess photos with the engine's own pipeline; [n, 3, H, W] float32."""
    return torch.from_numpy(np.stack([load_tensor(path, spec) for path in paths.values()]))

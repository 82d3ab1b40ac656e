"""The bridge's training views: each captioned picture as the engine would see it, plain and in composed photos.

Every picture gives one plain view (alpha on white, as a catalog image decodes) and `photos` composed photos
(`export.data.compose`); each view goes through the engine's own preprocessing and the frozen classifier, whose
pooled features and logits are what the projection reads. The classifier runs as an ONNX Runtime graph, one
single-threaded session run per lane (one lane per core), since on the CPU torch's depthwise convolutions are
several times slower than ONNX Runtime's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from engine.imaging.preprocess import PreprocessSpec, to_tensor
from engine.models.sessions import cpu_cores
from export.data.compose import compose, load_item, on_white
from export.data.pairs import Picture
from export.lite.onnx_export import export_onnx

PLAIN, PHOTO = "plain", "photo"
CHUNK = 32
Progress = Callable[[int, int], None]


class FeatureTower(nn.Module):
    """pixels -> (pooled features, logits) of the frozen classifier."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.classifier.features(pixel_values)
        return pooled, self.classifier._fc(pooled)


@dataclass(frozen=True)
class ViewFeatures:
    """Features of every view: `picture[i]` indexes the picture list, `kind[i]` is PLAIN or PHOTO."""

    picture: np.ndarray  # [N] int
    kind: np.ndarray  # [N] str
    pooled: np.ndarray  # [N, 1280]
    logits: np.ndarray  # [N, 1000]

    @property
    def inputs(self) -> np.ndarray:
        """What the projection reads: pooled features and logits side by side."""
        return np.concatenate([self.pooled, self.logits], axis=1)

    def where(self, mask: np.ndarray) -> ViewFeatures:
        return ViewFeatures(self.picture[mask], self.kind[mask], self.pooled[mask], self.logits[mask])


class FeatureExtractor:
    """The classifier's features graph in ONNX Runtime, fed by the engine's preprocessing, one lane per core."""

    def __init__(self, classifier: nn.Module, spec: PreprocessSpec, workdir: Path):
        path = workdir / "features.onnx"
        example = torch.zeros(2, 3, spec.image_size, spec.image_size)
        export_onnx(FeatureTower(classifier).eval(), (example,), path, ["pixel_values"], ["pooled", "logits"],
                    {name: {0: "batch"} for name in ("pixel_values", "pooled", "logits")})  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.spec = spec
        self.lanes = cpu_cores()

    def run(self, images: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """(pooled, logits) of PIL images, on the calling thread."""
        pixels = np.stack([to_tensor(image, self.spec) for image in images])
        pooled, logits = self.session.run(None, {"pixel_values": pixels})
        return pooled, logits


def view_features(
    pictures: Sequence[Picture],
    extractor: FeatureExtractor,
    backgrounds: Sequence[Path],
    photos: int = 2,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> ViewFeatures:
    """Plain and composed views of every picture (deterministic for `seed`), featurised lane by lane."""
    jobs = [(index, view) for index in range(len(pictures)) for view in range(1 + photos)]
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    paths = [picture.path for picture in pictures]

    def lane(chunk: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        images = [_view(pictures[index], view, paths, backgrounds, seed) for index, view in chunk]
        return extractor.run(images)

    pooled, logits, done = [], [], 0
    with ThreadPoolExecutor(extractor.lanes, thread_name_prefix="corpus-lane") as pool:
        for chunk, (p, l) in zip(chunks, pool.map(lane, chunks)):
            pooled.append(p)
            logits.append(l)
            done += len(chunk)
            if on_progress:
                on_progress(done, len(jobs))
    return ViewFeatures(
        picture=np.array([index for index, _ in jobs]),
        kind=np.array([PLAIN if view == 0 else PHOTO for _, view in jobs]),
        pooled=np.concatenate(pooled),
        logits=np.concatenate(logits),
    )


def _view(picture: Picture, view: int, distractors: Sequence[Path], backgrounds: Sequence[Path], seed: int):
    """View 0 is the plain picture; the others are composed photos, each seeded by the picture and view."""
    item = load_item(picture.path)
    if view == 0:
        return on_white(item)
    return compose(item, random.Random(f"{seed}:{picture.source}:{picture.key}:{view}"), backgrounds, distractors)

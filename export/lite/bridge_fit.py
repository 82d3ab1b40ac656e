"""Fit the lite bundle's bridge on captioned pictures and measure it against the label bridge on a held-out style.

1. Every picture's views are featurised once (`corpus.view_features`).
2. The projection is fitted on the training sources minus a tenth of their things, and scores each mix between
   the trained and the label bridge on those held-back things. The shipped projection is then fitted on every
   training view, and the mix it ships with is the one that measured best on the held-back things among the mixes
   whose shipped embedding answers the real-photo probe (free-text queries over real photographs) about as well as
   the label bridge alone: the pictures it learns from are renders and cut-outs, a user's photos are photographs.
3. The held-out source (never seen) then scores the label bridge, the trained bridge and their mix, which the
   manifest records.
4. The visual vector (the second vector per photo) is the whitened PCA of the pooled features.
5. The evidence similarity: three in four held-out photos of a thing are at least this like its candidate vector
   (its plain picture and its name); the engine counts the photos this like some candidate to tell when the
   photos say too little about a question (cold start).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from export.data.pairs import HELD_OUT_SOURCE, Picture
from export.lite.bridge_eval import BridgeScores, bridge_scores
from export.lite.corpus import PHOTO, PLAIN, ViewFeatures
from export.lite.projection import (
    BridgeProjection,
    ProjectionConfig,
    ProjectionData,
    project,
    train_projection,
    whitening,
)
from export.lite.temperature import RetrievalScore, retrieval_score

MIX_GRID = (0.0, 0.5, 0.7, 0.85, 1.0)  # weight of the trained bridge (0: the label bridge alone)
PROBE_TOLERANCE = 1  # answers of the 18 the real-photo probe checks a mix may lose: one flip is within its noise
EVIDENCE_QUANTILE = 0.25
VALIDATION_SHARE = 0.1
VISUAL_DIM = 256

Embed = Callable[[list[str]], np.ndarray]
LabelBridge = Callable[[np.ndarray], np.ndarray]  # logits [N, 1000] -> unit vectors [N, d]


@dataclass(frozen=True)
class FittedBridge:
    """What the image encoder graph is built from, and how it measured."""

    projection: BridgeProjection
    mix: float
    visual_mean: np.ndarray
    visual_basis: np.ndarray
    evidence_similarity: float
    evaluation: dict


@dataclass(frozen=True)
class RealPhotoProbe:
    """Real photographs with free-text queries and the photos each should find (`sample_inputs.PROBE_QUERIES`)."""

    inputs: np.ndarray  # [photos, F] pooled features and logits, as the projection reads them
    logits: np.ndarray  # [photos, 1000]
    photo_names: list[str]
    query_embeddings: np.ndarray  # [queries, d]
    relevant: list[frozenset[str]]

    def score(self, vectors: np.ndarray, mix: float) -> RetrievalScore:
        return retrieval_score(torch.from_numpy(vectors), self.photo_names, torch.from_numpy(self.query_embeddings),
                               self.relevant, mix)  # fmt: skip


@dataclass(frozen=True)
class _Targets:
    things: dict[str, int]  # key -> row
    texts: np.ndarray  # [T, d]
    names: np.ndarray  # [T, d]
    kinds: list[str]
    thing_kinds: np.ndarray  # [T, K]
    kind_vectors: np.ndarray  # [K, d]


def fit_bridge(
    pictures: Sequence[Picture],
    views: ViewFeatures,
    embed: Embed,
    label_bridge: LabelBridge,
    probe: RealPhotoProbe,
    config: ProjectionConfig = ProjectionConfig(),
    log: Callable[[str], None] = lambda _: None,
) -> FittedBridge:
    """Choose the mix on held-back things, fit the shipped projection, score every bridge on the held-out source."""
    targets = _targets(pictures, embed)
    thing_of_view = np.array([targets.things[pictures[i].key] for i in views.picture])
    held_out = np.array([pictures[i].source == HELD_OUT_SOURCE for i in views.picture])
    held_back = np.array([_held_back(pictures[i].key) for i in views.picture])
    inputs = views.inputs

    first = train_projection(_data(inputs, thing_of_view, ~held_out & ~held_back, targets), config)
    validation = ~held_out & held_back
    grid = {
        mix: _scores(_mixed(first, inputs, views.logits, label_bridge, mix), views, pictures, validation, thing_of_view, targets)
        for mix in MIX_GRID
    }
    shipped = train_projection(_data(inputs, thing_of_view, ~held_out, targets), config)
    on_photographs = {m: probe.score(_mixed(shipped, probe.inputs, probe.logits, label_bridge, m), m) for m in MIX_GRID}
    floor = on_photographs[0.0].rank()[0]
    allowed = [m for m in MIX_GRID if on_photographs[m].rank()[0] >= floor - PROBE_TOLERANCE]
    mix = max(allowed, key=lambda m: (grid[m].recall_at_1_photo + grid[m].kind_precision_at_10, m))
    log(f"bridge mix {mix} chosen on {int(validation.sum())} views of held-back things, among {allowed}")
    bridges = {
        "label": label_bridge(views.logits),
        "trained": project(shipped, inputs),
        f"mix {mix}": _mixed(shipped, inputs, views.logits, label_bridge, mix),
    }
    held_out_scores = {
        name: _scores(vectors, views, pictures, held_out, thing_of_view, targets).to_manifest()
        for name, vectors in bridges.items()
    }
    mean, basis = whitening(views.pooled[~held_out], VISUAL_DIM)
    shipped_vectors = bridges[f"mix {mix}"]
    evidence = _evidence_similarity(shipped_vectors, views, held_out, thing_of_view, targets.names)
    evaluation = {
        "held_out_source": HELD_OUT_SOURCE,
        "held_out_things": int(len(np.unique(thing_of_view[held_out]))),
        "training_views": int((~held_out).sum()),
        "training_sources": sorted({p.source for p in pictures if p.source != HELD_OUT_SOURCE}),
        "kinds": len(targets.kinds),
        "held_out": held_out_scores,
        "mix_chosen_on_validation": {str(m): s.to_manifest() for m, s in grid.items()},
        "real_photo_probe": {str(m): s.to_manifest() for m, s in on_photographs.items()},
        "projection": config.to_manifest(),
    }
    return FittedBridge(shipped, mix, mean, basis, evidence, evaluation)


def _targets(pictures: Sequence[Picture], embed: Embed) -> _Targets:
    first: dict[str, Picture] = {}
    for picture in pictures:
        first.setdefault(picture.key, picture)
    keys = sorted(first)
    texts = [first[key].texts for key in keys]
    flat = [text for group in texts for text in group]
    vectors = embed(flat)
    starts = np.cumsum([0, *(len(group) for group in texts)])
    averaged = np.stack([vectors[starts[i] : starts[i + 1]].mean(axis=0) for i in range(len(keys))])
    kinds = sorted({kind for p in pictures if p.source != HELD_OUT_SOURCE for kind in p.kinds})
    column = {kind: k for k, kind in enumerate(kinds)}
    thing_kinds = np.zeros((len(keys), len(kinds)), np.float32)
    for row, key in enumerate(keys):
        for kind in first[key].kinds:
            if kind in column:
                thing_kinds[row, column[kind]] = 1.0
    return _Targets(
        things={key: row for row, key in enumerate(keys)},
        texts=_unit(averaged),
        names=vectors[starts[:-1]],
        kinds=kinds,
        thing_kinds=thing_kinds,
        kind_vectors=embed(kinds),
    )


def _data(inputs: np.ndarray, things: np.ndarray, rows: np.ndarray, targets: _Targets) -> ProjectionData:
    return ProjectionData(inputs[rows], things[rows], targets.texts, targets.thing_kinds, targets.kind_vectors)


def _mixed(model: BridgeProjection, inputs: np.ndarray, logits: np.ndarray, label_bridge: LabelBridge, mix: float) -> np.ndarray:
    return _unit(mix * project(model, inputs) + (1.0 - mix) * label_bridge(logits))


def _scores(
    vectors: np.ndarray,
    views: ViewFeatures,
    pictures: Sequence[Picture],
    rows: np.ndarray,
    things: np.ndarray,
    targets: _Targets,
) -> BridgeScores:
    plain, photo = rows & (views.kind == PLAIN), rows & (views.kind == PHOTO)
    photo_kinds = [frozenset(pictures[i].kinds) for i in views.picture[photo]]
    kind_vectors = dict(zip(targets.kinds, targets.kind_vectors))
    return bridge_scores(vectors[plain], things[plain], vectors[photo], things[photo], photo_kinds, targets.names, kind_vectors)


def _evidence_similarity(
    vectors: np.ndarray, views: ViewFeatures, rows: np.ndarray, things: np.ndarray, names: np.ndarray
) -> float:
    """The `EVIDENCE_QUANTILE` of cos(photo, its own thing's candidate vector) over the photos of `rows`."""
    plain = {things[i]: vectors[i] for i in np.flatnonzero(rows & (views.kind == PLAIN))}
    photos = [i for i in np.flatnonzero(rows & (views.kind == PHOTO)) if things[i] in plain]
    candidates = _unit(np.stack([plain[things[i]] + names[things[i]] for i in photos]))
    similarity = (vectors[photos] * candidates).sum(axis=1)
    return round(float(np.quantile(similarity, EVIDENCE_QUANTILE)), 4)


def _held_back(key: str) -> bool:
    """A stable tenth of the things, held back from the first fit to choose the mix."""
    return int(hashlib.blake2b(key.encode(), digest_size=4).hexdigest(), 16) % 1000 < VALIDATION_SHARE * 1000


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

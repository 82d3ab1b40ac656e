"""The trained bridge: a locked image tower's features projected into the sentence encoder's space (LiT-style).

The classifier stays frozen; a small MLP reads its pooled features and logits and is trained contrastively on
captioned pictures so that a picture lands near the texts that name it, in both directions (symmetric InfoNCE
over the batch's distinct things), and near the kinds it belongs to (a soft cross-entropy over every kind phrase
of the corpus). The kind term is what makes different things of one kind (ramen, pho, udon) land together,
which is the level at which a person's taste lives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ProjectionConfig:
    """Architecture and optimisation of the projection (chosen on held-out keys of the training sources)."""

    hidden: int = 1024
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    temperature: float = 0.05
    kind_weight: float = 1.0
    seed: int = 0

    def to_manifest(self) -> dict:
        return asdict(self)


class BridgeProjection(nn.Module):
    """[pooled features, logits] -> an unnormalised vector in the text space."""

    def __init__(self, feature_dim: int, text_dim: int, config: ProjectionConfig = ProjectionConfig()):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(feature_dim),
            nn.Linear(feature_dim, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, text_dim),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


@dataclass(frozen=True)
class ProjectionData:
    """Training views: features [N, F], the thing each shows [N], and every thing's text and kind targets."""

    features: np.ndarray  # [N, F] float32
    things: np.ndarray  # [N] int: row of `text_targets`
    text_targets: np.ndarray  # [T, d] unit rows: each thing's texts, averaged
    thing_kinds: np.ndarray  # [T, K] float32 multi-hot: the kinds of each thing
    kind_vectors: np.ndarray  # [K, d] unit rows: each kind phrase embedded


def train_projection(data: ProjectionData, config: ProjectionConfig = ProjectionConfig()) -> BridgeProjection:
    """Fit a `BridgeProjection` on `data` (deterministic for a seed); returns it in eval mode."""
    torch.manual_seed(config.seed)
    model = BridgeProjection(data.features.shape[1], data.text_targets.shape[1], config)
    features = torch.from_numpy(data.features.astype(np.float32))
    things = torch.from_numpy(data.things.astype(np.int64))
    texts = torch.from_numpy(data.text_targets.astype(np.float32))
    kinds = torch.from_numpy(data.thing_kinds.astype(np.float32))
    kind_targets = kinds / kinds.sum(1, keepdim=True).clamp(min=1.0)
    kind_vectors = torch.from_numpy(data.kind_vectors.astype(np.float32))
    batches = max(1, len(features) // config.batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=config.epochs * batches)
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(features), generator=generator)
        for b in range(batches):
            rows = order[b * config.batch_size : (b + 1) * config.batch_size]
            z = F.normalize(model(features[rows]), dim=-1)
            loss = contrastive_loss(z, things[rows], texts, config.temperature)
            if config.kind_weight:
                has_kind = kinds[things[rows]].sum(1) > 0
                logits = z[has_kind] @ kind_vectors.T / config.temperature
                soft = -(kind_targets[things[rows]][has_kind] * F.log_softmax(logits, dim=-1)).sum(1)
                loss = loss + config.kind_weight * soft.mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


def contrastive_loss(z: torch.Tensor, things: torch.Tensor, texts: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between pictures and the distinct things of the batch (views of one thing share a text)."""
    distinct, column = torch.unique(things, return_inverse=True)
    logits = z @ texts[distinct].T / temperature  # [views, things]
    image_to_text = F.cross_entropy(logits, column)
    positives = (column[None, :] == torch.arange(len(distinct))[:, None]).float()  # [things, views]
    text_to_image = -(F.log_softmax(logits.T, dim=1) * positives).sum(1) / positives.sum(1)
    return image_to_text + text_to_image.mean()


@torch.inference_mode()
def project(model: BridgeProjection, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Unit vectors [N, d] of `features` [N, F]."""
    chunks = [model(torch.from_numpy(features[i : i + batch_size].astype(np.float32))) for i in range(0, len(features), batch_size)]
    return F.normalize(torch.cat(chunks), dim=-1).numpy() if chunks else np.zeros((0, 0), np.float32)


def whitening(features: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean [F], basis [F, dim]): PCA to `dim` components, each scaled to unit variance.

    Measured on the held-out emoji style: whitened PCA-256 of the pooled features matched a thing's plain
    picture to its composed photo at R@1 65.8 against 58.3 for the raw 1280 features (unwhitened PCA-256: 55.7).
    """
    mean = features.mean(axis=0)
    _, singular, vt = np.linalg.svd(features - mean, full_matrices=False)
    scale = singular[:dim] / math.sqrt(max(1, len(features) - 1))
    return mean.astype(np.float32), (vt[:dim].T / np.maximum(scale, 1e-6)).astype(np.float32)

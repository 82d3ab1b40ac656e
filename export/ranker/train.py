"""Joint training of the ranker: L = L_asp + λ·L_pred (λ = 2), one loop for CPU, a GPU or torchrun DDP.

Accelerate places the model, shards the data across processes and all-reduces gradients, so the same code
runs as `python -m export.cli train ...` or `torchrun --nproc_per_node N -m export.cli train ...`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from engine.recommend.ranker import INPUTS
from export.ranker.examples import QueryExample

AspectTargets = dict[str, frozenset[str]]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper: lr 1e-3 for LoRA; λ = 2)."""

    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    pred_weight: float = 2.0
    joint: bool = True  # False: the matching loss alone ("w/o joint training")
    seed: int = 0


@dataclass
class TrainResult:
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    processes: int = 1


class QueryDataset(Dataset):
    """Examples plus the multi-hot aspect-word targets of each query."""

    def __init__(self, examples: Sequence[QueryExample], targets: AspectTargets | None = None):
        self.examples = list(examples)
        self.targets = targets or {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[QueryExample, np.ndarray]:
        ex = self.examples[i]
        wanted = self.targets.get(ex.query_id, frozenset())
        return ex, np.array([word in wanted for word in ex.words], np.float32)


def collate(batch: Sequence[tuple[QueryExample, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Pad photos, candidates and words to the batch maximum; masks mark the real ones."""
    examples = [ex for ex, _ in batch]
    out = {name: _padded([ex.feeds[name] for ex in examples]) for name in INPUTS}
    out["labels"] = _padded([ex.labels for ex in examples])
    out["aspect_targets"] = _padded([targets for _, targets in batch])
    return out


def joint_loss(
    outputs: tuple[torch.Tensor, ...], batch: dict[str, torch.Tensor], config: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, L_pred, L_asp): BCE per candidate (positives re-weighted) and BCE per aspect word."""
    scores, aspect_logits = outputs[0], outputs[1]
    cmask, amask, labels = batch["candidate_mask"], batch["aspect_mask"], batch["labels"]
    positives = (labels * cmask).sum(1, keepdim=True).clamp(min=1.0)
    negatives = ((1 - labels) * cmask).sum(1, keepdim=True).clamp(min=1.0)
    weights = cmask * torch.where(labels > 0, negatives / positives, torch.ones_like(labels))
    pred = (F.binary_cross_entropy_with_logits(scores, labels, reduction="none") * weights).sum() / weights.sum()
    if not config.joint or amask.sum() == 0:
        return config.pred_weight * pred, pred, torch.zeros_like(pred)
    asp = F.binary_cross_entropy_with_logits(aspect_logits, batch["aspect_targets"], reduction="none")
    asp = (asp * amask).sum() / amask.sum()
    return asp + config.pred_weight * pred, pred, asp


def train(
    model: torch.nn.Module,
    dataset: QueryDataset,
    config: TrainConfig,
    log: Callable[[str], None] = lambda _: None,
    accelerator: Accelerator | None = None,
) -> TrainResult:
    """Train the trainable parameters of `model` (LoRA adapters and heads) in place."""
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(config.seed)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(config.seed),
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    total_steps = max(1, config.epochs * math.ceil(len(loader) / accelerator.num_processes))
    warmup = max(1, total_steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / total_steps))
    )
    model, optimiser, loader, schedule = accelerator.prepare(model, optimiser, loader, schedule)
    model.train()
    result = TrainResult(processes=accelerator.num_processes)
    start = time.perf_counter()
    for epoch in range(config.epochs):
        losses = []
        for batch in loader:
            total, *_ = joint_loss(model(**{k: batch[k] for k in INPUTS}), batch, config)
            accelerator.backward(total)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(float(accelerator.reduce(total.detach(), reduction="mean")))
            result.steps += 1
        result.epoch_losses.append(float(np.mean(losses)))
        log(f"epoch {epoch + 1}/{config.epochs}: loss {result.epoch_losses[-1]:.4f}")
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


@torch.inference_mode()
def predict(
    model: torch.nn.Module, examples: Sequence[QueryExample], batch_size: int = 32
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(candidate scores [n], aspect-word probabilities [k]) per example, with padding removed."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(examples), batch_size):
        chunk = list(examples[start : start + batch_size])
        batch = collate([(ex, np.zeros(len(ex.words), np.float32)) for ex in chunk])
        scores, aspect_logits, *_ = model(**{k: batch[k].to(device) for k in INPUTS})
        for row, ex in enumerate(chunk):
            n, k = len(ex.candidate_ids), len(ex.words)
            results.append((scores[row, :n].cpu().numpy(), torch.sigmoid(aspect_logits[row, :k]).cpu().numpy()))
    return results


def _padded(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """Stack arrays of equal rank, zero-padding every axis to the largest."""
    shape = np.max([a.shape for a in arrays], axis=0)
    out = np.zeros((len(arrays), *shape), np.float32)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, s) for s in a.shape))] = a
    return torch.from_numpy(out)

"""Torch vs ONNX Runtime on the same real inputs; the build fails when they disagree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

MAX_ABS_DIFF = 1e-3
MIN_COSINE = 0.9999


class ParityError(RuntimeError):
    """An exported graph disagrees with its torch model beyond tolerance."""


@dataclass(frozen=True)
class ParityResult:
    """Worst-case agreement over every output row; `inputs` names what was compared."""

    max_abs_diff: float
    min_cosine: float
    inputs: list[str]

    def to_manifest(self) -> dict:
        return {"max_abs_diff": self.max_abs_diff, "min_cosine": self.min_cosine, "inputs": self.inputs}


def check_parity(model: nn.Module, onnx_path: Path, feeds: dict[str, torch.Tensor], inputs: list[str]) -> ParityResult:
    """Run both on `feeds` (ordered like the model's arguments); raise `ParityError` beyond tolerance."""
    with torch.inference_mode():
        expected = model(*feeds.values())
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {name: tensor.numpy() for name, tensor in feeds.items()})
    max_abs = max(float(np.abs(a - e.numpy()).max()) for a, e in zip(actual, expected, strict=True))
    min_cos = min(_min_row_cosine(a, e.numpy()) for a, e in zip(actual, expected, strict=True))
    result = ParityResult(max_abs_diff=max_abs, min_cosine=min_cos, inputs=inputs)
    if max_abs > MAX_ABS_DIFF or min_cos < MIN_COSINE:
        raise ParityError(
            f"{onnx_path.name}: ONNX Runtime differs from torch (max abs diff {max_abs:.2e} > {MAX_ABS_DIFF:.0e}"
            f" or min cosine {min_cos:.6f} < {MIN_COSINE})"
        )
    return result


def _min_row_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = (a64 * b64).sum(-1) / (np.linalg.norm(a64, axis=-1) * np.linalg.norm(b64, axis=-1))
    return float(cos.min())

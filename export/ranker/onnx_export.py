"""Export the merged ranker to ONNX (dynamic batch, photos, candidates and words) and check parity."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.recommend.ranker import DYNAMIC_AXES, INPUTS, OUTPUTS
from export.lite.onnx_export import export_onnx
from export.lite.parity import ParityResult, check_parity
from export.ranker.model import SpectrumRanker


def export_ranker(model: SpectrumRanker, feeds: dict[str, torch.Tensor], path: Path) -> ParityResult:
    """Write `path` from `model` traced on `feeds` (batched inputs), then compare ONNX Runtime with torch."""
    model = model.eval()
    dynamic = {
        name: {0: "batch", **{i + 1: DYNAMIC_AXES[a] for i, a in enumerate(axes) if a in DYNAMIC_AXES}}
        for name, axes in {**INPUTS, **OUTPUTS}.items()
    }
    ordered = {name: feeds[name] for name in INPUTS}
    export_onnx(model, tuple(ordered.values()), path, list(INPUTS), list(OUTPUTS), dynamic)
    return check_parity(model, path, ordered, inputs=[f"{len(feeds['category'])} benchmark queries"])

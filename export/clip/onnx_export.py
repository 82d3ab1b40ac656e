"""The two open_clip towers as traceable modules with unit-norm outputs, exported to ONNX with a dynamic batch."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from export.lite.onnx_export import export_onnx


class ImageTower(nn.Module):
    """`pixel_values` [batch,3,S,S] -> unit-norm `embedding` [batch,D]."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(pixel_values, normalize=True)


class TextTower(nn.Module):
    """`input_ids` [batch, context_length] (padded like open_clip) -> unit-norm `embedding` [batch,D]."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(input_ids, normalize=True)


def export_image_tower(tower: ImageTower, example: torch.Tensor, path: Path) -> None:
    """`pixel_values` float32 [batch,3,S,S] -> `embedding` [batch,D]."""
    with _traceable_attention():
        export_onnx(
            tower,
            (example,),
            path,
            input_names=["pixel_values"],
            output_names=["embedding"],
            dynamic_axes={"pixel_values": {0: "batch"}, "embedding": {0: "batch"}},
        )


def export_text_tower(tower: TextTower, example: torch.Tensor, path: Path) -> None:
    """`input_ids` int64 [batch, context_length] -> `embedding` [batch,D]; the context length stays fixed."""
    with _traceable_attention(), warnings.catch_warnings():
        # argmax pooling indexes rows with torch.arange: never negative, so the exporter's caveat does not apply
        warnings.filterwarnings("ignore", message="Exporting aten::index operator of advanced indexing")
        export_onnx(
            tower,
            (example,),
            path,
            input_names=["input_ids"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch"}, "embedding": {0: "batch"}},
        )


@contextmanager
def _traceable_attention() -> Iterator[None]:
    """nn.MultiheadAttention's fused inference kernel has no ONNX export: trace its plain ops instead."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():
            # its shape assertions become trace constants: harmless, the parity run checks other batch sizes
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.functional")
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)

"""Export the two encoders to ONNX with dynamic batch (and sequence) axes."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

OPSET = 18


def export_onnx(
    model: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Trace `model` on `example` into a single-file ONNX graph and validate it with the ONNX checker.

    The TorchScript exporter is used: on torch 2.13 the dynamo exporter names BERT's token
    embedding node `embedding`, which collides with the output name the bundle contract requires.
    """
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*legacy TorchScript-based ONNX")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(str(path), full_check=True)


IMAGE_OUTPUTS = ("embedding", "label_probs", "visual")


def export_image_encoder(model: nn.Module, pixel_values: torch.Tensor, path: Path) -> None:
    """`pixel_values` [batch,3,224,224] -> `embedding` [batch,384], `label_probs` [batch,1000], `visual` [batch,V]."""
    export_onnx(
        model,
        (pixel_values,),
        path,
        input_names=["pixel_values"],
        output_names=list(IMAGE_OUTPUTS),
        dynamic_axes={name: {0: "batch"} for name in ("pixel_values", *IMAGE_OUTPUTS)},
    )


def export_text_encoder(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, path: Path) -> None:
    """`input_ids`, `attention_mask` int64 [batch,sequence] -> `embedding` [batch,384]."""
    export_onnx(
        model,
        (input_ids, attention_mask),
        path,
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "embedding": {0: "batch"},
        },
    )

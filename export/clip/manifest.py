"""The manifest sections describing the exported towers (same shape as the lite bundle's)."""

from __future__ import annotations

from typing import Any

from engine.imaging.preprocess import PreprocessSpec
from export.clip.tokenizer import TokenizerSettings

IMAGE_ENCODER_FILE = "image_encoder.onnx"
TEXT_ENCODER_FILE = "text_encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"


def image_section(provenance: dict[str, Any], preprocess: PreprocessSpec, dim: int, precision: str) -> dict:
    size = preprocess.image_size
    return {
        "file": IMAGE_ENCODER_FILE,
        "source": provenance,
        "inputs": [{"name": "pixel_values", "shape": ["batch", 3, size, size], "dtype": "float32"}],
        "outputs": _embedding_output(dim),
        "preprocess": preprocess.to_manifest(),
        "precision": precision,
    }


def text_section(
    provenance: dict[str, Any], tokens: TokenizerSettings, dim: int, precision: str, fixed_length: bool
) -> dict:
    """`fixed_length`: the tower takes exactly `max_length` tokens, else any number up to it."""
    sequence = tokens.max_length if fixed_length else "sequence"
    return {
        "file": TEXT_ENCODER_FILE,
        "tokenizer": TOKENIZER_FILE,
        **tokens.to_manifest(fixed_length),
        "source": provenance,
        "inputs": [{"name": "input_ids", "shape": ["batch", sequence], "dtype": "int64"}],
        "outputs": _embedding_output(dim),
        "precision": precision,
    }


def _embedding_output(dim: int) -> list[dict[str, Any]]:
    return [{"name": "embedding", "shape": ["batch", dim], "dtype": "float32"}]

"""A tiny random open_clip model of the real ViT/text-transformer architecture, for fast tests and demos."""

from __future__ import annotations

from export.clip.source import register_model_config

TINY = "visuallens-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def register_tiny_clip() -> str:
    """Register the tiny config with open_clip (idempotent) and return its model name."""
    register_model_config(TINY, TINY_CONFIG)
    return TINY

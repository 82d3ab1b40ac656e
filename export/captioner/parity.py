"""Captioner parity on real photos: the engine's preprocessing, encoder and decoding loop against the references.

The torch model (`generate`) is the reference for fp32 graphs. Quantised graphs cannot match torch token for
token, so the engine's loop is checked against optimum's `ORTModelForVision2Seq.generate` on the same graphs, and
the agreement with torch is recorded for information.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from optimum.onnxruntime import ORTModelForVision2Seq
from PIL import Image
from transformers import AutoModelForImageTextToText, GenerationConfig
from transformers.image_processing_utils import BaseImageProcessor

from engine.models.manifest import CaptionerSection, GenerationSettings
from engine.profile.captioner import CaptionDescriber
from export.lite.sample_inputs import SAMPLE_PHOTOS

PARITY_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
MAX_ENCODER_DIFF = 1e-3
MIN_BEAMS = 3


class CaptionParityError(RuntimeError):
    """The engine's captions differ from the reference's."""


@dataclass(frozen=True)
class ReferenceModels:
    """What the engine is compared with: the torch model, its image processor and the exported graph folder."""

    torch_model: torch.nn.Module
    processor: BaseImageProcessor
    onnx_folder: Path


def load_torch_model(source: str) -> torch.nn.Module:
    return AutoModelForImageTextToText.from_pretrained(source).eval()


def parity_photos() -> dict[str, Image.Image]:
    return {name: Image.fromarray(SAMPLE_PHOTOS[name]()).convert("RGB") for name in PARITY_PHOTOS}


def check_caption_parity(bundle_root: Path, section: dict, reference: ReferenceModels, quantized: bool) -> dict:
    """Compare on `PARITY_PHOTOS`; raise `CaptionParityError` on any token difference; return the numbers."""
    describer = CaptionDescriber(bundle_root, CaptionerSection.model_validate(section), provider="cpu")
    photos = parity_photos()
    images = list(photos.values())
    ours = describer.pixel_values(images)
    theirs = reference.processor(images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        torch_hidden = reference.torch_model.encoder(pixel_values=theirs).last_hidden_state.numpy()
    encoder_diff = float(np.abs(describer.encode(ours) - torch_hidden).max())
    if not quantized and encoder_diff > MAX_ENCODER_DIFF:
        raise CaptionParityError(f"{section['encoder']}: encoder differs from torch by {encoder_diff:.2e}")
    report = {
        "photos": list(photos),
        "reference": "optimum ORTModelForVision2Seq.generate" if quantized else "torch generate",
        "pixel_max_abs_diff": float(np.abs(ours - theirs.numpy()).max()),
        "encoder_max_abs_diff_vs_torch": encoder_diff,
        "beam_width": max(describer.settings.num_beams, MIN_BEAMS),
    }
    settings = describer.settings
    with tempfile.TemporaryDirectory(prefix="captioner-parity-") as tmp:
        generator = _optimum_model(bundle_root, section, reference.onnx_folder, Path(tmp)) if quantized else None
        for search, beams in (("greedy", 1), ("beam", report["beam_width"])):
            actual = [h.tokens for h in describer.generate(images, num_beams=beams)]
            vs_torch = _agreement(actual, _reference_tokens(reference.torch_model, theirs, settings, beams))
            vs_reference = vs_torch
            if generator is not None:
                vs_reference = _agreement(actual, _reference_tokens(generator, theirs, settings, beams))
            if vs_reference != len(images):
                raise CaptionParityError(
                    f"{section['decoder']}: {search} search differs from {report['reference']} on "
                    f"{len(images) - vs_reference} of {len(images)} photos"
                )
            report[f"{search}_identical"] = f"{vs_reference}/{len(images)}"
            report[f"{search}_identical_to_torch"] = f"{vs_torch}/{len(images)}"
    report["captions"] = dict(zip(photos, describer.captions(images, num_beams=1)))
    return report


def _agreement(actual: list[tuple[int, ...]], expected: list[tuple[int, ...]]) -> int:
    return sum(a == e for a, e in zip(actual, expected, strict=True))


def _reference_tokens(model, pixels: torch.Tensor, settings: GenerationSettings, beams: int) -> list[tuple[int, ...]]:
    config = GenerationConfig(
        decoder_start_token_id=settings.decoder_start_token_id,
        eos_token_id=settings.eos_token_id,
        pad_token_id=settings.pad_token_id,
        max_new_tokens=settings.max_new_tokens,
        num_beams=beams,
        length_penalty=settings.length_penalty,
        early_stopping=False,
        do_sample=False,
    )
    with torch.inference_mode():
        sequences = model.generate(pixel_values=pixels, generation_config=config)
    return [_until_eos(row[1:].tolist(), settings) for row in sequences]


def _until_eos(tokens: list[int], settings: GenerationSettings) -> tuple[int, ...]:
    return tuple(tokens[: tokens.index(settings.eos_token_id)] if settings.eos_token_id in tokens else tokens)


def _optimum_model(bundle_root: Path, section: dict, onnx_folder: Path, folder: Path) -> ORTModelForVision2Seq:
    """optimum's runtime on the bundle's graphs, linked into `folder` next to the export's `config.json`."""
    (folder / "config.json").symlink_to(onnx_folder / "config.json")
    (folder / "encoder_model.onnx").symlink_to((bundle_root / section["encoder"]).resolve())
    (folder / "decoder_model_merged.onnx").symlink_to((bundle_root / section["decoder"]).resolve())
    return ORTModelForVision2Seq.from_pretrained(folder, use_merged=True, provider="CPUExecutionProvider")


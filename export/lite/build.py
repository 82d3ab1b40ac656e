"""Build the offline `lite` model bundle: real pretrained weights and a trained bridge -> ONNX encoders + manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from engine.imaging.preprocess import PreprocessSpec
from export.bundle_io import counted_step, staged_bundle, step
from export.data.compose import background_paths
from export.data.pairs import Picture
from export.data.pairs import pictures as captioned_pictures
from export.lite.bridge import PROMPT_TEMPLATES, LiteImageEncoder, bridge_embedding, class_prompts
from export.lite.bridge_fit import FittedBridge, RealPhotoProbe, fit_bridge
from export.lite.corpus import FeatureExtractor, view_features
from export.lite.efficientnet_lite import INPUT_SIZE, LITE0, EfficientNetLite, LiteVariant, load_efficientnet_lite
from export.lite.imagenet_labels import label_entries, load_imagenet_classes
from export.lite.licenses import licenses_text
from export.lite.manifest import (
    IMAGE_ENCODER_FILE,
    LICENSES_FILE,
    TEXT_ENCODER_FILE,
    TOKENIZER_FILE,
    VOCABULARY_FILE,
    VOCABULARY_VECTORS_FILE,
    build_manifest,
)
from export.lite.minilm import (
    embed_texts,
    extract_minilm,
    load_sentence_encoder,
    load_tokenizer,
    package_spec,
    tokenize,
)
from export.lite.onnx_export import export_image_encoder, export_text_encoder
from export.lite.parity import check_parity
from export.lite.ranker_stage import train_ranker_into
from export.lite.sample_inputs import PARITY_TEXTS, PROBE_QUERIES, photo_batch, write_sample_photos
from export.lite.temperature import RetrievalScore, choose_temperature
from export.lite.vocabulary import build_vocabulary
from export.lite.wordnet_parents import open_wordnet

MANIFEST_FILE = "manifest.json"
# Shortest edge 256 then centre crop 224 classified the sample photos more confidently than a 224 resize.
PREPROCESS = PreprocessSpec(
    image_size=INPUT_SIZE, resize_size=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic"
)
RESIZE_RATIO = PREPROCESS.resize_size / PREPROCESS.image_size
# The image tower. Lite2 (benchmarks/results/lite_backbones) reads the held-out style only within noise better
# (text -> image Recall@1 29.2 vs 27.3 over 1197 things) at 1.66x the indexing cost per photo.
IMAGE_BACKBONE = LITE0


def build_lite_bundle(out: Path, force: bool = False, progress: Progress | None = None, ranker: bool = True) -> Path:
    """Build the bundle in a staging folder beside `out`, then move it to `out` (replacing an old one only with
    `force`).

    With `ranker` (the default) the bundle also gets its trained ranker (`ranker_stage`); without, it serves
    the zero-shot scorer.
    """
    progress = progress or Progress(disable=True)
    with staged_bundle(out, force, prefix="visuallens-lite-") as (partial, work):
        _build_into(partial, work, progress)
        if ranker:
            train_ranker_into(partial, work, progress)
    return Path(out)


def preprocess_for(variant: LiteVariant) -> PreprocessSpec:
    """The engine's preprocessing for `variant`: shortest edge scaled as 256 is to 224, then the centre crop."""
    resize = round(variant.image_size * RESIZE_RATIO)
    return replace(PREPROCESS, image_size=variant.image_size, resize_size=resize)


@dataclass(frozen=True)
class ImageSide:
    """A classifier read through its label bridge and its trained bridge, with what was measured to fit them."""

    classifier: EfficientNetLite
    preprocess: PreprocessSpec
    label_embeddings: torch.Tensor
    temperature: RetrievalScore
    temperature_scores: list[RetrievalScore]
    photos: dict[str, Path]
    pixels: torch.Tensor  # the sample photos, preprocessed
    pictures: list[Picture]
    fitted: FittedBridge


def fit_image_side(variant: LiteVariant, text_encoder, tokenizer, work: Path, progress: Progress) -> ImageSide:
    """Label bridge, temperature, the captioned pictures' features and the trained bridge for one classifier."""
    classifier = load_efficientnet_lite(variant)
    preprocess = preprocess_for(variant)
    with step(progress, "embed labels", total=len(PROMPT_TEMPLATES)) as advance:
        clean_names = [cls.name for cls in load_imagenet_classes()]
        per_template = []
        for template in PROMPT_TEMPLATES:
            per_template.append(embed_texts(text_encoder, tokenizer, class_prompts(clean_names, template)))
            advance()
        label_embeddings = torch.nn.functional.normalize(torch.stack(per_template).mean(dim=0), dim=-1)

    with step(progress, "choose temperature"):
        photos = write_sample_photos(work / "photos")
        pixels = photo_batch(photos, preprocess)
        with torch.inference_mode():
            pooled = classifier.features(pixels)
            logits = classifier._fc(pooled)
        probe = RealPhotoProbe(
            inputs=torch.cat([pooled, logits], dim=-1).numpy(),
            logits=logits.numpy(),
            photo_names=list(photos),
            query_embeddings=embed_texts(text_encoder, tokenizer, list(PROBE_QUERIES)).numpy(),
            relevant=list(PROBE_QUERIES.values()),
        )
        best, scores = choose_temperature(
            logits, label_embeddings, probe.photo_names, torch.from_numpy(probe.query_embeddings), probe.relevant
        )

    with counted_step(progress, "captioned pictures: compose and featurise") as report:
        pictures = captioned_pictures()
        extractor = FeatureExtractor(classifier, preprocess, work)
        views = view_features(pictures, extractor, background_paths(), on_progress=report)

    with step(progress, "train the bridge"):
        fitted = fit_bridge(
            pictures,
            views,
            embed=lambda texts: embed_texts(text_encoder, tokenizer, texts).numpy(),
            label_bridge=lambda logits: bridge_embedding(torch.from_numpy(logits), label_embeddings, best.setting).numpy(),
            probe=probe,
        )
    return ImageSide(classifier, preprocess, label_embeddings, best, scores, photos, pixels, pictures, fitted)


def _build_into(folder: Path, work: Path, progress: Progress) -> None:
    with step(progress, "load weights"):
        minilm_dir = extract_minilm(work / "minilm")
        text_encoder = load_sentence_encoder(minilm_dir)
        tokenizer = load_tokenizer(minilm_dir)

    with step(progress, "label parents (WordNet)"):
        labels = label_entries(load_imagenet_classes(), open_wordnet(work / "nltk_data"))

    side = fit_image_side(IMAGE_BACKBONE, text_encoder, tokenizer, work, progress)
    pictures, pixels, photos, fitted = side.pictures, side.pixels, side.photos, side.fitted

    with step(progress, "describer vocabulary"):
        names, vectors = build_vocabulary(pictures, labels, lambda texts: embed_texts(text_encoder, tokenizer, texts).numpy())
        (folder / VOCABULARY_FILE).write_text(json.dumps(names, ensure_ascii=False, indent=1), encoding="utf-8")
        np.save(folder / VOCABULARY_VECTORS_FILE, vectors)

    image_encoder = _image_encoder(side.classifier, side.label_embeddings, side.temperature.setting, fitted)
    with step(progress, "export image encoder"):
        export_image_encoder(image_encoder, pixels[:2], folder / IMAGE_ENCODER_FILE)

    with step(progress, "export text encoder"):
        tokenizer.save(str(folder / TOKENIZER_FILE))
        export_text_encoder(text_encoder, *tokenize(tokenizer, list(PARITY_TEXTS[:2])), folder / TEXT_ENCODER_FILE)

    with step(progress, "parity check", total=2) as advance:
        image_parity = check_parity(image_encoder, folder / IMAGE_ENCODER_FILE, {"pixel_values": pixels}, list(photos))
        advance()
        input_ids, attention_mask = tokenize(tokenizer, list(PARITY_TEXTS))
        text_parity = check_parity(
            text_encoder,
            folder / TEXT_ENCODER_FILE,
            {"input_ids": input_ids, "attention_mask": attention_mask},
            list(PARITY_TEXTS),
        )

    with step(progress, "checksums"):
        minilm_package = package_spec()
        (folder / LICENSES_FILE).write_text(licenses_text(minilm_package))
        manifest = build_manifest(
            folder=folder,
            preprocess=side.preprocess,
            temperature=side.temperature,
            temperature_scores=side.temperature_scores,
            prompts=PROMPT_TEMPLATES,
            minilm_package=minilm_package,
            image_parity=image_parity,
            text_parity=text_parity,
            bridge=fitted,
        )
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))


def _image_encoder(classifier, label_embeddings: torch.Tensor, temperature: float, fitted: FittedBridge) -> LiteImageEncoder:
    return LiteImageEncoder(
        classifier,
        label_embeddings,
        temperature,
        fitted.projection,
        fitted.mix,
        torch.from_numpy(fitted.visual_mean),
        torch.from_numpy(fitted.visual_basis),
    ).eval()

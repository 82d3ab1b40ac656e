"""Captioner export: tiny ViT-GPT2 and ViT-TrOCR models through optimum, fp32 and int8, with parity on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoTokenizer, BlipConfig, ViTImageProcessor

from engine.models.manifest import CaptionerSection, ModelIO
from engine.models.sessions import open_session
from engine.profile.captioner import CaptionDescriber
from export.captioner.export import CaptionerExportError, export_captioner
from export.captioner.parity import CaptionParityError, ReferenceModels, check_caption_parity, parity_photos
from export.captioner.tiny import build_tiny_captioner
from export.captioner.vocabulary import wordnet_vocabulary

pytestmark = pytest.mark.slow  # not in `./run test fast`

CAPTIONER_FILES = {"encoder_model.onnx", "decoder_model_merged.onnx", "tokenizer.json"}
SECTION_KEYS = {
    "kind", "encoder", "decoder", "tokenizer", "preprocess", "generation", "aspect_vocabulary", "source",
    "precision", "io", "parity",
}
CASES = [("gpt2", "fp32"), ("gpt2", "int8"), ("trocr", "fp32")]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {decoder: build_tiny_captioner(root / decoder, decoder) for decoder in ("gpt2", "trocr")}


@pytest.fixture(scope="module")
def exports(models: dict[str, Path], tmp_path_factory) -> dict[tuple[str, str], tuple[Path, dict]]:
    root = tmp_path_factory.mktemp("bundles")
    done = {}
    for decoder, precision in CASES:
        out = root / f"{decoder}-{precision}"
        done[decoder, precision] = out, export_captioner(str(models[decoder]), out, precision=precision)
    return done


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_export_keeps_only_what_the_engine_needs(exports, case) -> None:
    out, section = exports[case]
    assert {p.name for p in (out / "captioner").iterdir()} == CAPTIONER_FILES
    assert (out / section["aspect_vocabulary"]).is_file()
    assert set(section) == SECTION_KEYS
    assert section["kind"] == "captioner" and section["precision"] == case[1]
    json.dumps(section)  # the section goes into manifest.json as it is


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_declared_io_matches_the_graphs(exports, case) -> None:
    out, section = exports[case]
    for role in ("encoder", "decoder"):
        session = open_session(out / section[role], ModelIO.model_validate(section["io"][role]), provider="cpu")
        assert [i.name for i in session.get_inputs()] == [i["name"] for i in section["io"][role]["inputs"]]
    decoder_inputs = {i["name"] for i in section["io"]["decoder"]["inputs"]}
    assert {"input_ids", "encoder_hidden_states", "use_cache_branch"} <= decoder_inputs
    assert any(name.startswith("past_key_values.") for name in decoder_inputs)


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_parity_on_real_photos(exports, case) -> None:
    _, section = exports[case]
    parity = section["parity"]
    assert parity["photos"] == ["chelsea", "coffee", "rocket", "astronaut"]
    assert parity["greedy_identical"] == parity["beam_identical"] == "4/4"
    assert parity["pixel_max_abs_diff"] < 1e-5
    if case[1] == "fp32":
        assert parity["reference"] == "torch generate"
        assert parity["encoder_max_abs_diff_vs_torch"] < 1e-4
    else:
        assert parity["reference"] == "optimum ORTModelForVision2Seq.generate"


def test_engine_greedy_tokens_equal_torch_generate(exports, models) -> None:
    out, section = exports["gpt2", "fp32"]
    describer = CaptionDescriber(out, CaptionerSection.model_validate(section), provider="cpu")
    images = list(parity_photos().values())
    model = AutoModelForImageTextToText.from_pretrained(models["gpt2"]).eval()
    pixels = ViTImageProcessor.from_pretrained(models["gpt2"])(images, return_tensors="pt")["pixel_values"]
    eos = section["generation"]["eos_token_id"]
    with torch.inference_mode():
        sequences = model.generate(pixel_values=pixels, max_new_tokens=section["generation"]["max_new_tokens"])
    rows = sequences[:, 1:].tolist()
    expected = [tuple(row[: row.index(eos)] if eos in row else row) for row in rows]
    assert [h.tokens for h in describer.generate(images, num_beams=1)] == expected


def test_int8_graphs_are_quantised(exports) -> None:
    out, section = exports["gpt2", "int8"]
    for role in ("encoder", "decoder"):
        model = onnx.load(out / section[role])
        ops = {node.op_type for node in model.graph.node}
        for node in model.graph.node:  # the merged decoder's branches are subgraphs of an If node
            for attribute in node.attribute:
                if attribute.g.node:
                    ops |= {n.op_type for n in attribute.g.node}
        assert "DynamicQuantizeLinear" in ops and "MatMulInteger" in ops, role


def test_preprocessing_and_generation_come_from_the_model(exports, models) -> None:
    _, section = exports["gpt2", "fp32"]
    processor = ViTImageProcessor.from_pretrained(models["gpt2"])
    tokenizer = AutoTokenizer.from_pretrained(models["gpt2"])
    assert section["preprocess"]["resize"] == "squash"
    assert section["preprocess"]["image_size"] == processor.size["height"]
    assert section["preprocess"]["interpolation"] == "bilinear"
    assert section["preprocess"]["mean"] == list(processor.image_mean)
    generation = section["generation"]
    assert generation["eos_token_id"] == tokenizer.eos_token_id
    assert generation["pad_token_id"] == tokenizer.pad_token_id
    assert generation["decoder_start_token_id"] == tokenizer.bos_token_id
    assert generation["num_beams"] == 1
    assert section["source"]["encoder"] == "vit" and section["source"]["decoder"] == "gpt2"


def test_parity_catches_a_different_model(exports, models) -> None:
    """The gpt2 graphs against the trocr torch model (same seeded ViT encoder): tokens must differ."""
    out, section = exports["gpt2", "fp32"]
    trocr = models["trocr"]
    reference = ReferenceModels(
        AutoModelForImageTextToText.from_pretrained(trocr).eval(), ViTImageProcessor.from_pretrained(trocr), trocr
    )
    with pytest.raises(CaptionParityError, match="search differs from torch generate"):
        check_caption_parity(out, section, reference, quantized=False)


def test_unknown_precision_is_refused(models, tmp_path: Path) -> None:
    with pytest.raises(CaptionerExportError, match="precision 'fp8' is not one of fp32, int8"):
        export_captioner(str(models["gpt2"]), tmp_path, precision="fp8")


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptionerExportError, match="no readable model config"):
        export_captioner(str(tmp_path), tmp_path / "out")


def test_blip_is_refused_before_export(tmp_path: Path) -> None:
    """optimum has no ONNX config for BLIP ("Trying to export a blip model, that is a custom or unsupported
    architecture"), so the model type is checked first."""
    BlipConfig().save_pretrained(tmp_path)
    with pytest.raises(CaptionerExportError, match="model type 'blip' is not supported"):
        export_captioner(str(tmp_path), tmp_path / "out")


def test_vocabulary_is_everyday_and_concrete() -> None:
    words = set(wordnet_vocabulary())
    assert 3_000 <= len(words) <= 12_000
    assert {"dome", "balcony", "ramen", "tomato", "cathedral", "ice cream", "parking lot", "red", "wooden"} <= words
    assert not {"photo", "picture", "view", "strontium", "benjamin", "simple"} & words
    assert wordnet_vocabulary() == sorted(words)

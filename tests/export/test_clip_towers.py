"""open_clip towers -> ONNX (fp32/int8/fp16) on a tiny random model; tokenizer.json equivalence; engine encoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.clip

from tokenizers import Tokenizer

from engine.imaging.preprocess import PreprocessSpec, load_tensor
from engine.models.bundle import Bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.models.manifest import ImageEncoderSection, Manifest, TextEncoderSection
from export.clip import ModelSpecError, export_clip_towers, load_open_clip
from export.clip.onnx_export import short_text_refusal
from export.clip.preprocess import UnsupportedPreprocessError, preprocess_spec
from export.clip.source import register_model_config
from export.clip.text_length import MAX_ABS_DIFF_VS_FIXED
from export.clip.tiny import TINY, TINY_CONFIG, register_tiny_clip
from export.clip.tokenizer import save_tokenizer
from export.lite.minilm import extract_minilm
from export.lite.sample_inputs import PARITY_TEXTS
from export.quantize import PrecisionError

ORT_TYPES = {"float32": "tensor(float)", "int64": "tensor(int64)"}
SHORTEST_EDGE_CFG = {
    "size": 224,
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
TEXTS = ["a cat", "a cup of coffee on a saucer", "an astronaut in a white suit", "tabby"]
TOKENIZER_TEXTS = [
    "a cat",
    "A CAT On The MAT",
    "Hello, world!!! (really?)",
    "it’s a “curly-quoted” word",
    "naïve café – déjà vu",
    "東京の夜景",
    "emoji 🐱🍕 party",
    "ＦＵＬＬ　ｗｉｄｔｈ letters",
    "ﬁne ﬂowers",
    "tabs\tand\nnewlines   and spaces",
    "   leading and trailing   ",
    "numbers 12345 and 3.14",
    "don't we'll they're I'm she's",
    "C++ & Rust > Go?",
    "McDonald's drive-thru",
    "straße İstanbul ß",
    "русский текст",
    "e-mail: a.b@c.com #hashtag",
    "price: $9.99 / 10€",
    "\"double\" and 'single'",
    "control\x07char",
    "",
    "cozy Italian restaurant with handmade pasta " * 20,  # far beyond 77 tokens: truncated, EOT kept
]


@pytest.fixture(scope="module")
def tiny_model() -> str:
    return register_tiny_clip()


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_model: str, tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    """A random tiny model saved as a checkpoint file: exported by path, kept here as the torch reference."""
    torch.manual_seed(0)
    model = open_clip.create_model(tiny_model).eval()
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.fixture(scope="module")
def fp32_export(tiny_checkpoint: tuple[torch.nn.Module, Path], tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("fp32")
    return out, export_clip_towers(f"{TINY}:{tiny_checkpoint[1]}", out, "fp32")


@pytest.fixture(scope="module")
def int8_export(tiny_checkpoint: tuple[torch.nn.Module, Path], tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("int8")
    return out, export_clip_towers(f"{TINY}:{tiny_checkpoint[1]}", out, "int8")


def manifest_for(pieces: dict) -> Manifest:
    """The bundle manifest fields the engine's encoders read (the rest of a manifest left out)."""
    return Manifest.model_construct(
        embedding_dim=pieces["embedding_dim"],
        image_encoder=ImageEncoderSection.model_validate(pieces["image_encoder"]),
        text_encoder=TextEncoderSection.model_validate(pieces["text_encoder"]),
    )


def test_export_writes_the_three_files_with_the_declared_io(fp32_export: tuple[Path, dict]) -> None:
    out, pieces = fp32_export
    assert {p.name for p in out.iterdir()} == {"image_encoder.onnx", "text_encoder.onnx", "tokenizer.json"}
    assert pieces["embedding_dim"] == 32
    for key in ("image_encoder", "text_encoder"):
        section = pieces[key]
        session = ort.InferenceSession(str(out / section["file"]), providers=["CPUExecutionProvider"])
        declared = [(i["name"], i["shape"], ORT_TYPES[i["dtype"]]) for i in section["inputs"]]
        assert [(i.name, i.shape, i.type) for i in session.get_inputs()] == declared
        assert [(o.name, o.shape) for o in session.get_outputs()] == [("embedding", ["batch", 32])]
        assert section["precision"] == "fp32"
    assert pieces["image_encoder"]["inputs"][0]["shape"] == ["batch", 3, 64, 64]
    text = pieces["text_encoder"]
    assert (text["max_length"], text["padding"], text["pad_id"]) == (77, "longest", 0)
    assert text["tokenizer"] == "tokenizer.json"
    assert text["inputs"][0]["shape"] == ["batch", "sequence"]
    assert TextEncoderSection.model_validate(text).padding == "longest"


def test_text_tower_cut_to_the_text_length_matches_the_fixed_length_export(
    fp32_export: tuple[Path, dict], tiny_checkpoint: tuple[torch.nn.Module, Path]
) -> None:
    """The exporter's own check (recorded), then an independent one: the graph fed each text at exactly its own
    length, and all of them padded to the longest, against open_clip's torch tower on ids padded to 77."""
    out, pieces = fp32_export
    sequence = pieces["parity"]["text_encoder"]["sequence"]
    assert sequence["axis"] == "dynamic"
    assert sequence["vs_fixed_length"]["max_abs_diff"] <= MAX_ABS_DIFF_VS_FIXED == 1e-4
    assert sequence["vs_fixed_length"]["inputs"] == list(PARITY_TEXTS)

    texts = [*TEXTS, *PARITY_TEXTS, TOKENIZER_TEXTS[-1]]  # the last one truncated at 77 tokens
    padded = open_clip.get_tokenizer(TINY)(texts)
    with torch.inference_mode():
        expected = tiny_checkpoint[0].encode_text(padded, normalize=True).numpy()
    ids = padded.numpy()
    counts = [int(np.flatnonzero(row).max()) + 1 for row in ids]  # pad id 0 follows the end-of-text token
    assert max(counts) == 77 and min(counts) <= 3
    session = ort.InferenceSession(str(out / "text_encoder.onnx"), providers=["CPUExecutionProvider"])
    alone = np.concatenate([session.run(None, {"input_ids": ids[i : i + 1, :n]})[0] for i, n in enumerate(counts)])
    short = [i for i, n in enumerate(counts) if n < 20]
    batched = session.run(None, {"input_ids": ids[short, : max(counts[i] for i in short)]})[0]
    np.testing.assert_allclose(alone, expected, atol=1e-4)
    np.testing.assert_allclose(batched, expected[short], atol=1e-4)


def test_a_text_tower_that_cannot_be_cut_keeps_its_fixed_length(tmp_path: Path) -> None:
    """Attending in both directions, every pad counts: the export stays at 77 tokens and the manifest says why."""
    name = "visuallens-tiny-clip-bidirectional"
    register_model_config(name, {**TINY_CONFIG, "text_cfg": {**TINY_CONFIG["text_cfg"], "no_causal_mask": True}})
    pieces = export_clip_towers(name, tmp_path, "fp32")
    text = pieces["text_encoder"]
    assert (text["padding"], text["inputs"][0]["shape"]) == ("max_length", ["batch", 77])
    session = ort.InferenceSession(str(tmp_path / "text_encoder.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 77]
    parity = pieces["parity"]["text_encoder"]
    assert (set(parity["sequence"]), parity["sequence"]["axis"]) == ({"axis", "reason"}, "fixed")
    assert "both directions" in parity["sequence"]["reason"]
    assert parity["max_abs_diff"] < 1e-4


@pytest.mark.parametrize(
    ("text_cfg", "custom_text", "pad_id", "message"),
    [
        ({}, False, 0, None),
        ({}, True, 0, None),  # CustomTextCLIP: its TextTransformer's own forward
        ({"pool_type": "last"}, False, 0, "pooling 'last'"),
        ({}, False, 1, "pad id 1"),
        ({"pool_type": "eos", "eos_id": 49407}, True, 1, None),
        ({"embed_cls": True}, True, 0, "class token"),
        ({"qk_norm": True}, False, 0, "custom blocks"),
    ],
)
def test_which_text_towers_are_cut_to_the_text_length(
    text_cfg: dict, custom_text: bool, pad_id: int, message: str | None
) -> None:
    name = "visuallens-tiny-clip-variant"
    text = {**TINY_CONFIG["text_cfg"], **text_cfg}
    register_model_config(name, {**TINY_CONFIG, "text_cfg": text, "custom_text": custom_text})
    refusal = short_text_refusal(open_clip.create_model(name), pad_id)
    assert refusal is None if message is None else message in str(refusal)


def test_preprocess_is_open_clips(fp32_export: tuple[Path, dict]) -> None:
    spec = PreprocessSpec.from_manifest(fp32_export[1]["image_encoder"]["preprocess"])
    assert (spec.image_size, spec.resize_size, spec.interpolation, spec.crop) == (64, 64, "bicubic", "center")
    assert spec.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)
    assert spec.std == pytest.approx(open_clip.OPENAI_DATASET_STD)
    agreement = fp32_export[1]["parity"]["image_encoder"]["preprocess_vs_open_clip"]
    assert agreement["mean_abs_diff"] < 0.1  # PIL resize in both; rounding of the resized size differs
    assert agreement["min_embedding_cosine"] > 0.99


def test_fp32_parity_is_tight(fp32_export: tuple[Path, dict]) -> None:
    parity = fp32_export[1]["parity"]
    assert len(parity["image_encoder"]["inputs"]) >= 4 and len(parity["text_encoder"]["inputs"]) >= 6
    for key in ("image_encoder", "text_encoder"):
        assert parity[key]["max_abs_diff"] < 1e-4
        assert parity[key]["min_cosine"] > 0.9999


def test_int8_export_is_quantized_and_close(fp32_export: tuple[Path, dict], int8_export: tuple[Path, dict]) -> None:
    out, pieces = int8_export
    for key in ("image_encoder", "text_encoder"):
        file = pieces[key]["file"]
        ops = {node.op_type for node in onnx.load(str(out / file)).graph.node}
        assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
        assert (out / file).stat().st_size < 0.75 * (fp32_export[0] / file).stat().st_size
        parity = pieces["parity"][key]
        assert parity["precision"] == "int8" and pieces[key]["precision"] == "int8"
        assert parity["min_cosine"] <= parity["median_cosine"]
        assert parity["median_cosine"] > 0.99
        assert parity["fp32_export"]["max_abs_diff"] < 1e-4


def test_fp16_export_is_close(tiny_model: str, tmp_path: Path) -> None:
    pieces = export_clip_towers(tiny_model, tmp_path, "fp16")
    for key in ("image_encoder", "text_encoder"):
        initializers = onnx.load(str(tmp_path / pieces[key]["file"])).graph.initializer
        assert onnx.TensorProto.FLOAT16 in {t.data_type for t in initializers}
        assert pieces["parity"][key]["min_cosine"] > 0.999


def test_engine_encoders_match_torch(
    fp32_export: tuple[Path, dict], tiny_checkpoint: tuple[torch.nn.Module, Path], photo_dir: Path
) -> None:
    out, pieces = fp32_export
    model = tiny_checkpoint[0]
    bundle = Bundle(out, manifest_for(pieces))
    image_encoder = ImageEncoder(bundle, provider="cpu")
    pixels = np.stack([load_tensor(path, image_encoder.spec) for path in sorted(photo_dir.iterdir())])
    with torch.inference_mode():
        expected_images = model.encode_image(torch.from_numpy(pixels), normalize=True).numpy()
        expected_texts = model.encode_text(open_clip.get_tokenizer(TINY)(TEXTS), normalize=True).numpy()
    np.testing.assert_allclose(image_encoder.encode(pixels).embeddings, expected_images, atol=1e-4)
    np.testing.assert_allclose(TextEncoder(bundle, provider="cpu").encode(TEXTS), expected_texts, atol=1e-4)


def test_checkpoint_provenance(fp32_export: tuple[Path, dict]) -> None:
    source = fp32_export[1]["image_encoder"]["source"]
    assert source["weights"] == "checkpoint"
    assert source["checkpoint"] == "tiny.pt"
    assert len(source["sha256"]) == 64
    assert source["package"].startswith("open_clip_torch==")


def test_random_weights_without_pretrained_part(tiny_model: str) -> None:
    loaded = load_open_clip(tiny_model)
    assert loaded.provenance["weights"] == "random"
    assert loaded.preprocess_cfg["resize_mode"] == "shortest"
    assert loaded.tokenizer.context_length == 77


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("No-Such-Model", "unknown open_clip model"),
        ("ViT-B-32:no_such_tag", "neither a checkpoint file nor a pretrained tag"),
    ],
)
def test_bad_specs_are_refused_by_name(spec: str, message: str) -> None:
    with pytest.raises(ModelSpecError, match=message):
        load_open_clip(spec)


def test_bad_precision_is_refused(tiny_model: str, tmp_path: Path) -> None:
    with pytest.raises(PrecisionError, match="bf16"):
        export_clip_towers(tiny_model, tmp_path, "bf16")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"resize_mode": "squash"}, "squash"),
        ({"resize_mode": "longest"}, "longest"),
        ({"size": (224, 256)}, "224x256"),
        ({"interpolation": "nearest"}, "nearest"),
    ],
)
def test_inexpressible_preprocessing_is_refused_by_name(override: dict, message: str) -> None:
    cfg = {**SHORTEST_EDGE_CFG, **override}
    with pytest.raises(UnsupportedPreprocessError, match=message):
        preprocess_spec(cfg)


def test_tokenizer_json_gives_open_clips_ids(tmp_path: Path) -> None:
    """OpenAI CLIP BPE (no weights needed). Not covered by design: ftfy's mojibake repair, HTML entities."""
    reference = open_clip.get_tokenizer("ViT-B-32")
    settings = save_tokenizer(reference, tmp_path / "tokenizer.json")
    assert (settings.max_length, settings.pad_id) == (77, 0)
    expected = reference(TOKENIZER_TEXTS).numpy()
    encodings = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode_batch(TOKENIZER_TEXTS)
    actual = np.array([e.ids for e in encodings])
    assert actual.shape == expected.shape == (len(TOKENIZER_TEXTS), 77)
    for text, want, got in zip(TOKENIZER_TEXTS, expected, actual):
        assert got.tolist() == want.tolist(), text
    eot = reference.eot_token_id
    assert actual[-1, -1] == eot  # truncated at 77 with the end-of-text token kept
    assert actual[0].tolist()[:4] == [reference.sot_token_id, *reference.encode("a cat"), eot]
    assert set(actual[0, 4:].tolist()) == {0}  # padded with zeros to the context length


@pytest.mark.parametrize("clean", ["whitespace", "lower", "canonicalize"])
def test_hugging_face_tokenizer_json_gives_open_clips_ids(clean: str, tmp_path: Path) -> None:
    """open_clip's HFTokenizer (SigLIP-style models) around a local fast tokenizer, each text cleaning mode."""
    reference = open_clip.tokenizer.HFTokenizer(
        str(extract_minilm(tmp_path / "minilm")), context_length=32, clean=clean
    )
    settings = save_tokenizer(reference, tmp_path / "tokenizer.json")
    assert settings.pad_id == reference.tokenizer.pad_token_id
    encodings = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode_batch(TOKENIZER_TEXTS)
    assert [e.ids for e in encodings] == reference(TOKENIZER_TEXTS).tolist()

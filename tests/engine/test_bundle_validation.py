"""A broken bundle is refused with a one-line error naming the offending file."""

import json
import shutil

import pytest

from engine.models.bundle import BundleError, load_bundle
from engine.models.encoders import ImageEncoder, TextEncoder


@pytest.fixture()
def bundle_copy(lite_bundle, tmp_path):
    target = tmp_path / "lite"
    shutil.copytree(lite_bundle, target)
    return target


def _edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_valid_bundle_loads_and_names_itself(lite_bundle):
    bundle = load_bundle(lite_bundle)
    assert bundle.name == "lite"
    assert bundle.embedding_dim == 384
    assert bundle.identity.startswith("lite@")


def test_missing_folder_and_manifest(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest.json: missing manifest"):
        load_bundle(tmp_path)


def test_corrupt_onnx_file_fails_its_checksum(bundle_copy):
    onnx_file = bundle_copy / "image_encoder.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"image_encoder\.onnx: sha256 does not match"):
        load_bundle(bundle_copy)


def test_truncated_file_is_named(bundle_copy):
    tok = bundle_copy / "tokenizer.json"
    tok.write_bytes(tok.read_bytes()[:100])
    with pytest.raises(BundleError, match=r"tokenizer\.json: size does not match"):
        load_bundle(bundle_copy)


def test_missing_file_is_named(bundle_copy):
    (bundle_copy / "text_encoder.onnx").unlink()
    with pytest.raises(BundleError, match=r"text_encoder\.onnx: file listed in the manifest is missing"):
        load_bundle(bundle_copy)


def test_unsupported_schema_version(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m.update(schema_version=99))
    with pytest.raises(BundleError, match="schema version 99 is not supported"):
        load_bundle(bundle_copy)


def test_a_schema_1_bundle_is_refused_with_how_to_rebuild_it(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m.update(schema_version=1))
    with pytest.raises(BundleError) as refused:
        load_bundle(bundle_copy)
    assert str(refused.value) == (
        f"{bundle_copy / 'manifest.json'}: schema version 1 is too old for this VisualLens (expected 2): rebuild it "
        f"with `visuallens-export bundle lite --out {bundle_copy} --force` or `visuallens models install lite --force`"
    )


def test_a_declared_visual_output_sets_the_visual_width(bundle_copy):
    def declare(shape):
        def change(m):
            outputs = [o for o in m["image_encoder"]["outputs"] if o["name"] != "visual"]
            if shape is not None:
                outputs.append({"name": "visual", "shape": shape, "dtype": "float32"})
            m["image_encoder"]["outputs"] = outputs

        return change

    _edit_manifest(bundle_copy, declare(None))
    assert load_bundle(bundle_copy).visual_dim == 384  # no `visual` output: the embedding serves as visual vector
    _edit_manifest(bundle_copy, declare(["batch", 48]))
    assert load_bundle(bundle_copy).visual_dim == 48
    for bad in (["batch", "V"], ["batch", 0], [48], ["batch", 6, 8]):
        _edit_manifest(bundle_copy, declare(bad))
        with pytest.raises(BundleError, match=r"image_encoder\.onnx: output `visual` must have shape \[\"batch\", V\]"):
            load_bundle(bundle_copy)
    for bad in (["batch", 4.5], ["batch", True]):  # not a dimension at all: refused as the manifest is read
        _edit_manifest(bundle_copy, declare(bad))
        with pytest.raises(BundleError, match=r"manifest\.json: image_encoder\.outputs\[2\]\.shape\[1\]: a dimension must be"):
            load_bundle(bundle_copy)


def test_a_describer_of_an_unknown_kind_is_refused_as_the_manifest_is_read(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m["describer"].update(kind="labels"))
    with pytest.raises(BundleError, match=r"manifest\.json: describer: .*'labels'.*'vocabulary', 'captioner'"):
        load_bundle(bundle_copy)


def test_declared_embedding_width_must_match(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m.update(embedding_dim=512))
    with pytest.raises(BundleError, match="embedding width 384 != embedding_dim 512"):
        load_bundle(bundle_copy)


def test_manifest_shapes_are_checked_against_the_onnx_graph(bundle_copy):
    def wrong_input(m):
        m["image_encoder"]["inputs"][0]["shape"] = ["batch", 3, 320, 320]

    _edit_manifest(bundle_copy, wrong_input)
    bundle = load_bundle(bundle_copy)
    with pytest.raises(BundleError, match=r"image_encoder\.onnx: input 'pixel_values' has shape"):
        ImageEncoder(bundle, provider="cpu")


def test_renamed_output_is_refused(bundle_copy):
    def rename(m):
        m["text_encoder"]["outputs"][0]["name"] = "sentence_embedding"
        m["text_encoder"]["outputs"].append({"name": "embedding", "shape": ["batch", 384], "dtype": "float32"})

    _edit_manifest(bundle_copy, rename)
    with pytest.raises(BundleError, match="no output named 'sentence_embedding'"):
        TextEncoder(load_bundle(bundle_copy), provider="cpu")


def test_cpu_provider_serves_when_no_gpu(lite_bundle):
    encoder = ImageEncoder(load_bundle(lite_bundle))
    assert encoder.provider in ("CUDAExecutionProvider", "CPUExecutionProvider")


def test_fixed_length_padding_follows_the_manifest(bundle_copy, lite_bundle):
    def fixed(m):
        m["text_encoder"].update(max_length=24, padding="max_length", pad_id=0)

    _edit_manifest(bundle_copy, fixed)
    encoder = TextEncoder(load_bundle(bundle_copy), provider="cpu")
    encodings = encoder.tokenizer.encode_batch(["a cat", "a much longer sentence about a cup of coffee"])
    assert [len(e.ids) for e in encodings] == [24, 24]
    assert encodings[0].ids[-1] == 0
    default = TextEncoder(load_bundle(lite_bundle), provider="cpu")  # pads to the longest
    assert abs(float(encoder.encode(["a cat"])[0] @ default.encode(["a cat"])[0]) - 1.0) < 1e-5


def test_a_file_verified_before_and_unchanged_is_not_hashed_again(bundle_copy, monkeypatch):
    from engine.models import bundle as bundle_module

    first = load_bundle(bundle_copy)
    assert set(first.verified) == set(first.manifest.files)
    hashed: list[str] = []
    real = bundle_module.sha256_file
    monkeypatch.setattr(bundle_module, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    assert load_bundle(bundle_copy, verified=first.verified).verified == first.verified and hashed == []
    tokenizer = bundle_copy / "tokenizer.json"
    data = tokenizer.read_bytes()
    tokenizer.write_bytes(data[:-2] + b"x}")  # same size, new content: its mtime changed
    with pytest.raises(BundleError, match=r"tokenizer\.json: sha256 does not match"):
        load_bundle(bundle_copy, verified=first.verified)
    assert hashed == ["tokenizer.json"]

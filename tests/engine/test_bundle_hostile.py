"""Hostile bundles (issue #19, finding 7): every file a manifest names is a regular file inside the bundle folder,
an install copies no link, device or FIFO and nothing over the size limits, and a model that cannot run, or makes
vectors of other widths than declared, is a bundle error naming it (exit 5) instead of a traceback during `index`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli.models import models_app
from engine.models.bundle import MANIFEST, MAX_BUNDLE_BYTES, MAX_FILE_BYTES, BundleError, load_bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.models.install import MAX_ENTRIES
from tests.engine.test_models_cli import linked_copy
from tests.fuzz.harness import PASS, assert_clean, run_cli

runner = CliRunner()
TOO_BIG = MAX_FILE_BYTES + 1  # written as sparse files: no disk space, no time


def replace(folder: Path, files: dict[str, bytes], change: Callable[[dict], None] = lambda manifest: None) -> Path:
    """Write `files` anew (never through a hard link), list them with their sha256 and size, apply `change`."""
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, data in files.items():
        path = folder / name
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    change(manifest)
    write_manifest(folder, manifest)
    return folder


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).unlink()  # a hard link into the shared lite bundle
    (folder / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture()
def bundle(lite_bundle, tmp_path) -> Path:
    return linked_copy(lite_bundle, tmp_path / "bundle")


@pytest.fixture()
def bundles_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VISUALLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VISUALLENS_BUNDLES", str(tmp_path / "bundles"))
    return tmp_path / "bundles"


def models(*args: object):
    return runner.invoke(models_app, [str(a) for a in args])


def one_line(text: str) -> str:
    return " ".join(text.split())


def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


# -- tiny ONNX models -------------------------------------------------------------------------------------------
def image_model(width: int = 384, blowup: int = 0) -> bytes:
    """An image encoder [batch, 3, H, W] -> `embedding` [batch, width] (the mean colour, widened); with `blowup` = k
    it first fills a buffer of batch**k floats: 2**k at the probe's two pictures, 4**k for a batch of four photos."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    pixels = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    embedding = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", "dim"])
    initializers = [numpy_helper.from_array(np.ones((3, width), np.float32), "w")]
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["mean"], axes=[2, 3], keepdims=0),
             helper.make_node("MatMul", ["mean", "w"], ["widened"])]
    if blowup:
        initializers += [numpy_helper.from_array(np.array([0], np.int64), "first"),
                         numpy_helper.from_array(np.array(blowup, np.int64), "k"),
                         numpy_helper.from_array(np.array(0, np.float32), "zero")]
        nodes += [helper.make_node("Shape", ["pixel_values"], ["shape"]),
                  helper.make_node("Gather", ["shape", "first"], ["batch"]),
                  helper.make_node("Pow", ["batch", "k"], ["count"]),
                  helper.make_node("ConstantOfShape", ["count"], ["buffer"],
                                   value=numpy_helper.from_array(np.ones(1, np.float32))),
                  helper.make_node("ReduceSum", ["buffer"], ["sum"], keepdims=0),
                  helper.make_node("Mul", ["sum", "zero"], ["nothing"]),
                  helper.make_node("Add", ["widened", "nothing"], ["embedding"])]
    else:  # a reshape to [batch, -1] computed at run time: ONNX Runtime cannot tell the width before running it
        initializers += [numpy_helper.from_array(np.array([0], np.int64), "first"),
                         numpy_helper.from_array(np.array([-1], np.int64), "rest")]
        nodes += [helper.make_node("Shape", ["pixel_values"], ["shape"]),
                  helper.make_node("Gather", ["shape", "first"], ["batch"]),
                  helper.make_node("Concat", ["batch", "rest"], ["rows"], axis=0),
                  helper.make_node("Reshape", ["widened", "rows"], ["embedding"])]
    graph = helper.make_graph(nodes, "image", [pixels], [embedding], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def text_model(length: int | str) -> bytes:
    """A text encoder `input_ids` [batch, length] -> `embedding` [batch, 384]."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", length])
    embedding = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 384])
    nodes = [helper.make_node("Cast", ["input_ids"], ["ids"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["ids"], ["mean"], axes=[1], keepdims=1),
             helper.make_node("MatMul", ["mean", "w"], ["embedding"])]
    weights = numpy_helper.from_array(np.ones((1, 384), np.float32), "w")
    graph = helper.make_graph(nodes, "text", [ids], [embedding], [weights])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def only_embedding(manifest: dict) -> None:
    """The image encoder declares just `embedding` (the stand-in model has no label_probs or visual output)."""
    manifest["image_encoder"]["outputs"] = [{"name": "embedding", "shape": ["batch", 384], "dtype": "float32"}]


# -- every named file is a regular file inside the bundle --------------------------------------------------------
def test_a_describer_file_outside_the_bundle_is_refused(bundle, tmp_path):
    """Was: the describer's files were not checked at all; an absolute path loaded and the engine opened it."""
    outside = tmp_path / "outside.npy"
    shutil.copy(bundle / "vocabulary.npy", outside)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["describer"]["vectors"] = str(outside)
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match=f"^{outside}: referenced by the manifest but has no checksum entry$"):
        load_bundle(bundle, verify_checksums=True)
    manifest["files"][str(outside)] = manifest["files"]["vocabulary.npy"]
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="manifest.json: `files` lists .*outside.npy'?, which is not a file name"):
        load_bundle(bundle)


def test_a_symlinked_file_is_refused_even_with_the_right_checksum(bundle, tmp_path):
    """Was: a link to any file with the listed checksum loaded, and `models list --verify` said verified."""
    outside = tmp_path / "elsewhere" / "image_encoder.onnx"
    outside.parent.mkdir()
    os.replace(bundle / "image_encoder.onnx", outside)
    (bundle / "image_encoder.onnx").symlink_to(outside)
    with pytest.raises(BundleError) as refused:
        load_bundle(bundle, verify_checksums=True)
    assert str(refused.value) == (
        f"{bundle / 'image_encoder.onnx'}: is a symbolic link; a bundle's files must be inside its folder")


def test_a_symlinked_folder_on_the_way_to_a_file_is_refused(bundle, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(bundle / "vocabulary.npy", outside / "vocabulary.npy")
    (bundle / "words").symlink_to(outside, target_is_directory=True)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"]["words/vocabulary.npy"] = manifest["files"].pop("vocabulary.npy")
    manifest["describer"]["vectors"] = "words/vocabulary.npy"
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match=f"^{bundle / 'words'}: is a symbolic link"):
        load_bundle(bundle, verify_checksums=False)


def test_a_fifo_named_by_the_manifest_is_not_read(bundle):
    os.mkfifo(bundle / "pipe")
    replace(bundle, {}, lambda m: m["files"].update(pipe={"sha256": "0" * 64}))
    with pytest.raises(BundleError, match=f"^{bundle / 'pipe'}: is not a regular file$"):
        load_bundle(bundle, verify_checksums=True)  # would block on open() if it were read


def test_file_sizes_are_bounded(bundle):
    """Was: a file without `bytes` was hashed whatever its size, and any size passed without checksums."""
    sparse(bundle / "huge.bin", TOO_BIG)
    replace(bundle, {}, lambda m: m["files"].update({"huge.bin": {"sha256": "0" * 64}}))
    with pytest.raises(BundleError, match=f"^{bundle / 'huge.bin'}: {TOO_BIG} bytes, over the limit"):
        load_bundle(bundle, verify_checksums=False)
    replace(bundle, {}, lambda m: m["files"].update({"huge.bin": {"sha256": "0" * 64, "bytes": TOO_BIG}}))
    with pytest.raises(BundleError, match=r"manifest\.json: `files` entry 'huge.bin' is \d+ bytes, over the limit"):
        load_bundle(bundle, verify_checksums=False)
    third = MAX_BUNDLE_BYTES // 3 + 1
    replace(bundle, {}, lambda m: m["files"].update(
        {f"part{i}": {"sha256": "0" * 64, "bytes": third} for i in range(3)} | {"huge.bin": {"sha256": "0" * 64}}))
    with pytest.raises(BundleError, match=r"manifest\.json: the files add up to more than the limit"):
        load_bundle(bundle, verify_checksums=False)


# -- installs copy folders and regular files only, within the limits ----------------------------------------------
def assert_nothing_installed(bundles: Path) -> None:
    assert not bundles.exists() or [p.name for p in bundles.iterdir()] == []


def test_a_folder_install_does_not_follow_links(bundles_dir, bundle, tmp_path):
    """Was: copied through the link (a link to /dev/zero filled the disk; here: a secret from elsewhere)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of any bundle")
    (bundle / "notes.txt").symlink_to(secret)
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5, result.output
    assert one_line(result.output) == (
        f"error: {bundle / 'notes.txt'}: is a symbolic link; a bundle holds only folders and regular files")
    assert_nothing_installed(bundles_dir)


def test_a_folder_install_refuses_a_fifo_without_waiting_on_it(bundles_dir, bundle):
    """Was: shutil.copytree's error list (exit 1); opening the FIFO to copy it would block forever."""
    os.mkfifo(bundle / "pipe")
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5 and f"{bundle / 'pipe'}: is a FIFO;" in one_line(result.output)
    assert_nothing_installed(bundles_dir)


def test_a_folder_install_is_bounded_in_file_size_and_count(bundles_dir, bundle):
    """Refused before a byte is copied: a 4 GiB sparse file would otherwise be written out in full."""
    sparse(bundle / "huge.bin", TOO_BIG)
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5
    assert f"{bundle / 'huge.bin'}: {TOO_BIG} bytes, over the limit" in one_line(result.output)
    (bundle / "huge.bin").unlink()
    many = bundle / "many"
    many.mkdir()
    for i in range(MAX_ENTRIES):
        (many / str(i)).touch()
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5 and f"more than {MAX_ENTRIES} files and folders" in result.output
    assert_nothing_installed(bundles_dir)


def test_archive_members_are_bounded(bundles_dir, tmp_path):
    huge = tmp_path / "huge.tar"
    with tarfile.open(huge, "w") as tf:  # the header claims more than the limit; no data is needed to refuse it
        member = tarfile.TarInfo("lite/image_encoder.onnx")
        member.size = TOO_BIG
        tf.addfile(member)
    result = models("install", "hostile", "--from", huge)
    assert result.exit_code == 5, result.output
    assert f"{huge}:lite/image_encoder.onnx: {TOO_BIG} bytes, over the limit" in one_line(result.output)

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(MAX_ENTRIES + 1):
            zf.writestr(f"lite/{i}", b"")
    result = models("install", "hostile", "--from", many)
    assert result.exit_code == 5 and f"more than {MAX_ENTRIES} members" in result.output

    linked = tmp_path / "linked.zip"
    with zipfile.ZipFile(linked, "w") as zf:
        link = zipfile.ZipInfo("lite/notes.txt")
        link.external_attr = 0o120777 << 16  # a symbolic link, as Info-ZIP stores one
        zf.writestr(link, "/etc/passwd")
    result = models("install", "hostile", "--from", linked)
    assert result.exit_code == 5 and "member lite/notes.txt is not a regular file or folder" in one_line(result.output)
    assert_nothing_installed(bundles_dir)


def test_an_outside_file_is_refused_at_install_and_by_list_verify(bundles_dir, bundle, tmp_path):
    outside = tmp_path / "outside.npy"
    shutil.copy(bundle / "vocabulary.npy", outside)
    replace(bundle, {}, lambda m: m["describer"].update(vectors=str(outside)))
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5
    assert f"{outside}: referenced by the manifest but has no checksum entry" in one_line(result.output)
    assert_nothing_installed(bundles_dir)

    replace(bundle, {}, lambda m: m["describer"].update(vectors="vocabulary.npy"))
    assert models("install", "hostile", "--from", bundle).exit_code == 0
    installed = bundles_dir / "hostile" / "vocabulary.npy"
    os.replace(installed, outside)
    installed.symlink_to(outside)  # checksum-valid, and outside the bundle
    listed = models("list", "--verify")
    assert listed.exit_code == 5
    assert one_line(listed.stderr) == (
        f"error: {installed}: is a symbolic link; a bundle's files must be inside its folder")
    assert models("list").exit_code == 0  # listing without --verify reports, as before, and succeeds


# -- the models run, with the widths and inputs the manifest declares, or are refused naming them --------------
def test_an_input_size_other_than_the_preprocessing_makes_is_refused_at_load(bundle):
    """Was: an ONNX Runtime InvalidArgument traceback from every indexing lane."""
    declared = json.loads((bundle / MANIFEST).read_text())["image_encoder"]["inputs"][0]["shape"]
    size = declared[-1] + 32
    replace(bundle, {}, lambda m: m["image_encoder"]["preprocess"].update(image_size=size, resize_size=size))
    with pytest.raises(BundleError) as refused:
        ImageEncoder(load_bundle(bundle), provider="cpu")
    assert str(refused.value) == (
        f"{bundle / 'image_encoder.onnx'}: input 'pixel_values' has shape ['batch', 3, {declared[2]}, {declared[3]}], "
        f"but the manifest's preprocessing makes [batch, 3, {size}, {size}]")


def test_vectors_of_another_width_than_declared_are_refused_at_load(bundle):
    """The graph leaves the width open, so only running it shows 512 columns where the manifest says 384."""
    replace(bundle, {"image_encoder.onnx": image_model(width=512)}, only_embedding)
    with pytest.raises(BundleError) as refused:
        ImageEncoder(load_bundle(bundle), provider="cpu")
    assert str(refused.value) == (
        f"{bundle / 'image_encoder.onnx'}: output 'embedding' has shape [2, 512] for 2 inputs, expected [2, 384]")
    replace(bundle, {"image_encoder.onnx": image_model(width=384)})
    encoder = ImageEncoder(load_bundle(bundle), provider="cpu")
    assert encoder.encode(np.zeros((3, 3, 8, 8), np.float32)).embeddings.shape == (3, 384)


def test_a_fixed_text_length_must_be_what_the_tokenizer_pads_to(bundle):
    def fixed_length(padding: str | None, max_length: int) -> Callable[[dict], None]:
        def change(m: dict) -> None:
            m["text_encoder"]["inputs"] = [{"name": "input_ids", "shape": ["batch", "sequence"], "dtype": "int64"}]
            m["text_encoder"].update(max_length=max_length)
            m["text_encoder"].pop("padding", None)
            if padding:
                m["text_encoder"].update(padding=padding, pad_id=0)
        return change

    replace(bundle, {"text_encoder.onnx": text_model(16)}, fixed_length(None, 16))
    with pytest.raises(BundleError, match=r"text_encoder\.onnx: input 'input_ids' has shape \['batch', 16\], but the "
                                          r"tokenizer makes \[batch, longest\]"):
        TextEncoder(load_bundle(bundle), provider="cpu")
    replace(bundle, {}, fixed_length("max_length", 16))
    assert TextEncoder(load_bundle(bundle), provider="cpu").encode(["a cat"]).shape == (1, 384)


def test_a_model_taking_an_input_the_manifest_does_not_declare_is_refused(bundle):
    """Was: ValueError from ONNX Runtime's input check at the first run, which the CLI reported as bad input (6)."""
    replace(bundle, {"text_encoder.onnx": text_model("sequence")},
            lambda m: m["text_encoder"].update(inputs=[{"name": "attention_mask", "shape": ["batch", "sequence"]}]))
    with pytest.raises(BundleError, match=r"text_encoder\.onnx: the model takes inputs \['input_ids'\] the manifest "
                                          r"does not declare"):
        TextEncoder(load_bundle(bundle), provider="cpu")


def test_install_runs_the_models_once_before_placing_the_bundle(bundles_dir, bundle):
    """A checksum-valid bundle that cannot make its declared vectors does not replace anything."""
    replace(bundle, {"image_encoder.onnx": image_model(width=512)}, only_embedding)
    result = models("install", "hostile", "--from", bundle)
    assert result.exit_code == 5
    assert one_line(result.output) == (
        f"error: {bundle / 'image_encoder.onnx'}: output 'embedding' has shape [2, 512] for 2 inputs, "
        "expected [2, 384]")
    assert_nothing_installed(bundles_dir)


@pytest.mark.parametrize("blowup, when", [(40, "when it opens"), (25, "on a batch of photos")])
def test_a_model_asking_for_terabytes_is_a_bundle_error_during_index(bundle, photo_dir, tmp_path, blowup, when):
    """Was an ONNX Runtime traceback from `index`. The probe at load asks for 2**40 floats (4 TiB) and fails; with
    2**25 (128 MiB) it passes, and the first batch of four photos asks for 4**25 (4 PiB) mid-index. The CLI runs
    under the fuzz suite's address-space limit, so no allocation can succeed whatever the machine."""
    replace(bundle, {"image_encoder.onnx": image_model(blowup=blowup)}, only_embedding)
    (tmp_path / "bundles").mkdir()
    os.replace(bundle, tmp_path / "bundles" / "hostile")
    env = {**os.environ, "VISUALLENS_HOME": str(tmp_path / "home"), "VISUALLENS_BUNDLES": str(tmp_path / "bundles"),
           "VISUALLENS_PASSPHRASE": PASS}
    assert_clean(run_cli(env, "init", "--no-keyring", "--bundle", "hostile"), {0})
    indexed = run_cli(env, "index", photo_dir)
    assert_clean(indexed, {5}, when)
    [line] = [line for line in indexed.stderr.splitlines() if not line.startswith("Indexing ")]  # the progress bar
    model = tmp_path / "bundles" / "hostile" / "image_encoder.onnx"
    assert line.startswith(f"error: {model}: ONNX Runtime failed running it (") and "allocate" in line, line


def test_runtime_errors_of_a_session_name_the_model(lite_bundle):
    """`ModelSession.run` turns ONNX Runtime's failures into BundleErrors (here: a picture of the wrong size)."""
    encoder = ImageEncoder(load_bundle(lite_bundle), provider="cpu")
    with pytest.raises(BundleError, match=r"image_encoder\.onnx: ONNX Runtime failed running it \(.*dimensions"):
        encoder.encode_lane(np.zeros((1, 3, 7, 7), np.float32))


def test_the_real_bundle_installs_and_lists_as_verified(bundles_dir, lite_bundle):
    result = models("install", "lite", "--from", lite_bundle)
    assert result.exit_code == 0, result.output
    listed = models("list", "--verify")
    assert listed.exit_code == 0 and "ok, verified" in listed.output


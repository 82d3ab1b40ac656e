"""A model bundle change re-encodes photo by photo and loses nothing; the `visual` output is stored per photo.

Bundle B is the real lite bundle with a `visual` output added to its image encoder graph (and another version):
what a rebuilt bundle is to a profile indexed with the previous one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.api import BundleMismatchError, initialise, unlock
from engine.cli import app
from engine.home import Home
from engine.imaging.preprocess import load_tensor
from engine.models.bundle import BundleError, load_bundle
from engine.models.encoders import ImageBatchOutput, ImageEncoder
from tests.engine.fault_tools import make_photos
from tests.engine.visual_bundle import bundle_with_visual_output

PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def visual_bundle(lite_bundle, tmp_path_factory) -> Path:
    return bundle_with_visual_output(lite_bundle, tmp_path_factory.mktemp("bundles") / "lite-visual")


@pytest.fixture()
def library(home, photo_dir, tmp_path) -> Path:
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    return folder


def use_bundle(path: Path) -> None:
    """Serve the profile with the bundle at `path` from now on, as `visuallens init --bundle` or the desktop's
    settings would."""
    home = Home.default()
    settings = home.load_settings()
    settings.bundle = str(path)
    home.save_settings(settings)


def profiles(lens) -> dict[str, object]:
    return {p.path: p for p in lens.store.profiles(lens.photo_paths())}


def test_a_bundle_change_re_encodes_every_photo_and_deletes_nothing(library, visual_bundle):
    with unlock(Home.default()) as lens:
        assert lens.index([library]).added == 4
        before = profiles(lens)
        ids_before, _, _ = lens.store.load_matrix()
        assert all(p.visual_or_vector().shape == (lens.bundle.visual_dim,) for p in before.values())

    use_bundle(visual_bundle)
    with unlock(Home.default()) as lens:
        assert lens.status()["reencode_pending"] == 4
        with pytest.raises(BundleMismatchError, match="encoded with another model bundle .*: run `visuallens index`"):
            lens.search("a cat")
        progress = []
        report = lens.index([library], progress=progress.append)

        assert (report.reencoded, report.decoded, report.added, report.updated, report.unchanged, report.removed,
                report.failed) == (4, 4, 0, 0, 0, 0, [])
        assert (progress[-1].done, progress[-1].total) == (4, 4)
        after = profiles(lens)
        assert after.keys() == before.keys() and lens.status()["reencode_pending"] == 0
        assert list(lens.store.load_matrix()[0]) == list(ids_before)  # the rows were replaced in place
        encoder = lens.image_encoder
        for path, profile in after.items():
            assert profile.encoded_with == lens.bundle.identity != before[path].encoded_with
            assert profile.caption == before[path].caption  # the same describer: the same words
            expected = encoder.encode_lane(load_tensor(path, encoder.spec)[None])
            np.testing.assert_allclose(profile.visual_vector, expected.visual[0], atol=1e-5)
            assert profile.visual_vector.shape == (lens.bundle.visual_dim,)
            np.testing.assert_allclose(profile.vector, expected.embeddings[0], atol=1e-5)
        assert os.path.basename(lens.search("a cat", k=4)[0].path) == "chelsea.png"
        assert lens.store.words_without_vectors() == []  # the new text encoder's word vectors are all in
        assert lens.index([library]).reencoded == 0


def test_an_interrupted_re_encode_serves_the_current_photos_and_the_next_run_finishes(home, tmp_path, visual_bundle):
    library = tmp_path / "library"
    make_photos(library, 20)
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([library])
        batch = lens.image_encoder.batch_size

    use_bundle(visual_bundle)
    with unlock(Home.default()) as lens:
        calls = iter(range(100))
        report = lens.index([library], should_stop=lambda: next(calls) >= 1)  # stop after the first batch
        assert report.reencoded == batch and report.removed == 0
        assert lens.store.count() == 20 and lens.status()["reencode_pending"] == 20 - batch  # old and new rows
        current = {p for p, profile in profiles(lens).items() if profile.encoded_with == lens.bundle.identity}
        assert len(current) == batch
        assert {hit.path for hit in lens.search("a photo", k=20)} == current  # other vectors are not comparable

        report = lens.index([library])
        assert (report.reencoded, report.unchanged, report.added) == (20 - batch, batch, 0)
        assert lens.status()["reencode_pending"] == 0 and len(lens.search("a photo", k=20)) == 20


def test_photos_of_an_unmounted_folder_keep_their_profile_and_wait_to_be_re_encoded(library, tmp_path, visual_bundle):
    drive, unplugged = tmp_path / "drive", tmp_path / "unplugged"
    make_photos(drive, 3, prefix="d")
    with unlock(Home.default()) as lens:
        lens.index([library, drive])
        on_drive = {p for p in lens.photo_paths() if p.startswith(str(drive))}
    assert len(on_drive) == 3
    drive.rename(unplugged)  # the mount point stays, empty
    drive.mkdir()

    use_bundle(visual_bundle)
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", str(library), str(drive)])
    assert indexed.exit_code == 0, indexed.output
    assert "4 re-encoded for the new model bundle" in " ".join(indexed.output.split())
    with unlock(Home.default()) as lens:
        assert lens.store.count() == 7 and lens.status()["reencode_pending"] == 3
        assert not on_drive & {hit.path for hit in lens.search("a photo", k=10)}
        assert all(p.encoded_with != lens.bundle.identity for p in lens.store.profiles(sorted(on_drive)))
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    shown = " ".join(status.output.split())
    assert "reencode pending" in shown and "3 photos were encoded with another model bundle" in shown

    drive.rmdir()
    unplugged.rename(drive)  # plugged in again: same files, same size and mtime
    with unlock(Home.default()) as lens:
        report = lens.index([library, drive])
        assert (report.reencoded, report.unchanged, report.removed) == (3, 4, 0)
        assert lens.status()["reencode_pending"] == 0
        assert on_drive <= {hit.path for hit in lens.search("a photo", k=10)}


def test_encoding_split_over_lanes_keeps_the_visual_rows_in_order(visual_bundle, photo_dir):
    encoder = ImageEncoder(load_bundle(visual_bundle), provider="cpu", threads=3)
    batch = np.stack([load_tensor(p, encoder.spec) for p in sorted(photo_dir.iterdir())] * 2)
    split, whole = encoder.encode(batch), encoder.encode_lane(batch)
    assert split.visual.shape == (len(batch), encoder.visual_dim)
    np.testing.assert_allclose(split.visual, whole.visual, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(split.visual, axis=1), 1.0, atol=1e-5)
    assert split.visual_or_embeddings() is split.visual


def test_without_a_visual_output_the_embeddings_serve_as_visual_vectors():
    parts = [ImageBatchOutput(np.ones((2, 3)), None), ImageBatchOutput(np.zeros((1, 3)), None)]
    joined = ImageBatchOutput.concatenate(parts)
    assert (joined.visual, joined.label_probs, joined.embeddings.shape) == (None, None, (3, 3))
    assert joined.visual_or_embeddings() is joined.embeddings


def test_an_undeclared_visual_output_is_refused(visual_bundle, tmp_path):
    copy = bundle_with_visual_output(visual_bundle, tmp_path / "undeclared")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["image_encoder"]["outputs"] = [o for o in manifest["image_encoder"]["outputs"] if o["name"] != "visual"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"image_encoder\.onnx: the model has a `visual` output the manifest does not"):
        ImageEncoder(load_bundle(copy), provider="cpu")

"""Model bundle manifests mutated from the real one: `load_bundle` returns a bundle whose properties all work or
raises one `BundleError`; the CLI over such a bundle reports it (`status` exits 0 naming it, `search` exits 5)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.models.bundle import MANIFEST, BundleError, load_bundle
from tests.fuzz.harness import Profile, assert_clean, assert_profile_intact, fuzz_settings, run_cli
from tests.fuzz.strategies import Brief, mutated_json_bytes

pytestmark = pytest.mark.fuzz


@dataclass(frozen=True)
class StandIn(Brief):
    """The real manifest over small stand-in files (checksums recomputed): validation reads no 150 MB per example."""

    files: Path
    manifest: dict

    def __repr__(self) -> str:
        return f"StandIn({self.files})"


@pytest.fixture(scope="module")
def stand_in(lite_bundle: Path, tmp_path_factory) -> StandIn:
    folder = tmp_path_factory.mktemp("stand-in")
    manifest = json.loads((lite_bundle / MANIFEST).read_text())
    for name, meta in manifest["files"].items():
        data = f"stand-in for {name}".encode()
        (folder / name).write_bytes(data)
        meta.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    load_bundle(_with_manifest(folder, json.dumps(manifest).encode(), tmp_path_factory.mktemp("check")))  # valid
    return StandIn(folder, manifest)


def link_or_copy(source: str | Path, dest: str | Path) -> None:
    """A hard link (fast), or a copy across file systems."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _with_manifest(files: Path, manifest: bytes, into: Path | None = None) -> Path:
    """A bundle folder of hard links to `files` (a bundle's files cannot be symlinks) and this manifest."""
    into = into or Path(tempfile.mkdtemp(prefix="bundle-"))
    for source in files.iterdir():
        if source.name != MANIFEST:
            link_or_copy(source.resolve(), into / source.name)
    (into / MANIFEST).write_bytes(manifest)
    return into


@fuzz_settings(examples=300)
@given(data=st.data(), verify=st.booleans())
def test_mutated_manifests_load_whole_or_raise_bundle_error(stand_in: StandIn, data: st.DataObject, verify: bool):
    folder = _with_manifest(stand_in.files, data.draw(mutated_json_bytes(stand_in.manifest), label="manifest.json"))
    try:
        bundle = load_bundle(folder, verify_checksums=verify)
    except BundleError as error:
        assert "\n" not in str(error), str(error)
        return
    finally:
        shutil.rmtree(folder)
    assert isinstance(bundle.name, str) and isinstance(bundle.version, str) and bundle.identity
    assert bundle.embedding_dim > 0 and bundle.visual_dim > 0
    similarity = bundle.manifest.image_encoder.evidence_similarity
    assert similarity is None or isinstance(similarity, float)


@fuzz_settings(examples=6, subprocess_per_example=True)
@given(data=st.data())
def test_the_cli_names_a_broken_bundle(scratch_profile: Profile, lite_bundle: Path, data: st.DataObject):
    bundles = Path(scratch_profile.env["VISUALLENS_BUNDLES"])
    manifest = json.loads((lite_bundle / MANIFEST).read_text())
    shutil.rmtree(bundles / "fuzzed", ignore_errors=True)
    (bundles / "fuzzed").mkdir()
    _with_manifest(lite_bundle, data.draw(mutated_json_bytes(manifest), label="manifest.json"), bundles / "fuzzed")
    settings_path = scratch_profile.home / "settings.json"
    real = settings_path.read_bytes()
    settings_path.write_text(json.dumps({**json.loads(real), "bundle": "fuzzed"}))
    try:
        status = run_cli(scratch_profile.env, "status", "--json")
        search = run_cli(scratch_profile.env, "search", "a cat", "--json")
    finally:
        settings_path.write_bytes(real)
    assert_clean(status, {0})
    assert_clean(search, {0, 5})
    assert json.loads(status.stdout)["photos"] >= len(scratch_profile.baseline)
    if search.returncode == 5:  # the bundle is broken, or is another one than the photos were encoded with
        assert len(search.stderr.strip().splitlines()) == 1, search.stderr


def test_the_profile_opens_with_its_real_bundle(scratch_profile: Profile):
    assert_profile_intact(scratch_profile)

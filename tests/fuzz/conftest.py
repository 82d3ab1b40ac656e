"""Fixtures of the fuzz suite: one profile with real photos indexed before any fuzzing, and copies of it for the
tests that break its key file or its model bundle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.engine.fault_tools import make_photos
from tests.fuzz.harness import PASS, Profile, assert_clean, run_cli


def _env(root: Path, bundles: Path) -> dict[str, str]:
    return {**os.environ, "VISUALLENS_HOME": str(root / "home"), "VISUALLENS_BUNDLES": str(bundles),
            "VISUALLENS_PASSPHRASE": PASS, "VISUALLENS_CONFIG": str(root / "config")}


@pytest.fixture(scope="session")
def fuzz_profile(tmp_path_factory, lite_bundle, photo_dir) -> Profile:
    """A profile that indexed the sample photos and a dozen more through the CLI; fuzz tests add to it."""
    root = tmp_path_factory.mktemp("fuzz-profile")
    bundles = root / "bundles"
    bundles.mkdir()
    (bundles / "lite").symlink_to(lite_bundle, target_is_directory=True)
    env = _env(root, bundles)
    library = root / "library"
    shutil.copytree(photo_dir, library)
    make_photos(library / "more", 12)
    assert_clean(run_cli(env, "init", "--no-keyring"), {0})
    indexed = run_cli(env, "index", library, "--json")
    assert_clean(indexed, {0})
    report = json.loads(indexed.stdout)
    assert report["added"] == 16 and report["failed"] == [], report
    baseline = frozenset(str(p) for p in library.rglob("*") if p.is_file())
    return Profile(env=env, baseline=baseline)


@pytest.fixture(scope="module")
def scratch_profile(fuzz_profile, tmp_path_factory) -> Profile:
    """A copy of the fuzz profile (same photos, same passphrase) with its own data dir and bundles dir."""
    root = tmp_path_factory.mktemp("scratch-profile")
    shutil.copytree(fuzz_profile.home, root / "home")
    bundles = root / "bundles"
    shutil.copytree(Path(fuzz_profile.env["VISUALLENS_BUNDLES"]), bundles, symlinks=True)
    return Profile(env=_env(root, bundles), baseline=fuzz_profile.baseline)

"""`visuallens models`: list, install (folder, archive, build), remove, checksum refusal, active-bundle protection."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.models import models_app
from engine.home import Home
from engine.models import install
from engine.models.bundle import load_bundle

runner = CliRunner()


@pytest.fixture()
def dirs(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """An empty data dir and bundles dir (nothing installed yet)."""
    home, bundles = tmp_path / "home", tmp_path / "bundles"
    monkeypatch.setenv("VISUALLENS_HOME", str(home))
    monkeypatch.setenv("VISUALLENS_BUNDLES", str(bundles))
    return home, bundles


def models(*args: str):
    return runner.invoke(models_app, list(args))


def linked_copy(bundle: Path, dest: Path) -> Path:
    """A copy of a bundle whose files are hard links (fast); replace a file with `rewrite` before changing it."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(bundle, dest, copy_function=link)
    return dest


def rewrite(path: Path, data: bytes) -> None:
    """Write a file anew (never through a hard link into the shared bundle)."""
    path.unlink()
    path.write_bytes(data)


def listing() -> list[dict]:
    result = models("list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def leftovers(bundles: Path) -> list[str]:
    return sorted(p.name for p in bundles.iterdir() if p.name.startswith(".")) if bundles.exists() else []


def test_install_from_a_folder_verifies_copies_and_lists_it_as_active(dirs, lite_bundle):
    _, bundles = dirs
    assert models("list").output.startswith("No model bundles")
    result = models("install", "lite", "--from", str(lite_bundle))
    assert result.exit_code == 0, result.output
    assert "sha256 verified" in result.output
    installed = bundles / "lite"
    assert installed.is_dir() and not installed.is_symlink()
    load_bundle(installed, verify_checksums=True)
    [entry] = listing()
    manifest = json.loads((lite_bundle / "manifest.json").read_text())
    expected_bytes = sum(f["bytes"] for f in manifest["files"].values()) + (lite_bundle / "manifest.json").stat().st_size
    assert entry == {"name": "lite", "path": str(installed), "version": manifest["version"], "bytes": expected_bytes,
                     "ranker": True, "active": True, "error": None}
    table = models("list", "--verify").output
    assert "lite" in table and "*" in table and "ok, verified" in table
    assert leftovers(bundles) == []


def test_install_from_archives_under_another_name(dirs, lite_bundle, tmp_path):
    _, bundles = dirs
    tar_path = tmp_path / "lite.tar"
    with tarfile.open(tar_path, "w") as tf:  # the archive's single top folder holds the bundle
        tf.add(lite_bundle, arcname="lite-2026")
    zip_path = tmp_path / "flat.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as zf:  # files at the archive's top level
        for file in lite_bundle.iterdir():
            zf.write(file, file.name)
    assert models("install", "clip", "--from", str(tar_path)).exit_code == 0
    assert models("install", "flat", "--from", str(zip_path)).exit_code == 0
    entries = {e["name"]: e for e in listing()}
    assert set(entries) == {"clip", "flat"}
    assert not any(e["active"] for e in entries.values())  # the profile uses `lite`, which is not installed
    for name in entries:
        load_bundle(bundles / name, verify_checksums=True)
    assert leftovers(bundles) == []


def test_a_corrupt_file_is_refused_naming_it_and_nothing_is_installed(dirs, lite_bundle, tmp_path):
    _, bundles = dirs
    broken = linked_copy(lite_bundle, tmp_path / "broken")
    vocabulary = bytearray((broken / "vocabulary.json").read_bytes())
    vocabulary[100] ^= 0x20  # same size, other content
    rewrite(broken / "vocabulary.json", bytes(vocabulary))
    result = models("install", "lite", "--from", str(broken))
    assert result.exit_code == 5
    assert f"{broken / 'vocabulary.json'}: sha256 does not match" in " ".join(result.output.split())
    assert not (bundles / "lite").exists() and leftovers(bundles) == []

    rewrite(broken / "vocabulary.json", bytes(vocabulary[:-10]))  # truncated
    result = models("install", "lite", "--from", str(broken))
    assert result.exit_code == 5 and "size does not match" in result.output


def test_a_corrupt_archive_is_refused_naming_the_member(dirs, lite_bundle, tmp_path):
    _, bundles = dirs
    broken = linked_copy(lite_bundle, tmp_path / "broken")
    rewrite(broken / "tokenizer.json", b"{}")
    archive = tmp_path / "broken.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(broken, arcname="lite")
    result = models("install", "lite", "--from", str(archive))
    assert result.exit_code == 5
    assert f"{archive}:lite/tokenizer.json" in " ".join(result.output.split())

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: 50_000])
    assert models("install", "lite", "--from", str(truncated)).exit_code == 5

    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as zf:
        zf.writestr("../outside.txt", "x")
    result = models("install", "lite", "--from", str(escaping))
    assert result.exit_code == 5 and "outside the bundle folder" in result.output
    assert not (tmp_path / "outside.txt").exists()
    assert not (bundles / "lite").exists() and leftovers(bundles) == []


def test_install_over_an_installed_bundle_needs_force(dirs, lite_bundle, tmp_path):
    _, bundles = dirs
    assert models("install", "lite", "--from", str(lite_bundle)).exit_code == 0
    newer = linked_copy(lite_bundle, tmp_path / "newer")
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["version"] = "2099.1.1"
    rewrite(newer / "manifest.json", json.dumps(manifest).encode())
    result = models("install", "lite", "--from", str(newer))
    assert result.exit_code == 1 and "--force" in result.output
    assert listing()[0]["version"] != "2099.1.1"
    assert models("install", "lite", "--from", str(newer), "--force").exit_code == 0
    assert listing()[0]["version"] == "2099.1.1"
    assert leftovers(bundles) == []
    assert models("install", "../escape", "--from", str(newer)).exit_code == 1


def test_remove_protects_the_active_bundle(dirs, lite_bundle, tmp_path):
    _, bundles = dirs
    assert models("install", "lite", "--from", str(lite_bundle)).exit_code == 0
    bundles_link = bundles / "mine"
    bundles_link.symlink_to(lite_bundle, target_is_directory=True)

    result = models("remove", "lite")
    assert result.exit_code == 1 and "active" in result.output
    assert (bundles / "lite").is_dir()

    assert models("remove", "mine").exit_code == 0  # not active: removed; a symlinked bundle loses only its link
    assert not bundles_link.exists() and (lite_bundle / "manifest.json").is_file()

    home_obj = Home.default()
    settings = home_obj.load_settings()
    settings.bundle = "other"
    home_obj.save_settings(settings)
    assert models("remove", "lite").exit_code == 0  # no longer active
    assert not (bundles / "lite").exists()

    assert models("install", "other", "--from", str(lite_bundle)).exit_code == 0
    assert models("remove", "other", "--force").exit_code == 0
    assert models("remove", "other").exit_code == 5  # not installed
    assert listing() == [] and leftovers(bundles) == []


def test_install_lite_without_the_export_extras_says_how_to_get_it(dirs, monkeypatch):
    _, bundles = dirs
    monkeypatch.setattr(install, "EXPORT_PACKAGES", ("export", "no_such_torch"))  # as if torch were not installed
    result = models("install", "lite")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "pip install 'visuallens[export]'" in text and "--from" in text and "bundles/lite" in text
    assert models("install", "clip").exit_code == 1
    assert not (bundles / "lite").exists()


def test_install_lite_builds_then_verifies_before_placing(dirs, lite_bundle, monkeypatch):
    """The export pipeline's command is replaced by one copying the prebuilt bundle (building takes minutes, see
    tests/export); it runs in its own process like the real one, and its result is verified before it is placed."""
    _, bundles = dirs
    copy = ("import shutil, sys; out = sys.argv[2]; shutil.copytree(sys.argv[1], out); "
            "sys.argv[3:] and open(out + '/tokenizer.json', 'w').write('{}')")
    corrupt = ["corrupt"]
    monkeypatch.setattr(install, "lite_build_command",
                        lambda out: [sys.executable, "-c", copy, str(lite_bundle), str(out), *corrupt])
    result = models("install", "lite")
    assert result.exit_code == 5 and "tokenizer.json" in result.output
    assert not (bundles / "lite").exists() and leftovers(bundles) == []
    corrupt.clear()
    assert models("install", "lite", "--json").exit_code == 0
    load_bundle(bundles / "lite", verify_checksums=True)
    assert leftovers(bundles) == []


def test_a_failed_lite_build_is_an_install_error_and_leaves_nothing(dirs, monkeypatch):
    _, bundles = dirs
    monkeypatch.setattr(install, "lite_build_command", lambda out: [sys.executable, "-c", "raise SystemExit(3)"])
    result = models("install", "lite")
    assert result.exit_code == 1 and "exit 3" in " ".join(result.output.split())
    assert not (bundles / "lite").exists() and leftovers(bundles) == []


def test_the_lite_build_command_is_the_export_cli():
    command = install.lite_build_command(Path("/x/lite"))
    assert command[1:] == ["-m", "export.cli", "bundle", "lite", "--out", "/x/lite"]

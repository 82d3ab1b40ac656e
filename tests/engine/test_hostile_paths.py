"""Paths a user (or a script) may hand over by mistake or by malice: an empty path, a pseudo-filesystem, a symlink
out of the library folder. None of them may turn a scan into a walk of the whole machine (issue #19, finding 8)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.api import initialise, unlock
from engine.home import Home
from engine.library import scan
from engine.library.scan import UnsuitablePathError, pseudo_filesystem, scan_folders
from tests.test_cli import vl

PASS = "correct horse battery staple"
posix_only = pytest.mark.skipif(os.name != "posix", reason="/proc, /sys and /dev are POSIX paths")


def make(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"photo bytes")
    return path


def names(folder: Path) -> list[str]:
    return [os.path.relpath(entry.path, folder) for entry in scan_folders([folder]).files]


# -- symlinks -------------------------------------------------------------------------------------------------
def test_links_out_of_the_scanned_folder_are_not_followed(tmp_path):
    photos, outside = tmp_path / "photos", tmp_path / "outside"
    make(photos / "mine.jpg")
    make(photos / "sub/deeper.jpg")
    make(outside / "theirs.jpg")
    make(outside / "nested/more.jpg")
    (photos / "to_outside").symlink_to(outside, target_is_directory=True)
    (photos / "file_outside.jpg").symlink_to(outside / "theirs.jpg")
    (photos / "to_root").symlink_to("/", target_is_directory=True)  # what /proc/self/root is
    (photos / "relative_up").symlink_to("../outside", target_is_directory=True)
    (photos / "sub/up_and_back").symlink_to("../../photos/sub", target_is_directory=True)  # stays inside: fine
    (photos / "inside.jpg").symlink_to(photos / "mine.jpg")  # a link within the folder is still followed
    result = scan_folders([photos])
    found = [os.path.relpath(entry.path, photos) for entry in result.files]
    assert found == ["inside.jpg", "mine.jpg", "sub/deeper.jpg"] and result.problems == []


def test_a_linked_top_folder_is_contained_in_its_target(tmp_path):
    real, outside = tmp_path / "real", tmp_path / "outside"
    make(real / "a.jpg")
    make(outside / "b.jpg")
    (real / "escape").symlink_to(outside, target_is_directory=True)
    (tmp_path / "Pictures").symlink_to(real, target_is_directory=True)  # ~/Pictures -> /data/pictures
    assert names(tmp_path / "Pictures") == ["a.jpg"]


def test_a_broken_link_pointing_out_is_left_out_and_one_inside_is_reported(tmp_path):
    make(tmp_path / "photos/ok.jpg")
    (tmp_path / "photos/gone_inside.jpg").symlink_to(tmp_path / "photos/missing.jpg")
    (tmp_path / "photos/gone_outside.jpg").symlink_to(tmp_path / "missing.jpg")
    result = scan_folders([tmp_path / "photos"])
    assert [Path(p.path).name for p in result.problems] == ["gone_inside.jpg"]


def test_index_no_longer_keeps_photos_reached_through_a_link_out_of_the_library(home, photo_dir, tmp_path):
    library, outside = tmp_path / "Pictures", tmp_path / "outside"
    shutil.copytree(photo_dir, library)
    outside.mkdir()
    shutil.copy(photo_dir / "coffee.jpg", outside / "neighbour.jpg")
    (library / "shared").symlink_to(outside, target_is_directory=True)
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    with unlock(Home.default()) as lens:
        assert lens.index([library]).added == 4
        assert not any("neighbour" in path for path in lens.photo_paths())


# -- pseudo-filesystems ---------------------------------------------------------------------------------------
@posix_only
@pytest.mark.parametrize("path", ["/proc", "/proc/self", "/sys", "/dev", "/dev/shm"])
def test_pseudo_filesystems_are_recognised(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    assert pseudo_filesystem(path) is not None


def test_ordinary_folders_are_not_pseudo_filesystems(tmp_path):
    assert pseudo_filesystem(str(tmp_path)) is None and pseudo_filesystem(str(Path.home())) is None


@posix_only
def test_a_link_into_a_pseudo_filesystem_is_recognised(tmp_path):
    (tmp_path / "innocent").symlink_to("/proc", target_is_directory=True)
    assert pseudo_filesystem(str(tmp_path / "innocent")) == "/proc"


def test_mounts_of_pseudo_types_come_from_the_mount_table(tmp_path, monkeypatch):
    table = tmp_path / "mounts"
    table.write_text("proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n"
                     "sysfs /srv/odd\\040place sysfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n")
    monkeypatch.setattr(scan, "MOUNT_TABLE", str(table))
    assert pseudo_filesystem("/srv/odd place/kernel") == "/srv/odd place"
    assert pseudo_filesystem("/run/user/photos") is None


def test_a_scan_does_not_enter_a_pseudo_mount_below_its_folder(tmp_path, monkeypatch):
    make(tmp_path / "photos/a.jpg")
    make(tmp_path / "photos/kernel/b.jpg")
    table = tmp_path / "mounts"
    table.write_text(f"proc {tmp_path / 'photos' / 'kernel'} proc rw 0 0\n")
    monkeypatch.setattr(scan, "MOUNT_TABLE", str(table))
    assert names(tmp_path / "photos") == ["a.jpg"]
    assert scan_folders([tmp_path / "photos" / "kernel"]).files == []  # one stored before: left out, no error


@posix_only
def test_the_facade_refuses_pseudo_filesystems_and_empty_paths(home, tmp_path):
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    (tmp_path / "innocent").symlink_to("/proc/self", target_is_directory=True)
    with unlock(Home.default()) as lens:
        for path in ["/proc/self", "/proc", "/sys", "/dev", str(tmp_path / "innocent")]:
            with pytest.raises(UnsuitablePathError, match="system file system"):
                lens.index([path])
        for path in ["", "  "]:
            with pytest.raises(UnsuitablePathError, match="empty path"):
                lens.index([path])
            with pytest.raises(UnsuitablePathError, match="empty path"):
                lens.forget(path)
        assert lens.store.folders() == [] and lens.store.exclusions() == []


# -- the CLI --------------------------------------------------------------------------------------------------
@posix_only
def test_cli_refuses_proc_and_empty_paths_without_saving_a_folder(home, photo_dir, tmp_path, monkeypatch):
    library = tmp_path / "Pictures"
    shutil.copytree(photo_dir, library)
    vl("init", "--no-keyring")
    monkeypatch.chdir(library)  # "" used to mean this folder
    result = vl("index", "/proc/self", check=False)
    assert result.returncode == 6 and "/proc" in result.stderr and "Traceback" not in result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "/proc/self is in /proc" in error
    for command in (["index", ""], ["index", str(library), ""], ["forget", ""], ["watch", ""]):
        result = vl(*command, check=False)
        assert result.returncode == 2 and "empty path" in result.stderr and "Traceback" not in result.stderr, command
    status = json.loads(vl("status", "--json").stdout)
    assert (status["folders"], status["excluded"], status["photos"]) == ([], [], 0)

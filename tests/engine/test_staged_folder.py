"""`engine.staged_folder`: a folder moves into place whole or not at all; killed runs' leftovers are cleaned up."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.staged_folder import remove_folder, staged_folder

REPO = Path(__file__).resolve().parents[2]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def build(folder: Path, text: str) -> None:
    folder.mkdir()
    (folder / "file.txt").write_text(text)


def test_a_new_folder_takes_the_targets_name_and_nothing_else_is_left(tmp_path):
    target = tmp_path / "deep" / "out"
    with staged_folder(target) as folder:
        assert folder.parent.parent == target.parent and folder.parent.name.startswith(".out.staging-")
        build(folder, "new")
        (folder.parent / "scratch").mkdir()  # the staging folder's scratch space goes with it
    assert (target / "file.txt").read_text() == "new"
    assert names(target.parent) == ["out"]


def test_an_existing_target_is_replaced_only_when_asked(tmp_path):
    target = tmp_path / "out"
    build(target, "old")
    with pytest.raises(FileExistsError, match="already exists"):
        with staged_folder(target) as folder:
            build(folder, "new")
    assert (target / "file.txt").read_text() == "old" and names(tmp_path) == ["out"]

    with staged_folder(target, replace=True) as folder:
        build(folder, "new")
    assert (target / "file.txt").read_text() == "new" and names(tmp_path) == ["out"]


@pytest.fixture()
def linked(tmp_path) -> tuple[Path, Path]:
    """A folder `elsewhere` holding "kept", and a link `out` to it."""
    elsewhere = tmp_path / "elsewhere"
    build(elsewhere, "kept")
    (tmp_path / "out").symlink_to(elsewhere, target_is_directory=True)
    return elsewhere, tmp_path / "out"


def test_a_symlink_target_is_replaced_by_the_folder_and_what_it_points_to_is_kept(linked):
    elsewhere, target = linked
    with staged_folder(target, replace=True) as folder:
        build(folder, "new")
    assert not target.is_symlink() and (target / "file.txt").read_text() == "new"
    assert (elsewhere / "file.txt").read_text() == "kept"


def test_a_failed_build_leaves_the_old_target_intact_and_no_stage(tmp_path):
    target = tmp_path / "out"
    build(target, "old")
    with pytest.raises(RuntimeError, match="build failed"):
        with staged_folder(target, replace=True) as folder:
            build(folder, "half")
            raise RuntimeError("build failed")
    assert (target / "file.txt").read_text() == "old" and names(tmp_path) == ["out"]


def test_a_killed_runs_stage_is_removed_by_the_next_run_and_a_running_one_is_not(tmp_path):
    target = tmp_path / "out"
    killed = ("import os, signal, sys; from pathlib import Path; from engine.staged_folder import staged_folder\n"
              "with staged_folder(Path(sys.argv[1])) as folder:\n"
              "    folder.mkdir(); (folder / 'half.txt').write_text('half')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", killed, str(target)], cwd=REPO)
    assert done.returncode == -signal.SIGKILL
    [leftover] = names(tmp_path)
    assert leftover.startswith(".out.staging-") and not target.exists()

    with staged_folder(target) as folder:  # a run still at work: its stage is locked, so the next run keeps it
        build(folder, "running")
        with staged_folder(target) as other:
            build(other, "first")
        assert names(tmp_path) == sorted(["out", folder.parent.name])  # the killed run's leftover is gone
        assert (folder / "file.txt").read_text() == "running"
        remove_folder(target)
    assert (target / "file.txt").read_text() == "running" and names(tmp_path) == ["out"]


def test_remove_folder_takes_a_folder_or_only_a_link(tmp_path, linked):
    elsewhere, link = linked
    remove_folder(link)
    assert not link.is_symlink() and (elsewhere / "file.txt").read_text() == "kept"
    remove_folder(elsewhere)
    assert names(tmp_path) == []

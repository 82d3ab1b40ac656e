"""Stage-then-rename: a folder is built beside its destination and moved into place in one rename, so its name only
ever holds the old folder or the complete new one (a model bundle, a sample library), never half of one.

The staging folder, `.NAME.staging-XXXXXXXX` beside the target (the same file system, so the rename is atomic), is
removed on success and on failure; one left behind by a killed run is removed by the next run for the same target.
Each run holds an exclusive flock on its staging folder while it works: that is how the next run tells a killed
run's leftover from a concurrent run's work in progress. Without flock (Windows) leftovers are kept, never guessed at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.home import fsync_folder

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]


@contextmanager
def staged_folder(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield the path to build `target` at; when the block succeeds, move it to `target` in one rename.

    The yielded folder does not exist yet (create it, copy or rename a folder to it). Its parent is this run's
    private staging folder: other names in it are free scratch space on the target's file system, removed with it.
    An existing `target` (folder, file or symlink) is replaced only with `replace`, else FileExistsError; the old one
    is moved aside into the staging folder and deleted only once the new one has its name. The new folder's files
    and the renames are fsynced (POSIX), so a power cut too leaves the old folder or the complete new one. When the
    block raises, the staging folder is removed and `target` is untouched.
    """
    target = Path(target)
    with _stage(target) as stage:
        folder = stage / target.name
        yield folder
        _fsync_tree(folder)
        if target.exists() or target.is_symlink():
            if not replace:
                raise FileExistsError(f"{target}: already exists")
            old = Path(tempfile.mkdtemp(prefix="replaced-", dir=stage)) / target.name
            os.replace(target, old)
            try:
                os.replace(folder, target)
            except BaseException:
                os.replace(old, target)
                raise
        else:
            os.replace(folder, target)
        fsync_folder(target.parent)


def remove_folder(target: Path) -> None:
    """Delete `target` (a symlink: only the link): gone from its name in one rename, then deleted from the staging
    folder, so a killed removal leaves a leftover the next run removes, never a half-deleted `target`."""
    target = Path(target)
    with _stage(target) as stage:
        os.replace(target, stage / target.name)
        fsync_folder(target.parent)


@contextmanager
def _stage(target: Path) -> Iterator[Path]:
    """This run's locked staging folder beside `target`, always removed; killed runs' leftovers are removed first."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.staging-"
    _remove_leftovers(parent, prefix)
    stage, lock = _locked_stage(parent, prefix)
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if lock is not None:
            os.close(lock)  # releases the flock


def _locked_stage(parent: Path, prefix: str) -> tuple[Path, int | None]:
    """A new staging folder and the descriptor holding its flock (None without flock)."""
    while True:
        stage = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        if fcntl is None:
            return stage, None
        lock = os.open(stage, os.O_RDONLY)
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits only while another run, taking it for a leftover, deletes it
        try:
            if os.path.samestat(os.fstat(lock), os.stat(stage)):
                return stage, lock
        except FileNotFoundError:
            pass
        os.close(lock)  # it was deleted as a leftover before we could lock it: make another


def _remove_leftovers(parent: Path, prefix: str) -> None:
    """Delete the staging folders of killed runs: those whose flock no running run holds."""
    if fcntl is None:
        return
    for path in parent.iterdir():
        if not path.name.startswith(prefix):
            continue
        try:
            lock = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY)
        except OSError:
            continue  # gone meanwhile, or not a folder we made
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running run's staging folder
        else:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(lock)


def _fsync_tree(folder: Path) -> None:
    """Flush every regular file and folder under `folder` to disk, so the rename never publishes data still in the cache."""
    if os.name != "posix":
        return
    for root, _dirs, files in os.walk(folder):
        paths = (os.path.join(root, name) for name in files)
        for path in [*(p for p in paths if os.path.isfile(p) and not os.path.islink(p)), root]:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

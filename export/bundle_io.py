"""Writing a bundle folder: atomic builds, per-step progress, file checksums and build provenance."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.progress import Progress

import engine
from engine.models.bundle import MANIFEST, sha256_file


class BundleExistsError(FileExistsError):
    """The output folder already holds something and `force` was not given."""


@contextmanager
def staged_bundle(out: Path, force: bool, prefix: str) -> Iterator[tuple[Path, Path]]:
    """Yield (`out.partial`, a scratch dir); on success move the partial folder to `out` atomically.

    A killed build leaves only `out.partial` (removed by the next build), never a half bundle at `out`.
    """
    out = Path(out)
    if out.exists() and not force:
        raise BundleExistsError(f"{out}: already exists; pass --force to replace it")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as work:
            yield partial, Path(work)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _move_into_place(partial, out)


def _move_into_place(partial: Path, out: Path) -> None:
    if not out.exists():
        os.replace(partial, out)
        return
    old = out.with_name(out.name + ".replaced")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(out, old)
    os.replace(partial, out)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


@contextmanager
def step(progress: Progress, name: str, total: int = 1) -> Iterator[Callable[[], None]]:
    """One progress bar per build step; the yielded callable advances it by one."""
    task = progress.add_task(name, total=total)
    yield lambda: progress.advance(task)
    progress.update(task, completed=total)


@contextmanager
def counted_step(progress: Progress, name: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for a step that reports its own (done, total) as it goes."""
    task = progress.add_task(name, total=None)
    yield lambda done, total: progress.update(task, completed=done, total=total)
    total = next((t.total for t in progress.tasks if t.id == task), None) or 1
    progress.update(task, completed=total, total=total)


def file_entries(folder: Path) -> dict[str, dict]:
    """sha256 and size of every file in the bundle (recursively, relative paths), except the manifest."""
    return {
        path.relative_to(folder).as_posix(): {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def built_by(command: str) -> dict:
    """Who built the bundle, when, with which library versions."""
    versions = {}
    for dist in ("torch", "transformers", "optimum", "optimum-onnx", "open_clip_torch", "onnx", "onnxruntime"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return {
        "tool": f"visuallens-export {engine.__version__}",
        "command": command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        **versions,
    }

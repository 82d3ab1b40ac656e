"""Writing a bundle folder: atomic builds, per-step progress, file checksums and build provenance."""

from __future__ import annotations

import platform
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.progress import Progress

import engine
from engine.models.bundle import MANIFEST, sha256_file
from engine.staged_folder import staged_folder


class BundleExistsError(FileExistsError):
    """The output folder already holds something and `force` was not given."""


@contextmanager
def staged_bundle(out: Path, force: bool, prefix: str) -> Iterator[tuple[Path, Path]]:
    """Yield (the folder to build the bundle in, a scratch dir); on success the folder becomes `out` in one rename.

    It is staged beside `out` by `engine.staged_folder`: a killed build leaves only a hidden staging folder (removed
    by the next build), never a half bundle at `out`; an old bundle is replaced (only with `force`) once the new one
    is complete.
    """
    out = Path(out)
    if out.exists() and not force:
        raise BundleExistsError(f"{out}: already exists; pass --force to replace it")
    with staged_folder(out, replace=force) as folder, tempfile.TemporaryDirectory(prefix=prefix) as work:
        folder.mkdir()
        yield folder, Path(work)


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

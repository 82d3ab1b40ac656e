"""Incremental indexing: scan folders, skip what is unchanged, embed and describe the rest, commit in batches.

Decoding runs in a small thread pool (Pillow releases the GIL) while ONNX Runtime encodes the previous batch,
so the encoder does not wait on JPEG decode. Every batch is committed on its own: a killed run loses at most
the batch in flight and the next run resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from engine.imaging.decode import ImageDecodeError, open_oriented
from engine.imaging.preprocess import to_tensor
from engine.library.fingerprint import content_hash, plan_changes
from engine.library.scan import FileEntry, scan_folders
from engine.models.encoders import ImageEncoder
from engine.profile.description import Describer
from engine.profile.records import PhotoProfile
from engine.profile.store import ProfileStore


@dataclass
class IndexReport:
    """What an index run did; `failed` holds (path, reason) reported once per bad file."""

    scanned: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    removed: int = 0
    decoded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.decoded / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class IndexProgress:
    done: int
    total: int
    path: str


ProgressCallback = Callable[[IndexProgress], None]


@dataclass
class _Decoded:
    entry: FileEntry
    digest: str
    tensor: np.ndarray | None = None
    image: Image.Image | None = None
    error: str | None = None


class Indexer:
    """Builds spectrum profiles for a set of folders into a `ProfileStore`."""

    def __init__(
        self,
        store: ProfileStore,
        encoder: ImageEncoder,
        describer: Describer,
        batch_size: int = 16,
        decode_workers: int | None = None,
    ):
        self.store = store
        self.encoder = encoder
        self.describer = describer
        self.batch_size = batch_size
        self._known_hashes: set[str] = set()
        self.decode_workers = decode_workers or max(1, min(4, os.cpu_count() or 1))

    def run(
        self,
        folders: Sequence[str | Path],
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        started = time.perf_counter()
        report = IndexReport()
        scan = scan_folders(folders, excluded=self.store.exclusions())
        report.scanned = len(scan.files)
        for problem in scan.problems:
            report.failed.append((problem.path, problem.reason))
        roots = [str(Path(f).expanduser().resolve()) for f in folders]
        known = {p: (fp.size, fp.mtime_ns) for root in roots for p, fp in self.store.fingerprints(root).items()}
        plan = plan_changes(scan.files, known, roots, scan.problems)
        report.unchanged = len(plan.unchanged)

        todo = self._skip_known_failures(plan.new + plan.changed)
        self._known_hashes = {fp.content_hash for fp in self.store.fingerprints().values()}
        changed_paths = {e.path for e in plan.changed}
        done = 0
        total = len(todo)
        for decoded_batch in self._decoded_batches(todo):
            if should_stop():
                break
            fresh = self._reuse_known_content(decoded_batch, report)
            self._encode_and_store(fresh, changed_paths, report)
            done += len(decoded_batch)
            if progress:
                progress(IndexProgress(done=done, total=total, path=decoded_batch[-1].entry.path))
        else:  # deletions last, so a renamed photo is found by its content hash first
            report.removed = self.store.remove(plan.deleted)
        report.seconds = time.perf_counter() - started
        return report

    def _skip_known_failures(self, entries: list[FileEntry]) -> list[FileEntry]:
        failed = {f.path: (f.size, f.mtime_ns) for f in self.store.failures()}
        return [e for e in entries if failed.get(e.path) != (e.size, e.mtime_ns)]

    def _decoded_batches(self, entries: list[FileEntry]) -> Iterator[list[_Decoded]]:
        """Decode ahead of the encoder: up to two batches in flight in the thread pool."""
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="decode") as pool:
            batches = [entries[i : i + self.batch_size] for i in range(0, len(entries), self.batch_size)]
            pending = [pool.map(self._decode, b) for b in batches[:2]]
            for i in range(len(batches)):
                result = list(pending.pop(0))
                if i + 2 < len(batches):
                    pending.append(pool.map(self._decode, batches[i + 2]))
                yield result

    def _decode(self, entry: FileEntry) -> _Decoded:
        try:
            digest = content_hash(entry.path)
        except OSError as exc:
            return _Decoded(entry, "", error=f"unreadable ({exc.strerror or exc})")
        if digest in self._known_hashes:
            return _Decoded(entry, digest)  # same content already profiled: reused without decoding
        try:
            img = open_oriented(entry.path, self.encoder.spec.resize_size)
            return _Decoded(entry, digest, to_tensor(img, self.encoder.spec), img)
        except ImageDecodeError as exc:
            return _Decoded(entry, digest, error=str(exc))

    def _reuse_known_content(self, batch: list[_Decoded], report: IndexReport) -> list[_Decoded]:
        """Renames, copies and touched files keep their profile: no re-encode when the content hash is known."""
        fresh = []
        for item in batch:
            if item.error:
                self.store.record_failure(item.entry.path, item.entry.folder, item.entry.size, item.entry.mtime_ns, item.error)
                report.failed.append((item.entry.path, item.error))
                continue
            if item.tensor is not None:
                fresh.append(item)
                continue
            existing = self.store.find_by_hash(item.digest)
            entry = item.entry
            if existing is None:  # the only copy vanished meanwhile: decode it after all
                fresh.append(self._decode(entry))
                continue
            if existing.path == entry.path:
                self.store.touch(entry.path, entry.size, entry.mtime_ns)
                report.updated += 1
            elif not Path(existing.path).exists():
                self.store.move(existing.path, entry.path, entry.folder, entry.size, entry.mtime_ns)
                report.moved += 1
            else:
                self.store.add_profiles([replace(existing, path=entry.path, folder=entry.folder, size=entry.size, mtime_ns=entry.mtime_ns)])
                report.added += 1
        return fresh

    def _encode_and_store(self, batch: list[_Decoded], changed: set[str], report: IndexReport) -> None:
        batch = [b for b in batch if b.tensor is not None]
        if not batch:
            return
        out = self.encoder.encode(np.stack([b.tensor for b in batch]))
        descriptions = self.describer.describe_batch([b.image for b in batch], out)
        profiles = []
        for i, (item, description) in enumerate(zip(batch, descriptions)):
            profiles.append(
                PhotoProfile(
                    path=item.entry.path,
                    folder=item.entry.folder,
                    size=item.entry.size,
                    mtime_ns=item.entry.mtime_ns,
                    content_hash=item.digest,
                    caption=description.caption,
                    aspects=description.aspects,
                    vector=out.embeddings[i],
                    width=item.image.width,
                    height=item.image.height,
                )
            )
        self.store.add_profiles(profiles)
        self.store.clear_failures([p.path for p in profiles])
        report.decoded += len(batch)
        for item in batch:
            if item.entry.path in changed:
                report.updated += 1
            else:
                report.added += 1

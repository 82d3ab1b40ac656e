"""Incremental indexing: scan folders, skip what is unchanged, embed and describe the rest, commit in batches.

One lane per core: each lane hashes and decodes a batch (JPEG draft decoding, Pillow's reducing resize; Pillow
and ONNX Runtime release the GIL), runs it through the shared image encoder session, describes it and embeds the
captions with the shared text encoder session, each with one intra-op thread, so every core stays busy with no
thread pool spinning or oversubscribed. Two batches per lane are in flight; the main thread commits them in
order. Every batch is committed on its own: a killed run loses at most the batches in flight and the next run
resumes where it stopped.

Photos whose vectors another model bundle made are re-encoded like changed ones: each keeps its old profile until
the new one replaces it in the batch's transaction, so a bundle change loses nothing, however the run ends.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from engine.imaging.decode import SOURCE_SIZE, ImageDecodeError, open_oriented
from engine.imaging.preprocess import to_tensor
from engine.library.fingerprint import content_hash, plan_changes
from engine.library.scan import FileEntry, ScanProblem, ScanResult, is_within, scan_folders, storable
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.profile.description import Describer, Description
from engine.profile.records import PhotoProfile
from engine.profile.store import DECODE_FAILURE, SCAN_PROBLEM, TEXT_VECTORS_MISSING, ProfileStore

VANISHED = "file vanished before it could be read"


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
    captions_filled: int = 0  # caption vectors added to profiles of an older store
    reencoded: int = 0  # unchanged photos profiled again because another model bundle made their vectors
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    lifted: list[str] = field(default_factory=list)  # forgotten paths the user named again (`VisualLens.index`)

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
    embedding: np.ndarray | None = None  # the rest is filled by the lane that decoded it
    visual: np.ndarray | None = None
    description: Description | None = None
    caption_vector: np.ndarray | None = None

    def profile(self, encoded_with: str) -> PhotoProfile:
        """The spectrum profile of a photo its lane decoded and profiled."""
        if self.image is None or self.embedding is None or self.description is None:
            raise RuntimeError(f"{self.entry.path}: asked for the profile of a photo not profiled yet")
        width, height = self.image.info[SOURCE_SIZE]
        return PhotoProfile(
            path=self.entry.path, folder=self.entry.folder, size=self.entry.size, mtime_ns=self.entry.mtime_ns,
            content_hash=self.digest, caption=self.description.caption, aspects=self.description.aspects,
            vector=self.embedding, width=width, height=height, caption_vector=self.caption_vector,
            visual_vector=self.visual, encoded_with=encoded_with,
        )


class Indexer:
    """Builds spectrum profiles for a set of folders into a `ProfileStore`."""

    def __init__(
        self,
        store: ProfileStore,
        encoder: ImageEncoder,
        describer: Describer,
        text_encoder: TextEncoder,
        batch_size: int | None = None,
        lanes: int | None = None,
    ):
        self.store = store
        self.encoder = encoder
        self.describer = describer
        self.text_encoder = text_encoder
        self.batch_size = batch_size or encoder.batch_size  # tuned per execution provider
        self._known_hashes: set[str] = set()
        self._reencode: set[str] = set()  # paths of unchanged photos whose vectors another bundle made
        self.lanes = lanes or encoder.lanes

    def run(
        self,
        folders: Sequence[str | Path],
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        started = time.perf_counter()
        report = IndexReport()
        identity = self.encoder.identity
        self.store.use_bundle(identity)
        scan = scan_folders(folders, excluded=self.store.exclusions(), included=self.store.folders())
        report.scanned = len(scan.files)
        roots = [str(Path(f).expanduser().resolve()) for f in folders]
        known = {p: (fp.size, fp.mtime_ns) for root in roots for p, fp in self.store.fingerprints(root).items()}
        problems = scan.problems + _empty_roots(roots, scan, known)  # their photos are kept, like a locked folder's
        self._report_new_problems(problems, report)
        plan = plan_changes(scan.files, known, roots, problems)
        stale = self.store.stale_paths(identity)
        reencode = [e for e in plan.unchanged if e.path in stale]
        self._reencode = {e.path for e in reencode}
        report.unchanged = len(plan.unchanged) - len(reencode)

        todo = self._skip_known_failures(plan.new + plan.changed + reencode)
        # only current profiles are reused for known content: a stale one would be copied instead of re-encoded
        self._known_hashes = {fp.content_hash for path, fp in self.store.fingerprints().items() if path not in stale}
        changed_paths = {e.path for e in plan.changed}
        done = 0
        total = len(todo)
        for decoded_batch in self._prepared_batches(todo):
            if should_stop():
                break
            fresh = self._reuse_known_content(decoded_batch, report)
            self._encode_and_store(fresh, changed_paths, report)
            done += len(decoded_batch)
            if progress:
                progress(IndexProgress(done=done, total=total, path=decoded_batch[-1].entry.path))
        else:  # deletions last, so a renamed photo is found by its content hash first
            report.removed = self.store.remove(plan.deleted)
            self._forget_stale_failures(roots, scan, problems)
            report.captions_filled = self._fill_text_vectors(should_stop)
        report.seconds = time.perf_counter() - started
        return report

    def _skip_known_failures(self, entries: list[FileEntry]) -> list[FileEntry]:
        failed = {f.path: (f.size, f.mtime_ns) for f in self.store.failures(DECODE_FAILURE)}
        return [e for e in entries if failed.get(e.path) != (e.size, e.mtime_ns)]

    def _prepared_batches(self, entries: list[FileEntry]) -> Iterator[list[_Decoded]]:
        """Batches decoded and encoded by the lanes, in order; two batches per lane in flight."""
        batches = deque(entries[i : i + self.batch_size] for i in range(0, len(entries), self.batch_size))
        with ThreadPoolExecutor(self.lanes, thread_name_prefix="index-lane") as pool:
            in_flight = min(2 * self.lanes, len(batches))
            pending = deque(pool.submit(self._prepare, batches.popleft()) for _ in range(in_flight))
            try:
                while pending:
                    result = pending.popleft().result()
                    if batches:
                        pending.append(pool.submit(self._prepare, batches.popleft()))
                    yield result
            finally:  # stopped early: drop the batches not started yet
                for future in pending:
                    future.cancel()

    def _prepare(self, batch: list[FileEntry]) -> list[_Decoded]:
        """One lane's work: hash and decode a batch, then profile what needs profiling on this thread."""
        items = [self._decode(entry) for entry in batch]
        self._profile([item for item in items if item.tensor is not None])
        return items

    def _profile(self, items: list[_Decoded]) -> None:
        """Image vectors, descriptions and caption vectors of decoded photos, on the calling thread."""
        if not items:
            return
        decoded = [(item.tensor, item.image) for item in items if item.tensor is not None and item.image is not None]
        if len(decoded) != len(items):
            raise RuntimeError("only decoded photos are profiled")
        out = self.encoder.encode_lane(np.stack([tensor for tensor, _ in decoded]))
        descriptions = self.describer.describe_batch([image for _, image in decoded], out)
        captions = self.text_encoder.encode_cached([d.caption for d in descriptions], on_this_thread=True)
        for i, item in enumerate(items):
            item.embedding, item.description, item.caption_vector = out.embeddings[i], descriptions[i], captions[i]
            item.visual = None if out.visual is None else out.visual[i]  # readers fall back to the embedding

    def _fill_text_vectors(self, should_stop: Callable[[], bool], chunk: int = 256) -> int:
        """Fill in missing caption and aspect-word vectors (once, when the store asks for it: after the migration
        to a store with them, or after a bundle change dropped the word vectors); returns how many captions were
        embedded."""
        if self.store.get_meta(TEXT_VECTORS_MISSING) is None:
            return 0
        filled = 0
        while not should_stop() and (rows := self.store.captions_without_vectors(chunk)):
            vectors = self.text_encoder.encode([caption for _, caption in rows])
            self.store.set_caption_vectors([(photo_id, vector) for (photo_id, _), vector in zip(rows, vectors)])
            filled += len(rows)
        if should_stop():
            return filled
        words = self.store.words_without_vectors()
        self.store.set_word_vectors(list(zip(words, self.text_encoder.encode(words))))
        self.store.delete_meta(TEXT_VECTORS_MISSING)
        return filled

    def _decode(self, entry: FileEntry) -> _Decoded:
        try:
            digest = content_hash(entry.path)
        except FileNotFoundError:
            return _Decoded(entry, "", error=VANISHED)
        except OSError as exc:
            return _Decoded(entry, "", error=f"unreadable ({exc.strerror or exc})")
        if digest in self._known_hashes:
            return _Decoded(entry, digest)  # same content already profiled: reused without decoding
        try:
            img = open_oriented(entry.path, self.encoder.spec.resize_size)
            return _Decoded(entry, digest, to_tensor(img, self.encoder.spec), img)
        except ImageDecodeError as exc:
            return _Decoded(entry, digest, error=str(exc))
        except MemoryError:  # whatever slipped past the size limits: this photo fails, the run goes on
            return _Decoded(entry, digest, error="too large to decode in the memory available")

    def _reuse_known_content(self, batch: list[_Decoded], report: IndexReport) -> list[_Decoded]:
        """Renames, copies and touched files keep their profile: no re-encode when the content hash is known."""
        fresh = []
        for item in batch:
            if item.error:
                self._fail(item, report)
                continue
            if item.tensor is not None:
                fresh.append(item)
                continue
            existing = self.store.find_by_hash(item.digest, self.encoder.identity)
            entry = item.entry
            if existing is None:  # the only copy vanished meanwhile: decode it after all
                self._known_hashes.discard(item.digest)
                decoded = self._decode(entry)
                if decoded.error:
                    self._fail(decoded, report)
                else:
                    fresh.append(decoded)
                continue
            if existing.path == entry.path:
                self.store.touch(entry.path, entry.size, entry.mtime_ns)
                self._tally(entry.path, "updated", report)
            elif not Path(existing.path).exists():
                self.store.move(existing.path, entry.path, entry.folder, entry.size, entry.mtime_ns)
                self._tally(entry.path, "moved", report)
            else:
                self.store.add_profiles([replace(existing, path=entry.path, folder=entry.folder, size=entry.size, mtime_ns=entry.mtime_ns)])
                self._tally(entry.path, "added", report)
        return fresh

    def _encode_and_store(self, batch: list[_Decoded], changed: set[str], report: IndexReport) -> None:
        batch = [b for b in batch if b.tensor is not None]
        if not batch:
            return
        self._profile([b for b in batch if b.embedding is None])  # re-decoded after a vanished duplicate
        profiles = [item.profile(self.encoder.identity) for item in batch]
        new_words = self.store.words_without_vectors(word for p in profiles for word in p.aspects)
        word_vectors = list(zip(new_words, self.text_encoder.encode_cached(new_words, on_this_thread=True)))
        self.store.add_profiles(profiles, word_vectors)  # clears their failures in the same transaction
        report.decoded += len(batch)
        for item in batch:
            self._tally(item.entry.path, "updated" if item.entry.path in changed else "added", report)

    def _tally(self, path: str, outcome: str, report: IndexReport) -> None:
        """Count a photo that now has a current profile under `outcome` (added, updated, moved), or as re-encoded
        when only the model bundle changed for it."""
        counter = "reencoded" if path in self._reencode else outcome
        setattr(report, counter, getattr(report, counter) + 1)

    # -- failures: each bad file or folder is reported once, and again only once it changed --------------------
    def _fail(self, item: _Decoded, report: IndexReport) -> None:
        """Report a file that could not be used; remember it (skipped until it changes) unless it is gone."""
        reason = " ".join(str(item.error).split())  # one line, whatever the decoder said
        report.failed.append((item.entry.path, reason))
        if os.path.lexists(item.entry.path):
            entry = item.entry
            self.store.record_failure(entry.path, entry.folder, entry.size, entry.mtime_ns, reason)

    def _report_new_problems(self, problems: list[ScanProblem], report: IndexReport) -> None:
        """Report what the scan left out, unless it was reported before and its size and mtime are the same."""
        seen = {f.path: (f.size, f.mtime_ns) for f in self.store.failures(SCAN_PROBLEM)}
        new = [p for p in problems if seen.get(storable(p.path)) != (p.size, p.mtime_ns)]
        rows = [(storable(p.path), storable(p.folder), p.size, p.mtime_ns, p.reason) for p in new]
        self.store.record_failures(rows, SCAN_PROBLEM)
        report.failed.extend((p.path, p.reason) for p in new)

    def _forget_stale_failures(self, roots: list[str], scan: ScanResult, problems: list[ScanProblem]) -> None:
        """After a complete run, drop failures under `roots` of files that are gone or no longer a problem
        (not under a folder the scan could not read: what it holds is unknown)."""
        current = {storable(e.path) for e in scan.files} | {storable(p.path) for p in problems}
        unsure = [storable(p.path) for p in problems]
        stale = [
            f.path for f in self.store.failures()
            if f.path not in current and any(is_within(f.path, root) for root in roots)
            and not any(is_within(f.path, folder) for folder in unsure)
        ]
        self.store.clear_failures(stale)


def _empty_roots(roots: list[str], scan: ScanResult, known: dict[str, tuple[int, int]]) -> list[ScanProblem]:
    """Library folders in which the scan found nothing although the store holds photos under them: the mount point
    of an unmounted drive, say. Their photos are kept until the user forgets them; a folder that still holds some
    photos but lost others is an ordinary deletion."""
    found = [e.path for e in scan.files] + [p.path for p in scan.problems]
    empty = []
    for root in roots:
        kept = sum(1 for path in known if is_within(path, root))
        if kept and not any(is_within(path, root) for path in found):
            try:
                info = os.stat(root)
                size, mtime_ns = info.st_size, info.st_mtime_ns
            except OSError:
                size, mtime_ns = -1, -1
            reason = f"empty or unmounted: kept {kept} photos; use `visuallens forget` to remove them"
            empty.append(ScanProblem(root, reason, size, mtime_ns, root))
    return empty

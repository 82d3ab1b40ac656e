"""Fingerprints for incremental indexing: (size, mtime_ns) to spot changes, a content hash to spot renames."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.library.scan import FileEntry, ScanProblem, normalise

CHUNK_BYTES = 1 << 20


def content_hash(path: str | Path) -> str:
    """blake2b-128 hex digest of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ChangePlan:
    """What an index update has to do; `deleted` holds paths of known files no longer on disk."""

    new: list[FileEntry]
    changed: list[FileEntry]
    unchanged: list[FileEntry]
    deleted: list[str]


def plan_changes(
    files: Sequence[FileEntry],
    known: Mapping[str, tuple[int, int]],
    folders: Sequence[str | Path],
    problems: Sequence[ScanProblem] = (),
) -> ChangePlan:
    """Compare a scan of `folders` with the store's `known` {path: (size, mtime_ns)}.

    Unchanged means same size and mtime_ns. Only known paths under the scanned `folders` can be
    deleted, and never those at or under a scan problem (an unreadable folder is not an empty one).
    """
    plan = ChangePlan([], [], [], [])
    for entry in files:
        before = known.get(entry.path)
        if before is None:
            plan.new.append(entry)
        elif tuple(before) == (entry.size, entry.mtime_ns):
            plan.unchanged.append(entry)
        else:
            plan.changed.append(entry)
    on_disk = {entry.path for entry in files}
    tops = {os.path.normcase(normalise(folder)) for folder in folders}
    unsure = {os.path.normcase(problem.path) for problem in problems}
    plan.deleted = sorted(
        path
        for path in known
        if path not in on_disk
        and not tops.isdisjoint(_self_and_parents(path))
        and unsure.isdisjoint(_self_and_parents(path))
    )
    return plan


def _self_and_parents(path: str) -> Iterator[str]:
    """`path`, then each parent folder up to the root (normcased)."""
    path = os.path.normcase(path)
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent

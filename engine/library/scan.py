"""Find the photos under the user's folders: recursive, loop-safe, and tolerant of unreadable entries."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.imaging.decode import SUPPORTED_SUFFIXES

# Folders that only ever hold generated thumbnails or trash: Synology's @eaDir / #recycle, Windows' recycle bin
# as seen from another OS (on Windows itself it carries the hidden attribute).
SKIPPED_DIR_NAMES = frozenset({"@eaDir", "#recycle", "$RECYCLE.BIN"})

# Kernel and device file systems: they hold no photos, and walking them reaches the whole machine (/proc/self/root
# is a link to /) or blocks on device files. These roots are refused wherever the mount table cannot be read (macOS
# mounts devfs at /dev); on Linux every mount of a PSEUDO_TYPES type is too.
PSEUDO_ROOTS = ("/proc", "/sys", "/dev") if os.name == "posix" else ()
PSEUDO_TYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "configfs", "fusectl", "mqueue", "binfmt_misc", "efivarfs", "selinuxfs", "nsfs", "hugetlbfs",
    "rpc_pipefs",
})
MOUNT_TABLE = "/proc/self/mounts"


class FolderNotFoundError(FileNotFoundError):
    """A folder the user asked to scan does not exist or is not a folder."""


class UnsuitablePathError(ValueError):
    """A path the user named that cannot hold their photos: an empty one, or one on a pseudo-filesystem."""


@dataclass(frozen=True)
class FileEntry:
    """A photo file found by a scan; `folder` is the top folder it was found under."""

    path: str
    folder: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    """A file or folder the scan had to leave out, and why.

    `size` and `mtime_ns` (of the entry itself, -1 when it cannot be stat'ed) tell a later scan whether it changed;
    `folder` is the top folder it was found under."""

    path: str
    reason: str
    size: int = field(default=-1, compare=False)
    mtime_ns: int = field(default=-1, compare=False)
    folder: str = field(default="", compare=False)


@dataclass
class ScanResult:
    """Photos found (sorted by path) and entries left out (sorted by path)."""

    files: list[FileEntry]
    problems: list[ScanProblem]


def normalise(path: str | Path) -> str:
    """Absolute, normalised path as str (os.fsdecode: undecodable bytes kept as surrogate escapes)."""
    return os.path.abspath(os.fsdecode(path))


def storable(path: str) -> str:
    """`path` as valid UTF-8 text for the store: undecodable name bytes (surrogate escapes) become \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_folders(
    folders: Sequence[str | Path], excluded: Sequence[str | Path] = (), included: Sequence[str | Path] = ()
) -> ScanResult:
    """Recursively list supported photos under `folders`, skipping what `is_excluded` by `excluded` and `included`.

    Hidden files and folders (dot names, incl. `._` AppleDouble files and rsync partials; hidden
    attributes on Windows/macOS) are skipped; browser partial/temp files (.part, .crdownload, .tmp,
    trailing ~) fail the suffix test. Symlinks (and Windows junctions) are followed only when their target lies in
    the top folder being scanned, and each real folder is visited once, so link loops end and no link leads the
    scan out of the user's folder. Pseudo-filesystems (`pseudo_filesystem`) are never entered. Results are sorted
    by path.
    """
    tops = [normalise(folder) for folder in folders]
    for top in tops:
        if not os.path.isdir(top):
            reason = "is not a folder" if os.path.exists(top) else "does not exist"
            raise FolderNotFoundError(f"photo folder {top} {reason}")
    rules = _Rules([normalise(path) for path in excluded], [normalise(path) for path in included])
    pseudo = _pseudo_mounts()
    files: list[FileEntry] = []
    problems: list[ScanProblem] = []
    visited: set[tuple[int, int]] = set()
    for top in tops:
        if _pseudo_holder(top, pseudo) is not None:  # a folder stored before such paths were refused
            continue
        for found in _walk(top, rules, visited, pseudo):
            if isinstance(found, ScanProblem):
                problems.append(replace(found, folder=top))
            else:
                files.append(FileEntry(found[0], top, found[1].st_size, found[1].st_mtime_ns))
    files.sort(key=lambda entry: entry.path)
    problems.sort(key=lambda problem: problem.path)
    return ScanResult(files, problems)


def is_within(path: str, folder: str) -> bool:
    """True if normalised `path` is `folder` itself or lies below it (the one containment test of the engine)."""
    path, folder = os.path.normcase(path), os.path.normcase(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_named(path: str | Path) -> None:
    """Refuse an empty path (`UnsuitablePathError`): it would silently mean the current folder."""
    if not os.fspath(path).strip():
        raise UnsuitablePathError("an empty path names no photo or folder: give the photo folder's path")


def check_photo_location(path: str) -> None:
    """Refuse (`UnsuitablePathError`) a normalised path on a pseudo-filesystem, by itself or where links lead."""
    mount = pseudo_filesystem(path)
    if mount is not None:
        raise UnsuitablePathError(f"{path} is in {mount}, a system file system with no photos: "
                                  "name a folder that holds your photos")


def pseudo_filesystem(path: str) -> str | None:
    """The pseudo-filesystem (/proc, /sys, /dev, or a mount of a PSEUDO_TYPES type) that holds normalised `path`,
    as given or with links resolved; None when it is on an ordinary file system."""
    return _pseudo_holder(path, _pseudo_mounts())


def is_excluded(path: str, excluded: Iterable[str], included: Iterable[str] = ()) -> bool:
    """Whether normalised `path` is left out of the library: it is at or under an `excluded` path (one the user
    forgot), and no `included` one holding it (a folder the user named to index) lies deeper.

    The deepest rule wins, so a folder named inside a forgotten one is indexed while the rest of that stays out; at
    equal depth the exclusion wins.
    """
    depth = max((len(e) for e in excluded if is_within(path, e)), default=None)
    return depth is not None and not any(len(i) > depth and is_within(path, i) for i in included)


class _Rules:
    """What a scan leaves out: normalised excluded and included paths (see `is_excluded`), tested on the path a
    folder or photo was reached by and on its real path, so a symlink does not bring a forgotten folder back."""

    def __init__(self, excluded: list[str], included: list[str]):
        self.excluded, self.included = excluded, included
        self._excluded_names = {os.path.normcase(path) for path in excluded}

    def skips(self, *folders: str) -> tuple[bool, bool]:
        """(whether the photos right in the folder are excluded, whether the walk can leave it out): an excluded
        folder is still walked through when an included one lies below it."""
        hidden = skipped = False
        for folder in folders:
            excluded = is_excluded(folder, self.excluded, self.included)
            hidden |= excluded
            skipped |= excluded and not any(len(i) > len(folder) and is_within(i, folder) for i in self.included)
        return hidden, skipped

    def excludes_file(self, path: str, real: str, linked: bool) -> bool:
        """Whether a photo in a folder whose photos are not excluded is: by itself, or, reached through a
        symlink, where it really is."""
        if linked and is_excluded(real, self.excluded, self.included):
            return True
        return os.path.normcase(path) in self._excluded_names or os.path.normcase(real) in self._excluded_names


def _walk(
    top: str, rules: _Rules, visited: set[tuple[int, int]], pseudo: list[str]
) -> Iterator[tuple[str, os.stat_result] | ScanProblem]:
    """Yield (path, stat) of candidate photo files, or ScanProblems, depth-first from `top`; links whose target is
    not in `top` are left out, as are folders that are `pseudo` mount points."""
    inside = os.path.realpath(top)
    pending = [(top, inside)]
    pseudo_points = {os.path.normcase(mount) for mount in pseudo}
    while pending:
        folder, real = pending.pop()
        hidden, skipped = rules.skips(folder, real)
        if skipped:
            continue
        aliased = real != folder  # reached through a symlink
        try:
            info = os.stat(folder)
        except OSError as exc:
            yield ScanProblem(folder, _os_reason("cannot open folder", exc), *_stamp(folder))
            continue
        if (info.st_dev, info.st_ino) in visited:
            continue
        visited.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            yield ScanProblem(folder, _os_reason("cannot list folder", exc), info.st_size, info.st_mtime_ns)
            continue
        for entry in listed:
            if entry.name.startswith("."):
                continue
            wanted = _is_candidate(entry.name) and not hidden
            try:
                linked = _is_link(entry)
                target = _real(entry, real, aliased, linked)
                if linked and not is_within(target, inside):
                    continue  # a link out of the folder being scanned: never followed
                if wanted and rules.excluded:
                    wanted = not rules.excludes_file(entry.path, target, linked)
                entry_stat = entry.stat()
            except OSError as exc:
                if wanted:
                    yield ScanProblem(entry.path, _unreachable_reason(entry, exc), *_stamp(entry.path))
                continue
            if _is_hidden(entry_stat):
                continue
            if stat.S_ISDIR(entry_stat.st_mode):
                if entry.name not in SKIPPED_DIR_NAMES and os.path.normcase(target) not in pseudo_points:
                    pending.append((entry.path, target))
            elif wanted:
                problem = _file_problem(entry.path, entry_stat)
                yield problem if problem else (entry.path, entry_stat)


def _real(entry: os.DirEntry, folder_real: str, aliased: bool, linked: bool) -> str:
    """Where an entry really is: its target if it is a link, else in its folder's real path."""
    if linked:
        return os.path.realpath(entry.path)
    return os.path.join(folder_real, entry.name) if aliased else entry.path


def _is_link(entry: os.DirEntry) -> bool:
    """A symlink, or a Windows junction (a reparse point that `is_symlink` does not report before Python 3.12)."""
    if entry.is_symlink():
        return True
    return os.name == "nt" and bool(getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
                                    & stat.FILE_ATTRIBUTE_REPARSE_POINT)


def _pseudo_mounts() -> list[str]:
    """PSEUDO_ROOTS and, on Linux, the mount points of PSEUDO_TYPES file systems (the mount table's octal escapes
    such as \\040 for a space decoded)."""
    mounts = list(PSEUDO_ROOTS)
    try:
        with open(MOUNT_TABLE, encoding="utf-8", errors="surrogateescape") as table:
            lines = table.read().splitlines()
    except OSError:
        return mounts
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2] in PSEUDO_TYPES:
            mounts.append(re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), fields[1]))
    return list(dict.fromkeys(mounts))


def _pseudo_holder(path: str, pseudo: list[str]) -> str | None:
    """The first of the `pseudo` mount points that holds `path`, as given or with links resolved."""
    return next((mount for form in (path, os.path.realpath(path)) for mount in pseudo if is_within(form, mount)), None)


def _is_candidate(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES


def _is_hidden(info: os.stat_result) -> bool:
    """Hidden by attribute: FILE_ATTRIBUTE_HIDDEN on Windows, UF_HIDDEN on macOS."""
    return bool(
        getattr(info, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_HIDDEN
        or getattr(info, "st_flags", 0) & stat.UF_HIDDEN
    )


def _file_problem(path: str, info: os.stat_result) -> ScanProblem | None:
    reason = None
    if not _is_utf8(path):
        reason = "file name is not valid UTF-8: rename it to index it"
    elif not stat.S_ISREG(info.st_mode):
        reason = "not a regular file"
    elif info.st_size == 0:
        reason = "empty file"
    elif not os.access(path, os.R_OK):
        reason = "permission denied: cannot read file"
    return None if reason is None else ScanProblem(path, reason, info.st_size, info.st_mtime_ns)


def _unreachable_reason(entry: os.DirEntry, exc: OSError) -> str:
    if not entry.is_symlink():
        return _os_reason("cannot read file", exc)
    return "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"


def _stamp(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of `path` itself (a symlink is not followed), or (-1, -1)."""
    try:
        info = os.lstat(path)
    except OSError:
        return -1, -1
    return info.st_size, info.st_mtime_ns


def _is_utf8(path: str) -> bool:
    """Names with undecodable bytes (surrogate escapes) cannot be stored as text in the profile."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(what: str, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied: {what}"
    return f"{what} ({exc.strerror or exc})"

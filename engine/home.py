"""Where VisualLens keeps its data: the encrypted store, the wrapped key, model bundles and settings."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from platformdirs import user_data_dir

HOME_ENV = "VISUALLENS_HOME"
BUNDLES_ENV = "VISUALLENS_BUNDLES"


@dataclass
class Settings:
    """User choices that persist between runs (nothing about photos: those live only in the encrypted store)."""

    bundle: str = "lite"
    provider: str = "auto"
    threads: int | None = None


@dataclass(frozen=True)
class Home:
    """The data directory (`VISUALLENS_HOME`, else the platform's user data dir)."""

    root: Path

    @classmethod
    def default(cls) -> Home:
        """The app's data dir; opening it takes away any access other users have to it (it may predate 0700)."""
        home = cls(Path(os.environ.get(HOME_ENV) or user_data_dir("VisualLens", appauthor=False)).expanduser())
        if home.root.is_dir():
            make_private(home.root)
        return home

    @property
    def store_path(self) -> Path:
        return self.root / "profile.db"

    @property
    def bundles_dir(self) -> Path:
        """Installed model bundles: shared by every profile (models hold nothing private); `VISUALLENS_BUNDLES` overrides."""
        return Path(os.environ.get(BUNDLES_ENV) or Path(user_data_dir("VisualLens", appauthor=False)) / "bundles")

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    def bundle_path(self, name: str) -> Path:
        """A bundle by name (installed under the data dir) or by folder path."""
        candidate = Path(name).expanduser()
        return candidate if candidate.is_dir() or os.sep in name else self.bundles_dir / name

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(self.root)

    def load_settings(self) -> Settings:
        try:
            return Settings(**json.loads(self.settings_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return Settings()

    def save_settings(self, settings: Settings) -> None:
        self.ensure()
        write_private(self.settings_path, json.dumps(asdict(settings), indent=2).encode())

    def disk_usage(self) -> int:
        """Bytes used by the encrypted store (database + WAL) and key file."""
        names = ("profile.db", "profile.db-wal", "profile.db-shm", "keys.json")
        return sum((self.root / n).stat().st_size for n in names if (self.root / n).exists())


def app_contents_dir() -> Path | None:
    """A frozen (PyInstaller) app's contents dir, where it ships data (`_internal/`, or the .app's Resources); None
    when running from source."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if getattr(sys, "frozen", False) and base else None


def make_private(folder: Path) -> None:
    """Take away every access other users have to `folder`, never adding any (a read-only folder stays so).

    POSIX only: Windows folders keep their ACLs. Folders of other users and shared ones (sticky, as /tmp is: a
    mistaken `VISUALLENS_HOME=/tmp` must not lock everyone else out) are left as they are."""
    if os.name != "posix":
        return
    info = folder.stat()
    if info.st_mode & 0o077 and not info.st_mode & stat.S_ISVTX and info.st_uid == os.getuid():
        folder.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def write_private(path: Path, data: bytes, replace: bool = True) -> None:
    """Write `path` readable by this user only (0600, whatever the umask) so a crash or a power cut leaves the old
    file or the new.

    The data goes to a temporary file in the same folder (mkstemp creates it 0600), which then replaces `path`, or
    with `replace=False` takes its name only if nothing has it yet (`FileExistsError` otherwise)."""
    write_private_stream(path, [data], replace)


def write_private_stream(path: Path, chunks: Iterable[bytes], replace: bool = True) -> None:
    """`write_private` for data that comes in pieces (a large file need not be held whole in memory)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic: fails if `path` exists, and readers never see it half written
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the renames in `folder` survive a power cut (POSIX; elsewhere a folder cannot be opened to flush it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

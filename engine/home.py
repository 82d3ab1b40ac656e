"""Where VisualLens keeps its data: the encrypted store, the wrapped key, model bundles and settings."""

from __future__ import annotations

import json
import os
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
        return cls(Path(os.environ.get(HOME_ENV) or user_data_dir("VisualLens", appauthor=False)).expanduser())

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

    def load_settings(self) -> Settings:
        try:
            return Settings(**json.loads(self.settings_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return Settings()

    def save_settings(self, settings: Settings) -> None:
        self.ensure()
        tmp = self.settings_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
        os.replace(tmp, self.settings_path)

    def disk_usage(self) -> int:
        """Bytes used by the encrypted store (database + WAL) and key file."""
        names = ("profile.db", "profile.db-wal", "profile.db-shm", "keys.json")
        return sum((self.root / n).stat().st_size for n in names if (self.root / n).exists())

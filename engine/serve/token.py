"""The API's bearer token and the file that hands it to local programs (as Jupyter's runtime file does).

The token is 256 random bits, new on every start (a copied token stops working when the server restarts). It is
written with the server's URL as JSON `{"url": ..., "token": ...}` to `api.json` in the user config dir
(`VISUALLENS_CONFIG`, else platformdirs' `user_config_dir("VisualLens")`): atomically (a temporary file in the
same folder, renamed over the old one), created with mode 0600 in a 0700 folder, and removed when the server stops.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from platformdirs import user_config_dir

CONFIG_ENV = "VISUALLENS_CONFIG"
TOKEN_FILE = "api.json"


def config_dir(override: str | Path | None = None) -> Path:
    """Where the token file lives: `override`, else `VISUALLENS_CONFIG`, else the platform's user config dir."""
    return Path(override or os.environ.get(CONFIG_ENV) or user_config_dir("VisualLens", appauthor=False)).expanduser()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_token_file(folder: Path, url: str, token: str) -> Path:
    """Atomically write `{"url", "token"}` to `folder/api.json`, readable by this user only."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".api-", suffix=".tmp")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"url": url, "token": token}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        path = folder / TOKEN_FILE
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_token_file(path: Path, token: str) -> None:
    """Delete the token file if it still holds `token` (another server may have replaced it since)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
            path.unlink()
    except (OSError, ValueError):
        pass

"""The API's bearer token and the file that hands it to local programs (as Jupyter's runtime file does).

The token is 256 random bits, new on every start (a copied token stops working when the server restarts). It is
written with the server's URL as JSON `{"url": ..., "token": ...}` to `api.json` in the user config dir
(`VISUALLENS_CONFIG`, else platformdirs' `user_config_dir("VisualLens")`): mode 0600 in a 0700 folder, complete
when it appears, and removed when the server stops if it still holds that server's token.

One server per token file: a server that finds `api.json` asks the URL in it for `/status` with the token in it.
An answer (200, or 429 when rate-limited) means that server runs, and the new one refuses to start; no answer
means a server that died without cleaning up (SIGKILL, a crash, a power cut), and the stale file is removed.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_config_dir

from engine.home import make_private, write_private
from engine.serve.settings import HOST

CONFIG_ENV = "VISUALLENS_CONFIG"
TOKEN_FILE = "api.json"
PROBE_TIMEOUT = 5.0  # seconds a running server has to answer /status (it answers in milliseconds when idle)


class ServerRunningError(Exception):
    """Another `visuallens serve` is running with this token file."""


def config_dir(override: str | Path | None = None) -> Path:
    """Where the token file lives: `override`, else `VISUALLENS_CONFIG`, else the platform's user config dir."""
    return Path(override or os.environ.get(CONFIG_ENV) or user_config_dir("VisualLens", appauthor=False)).expanduser()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def clear_stale_token_file(folder: Path) -> Path | None:
    """Make `folder` private, then remove a token file left by a server that is gone (returns its path).

    Raises ServerRunningError when the server the file names still answers to its token."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(folder)
    path = folder / TOKEN_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        saved = None  # unreadable or not JSON: no server can be using it
    if isinstance(saved, dict) and isinstance(saved.get("url"), str) and isinstance(saved.get("token"), str):
        alive = _answers(saved["url"], saved["token"])
        if alive is not False:
            how = "it answers" if alive else f"it holds the port but did not answer within {PROBE_TIMEOUT:g} s"
            raise ServerRunningError(f"a VisualLens API server is already running on {saved['url']} ({how}; its "
                                     f"token file: {path}): stop it first, or give this one another --config")
    path.unlink(missing_ok=True)
    return path


def write_token_file(folder: Path, url: str, token: str) -> Path:
    """Write `{"url", "token"}` to `folder/api.json`, readable by this user only; refuses to replace one."""
    path = folder / TOKEN_FILE
    try:
        write_private(path, json.dumps({"url": url, "token": token}).encode(), replace=False)
    except FileExistsError:
        raise ServerRunningError(f"{path} appeared while this server started: another `visuallens serve` "
                                 "started at the same time with the same token file") from None
    return path


def remove_token_file(path: Path, token: str) -> bool:
    """Delete the token file if it still holds `token` (it may have been replaced or removed since)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
            path.unlink()
            return True
    except (OSError, ValueError, AttributeError):
        pass
    return False


def _answers(url: str, token: str) -> bool | None:
    """Whether a server on loopback at `url` knows `token`: True, False, or None when it holds the port silently.

    Only 127.0.0.1 is asked (a file naming any other host names no server of ours), and without proxies."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.hostname != HOST or port is None:
        return False
    connection = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", "/status", headers={"Authorization": f"Bearer {token}"})
        return connection.getresponse().status in (200, 429)  # 429: the token is checked first, so it is known
    except TimeoutError:
        return None
    except (OSError, http.client.HTTPException):
        return False  # nothing listens (refused), or another program answers
    finally:
        connection.close()

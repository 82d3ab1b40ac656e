"""Where the API listens and how much it accepts (light to import: the CLI reads these defaults)."""

from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback only, never configurable
DEFAULT_PORT = 8731


@dataclass(frozen=True)
class Limits:
    """Per-client request rate (a `limits` rate string, moving window) and the largest request body."""

    rate: str = "300/minute"
    max_body_bytes: int = 32 * 1024 * 1024

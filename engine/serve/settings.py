"""Where the API listens and how much it accepts (light to import: the CLI reads these defaults)."""

from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback only, never configurable
DEFAULT_PORT = 8731


@dataclass(frozen=True)
class Limits:
    """Request rate per bearer token (a `limits` rate string, moving window), the largest request body, live
    connections per peer address, the seconds a client has to send a request head and then its body, and how long
    it may leave an answer unread."""

    rate: str = "300/minute"
    max_body_bytes: int = 32 * 1024 * 1024
    # On loopback every peer is 127.0.0.1: this caps all local programs together. It bounds descriptors and memory
    # (64: well under macOS's default of 256 descriptors); the token holder still gets in because at the cap a
    # newcomer closes the oldest connection that never carried the token (see connections.Peers).
    max_connections: int = 64
    header_timeout: float = 5.0  # from the connection (or the request's first byte) to the end of its head
    body_timeout: float = 30.0  # from the end of the head to the end of the body (32 MB on loopback: < 1 s)
    send_timeout: float = 30.0  # from the send buffers filling up to the client reading again

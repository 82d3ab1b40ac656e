"""ASGI guards in front of the API: bearer token, then rate limit per token, then request body size limit."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_error(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A JSON `{"detail": ...}` error response, as FastAPI's own errors look."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def carries_token(headers: Iterable[tuple[bytes, bytes]], token: str) -> bool:
    """Whether the headers (names in lower case) hold `Authorization: Bearer <token>`, compared in constant time."""
    return hmac.compare_digest(_header(headers, b"authorization") or b"", f"Bearer {token}".encode())


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in headers if k == name), None)


class RateLimit:
    """At most `rate` requests per bearer token (a `limits` string such as "300/minute"), moving window; 429
    beyond it with Retry-After. It sits behind `BearerToken`: a request without the token is refused there and
    never spends the token holder's budget (an address key would not do: on loopback every peer is 127.0.0.1)."""

    def __init__(self, app: ASGIApp, rate: str):
        self.app = app
        try:
            self.item: RateLimitItem = parse(rate)
        except ValueError:
            raise ValueError(f"rate {rate!r}: expected a rate such as 300/minute or 5/second") from None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = _header(scope["headers"], b"authorization") or b""
        key = hashlib.sha256(token).hexdigest()  # not the token itself: it is kept in one place
        if not self.limiter.hit(self.item, key):
            reset = self.limiter.get_window_stats(self.item, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            return await send_error(send, 429, f"rate limit exceeded: at most {self.item}", {"Retry-After": str(wait)})
        await self.app(scope, receive, send)


class BearerToken:
    """Every request must carry `Authorization: Bearer <token>` (compared in constant time), else 401."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not carries_token(scope["headers"], self.token):
            detail = "missing or wrong bearer token (see the token file of `visuallens serve`)"
            return await send_error(send, 401, detail, {"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuses a body over `max_bytes` with 413: by its Content-Length before reading anything, else (chunked)
    as soon as the bytes read cross the limit. The body is buffered here and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body larger than {self.max_bytes} bytes"
        declared = _header(scope["headers"], b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await send_error(send, 413 if declared.isdigit() else 400,
                                    too_large if declared.isdigit() else "invalid Content-Length")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await send_error(send, 413, too_large, {"Connection": "close"})
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

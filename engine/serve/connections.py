"""uvicorn's h11 protocol with the limits HTTP needs below the app: deadlines for each request head and body and
for answers left unread (uvicorn has none: a client that never finishes its head holds its connection forever), and
a cap on each peer's live connections that makes room for a new one by closing those that never carried the token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from engine.serve.guards import carries_token
from engine.serve.settings import Limits

_ANSWERING = (h11.SEND_RESPONSE, h11.SEND_BODY)  # our side, while a request is in and not yet answered


def guarded_h11(limits: Limits, token: str) -> Callable[..., GuardedH11Protocol]:
    """The protocol factory for `uvicorn.Config(http=...)`, with one `Peers` for all the server's connections."""
    return partial(GuardedH11Protocol, limits=limits, token=token, peers=Peers(limits.max_connections))


class Peers:
    """The live connections of each peer address, oldest first (event-loop thread only)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.live: dict[str, dict[GuardedH11Protocol, None]] = {}

    def admit(self, connection: GuardedH11Protocol) -> bool:
        """Count a new connection in. At the cap, one is closed to make room: the oldest that never carried the
        token, else the oldest between requests. The new one is refused (False) only if every other one is
        answering a request with the token: tokenless requests, stalled or flooding, never keep it out."""
        live = self.live.setdefault(connection.peer, {})
        if len(live) >= self.cap:
            making_room = next((c for c in live if not c.trusted), None) or next((c for c in live if c.idle), None)
            if making_room is None:
                return False
            self.leave(making_room)
            making_room.transport.abort()
        live[connection] = None
        return True

    def leave(self, connection: GuardedH11Protocol) -> None:
        live = self.live.get(connection.peer)
        if live is not None:
            live.pop(connection, None)
            if not live:
                del self.live[connection.peer]


class GuardedH11Protocol(H11Protocol):
    """Aborts a connection whose request head is not complete `header_timeout` seconds after the connection (or,
    kept alive, after the request's first byte), whose body is not complete `body_timeout` seconds after its head,
    or whose client has not read its answer for `send_timeout` seconds once the send buffers are full. Between
    requests uvicorn's keep-alive timeout applies; while the app works on an answer, nothing does."""

    def __init__(self, *args: Any, limits: Limits, token: str, peers: Peers, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.token = token
        self.peers = peers
        self.peer = ""
        self.trusted = False  # a request on this connection carried the token
        self._awaiting = ""  # "head", "body", or "" (nothing: answering, or idle under the keep-alive timer)
        self._deadline: asyncio.TimerHandle | None = None
        self._unread: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        """No request in progress: none yet, waiting for the next one, or the answer sent."""
        return self.conn.our_state not in _ANSWERING

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer = self.client[0] if self.client else ""
        if not self.peers.admit(self):
            transport.abort()
            return
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._await("")
        if self._unread is not None:
            self._unread.cancel()
        self.peers.leave(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def pause_writing(self) -> None:
        """The send buffers are full: the client is not reading its answer."""
        super().pause_writing()
        if self._unread is None:
            self._unread = self.loop.call_later(self.limits.send_timeout, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._unread is not None:
            self._unread.cancel()
            self._unread = None

    def _follow(self) -> None:
        """After h11 has taken in what arrived: note whether the latest request head carried the token, and arm the
        deadline for what the client owes next."""
        if not self.trusted and self.headers is not None:
            self.trusted = carries_token(self.headers, self.token)
        state = self.conn.their_state
        if state is h11.IDLE:
            self._await("" if self.timeout_keep_alive_task is not None else "head")
        else:
            self._await("body" if state is h11.SEND_BODY else "")

    def _await(self, part: str) -> None:
        if part == self._awaiting:
            return  # a deadline runs from the start of what it waits for, not from the latest bytes
        if self._deadline is not None:
            self._deadline.cancel()
        self._awaiting = part
        seconds = {"head": self.limits.header_timeout, "body": self.limits.body_timeout}.get(part)
        self._deadline = None if seconds is None else self.loop.call_later(seconds, self.transport.abort)

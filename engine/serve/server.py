"""Run the API with uvicorn on 127.0.0.1 only: in the foreground (`visuallens serve`) or in a thread."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import uvicorn

from engine.api import VisualLens
from engine.serve.app import create_app
from engine.serve.connections import guarded_h11
from engine.serve.service import LensService
from engine.serve.settings import DEFAULT_PORT, HOST, Limits
from engine.serve.token import clear_stale_token_file, config_dir, new_token, remove_token_file, write_token_file


class PortUnavailableError(ValueError):
    """The port is taken; the message says which and what to do."""


class LocalServer:
    """The API over one unlocked profile: refuses to start while another server owns the token file (removing a
    stale one: `stale_token_file`), binds the loopback port, loads the engine, then writes the token file."""

    def __init__(self, lens: VisualLens, port: int = DEFAULT_PORT, limits: Limits = Limits(),
                 config: str | Path | None = None):
        self.token = new_token()
        folder = config_dir(config)
        self.stale_token_file = clear_stale_token_file(folder)
        self.token_file_removed = False  # on stop: False when the file no longer held this server's token
        self.socket = _bind(port)
        try:
            self.url = f"http://{HOST}:{self.socket.getsockname()[1]}"
            self.service = LensService(lens)
            app = create_app(self.service, self.token, limits)
            # No limit_concurrency: it counts stalled connections, so 64 of them got everyone a 503. The protocol
            # caps and reaps connections instead (and no WebSocket upgrade may take a connection out of its hands).
            self._server = uvicorn.Server(uvicorn.Config(
                app, http=guarded_h11(limits, self.token), ws="none",  # type: ignore[arg-type]  # a factory works too log_level="warning", access_log=False,
                lifespan="off", server_header=False, timeout_keep_alive=5,
            ))
            self.token_path = write_token_file(folder, self.url, self.token)
        except BaseException:
            self.socket.close()
            raise
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until Ctrl+C or SIGTERM (main thread), then stop cleanly: a requested stop is not an error."""
        previous = signal.signal(signal.SIGTERM, _interrupt)
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.2)  # not join(): a join interrupted by the signal leaves the thread looking finished
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Serve from a background thread; returns once it accepts connections."""
        self._thread = threading.Thread(target=self._serve, name="visuallens-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self.socket])  # not the main thread: uvicorn leaves signals alone
        finally:
            self.token_file_removed = remove_token_file(self.token_path, self.token)
            self.socket.close()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _bind(port: int) -> socket.socket:
    try:
        return socket.create_server((HOST, port))
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise PortUnavailableError(f"cannot listen on {HOST}:{port} ({reason}): pick another --port") from None

"""Denial of service without the token: what a web page (tokenless cross-origin POSTs) or another local user (raw
connections) can do to the API must not lock out the program that holds the token.

Times asserted are generous upper bounds only: the machine is shared."""

import select
import socket
import threading
import time

import httpx
import pytest

from engine.serve.server import LocalServer
from engine.serve.settings import Limits

PARTIAL_HEAD = b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"  # no empty line yet


@pytest.fixture()
def serve(lens, tmp_path):
    """Starts a server with the given `Limits` fields (stopped at the end of the test)."""
    servers: list[LocalServer] = []

    def start(**limits) -> LocalServer:
        servers.append(LocalServer(lens, port=0, limits=Limits(**limits), config=tmp_path / str(len(servers))))
        servers[-1].start()
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _port(server: LocalServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _auth(server: LocalServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _status(server: LocalServer) -> int:
    return httpx.get(server.url + "/status", headers=_auth(server), timeout=30).status_code


def _stalled(port: int, data: bytes = PARTIAL_HEAD) -> socket.socket:
    """A connection that sends `data` and then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(data)
    return sock


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection (end of file or reset) within `within` seconds; whatever it sends
    before (an answer) is read and dropped."""
    deadline = time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        pass
    return False


def _unread(port: int, requests: int) -> socket.socket:
    """A connection that pipelines tokenless requests and never reads the answers: sends them all, or until the
    server has stopped reading them for a second."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up at once: the server's buffers next
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    pending, blocked_since = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * requests, None
    while pending and (blocked_since is None or time.monotonic() - blocked_since < 1):
        try:
            pending, blocked_since = pending[sock.send(pending[:65536]):], None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            time.sleep(0.01)
    return sock


def _trickled_until_closed(sock: socket.socket, within: float) -> bool:
    """Sends one body byte every 0.2 s; whether the server closes the connection within `within` seconds."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            sock.sendall(b" ")
            if _closed(sock, 0.2):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


# -- the rate limit ------------------------------------------------------------------------------------------
def test_requests_without_the_token_do_not_spend_its_rate_budget(serve):
    server = serve(rate="5/minute")
    with httpx.Client(base_url=server.url, timeout=30) as anyone:
        # What any web page can send cross-origin without a preflight: a text/plain POST, no token.
        tokenless = [anyone.post("/recommend", content=b"x", headers={"Content-Type": "text/plain"})
                     for _ in range(20)]
        tokenless += [anyone.get("/status", headers={"Authorization": "Bearer wrong"}) for _ in range(5)]
        assert [a.status_code for a in tokenless] == [401] * 25
        assert all("token" in a.json()["detail"] for a in tokenless)

        assert [_status(server) for _ in range(5)] == [200] * 5  # the token holder's budget, all of it
        refused = httpx.get(server.url + "/status", headers=_auth(server), timeout=30)
        assert refused.status_code == 429 and "rate limit" in refused.json()["detail"]
        assert anyone.post("/recommend", content=b"x").status_code == 401  # still the token's answer, not 429


# -- slow heads and bodies -----------------------------------------------------------------------------------
def test_stalled_request_heads_are_closed_and_the_client_gets_through(serve):
    server = serve(header_timeout=0.5, max_connections=200)  # a cap above the stalled ones: the timeout reaps them
    stalled = [_stalled(_port(server)) for _ in range(80)]  # more than uvicorn's old limit_concurrency of 64
    try:
        assert _status(server) == 200
        assert all(_closed(sock, 10) for sock in stalled)
        silent = socket.create_connection(("127.0.0.1", _port(server)), timeout=10)  # not one byte sent
        assert _closed(silent, 10)
        assert _status(server) == 200
    finally:
        for sock in stalled:
            sock.close()


def test_request_heads_sent_byte_by_byte_are_closed(serve):
    """The head deadline runs from the first byte: bytes that keep coming do not extend it."""
    server = serve(header_timeout=1.0)
    sock = _stalled(_port(server), b"G")
    try:
        started = time.monotonic()
        for byte in b"ET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 200:
            sock.sendall(bytes([byte]))
            if _closed(sock, 0.2):
                break
        else:
            pytest.fail("a head sent byte by byte for over 40 s was not closed")
        assert time.monotonic() - started < 30
    finally:
        sock.close()
    assert _status(server) == 200


@pytest.mark.parametrize("token", [True, False])
def test_trickling_bodies_are_closed_and_the_client_gets_through(serve, token):
    """With the token, the app waits for the body; without, it was answered 401 and the body still trickles in."""
    server = serve(body_timeout=1.0)
    auth = f"Authorization: Bearer {server.token}\r\n" if token else ""
    head = (f"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n{").encode()
    trickling = [_stalled(_port(server), head) for _ in range(4)]
    try:
        assert _status(server) == 200
        assert all(_trickled_until_closed(sock, 15) for sock in trickling)
        assert _status(server) == 200
    finally:
        for sock in trickling:
            sock.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="reads the connection's state from Linux's TCP_INFO")
@pytest.mark.slow  # pushes about 9 MB of answers at the server: not in `./run test fast`
def test_answers_left_unread_are_closed(serve):
    server = serve(send_timeout=1.0)
    sock = _unread(_port(server), 40_000)  # about 9 MB of 401 answers: more than the kernel buffers
    try:
        deadline = time.monotonic() + 60
        while sock.getsockopt(socket.SOL_TCP, socket.TCP_INFO, 1)[0] == 1:  # tcpi_state: 1 is ESTABLISHED
            assert time.monotonic() < deadline, "a connection whose answers are not read was not closed"
            time.sleep(0.1)
    finally:
        sock.close()
    assert _status(server) == 200


# -- the connection cap --------------------------------------------------------------------------------------
def test_at_the_cap_the_oldest_connections_without_the_token_make_room(serve):
    server = serve(max_connections=4, header_timeout=60)  # a long head deadline: only the cap closes anything
    old = [_stalled(_port(server)) for _ in range(4)]
    new = [_stalled(_port(server)) for _ in range(4)]
    try:
        assert all(_closed(sock, 10) for sock in old)
        assert not any(_closed(sock, 0.2) for sock in new)
        assert [_status(server) for _ in range(3)] == [200] * 3
        assert _closed(new[0], 10) and not _closed(new[-1], 0.2)  # the oldest made room for the client, not the newest
    finally:
        for sock in old + new:
            sock.close()


@pytest.mark.slow  # waits out a 5 s body deadline: not in `./run test fast`
def test_beyond_the_cap_of_busy_connections_new_ones_are_refused(serve):
    """Only requests with the token, in progress, hold a place for sure. Once every place is so held, a new
    connection is closed at once; after the slow bodies are reaped, the client gets through."""
    server = serve(max_connections=4, header_timeout=60, body_timeout=5)
    head = (f"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n").encode()
    busy = [_stalled(_port(server), head) for _ in range(4)]
    try:
        for sock in busy:  # the app asked for the body: the request is in progress
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")
        refused = socket.create_connection(("127.0.0.1", _port(server)), timeout=10)
        assert _closed(refused, 10)
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url + "/status", headers=_auth(server), timeout=10)

        assert all(_closed(sock, 30) for sock in busy)  # the body deadline
        assert _status(server) == 200
    finally:
        for sock in busy:
            sock.close()


def test_tokenless_floods_on_every_connection_do_not_keep_the_client_out(serve):
    """Connections busy answering 401s (pipelined, never read) are not the token holder's: they make room."""
    server = serve(max_connections=2)
    flooding = [_unread(_port(server), 40_000) for _ in range(2)]
    try:
        assert [_status(server) for _ in range(3)] == [200] * 3
    finally:
        for sock in flooding:
            sock.close()


def test_the_client_gets_through_while_stalled_connections_keep_refilling_the_cap(serve):
    server = serve(max_connections=8, header_timeout=60)
    stop, reopened = threading.Event(), []

    def flood() -> None:
        """Keeps the cap full of stalled connections, opening a new one shortly after the server closes one."""
        socks = [_stalled(_port(server)) for _ in range(8)]
        try:
            while not stop.is_set():
                for sock in select.select(socks, [], [], 0.05)[0]:
                    if _closed(sock, 0.01):
                        sock.close()
                        time.sleep(0.02)
                        socks[socks.index(sock)] = _stalled(_port(server))
                        reopened.append(1)
        finally:
            for sock in socks:
                sock.close()

    attacker = threading.Thread(target=flood, daemon=True)
    attacker.start()
    try:
        time.sleep(0.5)
        assert [_status(server) for _ in range(10)] == [200] * 10
    finally:
        stop.set()
        attacker.join(30)
    assert reopened  # the client's connections did find the cap full

"""`visuallens serve` end to end on loopback: a real server over a real unlocked profile, a real HTTP client."""

import base64
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from engine.serve.schema import MAX_CANDIDATES
from engine.serve.server import LocalServer, PortUnavailableError
from engine.serve.settings import Limits

MAX_BODY = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(lens, tmp_path_factory):
    with LocalServer(lens, port=0, limits=Limits(rate="10000/minute", max_body_bytes=MAX_BODY),
                     config=tmp_path_factory.mktemp("config")) as running:
        yield running


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=60) as c:
        yield c


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _candidates(photo_dir: Path) -> list[dict]:
    return [
        {"id": "c1", "name": "cat cafe", "image": _b64(photo_dir / "chelsea.png")},
        {"id": "c2", "name": "coffee roastery", "description": "beans", "image": _b64(photo_dir / "coffee.jpg")},
        {"id": "c3", "name": "rocket launch viewing"},
    ]


def _secrets(lens) -> list[str]:
    """Everything about the library an answer must never contain: paths, file names, folders, captions."""
    paths = lens.photo_paths()
    found = [str(lens.home.root), *lens.store.folders()]
    for profile in lens.store.profiles(paths):
        found += [profile.path, Path(profile.path).name, profile.caption]
    return found


# -- the guards ---------------------------------------------------------------------------------------------
def test_requests_without_the_right_token_are_refused(server):
    good = server.token
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {good[:-1]}"},
                    {"Authorization": good}, {"Authorization": f"Basic {good}"}, {"Authorization": f"Bearer {good}x"}]:
        for method, path in [("GET", "/status"), ("POST", "/recommend"), ("GET", "/openapi.json"), ("GET", "/nope")]:
            answer = httpx.request(method, server.url + path, headers=headers, json={"category": "x"})
            assert answer.status_code == 401, (headers, path)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "token" in answer.json()["detail"]


def test_token_file_is_private_new_on_every_start_and_removed_on_stop(lens, tmp_path):
    tokens = []
    for _ in range(2):
        with LocalServer(lens, port=0, config=tmp_path / "cfg") as running:
            path = running.token_path
            assert path == tmp_path / "cfg" / "api.json"
            assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
            saved = json.loads(path.read_text())
            assert saved == {"url": running.url, "token": running.token} and running.url.startswith("http://127.0.0.1:")
            headers = {"Authorization": f"Bearer {saved['token']}"}
            assert httpx.get(saved["url"] + "/status", headers=headers).status_code == 200
            tokens.append(saved["token"])
        assert not path.exists() and list(path.parent.iterdir()) == []
    assert tokens[0] != tokens[1] and len(tokens[0]) >= 43  # 256 random bits, urlsafe base64


def test_listens_on_loopback_only(lens, server, tmp_path):
    port = int(server.url.rsplit(":", 1)[1])
    assert server.socket.getsockname() == ("127.0.0.1", port)
    with pytest.raises(PortUnavailableError, match=f"127.0.0.1:{port}.*--port"):
        LocalServer(lens, port=port, config=tmp_path)
    assert not (tmp_path / "api.json").exists()
    assert httpx.get(server.url + "/status", headers={"Host": "evil.example",
                                                      "Authorization": f"Bearer {server.token}"}).status_code == 400


def test_oversized_bodies_are_refused_before_they_are_read(server, client):
    # Declared too large: refused on the headers alone, though not one body byte is sent.
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(f"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {10**9}\r\n\r\n".encode())
        assert raw.recv(4096).split(b"\r\n", 1)[0] == b"HTTP/1.1 413 Request Entity Too Large"

    # Chunked, no Content-Length, the body never finished: answered once the bytes read cross the limit.
    # (Exactly one byte over: the server reads all that was sent, so its close cannot reset the connection.)
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(f"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        raw.sendall((b"10000\r\n" + b" " * 65536 + b"\r\n") * (MAX_BODY // 65536) + b"1\r\n \r\n")  # no 0-size end
        answer = b"".join(iter(lambda: raw.recv(65536), b""))  # until the server closes
        assert answer.startswith(b"HTTP/1.1 413 ") and str(MAX_BODY).encode() in answer
    assert client.get("/status").status_code == 200


def test_rate_limit_per_token(lens, tmp_path):
    with LocalServer(lens, port=0, limits=Limits(rate="3/minute"), config=tmp_path) as limited:
        headers = {"Authorization": f"Bearer {limited.token}"}
        assert [httpx.get(limited.url + "/status", headers=headers).status_code for _ in range(3)] == [200] * 3
        refused = httpx.get(limited.url + "/status", headers=headers)
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "rate limit" in refused.json()["detail"]
        assert httpx.get(limited.url + "/status").status_code == 401  # the token is checked first


# -- input validation ---------------------------------------------------------------------------------------
def test_malformed_json_and_non_objects_are_400(client):
    for body, content_type in [(b'{"category": "x", ', "application/json"), (b"[1, 2]", "application/json"),
                               (b"category=x", "application/x-www-form-urlencoded"), (b"", "application/json")]:
        answer = client.post("/recommend", content=body, headers={"Content-Type": content_type})
        assert answer.status_code == 400, body
        assert "JSON" in answer.json()["detail"]


@pytest.mark.parametrize("change, field, words", [
    ({"category": ""}, "category", "at least 1 character"),
    ({"candidates": []}, "candidates", "at least 1 item"),
    ({"candidates": [{"id": "a", "name": "x"}] * (MAX_CANDIDATES + 1)}, "candidates", f"at most {MAX_CANDIDATES}"),
    ({"top": 0}, "top", "greater than or equal to 1"),
    ({"query": "q" * 501}, "query", "at most 500"),
    ({"colour": "red"}, "colour", "Extra inputs"),
    ({"candidates": [{"id": "a"}]}, "candidates[0].name", "Field required"),
    ({"candidates": [{"id": "a", "name": "x", "image": "not base64!"}]}, "candidates[0].image", "not valid base64"),
    ({"candidates": [{"id": "a", "name": "x"}, {"id": "b", "name": "y", "image": "aGVsbG8="}]},
     "candidates[1].image", "not a recognised image format"),
    ({"candidates": [{"id": "a", "name": "x", "image_path": "relative.jpg"}]}, "candidates[0].image_path", "absolute"),
    ({"candidates": [{"id": "a", "name": "x", "image_path": "/no/such/picture.jpg"}]}, "candidates[0].image_path",
     "no usable picture"),
    ({"candidates": [{"id": "a", "name": "x", "image_path": "/dev/zero"}]}, "candidates[0].image_path",
     "no usable picture"),
    ({"candidates": [{"id": "a", "name": "x", "image": "aGVsbG8=", "image_path": "/x.jpg"}]}, "candidates[0]",
     "either image or image_path"),
    ({"candidates": [{"id": "a", "name": "x"}, {"id": "a", "name": "y"}]}, "candidates[1].id",
     "repeats candidates[0].id"),
])
def test_invalid_fields_are_422_naming_the_field(client, change, field, words):
    answer = client.post("/recommend", json={"category": "outing", "candidates": [{"id": "a", "name": "x"}], **change})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert words in next(e["message"] for e in errors if e["field"] == field)
    assert "aGVsbG8=" not in answer.text and "relative.jpg" not in answer.text  # values are not echoed


# -- the answers --------------------------------------------------------------------------------------------
def test_valid_ranking_matches_the_engine(lens, server, client, catalog):
    rows = list(csv.DictReader(catalog.open()))
    candidates = [{"id": r["id"], "name": r["name"], "image": _b64(catalog.parent / r["image"])} for r in rows[:2]]
    path = str(catalog.parent / rows[2]["image"])
    candidates.append({"id": rows[2]["id"], "name": rows[2]["name"], "image_path": path})
    answer = client.post("/recommend", json={"category": "outing", "candidates": candidates, "query": "a pet"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"category", "query", "scorer", "query_aspect_words", "ranking"}
    assert body["scorer"] == "trained ranker" and body["query"] == "a pet"
    assert [r["rank"] for r in body["ranking"]] == [1, 2, 3]
    assert all(set(r) == {"id", "name", "score", "rank", "aspect_words", "moved_by"} for r in body["ranking"])
    assert all(r["moved_by"] is None for r in body["ranking"])  # no judgements yet
    assert body["ranking"][0]["id"] == "c1"  # a cat photo in the library, "a pet" asked for: the cat cafe

    with server.service.lock:
        expected = lens.recommend("outing", catalog, query="a pet")
    assert [r["id"] for r in body["ranking"]] == [r.item.id for r in expected.ranked]
    assert [r["score"] for r in body["ranking"]] == pytest.approx([r.score for r in expected.ranked], abs=1e-5)
    assert [r["aspect_words"] for r in body["ranking"]] == [list(r.evidence.aspect_words) for r in expected.ranked]
    assert body["query_aspect_words"] == list(expected.profile_aspects)

    top = client.post("/recommend", json={"category": "outing", "candidates": candidates, "top": 1}).json()
    assert len(top["ranking"]) == 1 and top["query"] is None


def test_feedback_moves_the_item_says_so_and_undo_withdraws_it(client, photo_dir):
    request = {"category": "outing", "candidates": _candidates(photo_dir)}
    before = client.post("/recommend", json=request).json()["ranking"]
    last = before[-1]
    liked = client.post("/feedback", json={"category": "Outing", "id": last["id"], "name": last["name"], "verdict": "like"})
    assert liked.status_code == 200, liked.text
    assert liked.json() == {"category": "Outing", "id": last["id"], "verdict": "like", "changed": True, "judgements": 1}
    after = {r["id"]: r for r in client.post("/recommend", json=request).json()["ranking"]}
    assert after[last["id"]]["score"] > last["score"]
    assert after[last["id"]]["moved_by"] == {"id": last["id"], "name": last["name"], "liked": True}
    undo = client.post("/feedback", json={"category": "outing", "id": last["id"], "verdict": "undo"}).json()
    assert undo["changed"] and undo["judgements"] == 0
    assert client.post("/recommend", json=request).json()["ranking"] == before
    again = client.post("/feedback", json={"category": "outing", "id": last["id"], "verdict": "undo"}).json()
    assert not again["changed"]
    nameless = client.post("/feedback", json={"category": "outing", "id": "c1", "verdict": "not_for_me"})
    assert nameless.status_code == 422 and "name" in nameless.text
    unknown = client.post("/feedback", json={"category": "outing", "id": "c1", "name": "x", "verdict": "meh"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "verdict"


def test_status(client):
    body = client.get("/status").json()
    assert body == {"version": body["version"], "photos": 4, "bundle": "lite", "bundle_version": body["bundle_version"],
                    "provider": "CPUExecutionProvider", "ranker": body["ranker"], "scorer": "trained ranker"}
    assert body["ranker"].startswith("trained ranker (")


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/recommend", "/feedback", "/status"}
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert {"401", "413", "422", "429"} <= set(spec["paths"]["/recommend"]["post"]["responses"])
    request = spec["components"]["schemas"]["RecommendRequest"]
    assert request["properties"]["candidates"]["maxItems"] == MAX_CANDIDATES
    assert set(request["required"]) == {"category", "candidates"}
    assert client.get("/docs").status_code == 404  # no doc pages: they would load scripts from a CDN


def test_no_answer_reveals_the_library(lens, server, client, photo_dir):
    secrets = _secrets(lens)
    assert len(secrets) >= 10 and all(secrets)
    library_photo = str(photo_dir / "chelsea.png")
    answers = [
        client.get("/status"),
        client.get("/openapi.json"),
        client.post("/recommend", json={"category": "outing", "candidates": _candidates(photo_dir), "query": "a cat"}),
        client.post("/recommend", json={"category": "pets", "candidates": [
            {"id": "p", "name": "pet shop", "image_path": library_photo}]}),
        client.post("/recommend", json={"category": "x", "candidates": [
            {"id": "p", "name": "x", "image_path": str(photo_dir / "missing.jpg")}]}),
        client.post("/recommend", json={"category": "x", "candidates": [
            {"id": "p", "name": "x", "image_path": "p.jpg"}]}),
        client.post("/recommend", content=b"{", headers={"Content-Type": "application/json"}),
        client.get("/nope"),
        httpx.get(server.url + "/status"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 422, 422, 422, 400, 404, 401]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer.text, f"{answer.request.url} revealed {secret!r}"
        assert not any(k in answer.text.lower() for k in ('"vector', '"embedding', '"caption', '"path"'))


def test_serve_command_runs_until_interrupted(lens, tmp_path):
    """The typer command in a subprocess: unlocks, prints where the token is, serves, stops cleanly on SIGTERM."""
    code = ("import typer; from engine.cli.serve import serve_command; "
            "app = typer.Typer(); app.command()(serve_command); app()")
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--config", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "api.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        saved = json.loads((tmp_path / "api.json").read_text())
        status = httpx.get(saved["url"] + "/status", headers={"Authorization": f"Bearer {saved['token']}"}, timeout=30)
        assert status.json()["photos"] == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "127.0.0.1" in out and str(tmp_path / "api.json") in out and "Stopped" in err
    assert saved["token"] not in out + err
    assert not (tmp_path / "api.json").exists()


def test_bounded_load(server, photo_dir):
    """4 concurrent clients x 25 rankings: no errors. Latencies are printed, not asserted (shared 2-core machine)."""
    body = {"category": "outing", "candidates": _candidates(photo_dir), "query": "something warm"}

    def client_run(seed: int) -> list[float]:
        times = []
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=60) as c:
            for i in range(25):
                started = time.perf_counter()
                answer = c.post("/recommend", json={**body, "top": 1 + (seed + i) % 3})
                times.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["ranking"]) == 1 + (seed + i) % 3
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        latencies = sorted(t for run in pool.map(client_run, range(4)) for t in run)
    wall = time.perf_counter() - started
    assert len(latencies) == 100
    p50, p95 = statistics.quantiles(latencies, n=100)[49] * 1000, statistics.quantiles(latencies, n=100)[94] * 1000
    print(f"\nload: 4 clients x 25 /recommend in {wall:.1f} s; p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")

"""Candidate pictures sent to the API: bounded decoding, and an `image_path` that neither probes files nor reads
the user's own photos."""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from engine.serve import images, service
from engine.serve.server import LocalServer
from engine.serve.service import UNUSABLE_PATH
from engine.serve.settings import Limits


@pytest.fixture(scope="module")
def server(lens, tmp_path_factory):
    with LocalServer(lens, port=0, limits=Limits(rate="10000/minute"), config=tmp_path_factory.mktemp("c")) as running:
        yield running


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=120) as c:
        yield c


def _png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _ask(client: httpx.Client, candidate: dict) -> httpx.Response:
    return client.post("/recommend", json={"category": "outing", "candidates": [{"id": "a", "name": "x", **candidate}]})


def test_a_one_pixel_strip_is_refused_at_once_not_decoded(client):
    strip = _png(1, 100_000)
    assert len(strip) < 1000
    answer = _ask(client, {"image": base64.b64encode(strip).decode()})
    assert answer.status_code == 422
    assert "too long and thin" in answer.json()["errors"][0]["message"]


def test_every_unusable_path_gets_the_same_answer(lens, client, photo_dir, tmp_path):
    library_photo = Path(lens.photo_paths()[0])
    (tmp_path / "notes.jpg").write_text("shopping list")
    (tmp_path / "strip.png").write_bytes(_png(1, 100_000))
    (tmp_path / "link-into-library.jpg").symlink_to(library_photo)
    with open(tmp_path / "huge.jpg", "wb") as sparse:
        sparse.truncate(images.MAX_IMAGE_FILE_BYTES + 1)
    paths = [library_photo, photo_dir / "missing.jpg", tmp_path, Path("/dev/zero"), *sorted(tmp_path.iterdir())]

    bodies = set()
    for path in paths:
        answer = _ask(client, {"image_path": str(path)})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"] == [{"field": "candidates[0].image_path", "message": UNUSABLE_PATH}], path
        bodies.add(answer.text)
    assert len(bodies) == 1

    outside = tmp_path / "a-new-picture.png"
    outside.write_bytes(_png(64, 48, (20, 160, 90)))
    assert _ask(client, {"image_path": str(outside)}).status_code == 200



def test_the_pictures_one_request_names_by_path_are_bounded_in_total(client, tmp_path, monkeypatch):
    """A request may name up to MAX_CANDIDATES files of up to 50 MB each: their bytes, held at once, are capped."""
    pictures = [tmp_path / f"{i}.png" for i in range(3)]
    for i, path in enumerate(pictures):
        path.write_bytes(_png(64, 48, (40 * i, 90, 200)))
    monkeypatch.setattr(service, "MAX_PATH_BYTES_PER_REQUEST", 2 * max(p.stat().st_size for p in pictures))
    candidates = [{"id": str(i), "name": f"thing {i}", "image_path": str(p)} for i, p in enumerate(pictures)]
    answer = client.post("/recommend", json={"category": "outing", "candidates": candidates})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "candidates[2].image_path", "message": UNUSABLE_PATH}]
    answer = client.post("/recommend", json={"category": "outing", "candidates": candidates[:2]})
    assert answer.status_code == 200, answer.text

def test_concurrent_requests_decode_a_bounded_number_of_pictures_at_once(client, monkeypatch):
    active, peak, lock = 0, 0, threading.Lock()
    decode = images.open_oriented

    def slow_decode(*args, **kwargs):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)
            return decode(*args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(images, "open_oriented", slow_decode)
    pictures = [base64.b64encode(_png(40 + i, 40, (i * 30 % 256, 90, 200))).decode() for i in range(24)]

    def request(start: int) -> int:
        candidates = [{"id": str(k), "name": "x", "image": pictures[k]} for k in range(start, start + 3)]
        return client.post("/recommend", json={"category": "outing", "candidates": candidates}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(request, range(0, 24, 3))) == [200] * 8
    assert 1 <= peak <= images.DECODE_SLOTS

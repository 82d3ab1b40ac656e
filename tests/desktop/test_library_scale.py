"""The library view over thousands of photos: the list is read off the UI thread, only rows on screen ask for
thumbnails, and the queued loads of rows scrolled away are dropped before anything decodes them (the benchmark
measures the times; these tests only the structure)."""

from __future__ import annotations

import threading

import pytest

import desktop.thumbnails as thumbnails_module
from desktop.indexing import IndexRunner
from desktop.library_view import LibraryView
from desktop.session import Session
from desktop.thumbnails import ThumbnailCache
from engine.home import Home

PHOTOS = 3000


class FakeLens:
    """What the library view reads of an unlocked profile: its photos' paths (and in which thread)."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.read_in: list[threading.Thread] = []

    def photo_paths(self) -> list[str]:
        self.read_in.append(threading.current_thread())
        return list(self.paths)

    def failures(self) -> list:
        return []

    def release_idle_models(self, idle_seconds: float) -> list[str]:
        return []  # the session asks each minute; a fake has no models

    def close(self) -> None:
        pass


@pytest.fixture()
def gate(monkeypatch):
    """Thumbnail loads wait until the gate opens; `started` lists the paths loaders began to decode."""
    opened = threading.Event()
    started: list[str] = []
    real = thumbnails_module.thumbnail_image

    def gated(path: str, *args, **kwargs):
        started.append(path)
        assert opened.wait(30), "the gate never opened"
        return real(path, *args, **kwargs)

    monkeypatch.setattr(thumbnails_module, "thumbnail_image", gated)
    gated.opened, gated.started = opened, started  # type: ignore[attr-defined]
    yield gated
    opened.set()


@pytest.fixture()
def library(qtbot, tmp_path, gate):
    """A library view over PHOTOS photos (paths that do not exist: a load fails fast once the gate opens)."""
    from desktop.app import create_app

    create_app([])
    session = Session(Home(tmp_path / "home"))
    cache = ThumbnailCache(threads=2)
    view = LibraryView(session, IndexRunner(session), cache)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    lens = FakeLens([f"/nowhere/{i // 1000:03d}/IMG_{i:06d}.jpg" for i in range(PHOTOS)])
    session.attach(lens)  # type: ignore[arg-type]
    yield view, lens, cache
    gate.opened.set()
    cache.wait()
    session.close()  # its timers stop with it: none fires in a later test


def _requested(cache: ThumbnailCache, gate) -> int:
    return len(gate.started) + cache.queued()


def test_the_list_is_read_in_a_worker_and_only_rows_on_screen_ask_for_thumbnails(qtbot, library, gate):
    view, lens, cache = library
    qtbot.waitUntil(lambda: view.model.rowCount() == PHOTOS)
    assert lens.read_in and all(thread is not threading.main_thread() for thread in lens.read_in)
    on_screen = {view.model.path(row) for row in view.visible_rows()}
    assert 0 < len(on_screen) < PHOTOS // 20
    qtbot.waitUntil(lambda: len(gate.started) == cache.threads)  # both loaders busy, the rest queued
    qtbot.wait(50)
    assert _requested(cache, gate) == len(on_screen)
    assert set(gate.started) <= on_screen
    view.search_box.setText("x")
    view.search_box.clear()  # the whole library again: the list as last read, not read again
    assert view.model.rowCount() == PHOTOS and len(lens.read_in) == 1


def test_loads_queued_for_rows_scrolled_away_are_dropped(qtbot, library, gate):
    view, _, cache = library
    qtbot.waitUntil(lambda: view.model.rowCount() == PHOTOS)
    first = {view.model.path(row) for row in view.visible_rows()}
    qtbot.waitUntil(lambda: _requested(cache, gate) == len(first) and len(gate.started) == cache.threads)
    bar = view.grid.verticalScrollBar()
    for step in range(1, 6):  # a fast scroll: each screen painted, none of its thumbnails loaded yet
        bar.setValue(bar.maximum() * step // 10)
        qtbot.wait(20)
    last_rows = view.visible_rows()
    last = {view.model.path(row) for row in last_rows}
    assert not last & first
    qtbot.waitUntil(lambda: cache.queued() == len(last))  # the loads of the screens in between were dropped
    in_flight = set(gate.started)
    gate.opened.set()
    qtbot.waitUntil(lambda: all(cache.get(path) is not None for path in last))
    assert cache.wait()
    assert set(gate.started) == in_flight | last  # decoded: what was under way, and the screen where it stopped
    assert len(gate.started) == len(in_flight) + len(last)
    assert cache.held() == len(gate.started)

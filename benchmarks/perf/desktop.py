"""The desktop at library scale: the library view's first paint after unlock, thumbnails decoded, memory.

The library is synthetic, as in `queries` (random vectors in a real encrypted store), but every photo's path is a
real file: hard links to a few camera-size JPEGs (4032 x 3024), so each thumbnail the grid asks for is decoded as
a real photo's would be. `python -m benchmarks.perf.desktop PROFILE` runs the real main window offscreen
(QT_QPA_PLATFORM=offscreen) in a fresh process and prints one JSON line:

- `first_paint_s`: from a finished unlock (the passphrase accepted, as the unlock dialog hands the profile over) to
  the end of the first paint of the library grid with its rows in it: what a user sees;
- `ui_blocked_s`: how long the unlock's handlers held the UI thread before returning to the event loop;
- `first_screen_s`: until every visible row shows its thumbnail;
- thumbnails decoded after the first screen, and after paging down `screens` screens, one paint per screen as in a
  fast scroll, then jumping to the end: about the visible rows, not the library;
- RSS before the unlock's handoff and its peak until the end (sampled every 5 ms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SOURCES = 16  # distinct JPEGs the library's files link to
SOURCE_SIZE = (4032, 3024)  # a phone camera's 12 MP
CHUNK = 5_000
SCREENS = 5
TIMEOUT_S = 120.0


def photo_path(library: Path, i: int) -> Path:
    return library / f"{i // 1000:03d}" / f"IMG_{i:06d}.jpg"


def build_library(profile: Path, bundle: Path, root: Path, photos: int, seed: int = 0) -> Path:
    """An encrypted profile at `profile` whose library folder, `root/library`, holds `photos` files: hard links to
    SOURCES generated JPEGs in `root/sources`, each recorded in the store with its true size and mtime, so the
    catch-up scan the app starts at unlock finds every photo unchanged (as after a restart) and decodes nothing.
    Returns the library folder."""
    from benchmarks.perf.workspace import new_profile, open_profile
    from engine.profile.records import PhotoProfile

    sources = _write_sources(root / "sources", seed)
    library = (root / "library").resolve()
    for i in range(photos):
        path = photo_path(library, i)
        if i % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        os.link(sources[i % len(sources)], path)
    stats = [source.stat() for source in sources]
    new_profile(profile, bundle)
    with open_profile(profile) as lens:
        lens.include([library])
        rng = np.random.default_rng(seed)
        dim, visual_dim = lens.bundle.embedding_dim, lens.bundle.visual_dim
        for first in range(0, photos, CHUNK):
            n = min(CHUNK, photos - first)
            vectors = rng.standard_normal((n, dim)).astype(np.float32)
            visual = rng.standard_normal((n, visual_dim)).astype(np.float32)
            lens.store.add_profiles([
                PhotoProfile(
                    path=str(photo_path(library, i)), folder=str(library), size=stats[i % len(stats)].st_size,
                    mtime_ns=stats[i % len(stats)].st_mtime_ns, content_hash=f"{i:032x}", caption="a photo",
                    aspects=(), vector=vectors[i - first], width=SOURCE_SIZE[0], height=SOURCE_SIZE[1],
                    caption_vector=vectors[i - first], visual_vector=visual[i - first],
                    encoded_with=lens.bundle.identity,
                )
                for i in range(first, first + n)
            ])
    return library


def _write_sources(folder: Path, seed: int) -> list[Path]:
    """Smooth colour fields with some detail, saved as quality-90 JPEGs (about 1-2 MB each, like photos)."""
    from PIL import Image, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(SOURCES):
        coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(
            SOURCE_SIZE, Image.Resampling.BICUBIC)
        grain = Image.fromarray(rng.integers(0, 256, (SOURCE_SIZE[1] // 8, SOURCE_SIZE[0] // 8, 3), dtype=np.uint8))
        grain = grain.filter(ImageFilter.GaussianBlur(1)).resize(SOURCE_SIZE, Image.Resampling.BILINEAR)
        path = folder / f"source-{k:02d}.jpg"
        Image.blend(coarse, grain, 0.2).save(path, quality=90)
        out.append(path)
    return out


def measure_desktop(profile: Path, screens: int = SCREENS) -> dict:
    """The measurement in a fresh offscreen process (a first paint is only first once)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.perf.desktop", str(profile), str(screens)],
                          capture_output=True, text=True, check=False, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"desktop benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class _PeakRss:
    """The process's resident set, sampled every 5 ms in a thread (ru_maxrss would include the unlock's Argon2id)."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.now())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def main() -> None:  # noqa: PLR0915 - one measurement, step by step
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    profile, screens = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else SCREENS
    from PySide6.QtCore import QEvent, QObject, QTimer

    import desktop.thumbnails as thumbnails_module
    from benchmarks.perf.workspace import open_profile
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.session import Session
    from engine.home import Home

    decoded: list[str] = []  # every thumbnail decoded (list.append is atomic: the loaders' threads call it)
    real_thumbnail = thumbnails_module.thumbnail_image

    def counting(path: str, *args, **kwargs):
        decoded.append(path)
        return real_thumbnail(path, *args, **kwargs)

    thumbnails_module.thumbnail_image = counting  # type: ignore[assignment]
    app = create_app([])
    window = MainWindow(Session(Home(profile)))
    window.show()
    grid, model, thumbnails = window.library.grid, window.library.model, window.thumbnails

    class Paints(QObject):
        """Counts the grid's paints with rows in it; `done` is when the latest one has returned to the event loop."""

        def __init__(self) -> None:
            super().__init__()
            self.count, self.done = 0, 0.0

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and model.rowCount() > 0:
                self.count += 1
                QTimer.singleShot(0, self._painted)
            return False

        def _painted(self) -> None:
            self.done = time.perf_counter()

    class Stalls(QObject):
        """The longest time the event loop went without running a 5 ms timer: how long the UI stood still."""

        def __init__(self) -> None:
            super().__init__()
            self.last, self.longest = time.perf_counter(), 0.0
            self.timer = QTimer(self)
            self.timer.setInterval(5)
            self.timer.timeout.connect(self._tick)
            self.timer.start()

        def _tick(self) -> None:
            now = time.perf_counter()
            self.longest, self.last = max(self.longest, now - self.last), now

    def spin_until(condition, what: str) -> None:
        deadline = time.perf_counter() + TIMEOUT_S
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {what} within {TIMEOUT_S:.0f} s")
            app.processEvents()
            time.sleep(0.0005)

    def visible_paths() -> list[str]:
        return [model.path(row) for row in window.library.visible_rows()]

    def idle() -> None:
        """Let every queued thumbnail load finish and its result reach the model."""
        spin_until(lambda: thumbnails.queued() == 0 and thumbnails.wait(10), "idle thumbnail loaders")
        for _ in range(5):
            app.processEvents()

    def page(to: int) -> list[str]:
        """Scroll to `to` and return once the grid has painted there, without waiting for thumbnails."""
        painted = paints.count
        grid.verticalScrollBar().setValue(to)
        spin_until(lambda: paints.count > painted, "paint after scrolling")
        return visible_paths()

    paints = Paints()
    grid.viewport().installEventFilter(paints)
    for _ in range(20):
        app.processEvents()
    lens = open_profile(profile)  # as the unlock dialog's worker does; the clock starts when it hands it over
    app.processEvents()
    rss = _PeakRss()
    stalls = Stalls()
    started = stalls.last = time.perf_counter()
    window._unlocked(lens)
    returned = time.perf_counter()
    spin_until(lambda: paints.count > 0 and paints.done > 0, "first paint")
    first_paint = paints.done - started
    first = visible_paths()
    spin_until(lambda: all(thumbnails.get(path) is not None for path in first), "first screen's thumbnails")
    first_screen = time.perf_counter() - started
    idle()
    after_first, rss_first = len(decoded), rss.now()
    bar = grid.verticalScrollBar()
    seen = set(first)
    for _ in range(screens):  # a fast scroll: one paint per screen, no waiting for thumbnails
        seen.update(page(bar.value() + bar.pageStep()))
    last = visible_paths()
    idle()
    after_scroll = len(decoded)
    at_end = page(bar.maximum())
    idle()
    after_end = len(decoded)
    spin_until(lambda: not window.runner.running, "end of the catch-up scan")
    scan_done = time.perf_counter() - started
    settle = time.perf_counter() + 1.0  # the list read again after the scan, in the background
    spin_until(lambda: time.perf_counter() > settle, "")
    stalls.timer.stop()
    peak = rss.stop()
    timed = time.perf_counter()
    listed = lens.photo_paths()
    photo_paths_s = time.perf_counter() - timed
    print(json.dumps({
        "photos": model.rowCount(),
        "listed": len(listed),
        "first_paint_s": first_paint,
        "ui_blocked_s": returned - started,
        "first_screen_s": first_screen,
        "longest_stall_s": stalls.longest,
        "catch_up_scan_s": scan_done,
        "visible_rows": len(first),
        "decoded_first_screen": after_first,
        "screens": screens,
        "rows_scrolled_past": len(seen),
        "rows_last_screen": len(last),
        "decoded_scrolling": after_scroll - after_first,
        "rows_at_end": len(at_end),
        "decoded_at_end": after_end - after_scroll,
        "decoded_total": after_end,
        "distinct_decoded": len(set(decoded)),
        "thumbnails_held": thumbnails.held(),
        "thumbnail_capacity": thumbnails.capacity,
        "thumbnail_side": thumbnails.side,
        "photo_paths_s": photo_paths_s,
        "rss_before_mb": rss.start / 1e6,
        "rss_first_screen_mb": rss_first / 1e6,
        "rss_peak_mb": peak / 1e6,
    }))
    window.close()


if __name__ == "__main__":
    main()

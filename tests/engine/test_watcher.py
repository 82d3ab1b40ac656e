"""Live library watching with the real watchdog observer and the real engine: debounce, temp files, renames,
deletes, vanishing folders, the start-up reconcile and a clean shutdown of `visuallens watch` on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from engine.api import initialise, unlock
from engine.home import Home
from engine.library.debounce import Debouncer
from engine.library.watch_runner import watch
from engine.library.watcher import LibraryWatcher, is_photo_change

QUIET = 0.3  # seconds; short so the tests are quick, the waits below are polls with generous timeouts
SETTLE = 4 * QUIET  # how long "nothing else happens" is given to show itself


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Clock:
    """A settable clock for the debouncer."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- debouncing and filtering, no engine ------------------------------------------------------------------
def test_debouncer_waits_for_files_to_stop_changing_and_never_longer_than_max_delay(tmp_path):
    clock = Clock()
    debouncer: Debouncer[str] = Debouncer(1.0, 5.0, clock=clock)
    growing = tmp_path / "copying.jpg"
    growing.write_bytes(b"x" * 10)
    debouncer.add("lib", str(growing))
    clock.now = 0.5
    assert debouncer.pop_due() == set()  # not quiet yet
    growing.write_bytes(b"x" * 20)  # still being written, without any event
    clock.now = 1.2
    assert debouncer.pop_due() == set()  # quiet, but the size changed: not complete
    clock.now = 2.0
    assert debouncer.pop_due() == set()  # the change restarted the quiet period
    clock.now = 2.3
    assert debouncer.pop_due() == {"lib"}
    assert debouncer.pop_due() == set()  # handed out once

    for step in range(12):  # an event every 0.5 s: never quiet, yet due after max_delay
        clock.now = 10 + step * 0.5
        debouncer.add("lib")
        if debouncer.pop_due():
            break
    assert clock.now - 10 == 5.0


@pytest.mark.parametrize("name", [".hidden.jpg", "photo.jpg.part", "photo.jpg.crdownload", "photo.jpg.tmp",
                                  "photo.jpg~", ".~lock.photo.jpg#", "~$budget.xlsx", "notes.txt",
                                  ".thumbnails/photo.jpg", "@eaDir/photo.jpg"])
def test_temp_partial_and_hidden_names_are_not_photo_changes(tmp_path, name):
    assert not is_photo_change(str(tmp_path), str(tmp_path / name), is_directory=False)


def test_photo_and_folder_changes_count(tmp_path):
    assert is_photo_change(str(tmp_path), str(tmp_path / "2024" / "IMG_0001.JPG"), is_directory=False)
    assert is_photo_change(str(tmp_path), str(tmp_path / "2024"), is_directory=True)
    assert not is_photo_change(str(tmp_path), str(tmp_path), is_directory=True)  # the folder itself: polled
    assert not is_photo_change(str(tmp_path / "a"), str(tmp_path / "ab" / "x.jpg"), is_directory=False)


@pytest.fixture()
def batches(tmp_path):
    """A real watcher on an empty folder that only records its batches."""
    folder = tmp_path / "watched"
    folder.mkdir()
    seen: list[set[Path]] = []
    with LibraryWatcher([folder], seen.append, quiet_seconds=QUIET, max_delay_seconds=30, poll_seconds=0.1):
        yield folder, seen


def _settled(seen: list) -> int:
    """Wait for a first batch, then until no further batch came for a while; the number of batches."""
    wait_until(lambda: seen, what="a batch")
    count = -1
    while count != len(seen):
        count = len(seen)
        time.sleep(SETTLE)
    return count


@pytest.mark.slow  # waits for the real observer's batches to settle: the debouncer and filter tests above are fast
def test_a_burst_of_200_new_files_is_a_batch_or_two(batches, photo_dir):
    folder, seen = batches
    data = (photo_dir / "coffee.jpg").read_bytes()
    for i in range(200):
        (folder / f"IMG_{i:04d}.jpg").write_bytes(data)
    assert _settled(seen) <= 2
    assert seen[0] == {folder.resolve()}


@pytest.mark.slow  # waits for the real observer's batches to settle: the debouncer and filter tests above are fast
def test_an_editor_saving_three_times_is_one_batch(batches, photo_dir):
    folder, seen = batches
    target = folder / "edited.jpg"
    for turn in range(3):  # write a temp file, then rename it over the photo, as editors do
        temp = folder / f".edited.jpg.{turn}.tmp"
        temp.write_bytes((photo_dir / "coffee.jpg").read_bytes() + bytes(turn))
        os.replace(temp, target)
    assert _settled(seen) == 1


@pytest.mark.slow  # waits for the real observer's batches to settle: the debouncer and filter tests above are fast
def test_temp_files_alone_make_no_batch_until_renamed_to_a_photo(batches):
    folder, seen = batches
    (folder / "DCIM").mkdir()  # a new folder is a change of its own
    (folder / ".thumbnails").mkdir()
    assert _settled(seen) == 1
    seen.clear()
    for name in ["photo.jpg.part", "DCIM/photo.jpg.crdownload", "DCIM/.~lock.photo.jpg#", "~$budget.xlsx",
                 "DCIM/notes.txt", ".thumbnails/photo.jpg", ".hidden.jpg"]:
        (folder / name).write_bytes(b"partial")
    time.sleep(SETTLE)
    assert seen == []
    os.replace(folder / "DCIM" / "photo.jpg.crdownload", folder / "DCIM" / "photo.jpg")
    assert _settled(seen) == 1


def test_a_long_stream_of_changes_still_yields_batches(tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    seen: list[set[Path]] = []
    with LibraryWatcher([folder], seen.append, quiet_seconds=QUIET, max_delay_seconds=0.6, poll_seconds=0.1):
        started = time.monotonic()
        i = 0
        while not seen:  # a change every 0.05 s is never quiet for 0.3 s: only max_delay ends the batch
            (folder / f"IMG_{i:04d}.jpg").write_bytes(b"photo")
            i += 1
            time.sleep(0.05)
            assert time.monotonic() - started < 30, "no batch during a continuous stream"


# -- the real engine ---------------------------------------------------------------------------------------
@pytest.fixture()
def library(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    return folder.resolve()


class Running:
    """`watch()` on a thread, recording its reports and availability notices."""

    def __init__(self, lens, folders):
        self.lens = lens
        self.reports: list = []
        self.availability: list[tuple[Path, bool]] = []
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(folders,))
        self.thread.start()
        wait_until(lambda: self.ready.is_set() or self.failure, what="the initial reconcile")
        assert not self.failure, self.failure

    def _run(self, folders) -> None:
        try:
            watch(self.lens, folders, on_report=lambda f, r: self.reports.append(r),
                  on_ready=lambda watched: self.ready.set(),
                  on_availability=lambda f, ok: self.availability.append((f, ok)), stop=self.stop,
                  quiet_seconds=QUIET, max_delay_seconds=10, poll_seconds=0.1)
        except Exception as exc:  # surfaced by the test thread
            self.failure.append(exc)

    def next_report(self, matches, what: str):
        """The first report after those already seen that `matches`."""
        start = len(self.reports)
        wait_until(lambda: self.failure or any(matches(r) for r in self.reports[start:]), what=what)
        assert not self.failure, self.failure
        return next(r for r in self.reports[start:] if matches(r))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive() and not self.failure, self.failure


@pytest.fixture()
def running(library):
    lens = unlock(Home.default())
    run = Running(lens, [library])
    yield run
    run.close()
    lens.close()


def _paths(lens) -> set[str]:
    return {os.path.basename(p) for p in lens.store.fingerprints()}


def test_new_renamed_edited_and_deleted_photos_follow_live(running, library):
    lens = running.lens
    assert running.reports[0].added == 4  # the start-up reconcile indexed the folder

    Image.open(library / "rocket.jpg").rotate(90).save(library / "new.png")
    report = running.next_report(lambda r: r.added, "the new photo")
    assert (report.added, report.decoded, report.failed) == (1, 1, [])
    assert "new.png" in _paths(lens)

    (library / "astronaut.png").rename(library / "renamed.png")
    report = running.next_report(lambda r: r.moved, "the rename")
    assert (report.moved, report.decoded, report.added, report.removed) == (1, 0, 0, 0)  # profile kept, not decoded
    assert "renamed.png" in _paths(lens) and "astronaut.png" not in _paths(lens)

    Image.open(library / "coffee.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(library / "coffee.jpg")
    report = running.next_report(lambda r: r.updated, "the edit")
    assert (report.updated, report.decoded) == (1, 1)

    assert any(h.path.endswith("chelsea.png") for h in lens.search("a cat", k=5))
    (library / "chelsea.png").unlink()
    report = running.next_report(lambda r: r.removed, "the delete")
    assert report.removed == 1
    assert _paths(lens) == {"new.png", "renamed.png", "coffee.jpg", "rocket.jpg"}
    assert not any(h.path.endswith("chelsea.png") for h in lens.search("a cat", k=5))  # not in the matrix either


@pytest.mark.slow  # waits out half-written files; the debouncer test above checks growing files with a set clock
def test_partial_downloads_and_slow_copies_are_indexed_once_complete(running, library, tmp_path):
    source = tmp_path / "source.png"
    Image.open(library / "rocket.jpg").rotate(180).save(source)
    data = source.read_bytes()
    partial = library / "download.png.part"
    with open(partial, "wb") as file:
        file.write(data[: len(data) // 2])
        file.flush()
        time.sleep(SETTLE)
        assert len(running.reports) == 1  # only the start-up reconcile: a .part file is no photo yet
        file.write(data[len(data) // 2 :])
    os.replace(partial, library / "download.png")
    report = running.next_report(lambda r: r.added, "the finished download")
    assert (report.added, report.decoded, report.failed) == (1, 1, [])

    Image.open(library / "coffee.jpg").rotate(90).save(source, format="JPEG")
    data = source.read_bytes()
    with open(library / "copying.jpg", "wb") as file:  # written slowly under its final name
        for start in range(0, len(data), len(data) // 4 + 1):
            file.write(data[start : start + len(data) // 4 + 1])
            file.flush()
            time.sleep(QUIET / 3)
    running.next_report(lambda r: r.added, "the slow copy")
    assert [r.failed for r in running.reports] == [[]] * len(running.reports)  # never indexed half-written
    assert running.lens.store.failures() == []


def test_a_removed_folder_keeps_its_photos_and_is_watched_again_when_back(running, library, photo_dir):
    shutil.rmtree(library)
    wait_until(lambda: (library, False) in running.availability, what="the folder to be noticed gone")
    assert running.lens.store.count() == 4  # like an unplugged drive: left as is

    library.mkdir()
    shutil.copy(photo_dir / "chelsea.png", library / "chelsea.png")
    report = running.next_report(lambda r: r.removed, "the reconcile of the returned folder")
    assert (library, True) in running.availability
    assert (report.removed, report.decoded) == (3, 0)  # chelsea.png's content is known: not decoded again
    assert _paths(running.lens) == {"chelsea.png"}

    shutil.copy(photo_dir / "coffee.jpg", library / "coffee.jpg")
    report = running.next_report(lambda r: r.added, "a photo added after the folder came back")
    assert _paths(running.lens) == {"chelsea.png", "coffee.jpg"}


def test_start_up_reconcile_decodes_nothing_when_unchanged_and_catches_up_otherwise(library):
    with unlock(Home.default()) as lens:
        assert lens.index([library]).added == 4
        run = Running(lens, [library])
        run.close()
        (first,) = run.reports
        assert (first.unchanged, first.decoded, first.added, first.removed) == (4, 0, 0, 0)

        (library / "coffee.jpg").unlink()  # changed while nothing was watching
        Image.open(library / "rocket.jpg").rotate(90).save(library / "while-closed.png")
        run = Running(lens, [library])
        run.close()
        (first,) = run.reports
        assert (first.added, first.removed, first.decoded, first.unchanged) == (1, 1, 1, 3)


# -- the command, in a subprocess ----------------------------------------------------------------------------
def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def _expect(lines: queue.Queue, text: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never printed; got {seen}")


# SIGINT in the fast tier; SIGTERM, the same path with another signal, in the slow one.
@pytest.mark.parametrize("signum", [pytest.param(signal.SIGTERM, marks=pytest.mark.slow), signal.SIGINT])
def test_watch_command_indexes_changes_and_stops_cleanly_on_a_signal(library, photo_dir, signum):
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "watch", str(library), "--quiet", str(QUIET)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    out_lines: queue.Queue = queue.Queue()
    err_lines: queue.Queue = queue.Queue()
    for stream, lines in ((process.stdout, out_lines), (process.stderr, err_lines)):
        threading.Thread(target=_lines, args=(stream, lines), daemon=True).start()
    out_seen: list[str] = []
    err_seen: list[str] = []
    try:
        _expect(out_lines, "4 added", out_seen)  # the start-up reconcile
        _expect(err_lines, "Watching 1 folder(s)", err_seen)
        Image.open(photo_dir / "rocket.jpg").rotate(90).save(library / "live.png")
        _expect(out_lines, "1 added", out_seen)
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0, (out_seen, err_seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    _expect(err_lines, "Stopped watching.", err_seen)
    assert not any("Traceback" in line for line in err_seen), err_seen
    with unlock(Home.default()) as lens:
        assert lens.store.integrity_ok() and lens.store.count() == 5

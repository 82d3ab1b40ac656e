"""kill -9 at random points: while indexing (and deleting), during `forget` and during a passphrase change.

After every kill the store must open, authenticate (SQLCipher HMACs + b-tree check), hold every profile that was
committed before the kill, hold no half-written row, and the next run must resume where the killed one stopped.
`VISUALLENS_KILL_CYCLES` and `VISUALLENS_FAULT_SEED` change how many cycles run and where they kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import initialise, unlock, wipe
from engine.home import Home
from engine.profile.keys import KeyManager, WrongPassphraseError
from engine.profile.store import ProfileStore
from tests.engine.fault_tools import REPO, assert_consistent, cli_command, make_photos, run_cli

pytestmark = pytest.mark.slow  # not in `./run test fast`

PASS = "correct horse battery staple"
SEED = int(os.environ.get("VISUALLENS_FAULT_SEED", "20261126"))
CYCLES = int(os.environ.get("VISUALLENS_KILL_CYCLES", "12"))
PHOTOS = 300
MIN_LEFT = 120  # each kill cycle starts with at least this many photos still to index


@pytest.fixture()
def profile(home) -> tuple[Home, bytes]:
    """An initialised, empty profile and its store key."""
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    return Home.default(), KeyManager(home).unlock(PASS)


def start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def kill_9(process: subprocess.Popen, log: Path) -> bool:
    """SIGKILL `process` if it still runs; True if it was killed, else it must have ended cleanly."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True
    assert process.returncode == 0, log.read_text()
    return False


def wait(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def wait_for_new_photos(store: ProfileStore, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until `process` commits a batch of photos to the store, or ends."""
    count = store.count()
    deadline = time.monotonic() + timeout
    while process.poll() is None and store.count() == count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_kill_9_while_indexing_loses_nothing_committed_and_resumes(profile, tmp_path):
    home, key = profile
    library = tmp_path / "library"
    photos = make_photos(library / "a", PHOTOS - 60) + make_photos(library / "b", 60, start=PHOTOS - 60)
    expected = {str(p) for p in photos}
    rng = random.Random(SEED)
    committed: dict[str, str] = {}
    killed = lost = 0

    with ProfileStore.open(home.store_path, key) as watcher:  # another reader, as the desktop app would be
        for cycle in range(CYCLES):
            if len(expected) - len(committed) < MIN_LEFT:  # a photo import while the app was down: work to kill
                expected |= {str(p) for p in make_photos(library / f"import-{cycle}", MIN_LEFT, start=len(expected))}
            log = tmp_path / f"index-{cycle}.log"
            process = start(cli_command("index", str(library), "--json"), log)
            if cycle % 2:  # aim at the pipeline: after a batch of photos was committed, decoding and encoding more
                wait_for_new_photos(watcher, process)
                wait(process, rng.uniform(0, 0.5))
            else:  # anywhere: start-up, unlock, scan, decode, encode, commit
                wait(process, rng.uniform(0.2, 4.0))
            seen = set(watcher.fingerprints())
            killed += kill_9(process, log)

            now = assert_consistent(home.store_path, key)
            lost += len(seen - set(now)) + len(set(committed) - set(now))
            assert seen <= set(now) and set(committed) <= set(now), f"cycle {cycle}: committed profiles lost"
            assert all(now[path] == digest for path, digest in committed.items())
            assert set(now) <= expected
            committed = now

    left = len(expected) - len(committed)
    assert left > 0, "the kills left nothing to resume"
    resumed = run_cli("index", str(library), "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert (report["added"], report["unchanged"], report["failed"]) == (left, len(committed), [])
    assert report["decoded"] == left  # nothing committed is decoded again
    assert set(assert_consistent(home.store_path, key)) == expected

    deleted = {str(p) for p in photos[:30]}
    for path in deleted:
        os.unlink(path)
    for cycle in range(2):  # the deletions are one transaction at the end of a run: all of them or none
        log = tmp_path / f"delete-{cycle}.log"
        process = start(cli_command("index", str(library), "--json"), log)
        wait(process, rng.uniform(1.0, 3.0))
        killed += kill_9(process, log)
        now = set(assert_consistent(home.store_path, key))
        assert expected - deleted <= now and (now & deleted) in (set(), deleted)
        lost += len(expected - deleted - now)
    final = run_cli("index", str(library), "--json")
    assert final.returncode == 0, final.stderr
    assert set(assert_consistent(home.store_path, key)) == expected - deleted
    print(f"\nkill -9 while indexing: {CYCLES + 2} cycles (seed {SEED}), {killed} killed mid-run, "
          f"{len(committed)}/{len(expected)} committed before the resuming run, items lost: {lost}")
    assert lost == 0


def test_kill_9_during_forget_removes_a_folder_entirely_or_not_at_all(profile, tmp_path):
    home, key = profile
    library = tmp_path / "library"
    folders = [library / f"trip-{i}" for i in range(6)]
    for i, folder in enumerate(folders):
        make_photos(folder, 8, start=8 * i)
    with unlock(home) as lens:
        assert lens.index([library]).added == 48
    rng = random.Random(SEED + 1)
    outcomes = []
    for i, folder in enumerate(folders[:5]):
        log = tmp_path / f"forget-{i}.log"
        process = start(cli_command("forget", str(folder)), log)
        wait(process, rng.uniform(0.3, 2.5))
        was_killed = kill_9(process, log)
        now = set(assert_consistent(home.store_path, key))
        inside = {p for p in now if Path(p).parent == folder}
        assert len(inside) in (0, 8), f"{folder}: half forgotten ({len(inside)} of 8 left)"
        untouched = {str(p) for f in folders[i + 1 :] for p in f.iterdir()}
        assert untouched <= now
        outcomes.append(("killed" if was_killed else "finished") + (", forgotten" if not inside else ", kept"))
    print(f"\nkill -9 during forget: {outcomes}")


def test_kill_9_during_a_passphrase_change_keeps_one_passphrase_and_the_data(profile, tmp_path):
    home, key = profile
    make_photos(tmp_path / "library", 6)
    with unlock(home) as lens:
        lens.index([tmp_path / "library"])
    before = assert_consistent(home.store_path, key)
    rng = random.Random(SEED + 2)
    current, outcomes = PASS, []
    for i in range(5):
        new = f"rotated passphrase number {i}"
        env = {**os.environ, "VISUALLENS_PASSPHRASE": current, "VISUALLENS_NEW_PASSPHRASE": new}
        log = tmp_path / f"passphrase-{i}.log"
        process = start([sys.executable, "-m", "engine.cli", "passphrase"], log, env)
        wait(process, rng.uniform(0.2, 2.5))
        was_killed = kill_9(process, log)
        unlocked = {}
        for candidate in (current, new):
            try:
                unlocked[candidate] = KeyManager(home.root).unlock(candidate)
            except WrongPassphraseError:
                pass
        assert len(unlocked) == 1 and list(unlocked.values()) == [key], f"cycle {i}: {sorted(unlocked)}"
        current = next(iter(unlocked))
        assert assert_consistent(home.store_path, key) == before
        for leftover in home.root.glob(".keys.json.*.tmp"):  # a write cut short: wrapped keys only, never the key
            assert key not in leftover.read_bytes() and key.hex().encode() not in leftover.read_bytes()
        outcomes.append(("killed" if was_killed else "finished") + (", changed" if current == new else ", kept"))
    print(f"\nkill -9 during a passphrase change: {outcomes}")

    wipe(home)
    assert sorted(p.name for p in home.root.iterdir()) == ["settings.json"]  # no store, WAL, SHM, key or temp key

"""The store under a full disk, a read-only data dir and several processes at once: one clear error or both
proceed, and the store stays whole."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading

import pytest

from engine.api import initialise, unlock
from engine.home import Home
from engine.profile.keys import KeyManager
from tests.engine.fault_tools import (
    REPO,
    assert_consistent,
    cli_command,
    make_photos,
    raw_connection,
    run_cli,
    unprivileged,
)

pytestmark = pytest.mark.slow  # not in `./run test fast`

PASS = "correct horse battery staple"


@pytest.fixture()
def profile(home) -> tuple[Home, bytes]:
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    return Home.default(), KeyManager(home).unlock(PASS)


def one_error_line(stderr: str) -> str:
    """The only thing on stderr must be one `error: ...` line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def files_of(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def with_file_size_limit(limit: int):
    """A preexec_fn: files of the child cannot grow past `limit` bytes (writes fail with EFBIG, as on a full disk;
    Python ignores SIGXFSZ, so the write returns the error instead of killing the process)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_while_indexing_is_one_clear_error_and_loses_nothing(profile, tmp_path):
    home, key = profile
    first = make_photos(tmp_path / "library" / "old", 40)
    assert run_cli("index", str(tmp_path / "library")).returncode == 0
    make_photos(tmp_path / "library" / "new", 160, start=40)
    before = assert_consistent(home.store_path, key)
    limit = max(p.stat().st_size for p in home.root.iterdir()) + 64 * 1024

    full = run_cli("index", str(tmp_path / "library"), "--json", preexec_fn=with_file_size_limit(limit))

    assert full.returncode == 1
    line = one_error_line(full.stderr)
    assert "disk I/O" in line and "everything committed before is kept" in line
    after = assert_consistent(home.store_path, key)
    assert set(before) <= set(after) and len(after) < 200  # what was committed stays; the rest did not fit
    resumed = run_cli("index", str(tmp_path / "library"), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["added"] == 200 - len(after)
    assert len(assert_consistent(home.store_path, key)) == 200 == len(first) + 160


def test_a_full_disk_when_changing_the_passphrase_keeps_the_old_one(profile, tmp_path):
    home, key = profile
    keys_before = (home.root / "keys.json").read_bytes()
    env = {**os.environ, "VISUALLENS_NEW_PASSPHRASE": "a new passphrase"}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "passphrase"], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, preexec_fn=with_file_size_limit(100))
    assert done.returncode == 4
    assert "cannot write key file" in one_error_line(done.stderr)
    assert (home.root / "keys.json").read_bytes() == keys_before
    assert [p.name for p in home.root.glob(".keys.json*")] == []  # the half-written temp file is removed
    assert KeyManager(home.root).unlock(PASS) == key


def test_a_read_only_data_dir_is_one_clear_error_and_changes_nothing(profile, tmp_path):
    home, key = profile
    make_photos(tmp_path / "library", 12)
    assert run_cli("index", str(tmp_path / "library")).returncode == 0
    make_photos(tmp_path / "library", 4, start=12)
    before = files_of(home.root)
    prefix = unprivileged([])
    if prefix is None:
        pytest.skip("running as root without setpriv: permission bits do not apply to root")
    for path in home.root.iterdir():
        path.chmod(0o400)
    home.root.chmod(0o500)
    try:
        runs = [subprocess.run([*prefix, *cli_command(*args)], check=False, cwd=REPO, capture_output=True, text=True)
                for args in (("index", str(tmp_path / "library")), ("search", "a cat"))]
    finally:
        home.root.chmod(0o700)
        for path in home.root.iterdir():
            path.chmod(0o600)
    for run in runs:
        assert run.returncode == 1
        assert "is read-only" in one_error_line(run.stderr) and str(home.root) in run.stderr
    assert files_of(home.root) == before
    assert len(assert_consistent(home.store_path, key)) == 12


def test_two_cli_indexers_and_a_searcher_at_once_do_not_corrupt_the_store(profile, tmp_path):
    home, key = profile
    library = tmp_path / "library"
    make_photos(library, 120)
    indexers = [subprocess.Popen(cli_command("index", str(library), "--json"), cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    searches = []
    while any(p.poll() is None for p in indexers):
        searches.append(run_cli("search", "a cat", "--json"))
    outputs = [p.communicate() for p in indexers]

    for process, (_, stderr) in zip(indexers, outputs):
        assert process.returncode == 0 or (process.returncode == 7 and "is busy" in one_error_line(stderr)), stderr
    assert all(s.returncode == 0 for s in searches), [s.stderr for s in searches if s.returncode]
    assert any(p.returncode == 0 for p in indexers)
    assert len(assert_consistent(home.store_path, key)) == 120
    print(f"\ntwo indexers: exit codes {[p.returncode for p in indexers]}, {len(searches)} searches meanwhile")


def test_the_app_and_the_cli_share_the_store(profile, tmp_path):
    home, key = profile
    ours, theirs = tmp_path / "app-folder", tmp_path / "cli-folder"
    make_photos(ours, 40)
    make_photos(theirs, 40, start=40)
    with unlock(home) as lens:  # the desktop app's way: one open VisualLens, indexing in a worker thread
        report = {}
        worker = threading.Thread(target=lambda: report.update(vars(lens.index([ours]))))
        worker.start()
        cli = run_cli("index", str(theirs), "--json")
        worker.join()
        assert cli.returncode == 0, cli.stderr
        assert report["added"] == 40 and json.loads(cli.stdout)["added"] == 40
        assert len(lens.photo_paths()) == 80
        assert len(lens.search("a cat", k=100)) == 80  # the app's matrix picked up the CLI's photos

        forget = run_cli("forget", str(theirs))
        assert forget.returncode == 0, forget.stderr
        assert {os.path.dirname(h.path) for h in lens.search("a cat", k=100)} == {str(ours)}
    assert len(assert_consistent(home.store_path, key)) == 40


def test_a_store_locked_too_long_by_another_process_is_a_clear_in_use_error(profile, tmp_path):
    home, key = profile
    make_photos(tmp_path / "library", 4)
    holder = raw_connection(home.store_path, key)
    holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
    try:
        busy = run_cli("index", str(tmp_path / "library"), "--json")
        reading = run_cli("search", "a cat", "--json")  # readers are never blocked by a writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.returncode == 7
    assert "is busy: another process kept it locked" in one_error_line(busy.stderr)
    assert reading.returncode == 0 and json.loads(reading.stdout) == []
    assert run_cli("index", str(tmp_path / "library")).returncode == 0
    assert len(assert_consistent(home.store_path, key)) == 4

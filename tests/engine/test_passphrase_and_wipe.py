"""Key handling end to end: `visuallens passphrase` re-wraps the store key and keeps every photo; wipe deletes the
store, its WAL and shared memory, the key file (and any half-written copy) and the keyring entry."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import keyring
import pytest
import typer
from typer.testing import CliRunner

from engine.api import NotInitialisedError, initialise, unlock, wipe
from engine.cli.passphrase import NEW_PASSPHRASE_ENV, passphrase_command
from engine.home import Home
from engine.profile.keys import KeyManager, WrongPassphraseError
from tests.engine.fault_tools import REPO, assert_consistent, make_photos, run_cli_in_process
from tests.engine.test_keys import MemoryKeyring

PASS = "correct horse battery staple"
NEW = "a brand new passphrase"


def rotate(env: dict) -> subprocess.CompletedProcess:
    """`visuallens passphrase` (in this process: its standard input is no terminal either)."""
    return run_cli_in_process("passphrase", env=env)


@pytest.fixture()
def indexed(home, tmp_path) -> tuple[Home, bytes]:
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    make_photos(tmp_path / "library", 8)
    with unlock(Home.default()) as lens:
        lens.index([tmp_path / "library"])
    return Home.default(), KeyManager(home).unlock(PASS)


def test_passphrase_change_keeps_the_data_and_retires_the_old_passphrase(real_kdf, indexed):
    home, key = indexed
    wrapping_before = json.loads((home.root / "keys.json").read_text())["wrappings"][0]
    store_before = home.store_path.read_bytes()

    done = rotate({NEW_PASSPHRASE_ENV: NEW})

    assert done.returncode == 0, done.stderr
    assert "Changed the passphrase" in done.stdout and "8 photos kept" in done.stdout
    assert KeyManager(home.root).unlock(NEW) == key
    with pytest.raises(WrongPassphraseError):
        KeyManager(home.root).unlock(PASS)
    wrapping = json.loads((home.root / "keys.json").read_text())["wrappings"][0]
    assert wrapping["kdf"]["name"] == "argon2id" and wrapping["kdf"]["memory_cost"] >= 64 * 1024
    assert wrapping["salt"] != wrapping_before["salt"] and wrapping["ciphertext"] != wrapping_before["ciphertext"]
    assert home.store_path.read_bytes() == store_before  # re-wrapped, not re-encrypted: nothing to lose
    assert len(assert_consistent(home.store_path, key)) == 8

    old = run_cli_in_process("status", "--json")  # the environment still holds the old passphrase
    assert old.returncode == 4 and "wrong passphrase" in old.stderr
    new = run_cli_in_process("search", "a cat", "--json", env={"VISUALLENS_PASSPHRASE": NEW})
    assert new.returncode == 0 and len(json.loads(new.stdout)) == 8


def test_a_wrong_current_passphrase_or_no_new_one_changes_nothing(indexed):
    home, _ = indexed
    before = (home.root / "keys.json").read_bytes()

    wrong = rotate({"VISUALLENS_PASSPHRASE": "not it", NEW_PASSPHRASE_ENV: NEW})
    missing = rotate({})  # no terminal to ask on

    assert wrong.returncode == 4 and "wrong passphrase" in wrong.stderr
    assert missing.returncode == 6 and f"set {NEW_PASSPHRASE_ENV}" in missing.stderr
    assert (home.root / "keys.json").read_bytes() == before


@pytest.fixture()
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_a_passphrase_can_be_added_to_a_keyring_profile(home, memory_keyring, monkeypatch):
    monkeypatch.delenv("VISUALLENS_PASSPHRASE")
    key = KeyManager(home).create(None, use_keyring=True)
    app = typer.Typer()
    app.command()(passphrase_command)

    result = CliRunner().invoke(app, [], env={NEW_PASSPHRASE_ENV: NEW})

    assert result.exit_code == 0, result.output
    assert KeyManager(home).protections() == ["keyring", "passphrase"]
    assert KeyManager(home).unlock(NEW) == KeyManager(home).unlock() == key


HOLD_OPEN = """
import os, sys, time
from engine.api import unlock
from engine.home import Home
lens = unlock(Home.default())
lens.store.set_meta("held", "open")
print("ready", flush=True)
time.sleep(600)
"""


def test_wipe_deletes_store_wal_shm_keys_and_the_keyring_entry(home, tmp_path, memory_keyring):
    initialise(Home.default(), passphrase=PASS, use_keyring=True)
    make_photos(tmp_path / "library", 4)
    with unlock(Home.default()) as lens:
        lens.index([tmp_path / "library"])
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    holder.send_signal(signal.SIGKILL)  # a crashed app leaves its WAL and shared memory behind
    holder.wait()
    (home / ".keys.json.crashed.tmp").write_bytes((home / "keys.json").read_bytes())  # and maybe a key file write
    names = {p.name for p in home.iterdir()}
    assert {"profile.db", "profile.db-wal", "profile.db-shm", "keys.json", ".keys.json.crashed.tmp"} <= names
    assert len(memory_keyring.secrets) == 1

    wipe(Home.default())

    assert sorted(p.name for p in home.iterdir()) == ["settings.json"]  # no photo data in it: bundle and threads
    assert memory_keyring.secrets == {}
    with pytest.raises(NotInitialisedError):
        unlock(Home.default())
    wipe(Home.default())  # nothing left to wipe is fine


def test_the_wipe_command_deletes_everything(indexed):
    home, _ = indexed
    done = run_cli_in_process("wipe", "--yes")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in home.root.iterdir()) == ["settings.json"]
    assert run_cli_in_process("status").returncode == 3  # no profile any more

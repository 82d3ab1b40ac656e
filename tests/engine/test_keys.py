"""The store key: passphrase (Argon2id) and OS keyring wrappings, recovery, key file hygiene."""

from __future__ import annotations

import base64
import dataclasses
import json
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from engine.profile.keys import (
    DEFAULT_KDF,
    KEYRING_SERVICE,
    KeyManager,
    KeyringUnavailableError,
    KeyStoreError,
    NoKeyError,
    PassphraseRequiredError,
    WrongPassphraseError,
    keyring_available,
)

FAST_KDF = dataclasses.replace(DEFAULT_KDF, time_cost=1, memory_cost=1024, parallelism=1)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps its secrets in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(f"no {service} secret for {username}")


class ForgetfulKeyring(MemoryKeyring):
    """A backend that accepts secrets and silently drops them (a broken keyring daemon)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        pass


@pytest.fixture
def use_keyring():
    """Install a keyring backend for one test, then restore the previous one."""
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(use_keyring) -> MemoryKeyring:
    return use_keyring(MemoryKeyring())


@pytest.fixture
def manager(tmp_path) -> KeyManager:
    return KeyManager(tmp_path / "home", kdf_params=FAST_KDF)


def test_passphrase_unlocks_the_store_key_it_created(manager, tmp_path):
    key = manager.create("correct horse", use_keyring=False)

    assert len(key) == 32
    assert KeyManager(tmp_path / "home").unlock("correct horse") == key  # KDF parameters come from the key file
    assert manager.protections() == ["passphrase"]


def test_key_file_is_private_and_holds_no_secret_in_clear(manager):
    key = manager.create("correct horse", use_keyring=False)

    assert stat.S_IMODE(manager.path.stat().st_mode) == 0o600
    text = manager.path.read_text()
    for encoding in (key.hex(), base64.b64encode(key).decode(), "correct horse"):
        assert encoding not in text
    assert key not in manager.path.read_bytes()
    wrapping = json.loads(text)["wrappings"][0]
    assert wrapping["kdf"] == {"name": "argon2id", "version": 19, "time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    assert sorted(path.name for path in manager.home.iterdir()) == ["keys.json"]  # no temp file left behind


def test_wrong_passphrase_is_reported_and_touches_nothing(manager):
    manager.create("correct horse", use_keyring=False)
    before = manager.path.read_bytes(), manager.path.stat().st_mtime_ns

    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        manager.unlock("battery staple")
    with pytest.raises(WrongPassphraseError):
        manager.change_passphrase("battery staple", "new one")

    assert (manager.path.read_bytes(), manager.path.stat().st_mtime_ns) == before


def test_change_passphrase_rewraps_the_same_store_key(manager):
    key = manager.create("old passphrase", use_keyring=False)

    manager.change_passphrase("old passphrase", "new passphrase")

    assert manager.unlock("new passphrase") == key
    with pytest.raises(WrongPassphraseError):
        manager.unlock("old passphrase")
    assert manager.protections() == ["passphrase"]


def test_passphrase_is_unicode_normalised(manager):
    key = manager.create("caf\u00e9", use_keyring=False)  # composed é

    assert manager.unlock("cafe\u0301") == key  # e + combining accent, as some keyboards type it


def test_passphrase_only_store_asks_for_the_passphrase(manager):
    manager.create("correct horse", use_keyring=False)

    with pytest.raises(PassphraseRequiredError, match="passphrase only"):
        manager.unlock()


def test_keyring_unlocks_without_a_passphrase(manager, memory_keyring):
    key = manager.create(None, use_keyring=True)

    assert manager.unlock() == key
    assert manager.protections() == ["keyring"]
    [(service, _account)] = memory_keyring.secrets
    assert service == KEYRING_SERVICE
    assert key.hex() not in manager.path.read_text()
    assert base64.b64encode(key).decode() not in memory_keyring.secrets.values()  # the keyring holds a KEK only


def test_two_data_dirs_keep_separate_keyring_entries(tmp_path, memory_keyring):
    first, second = KeyManager(tmp_path / "a", FAST_KDF), KeyManager(tmp_path / "b", FAST_KDF)
    first_key, second_key = first.create(None, use_keyring=True), second.create(None, use_keyring=True)

    assert len(memory_keyring.secrets) == 2
    assert (first.unlock(), second.unlock()) == (first_key, second_key)
    assert first_key != second_key


def test_keyring_available_probes_and_cleans_up(use_keyring):
    memory = use_keyring(MemoryKeyring())
    assert keyring_available()
    assert memory.secrets == {}
    use_keyring(ForgetfulKeyring())
    assert not keyring_available()
    use_keyring(fail.Keyring())
    assert not keyring_available()


def test_create_says_the_keyring_is_unavailable(manager, use_keyring):
    use_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailableError, match=r"keyring unavailable: no usable OS keyring backend .*fail"):
        manager.create("correct horse", use_keyring=True)
    use_keyring(ForgetfulKeyring())
    with pytest.raises(KeyringUnavailableError, match="did not return the key it stored"):
        manager.create("correct horse", use_keyring=True)

    assert not manager.exists()


def test_passphrase_recovers_when_the_keyring_backend_is_gone(manager, use_keyring):
    use_keyring(MemoryKeyring())
    key = manager.create("recovery words", use_keyring=True)
    assert manager.protections() == ["keyring", "passphrase"]

    use_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailableError, match="no usable OS keyring backend.*unlock with your passphrase"):
        manager.unlock()
    assert manager.unlock("recovery words") == key


def test_keyring_that_lost_the_entry_is_reported(manager, memory_keyring):
    manager.create(None, use_keyring=True)
    memory_keyring.secrets.clear()

    with pytest.raises(KeyringUnavailableError, match="has no VisualLens key.*no passphrase protection"):
        manager.unlock()


def test_passphrase_can_be_added_to_a_keyring_only_key(manager, memory_keyring):
    key = manager.create(None, use_keyring=True)

    manager.change_passphrase(None, "added later")

    assert manager.protections() == ["keyring", "passphrase"]
    assert manager.unlock("added later") == key
    assert manager.unlock() == key


def test_destroy_removes_key_file_and_keyring_entry(manager, memory_keyring):
    manager.create("correct horse", use_keyring=True)

    manager.destroy()

    assert not manager.exists()
    assert memory_keyring.secrets == {}
    with pytest.raises(NoKeyError, match="not initialised"):
        manager.unlock("correct horse")
    manager.destroy()  # nothing left to destroy is fine


def test_bad_requests_are_refused(manager):
    with pytest.raises(ValueError, match="passphrase, the keyring or both"):
        manager.create(None, use_keyring=False)
    with pytest.raises(ValueError, match="must not be empty"):
        manager.create("", use_keyring=False)
    manager.create("correct horse", use_keyring=False)
    with pytest.raises(KeyStoreError, match="already exists"):
        manager.create("other", use_keyring=False)


def test_corrupt_key_file_is_named(manager):
    manager.home.mkdir()
    manager.path.write_text("{not json")

    with pytest.raises(KeyStoreError, match=f"corrupt key file {manager.path}"):
        manager.unlock("correct horse")


def test_destroy_removes_a_corrupt_key_file(manager):
    manager.home.mkdir()
    manager.path.write_text("{not json")

    manager.destroy()

    assert not manager.exists()

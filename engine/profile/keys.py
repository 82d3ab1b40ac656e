"""The store key and the key-encryption keys that wrap it: a passphrase (Argon2id) and/or the OS keyring.

The 256-bit store key never leaves memory in clear. ``<home>/keys.json`` holds one AES-GCM wrapping of it per
protection; changing the passphrase re-wraps the key and never re-encrypts the store. The passphrase path is the
recovery route when a keyring backend disappears, so errors say which protection failed.

The key file also holds the store's generation, a counter every committed change of the store advances (the store
keeps its own; see ``ProfileStore``), authenticated by an HMAC under a key derived from the store key: a store
older than the key file says is a restored or rolled-back copy, and only a holder of the store key can move the
counter. Writers of the key file take an exclusive lock on the data dir, so recording a generation never undoes a
passphrase change made meanwhile by another process.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from hmac import compare_digest
from pathlib import Path
from typing import TYPE_CHECKING

import argon2
from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from argon2.profiles import RFC_9106_LOW_MEMORY
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.home import write_private

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

KEYRING_SERVICE = "VisualLens"
KEY_FILE_NAME = "keys.json"
KEY_FILE_VERSION = 2  # 2: version 1 with the store's generation (version 1 files get it when the store opens)
READABLE_VERSIONS = (1, 2)
KEY_BYTES = 32
DEFAULT_KDF = RFC_9106_LOW_MEMORY  # Argon2id, t=3, m=64 MiB, p=4: about 0.3 s on two cores
# What a key file may ask of Argon2id: well above the default, well below hours of work (memory in KiB: 2 GiB).
KDF_LIMITS = {"time_cost": (1, 10), "memory_cost": (8, 2**21), "parallelism": (1, 64)}
NONCE_BYTES = 12
PASSPHRASE = "passphrase"
KEYRING = "keyring"
RESTORE_OR_WIPE = "restore profile.db and keys.json together from one backup, or start over with `visuallens wipe`"


class KeyStoreError(Exception):
    """The store key cannot be created, unlocked or changed."""


class WrongPassphraseError(KeyStoreError):
    """The passphrase does not unwrap the store key."""


class KeyringUnavailableError(KeyStoreError):
    """The OS keyring has no usable backend, fails, or lost the key-encryption key."""


class NoKeyError(KeyStoreError):
    """No key file: the store was never initialised here."""


class PassphraseRequiredError(KeyStoreError):
    """The store key is protected by a passphrase only and none was given."""


class KeyManager:
    """Creates, unlocks and re-wraps the store key kept in ``<home>/keys.json``."""

    def __init__(self, home: Path, kdf_params: argon2.Parameters | None = None) -> None:
        self.home = Path(home)
        self.path = self.home / KEY_FILE_NAME
        self.kdf_params = kdf_params or DEFAULT_KDF

    def exists(self) -> bool:
        return self.path.exists()

    def create(self, passphrase: str | None, use_keyring: bool) -> bytes:
        """Make a new random store key, protect it as asked and return it (the store's generation is 0)."""
        if passphrase is None and not use_keyring:
            raise ValueError("protect the store key with a passphrase, the keyring or both")
        if passphrase is not None:
            _check_passphrase(passphrase)
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise KeyStoreError(f"cannot write key file {self.path}: {error.strerror or error}") from error
        with self._locked():
            if self.exists():
                raise KeyStoreError(f"key file {self.path} already exists; unlock it or destroy it first")
            store_key = secrets.token_bytes(KEY_BYTES)
            wrappings = []
            if use_keyring:
                wrappings.append(_keyring_wrapping(store_key))
            if passphrase is not None:
                wrappings.append(_passphrase_wrapping(store_key, passphrase, self.kdf_params))
            self._write({"version": KEY_FILE_VERSION, "wrappings": wrappings, **_counter(store_key, 0)})
        return store_key

    def unlock(self, passphrase: str | None = None) -> bytes:
        """Return the store key: from the passphrase when one is given, else from the keyring."""
        wrappings = self._read()["wrappings"]
        if passphrase is not None:
            wrapping = self._find(wrappings, PASSPHRASE)
            if wrapping is None:
                raise KeyStoreError(f"key file {self.path} has no passphrase protection; unlock with the keyring")
            return self._unwrap_passphrase(wrapping, passphrase)
        wrapping = self._find(wrappings, KEYRING)
        if wrapping is None:
            raise PassphraseRequiredError(f"key file {self.path} is protected by a passphrase only")
        return self._unwrap_keyring(wrapping, has_passphrase=self._find(wrappings, PASSPHRASE) is not None)

    def protections(self) -> list[str]:
        """The kinds of protection of the store key, e.g. ``["keyring", "passphrase"]``."""
        return [wrapping["kind"] for wrapping in self._read()["wrappings"]]

    def change_passphrase(self, old: str | None, new: str) -> None:
        """Re-wrap the store key under ``new``; ``old=None`` unlocks through the keyring (adds a passphrase)."""
        _check_passphrase(new)
        store_key = self.unlock(old)
        wrapping = _passphrase_wrapping(store_key, new, self.kdf_params)
        with self._locked():  # the document as it is now: a generation recorded meanwhile stays
            document = self._read()
            wrappings = [wrapping for wrapping in document["wrappings"] if wrapping["kind"] != PASSPHRASE]
            self._write({**document, "wrappings": [*wrappings, wrapping]})

    def generation(self, store_key: bytes) -> int | None:
        """The store generation the key file vouches for; None for a version 1 key file, which has none yet.
        A counter that does not authenticate under ``store_key`` is a KeyStoreError."""
        return self._generation(self._read(), store_key)

    def advance(self, store_key: bytes, generation: int) -> None:
        """Record that the store reached ``generation`` (committed and synced before); the key file's counter never
        goes down, and a key file destroyed meanwhile is not written again."""
        with self._locked():
            try:
                document = self._read()
            except NoKeyError:
                return
            current = self._generation(document, store_key)
            if current is None or current < generation:
                self._write({**document, "version": KEY_FILE_VERSION, **_counter(store_key, generation)})

    def destroy(self) -> None:
        """Overwrite and remove the key file, then delete the keyring entry (a stale entry unwraps nothing)."""
        try:
            with self._locked():
                for leftover in self.home.glob(f".{KEY_FILE_NAME}.*.tmp"):  # a key file write cut short by a crash
                    shred_file(leftover)
                try:
                    wrapping = self._find(self._read()["wrappings"], KEYRING)
                except NoKeyError:
                    return
                except KeyStoreError:
                    wrapping = None  # a corrupt key file is destroyed all the same
                shred_file(self.path)
        except NoKeyError:  # no data dir
            return
        if wrapping is not None and isinstance(wrapping.get("account"), str):
            from engine.profile import os_keyring

            try:
                os_keyring.backend().delete_password(KEYRING_SERVICE, wrapping["account"])
            except os_keyring.KeyringError:
                pass  # already gone, or the keyring is unavailable: the key file it unwrapped no longer exists

    def _unwrap_passphrase(self, wrapping: dict, passphrase: str) -> bytes:
        try:
            salt, params, sealed = _b64decode(wrapping["salt"]), _kdf_params(wrapping["kdf"]), _sealed(wrapping)
            kek = _derive_kek(passphrase, salt, params)
        except (KeyError, TypeError, ValueError, HashingError) as error:
            raise self._corrupt(PASSPHRASE, error) from None
        try:
            return _unwrap(kek, *sealed, wrapping["kind"])
        except InvalidTag:
            raise WrongPassphraseError(f"wrong passphrase for {self.path}") from None

    def _unwrap_keyring(self, wrapping: dict, has_passphrase: bool) -> bytes:
        fallback = "unlock with your passphrase" if has_passphrase else "and the store key has no passphrase protection"
        try:
            sealed = _sealed(wrapping)
            if not isinstance(wrapping.get("account"), str):
                raise ValueError("no keyring account")
        except (TypeError, ValueError) as error:
            raise self._corrupt(KEYRING, error) from None
        from engine.profile import os_keyring

        try:
            backend = _usable_keyring()
        except KeyringUnavailableError as error:
            raise KeyringUnavailableError(f"{error}; {fallback}") from None
        try:
            encoded = backend.get_password(KEYRING_SERVICE, wrapping["account"])
        except os_keyring.KeyringError as error:
            raise KeyringUnavailableError(
                f"keyring unavailable: {_backend_name(backend)} failed: {error}; {fallback}"
            ) from error
        if encoded is None:
            raise KeyringUnavailableError(
                f"keyring unavailable: {_backend_name(backend)} has no {KEYRING_SERVICE} key "
                f"for {wrapping['account']}; {fallback}"
            )
        try:
            return _unwrap(_b64decode(encoded), *sealed, wrapping["kind"])
        except (InvalidTag, ValueError):
            raise KeyringUnavailableError(
                f"keyring unavailable: the key in {_backend_name(backend)} does not open {self.path}; {fallback}"
            ) from None

    def _generation(self, document: dict, store_key: bytes) -> int | None:
        if document["version"] == 1:
            return None
        try:
            generation, mac = document["generation"], _b64decode(document["generation_mac"])
            if type(generation) is not int or not 0 <= generation < 2**63:
                raise ValueError(f"generation {generation!r} is not a counter")
        except (KeyError, TypeError, ValueError) as error:
            detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise KeyStoreError(f"corrupt key file {self.path}: its store generation is unusable ({detail}); "
                                f"{RESTORE_OR_WIPE}") from None
        if not compare_digest(mac, _generation_mac(store_key, generation)):
            raise KeyStoreError(f"key file {self.path} is damaged or was tampered with: its store generation does not "
                                f"authenticate; {RESTORE_OR_WIPE}")
        return generation

    def _read(self) -> dict:
        """The key file: its `version` and `wrappings`, each an object with a `kind`. The wrappings' other fields and
        the generation are checked when used, so that a damaged protection leaves the other one working."""
        try:
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            raise NoKeyError(f"no key file {self.path}: the store is not initialised") from None
        except OSError as error:
            raise KeyStoreError(f"cannot read key file {self.path}: {error.strerror or error}") from error
        except (ValueError, RecursionError) as error:
            raise KeyStoreError(f"corrupt key file {self.path}: {error}") from error
        version = document.get("version") if isinstance(document, dict) else None
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise KeyStoreError(f"key file {self.path} is not a VisualLens key file (version 1 or 2)")
        wrappings = document.get("wrappings")
        if not isinstance(wrappings, list) or not all(isinstance(w, dict) and isinstance(w.get("kind"), str)
                                                      for w in wrappings):
            raise KeyStoreError(f"corrupt key file {self.path}: `wrappings` is not a list of protections")
        return document

    def _corrupt(self, kind: str, error: Exception) -> KeyStoreError:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        return KeyStoreError(f"corrupt key file {self.path}: its {kind} protection is unusable ({detail})")

    def _write(self, document: dict) -> None:
        try:
            write_private(self.path, json.dumps(document, indent=2).encode())
        except OSError as error:  # disk full, read-only: the previous key file, if any, is untouched
            raise KeyStoreError(f"cannot write key file {self.path}: {error.strerror or error}") from error

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the data dir's exclusive lock (flock) while reading and writing the key file: its writers are
        processes that record the store's generation and `visuallens passphrase`."""
        try:
            directory = os.open(self.home, os.O_RDONLY)
        except FileNotFoundError:
            raise NoKeyError(f"no key file {self.path}: the store is not initialised") from None
        except OSError as error:
            raise KeyStoreError(f"cannot lock key file {self.path}: {error.strerror or error}") from error
        try:
            if fcntl is not None:
                fcntl.flock(directory, fcntl.LOCK_EX)  # released when the descriptor closes
            yield
        finally:
            os.close(directory)

    @staticmethod
    def _find(wrappings: list[dict], kind: str) -> dict | None:
        return next((wrapping for wrapping in wrappings if wrapping["kind"] == kind), None)


def _check_passphrase(passphrase: str) -> None:
    if not passphrase:
        raise ValueError("the passphrase must not be empty")


def _passphrase_wrapping(store_key: bytes, passphrase: str, params: argon2.Parameters) -> dict:
    salt = secrets.token_bytes(params.salt_len)
    kdf = {
        "name": "argon2id",
        "version": params.version,
        "time_cost": params.time_cost,
        "memory_cost": params.memory_cost,
        "parallelism": params.parallelism,
    }
    kek = _derive_kek(passphrase, salt, params)
    return {"kind": PASSPHRASE, "kdf": kdf, "salt": _b64encode(salt), **_wrap(kek, store_key, PASSPHRASE)}


def _keyring_wrapping(store_key: bytes) -> dict:
    """Wrap under a fresh random KEK stored in the keyring, after a set/get round trip proves the keyring works."""
    from engine.profile import os_keyring

    backend = _usable_keyring()
    account = f"store-{secrets.token_hex(8)}"  # one entry per key file: two data dirs never collide
    kek = secrets.token_bytes(KEY_BYTES)
    try:
        backend.set_password(KEYRING_SERVICE, account, _b64encode(kek))
        stored = backend.get_password(KEYRING_SERVICE, account)
    except os_keyring.KeyringError as error:
        raise KeyringUnavailableError(f"keyring unavailable: {_backend_name(backend)} failed: {error}") from error
    if stored != _b64encode(kek):
        raise KeyringUnavailableError(f"keyring unavailable: {_backend_name(backend)} did not return the key it stored")
    return {"kind": KEYRING, "account": account, **_wrap(kek, store_key, KEYRING)}


def keyring_available() -> bool:
    """Whether the OS keyring has a real backend that stores and returns a secret (a probe entry, then removed)."""
    from engine.profile import os_keyring

    try:
        backend = _usable_keyring()
        account = f"probe-{secrets.token_hex(8)}"
        probe = secrets.token_hex(16)
        backend.set_password(KEYRING_SERVICE, account, probe)
        returned = backend.get_password(KEYRING_SERVICE, account)
        backend.delete_password(KEYRING_SERVICE, account)
    except (KeyringUnavailableError, os_keyring.KeyringError):
        return False
    return returned == probe


def _usable_keyring() -> KeyringBackend:
    from engine.profile import os_keyring

    backend = os_keyring.backend()
    if not os_keyring.usable(backend):
        raise KeyringUnavailableError(f"keyring unavailable: no usable OS keyring backend ({_backend_name(backend)})")
    return backend


def _backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _derive_kek(passphrase: str, salt: bytes, params: argon2.Parameters) -> bytes:
    """Argon2id of the NFC-normalised passphrase, so one passphrase typed on any system gives one key."""
    return hash_secret_raw(
        unicodedata.normalize("NFC", passphrase).encode(),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
        version=params.version,
    )


def _kdf_params(kdf: dict) -> argon2.Parameters:
    """The Argon2id parameters a wrapping names, refused (ValueError) outside `KDF_LIMITS`: a damaged key file
    must not make unlocking run for hours or allocate terabytes."""
    if not isinstance(kdf, dict) or kdf.get("name") != "argon2id" or kdf.get("version") not in (0x10, 0x13):
        raise ValueError("the key derivation is not Argon2id version 16 or 19")
    for name, (low, high) in KDF_LIMITS.items():
        if type(kdf.get(name)) is not int or not low <= kdf[name] <= high:
            raise ValueError(f"{name} {kdf.get(name)!r} is outside {low}..{high}")
    return dataclasses.replace(
        DEFAULT_KDF,
        version=kdf["version"],
        time_cost=kdf["time_cost"],
        memory_cost=kdf["memory_cost"],
        parallelism=kdf["parallelism"],
    )


def _wrap(kek: bytes, store_key: bytes, kind: str) -> dict:
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(kek).encrypt(nonce, store_key, _associated_data(kind))
    return {"nonce": _b64encode(nonce), "ciphertext": _b64encode(ciphertext)}


def _sealed(wrapping: dict) -> tuple[bytes, bytes]:
    """A wrapping's (nonce, ciphertext); ValueError or TypeError when they are not what `_wrap` writes."""
    nonce, ciphertext = _b64decode(wrapping.get("nonce")), _b64decode(wrapping.get("ciphertext"))
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce of {len(nonce)} bytes")
    return nonce, ciphertext


def _unwrap(kek: bytes, nonce: bytes, ciphertext: bytes, kind: str) -> bytes:
    return AESGCM(kek).decrypt(nonce, ciphertext, _associated_data(kind))


def _associated_data(kind: str) -> bytes:
    return f"VisualLens store key v1 {kind}".encode()  # the wrapping format, unchanged since key file version 1


def _counter(store_key: bytes, generation: int) -> dict:
    return {"generation": generation, "generation_mac": _b64encode(_generation_mac(store_key, generation))}


def _generation_mac(store_key: bytes, generation: int) -> bytes:
    """HMAC-SHA256 of the generation under a key derived from the store key (HKDF-SHA256, its own purpose)."""
    mac_key = HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=b"VisualLens key file generation").derive(store_key)
    mac = hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(f"VisualLens store generation {generation}".encode())
    return mac.finalize()


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"expected base64 text, got {type(text).__name__}")
    return base64.b64decode(text, validate=True)


def shred_file(path: Path, chunk_bytes: int = 1 << 20) -> None:
    """Overwrite a file with zeros, flush it to disk, then unlink it; a missing file is ignored.

    Best effort: copy-on-write file systems and SSD wear levelling may keep old blocks.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "r+b") as file:
        zeros = bytes(min(size, chunk_bytes))
        for offset in range(0, size, chunk_bytes):
            file.write(zeros[: min(chunk_bytes, size - offset)])
        file.flush()
        os.fsync(file.fileno())
    path.unlink()

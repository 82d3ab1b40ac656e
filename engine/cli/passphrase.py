"""`visuallens passphrase`: change (or add) the passphrase that protects the store key.

The store is not re-encrypted: its random key is wrapped again under the new passphrase (Argon2id with a fresh
salt and the current default parameters, AES-GCM), and the key file is replaced atomically, so an interrupted
change leaves either the old or the new passphrase working, never neither.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from engine.api import NotInitialisedError
from engine.cli.context import home, out, passphrase_for_unlock, reported_errors
from engine.cli.text import term
from engine.profile.keys import PASSPHRASE, KeyManager, KeyStoreError
from engine.profile.store import ProfileStore

NEW_PASSPHRASE_ENV = "VISUALLENS_NEW_PASSPHRASE"


def passphrase_command() -> None:
    """Change the passphrase of the profile (or add one to a keyring-only profile); the photos' data stays as is.

    The current passphrase comes from VISUALLENS_PASSPHRASE, the keyring or a prompt; the new one from
    VISUALLENS_NEW_PASSPHRASE or a prompt (asked twice). Afterwards the old passphrase no longer unlocks.
    """
    where = home()
    with reported_errors():
        keys = KeyManager(where.root)
        if not keys.exists():
            raise NotInitialisedError(f"{where.root}: no VisualLens profile here yet; run `visuallens init`")
        current = passphrase_for_unlock(where) if PASSPHRASE in keys.protections() else None  # else the keyring
        key = keys.unlock(current)  # a wrong current passphrase is refused before asking for a new one
        new = _new_passphrase()
        keys.change_passphrase(current, new)
        if keys.unlock(new) != key:
            raise KeyStoreError(f"{keys.path}: the new passphrase does not unwrap the store key")
        photos = _check_store(where.store_path, key)
    out.print(
        f"Changed the passphrase of the profile in {term(str(where.root))} ({photos} photos kept); an old passphrase "
        "no longer unlocks it.", highlight=False, soft_wrap=True,
    )


def _new_passphrase() -> str:
    """The new passphrase from the environment, or asked twice on a terminal."""
    from_env = os.environ.get(NEW_PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise ValueError(f"no new passphrase: set {NEW_PASSPHRASE_ENV} or run `visuallens passphrase` on a terminal")
    return typer.prompt("New passphrase", hide_input=True, confirmation_prompt=True)


def _check_store(path: Path, key: bytes) -> int:
    """The store still opens with the (unchanged) key; returns how many photos it holds."""
    if not path.exists():
        return 0
    with ProfileStore.open(path, key) as store:
        return store.count()

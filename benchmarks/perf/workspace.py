"""Throw-away VisualLens profiles for benchmarks: an isolated data dir, a passphrase, no OS keyring."""

from __future__ import annotations

import os
from pathlib import Path

from engine.api import VisualLens, initialise, unlock
from engine.home import Home

PASSPHRASE = "benchmark passphrase, not a secret"
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never touch the user's keyring


def new_profile(root: Path, bundle: Path) -> Home:
    """Create an empty encrypted profile at `root` served by the bundle folder `bundle`."""
    home = Home(Path(root))
    initialise(home, passphrase=PASSPHRASE, use_keyring=False, bundle=str(Path(bundle).resolve()))
    return home


def open_profile(root: Path) -> VisualLens:
    return unlock(Home(Path(root)), PASSPHRASE)

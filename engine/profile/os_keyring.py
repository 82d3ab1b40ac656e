"""The OS keyring, imported only when a profile uses it (unlocking with a passphrase never loads it: a tenth of a
second of every start-up, most of it `keyring`'s own imports)."""

from __future__ import annotations

import sys

if sys.platform != "darwin":
    # keyring imports every backend when it picks one, and the macOS one's module loads its frameworks through
    # ctypes.util.find_library, which off macOS runs gcc and ld: they wrote temp files to /tmp during
    # `visuallens init`. That backend needs macOS, so its module is never imported elsewhere (an import of a None
    # entry raises ImportError, which the backend's package catches as "Security API unavailable").
    sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]

import keyring  # noqa: E402  (after the macOS backend is ruled out)
from keyring.backend import KeyringBackend  # noqa: E402
from keyring.backends import fail, null  # noqa: E402
from keyring.errors import KeyringError  # noqa: E402

__all__ = ["KeyringError", "backend", "usable"]


def backend() -> KeyringBackend:
    """The keyring backend keyring picked (or one set with `keyring.set_keyring`)."""
    return keyring.get_keyring()


def usable(chosen: KeyringBackend) -> bool:
    """Whether a backend can keep secrets (keyring's fail and null backends cannot)."""
    return not isinstance(chosen, (fail.Keyring, null.Keyring))

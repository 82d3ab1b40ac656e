"""The exit codes of `visuallens` and `visuallens-desktop` (README, "Exit codes"), and which failure maps to which.

Free of the command-line stack (typer, rich), so the desktop reads the same table.
"""

from __future__ import annotations

from engine.api import BundleMismatchError, NotInitialisedError
from engine.catalog.items import CatalogError
from engine.library.scan import FolderNotFoundError
from engine.models.bundle import BundleError
from engine.models.install import InstallError
from engine.profile.keys import KeyringUnavailableError, KeyStoreError, WrongPassphraseError
from engine.profile.store import StoreBusyError, StoreDamagedError, StoreError, WrongKeyError
from engine.serve.token import ServerRunningError

EXIT_ERROR, EXIT_NOT_INITIALISED, EXIT_LOCKED, EXIT_BUNDLE, EXIT_INPUT, EXIT_BUSY, EXIT_DAMAGED = 1, 3, 4, 5, 6, 7, 8
EXIT_NO_DISPLAY = 9  # the desktop's window cannot open: Qt's platform plugin lacks system libraries

ERRORS: list[tuple[type[BaseException], int]] = [
    (NotInitialisedError, EXIT_NOT_INITIALISED),
    (StoreDamagedError, EXIT_DAMAGED),
    (WrongPassphraseError, EXIT_LOCKED),
    (WrongKeyError, EXIT_LOCKED),
    (KeyringUnavailableError, EXIT_LOCKED),
    (KeyStoreError, EXIT_LOCKED),
    (BundleError, EXIT_BUNDLE),
    (BundleMismatchError, EXIT_BUNDLE),
    (StoreBusyError, EXIT_BUSY),
    (ServerRunningError, EXIT_BUSY),
    (InstallError, EXIT_ERROR),
    (CatalogError, EXIT_INPUT),
    (FolderNotFoundError, EXIT_INPUT),
    (FileNotFoundError, EXIT_INPUT),
    (NotADirectoryError, EXIT_INPUT),
    (ValueError, EXIT_INPUT),
    (StoreError, EXIT_ERROR),
]
KNOWN = tuple(cls for cls, _ in ERRORS)


def exit_code(exc: BaseException) -> int:
    """The exit code of a known failure (the first matching row of ERRORS); EXIT_ERROR for any other."""
    return next((code for cls, code in ERRORS if isinstance(exc, cls)), EXIT_ERROR)

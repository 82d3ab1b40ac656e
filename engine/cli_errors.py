"""How every `visuallens` command reports a failure: one clear line on stderr and an exit code scripts can test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from engine.api import BundleMismatchError, NotInitialisedError
from engine.catalog.items import CatalogError, one_line
from engine.library.scan import FolderNotFoundError
from engine.models.bundle import BundleError
from engine.models.install import InstallError
from engine.profile.keys import KeyringUnavailableError, KeyStoreError, WrongPassphraseError
from engine.profile.store import StoreBusyError, StoreDamagedError, StoreError, WrongKeyError
from engine.serve.token import ServerRunningError

err = Console(stderr=True, soft_wrap=True)

EXIT_ERROR, EXIT_NOT_INITIALISED, EXIT_LOCKED, EXIT_BUNDLE, EXIT_INPUT, EXIT_BUSY, EXIT_DAMAGED = 1, 3, 4, 5, 6, 7, 8
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


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn known failures into one clear line on stderr and a meaningful exit code (see README, exit codes)."""
    try:
        yield
    except typer.Exit:
        raise
    except tuple(cls for cls, _ in ERRORS) as exc:
        code = next(code for cls, code in ERRORS if isinstance(exc, cls))
        err.print(f"[bold red]error:[/] {escape(one_line(str(exc)))}", highlight=False)  # a path may hold ESC
        raise typer.Exit(code) from None

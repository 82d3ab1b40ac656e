"""What every `visuallens` command shares: the consoles, the data dir, the unlocked session, path arguments,
progress bars, and one way to report a failure (one clear line on stderr and an exit code scripts can test)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.api import PASSPHRASE_ENV, VisualLens, is_initialised, protections, unlock
from engine.cli.text import term
from engine.exit_codes import KNOWN, exit_code
from engine.home import Home
from engine.library.scan import UnsuitablePathError, check_named
from engine.profile.keys import PassphraseRequiredError, keyring_available

out = Console()
err = Console(stderr=True, soft_wrap=True)


def home() -> Home:
    """The data dir (`VISUALLENS_HOME`, else the platform's user data dir)."""
    return Home.default()


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn known failures into one clear line on stderr and a meaningful exit code (see README, exit codes)."""
    try:
        yield
    except typer.Exit:
        raise
    except KNOWN as exc:
        err.print(f"[bold red]error:[/] {term(str(exc))}", highlight=False)  # a path may hold ESC
        raise typer.Exit(exit_code(exc)) from None


def passphrase_for_unlock(where: Home) -> str | None:
    """The passphrase from the environment, or asked for on a terminal when the keyring cannot unlock."""
    if os.environ.get(PASSPHRASE_ENV) is not None:
        return os.environ[PASSPHRASE_ENV]
    if "keyring" in protections(where) and keyring_available():
        return None
    if sys.stdin.isatty():
        return typer.prompt("VisualLens passphrase", hide_input=True)
    raise PassphraseRequiredError(f"{where.root}: the profile is locked: set {PASSPHRASE_ENV} or run on a terminal")


@contextmanager
def session() -> Iterator[VisualLens]:
    """The unlocked profile of the data dir, closed afterwards; failures reported as every command reports them."""
    where = home()
    with reported_errors():
        lens = unlock(where, passphrase_for_unlock(where) if is_initialised(where) else None)
        try:
            yield lens
        finally:
            lens.close()


def named(path: str) -> str:
    """A path argument; an empty one is a usage error (exit 2), not the current folder."""
    try:
        check_named(path)
    except UnsuitablePathError as exc:
        raise typer.BadParameter(str(exc)) from None
    return path


def named_paths(paths: list[str] | None) -> list[str]:
    """Path arguments (see `named`)."""
    return [named(path) for path in paths or ()]


def progress(disable: bool) -> Progress:
    """A progress bar on stderr (stdout stays for results and JSON)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, disable=disable, transient=False)

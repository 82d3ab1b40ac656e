"""`visuallens init | status | forget | wipe | version`: the encrypted profile itself."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import typer
from rich.table import Table

from engine import __version__
from engine.api import PASSPHRASE_ENV, initialise, wipe
from engine.cli.context import home, named, out, reported_errors, session
from engine.cli.text import printable, term
from engine.exit_codes import EXIT_ERROR
from engine.profile.keys import KeyringUnavailableError, keyring_available


def init(
    keyring: Optional[bool] = typer.Option(None, "--keyring/--no-keyring", help="Protect the key with the OS keyring (default: when one works)."),
    bundle: str = typer.Option("lite", "--bundle", help="Model bundle: a name under VISUALLENS_BUNDLES or a folder."),
) -> None:
    """Create an encrypted profile in the data dir (VISUALLENS_HOME, else the platform's user data dir)."""
    where = home()
    with reported_errors():
        use_keyring = keyring_available() if keyring is None else keyring
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase is None and sys.stdin.isatty():
            prompt = "Recovery passphrase (optional, Enter to skip)" if use_keyring else "Choose a passphrase"
            passphrase = typer.prompt(prompt, hide_input=True, confirmation_prompt=True, default="" if use_keyring else None, show_default=False) or None
        if not use_keyring and not passphrase:
            raise KeyringUnavailableError(
                f"no working OS keyring here: set {PASSPHRASE_ENV} or run `visuallens init` on a terminal to choose a passphrase"
            )
        initialise(where, passphrase=passphrase, use_keyring=use_keyring, bundle=bundle)
    how = " and ".join(p for p, on in (("the OS keyring", use_keyring), ("your passphrase", bool(passphrase))) if on)
    out.print(f"Created an encrypted profile in [bold]{term(str(where.root))}[/], protected by {how}.")


def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """What the profile holds, where it lives and which model serves it."""
    with session() as lens:
        with reported_errors():
            lens.check_integrity()
            info = lens.status()
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "\n".join(term(line) for line in _status_lines(key, value)))
    out.print(table)
    if info.get("reencode_pending"):
        out.print(f"{info['reencode_pending']} photos were encoded with another model bundle and are left out of "
                  "search and recommendations until `visuallens index` re-encodes them (their folders must be "
                  "available).")


def forget(path: str = typer.Argument(..., callback=named, help="A photo or a folder to remove from the profile.")) -> None:
    """Remove a photo or a whole folder from the encrypted profile, now, and keep it out."""
    with session() as lens:
        with reported_errors():
            removed = lens.forget(path)
    shown = term(path)
    out.print(f"Forgot {removed} photo(s) under {shown}. Future index runs and the watcher skip it, also in the "
              f"folders that hold it, until you index it explicitly: `visuallens index {shown}`.",
              highlight=False, soft_wrap=True)


def wipe_command(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Delete the encrypted profile and its keys: everything VisualLens knows about your photos."""
    where = home()
    if not yes and not typer.confirm(f"Delete the VisualLens profile in {printable(str(where.root))}?", default=False):
        raise typer.Exit(EXIT_ERROR)
    with reported_errors():
        wipe(where)
    out.print(f"Wiped the VisualLens profile in {term(str(where.root))}.")


def version() -> None:
    """Print the version."""
    out.print(__version__)


def _status_lines(key: str, value: object) -> list[str]:
    """One `status` value as a person reads it: sizes in MB, a list item or a model a line, numbers rounded."""
    if key == "store_bytes" and isinstance(value, int):
        return [f"{value / 1e6:.1f} MB"]
    if isinstance(value, list):
        return [str(item) for item in value] or ["none"]
    if isinstance(value, dict):
        return [f"{name}: {_inline(item)}" for name, item in value.items()] or ["none"]
    return [_inline(value)]


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {_inline(item)}" for key, item in value.items())
    if isinstance(value, list):
        return _inline(value[0]) if len(value) == 1 else f"{len(value)}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return " ".join(str(value).split())

"""`visuallens models list | install NAME [--from PATH] | remove NAME`: the bundles in the user data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.context import err, home, out, reported_errors
from engine.cli.text import term
from engine.exit_codes import EXIT_BUNDLE
from engine.home import Home
from engine.models.bundle import Bundle
from engine.models.install import (
    LITE,
    InstalledBundle,
    InstallError,
    build_lite,
    folder_size,
    install_bundle,
    list_bundles,
    remove_bundle,
)

models_app = typer.Typer(
    help="Model bundles in the bundles dir (VISUALLENS_BUNDLES, else <user data dir>/VisualLens/bundles).",
    no_args_is_help=True,
    add_completion=False,
)


@models_app.command("list")
def list_command(
    verify: bool = typer.Option(
        False, "--verify", help="Also check every file's sha256 (reads all of each bundle); exit 5 if one is broken."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a list of {name, version, bytes, ranker, active, ...}."),
) -> None:
    """The installed model bundles; * marks the one this profile uses."""
    where = home()
    bundles = list_bundles(where, verify_checksums=verify)
    if as_json:
        out.print_json(json.dumps([b.to_dict() for b in bundles]))
    else:
        _print_table(where, bundles, verify)
    broken = [b for b in bundles if b.error]
    if verify and broken:
        for b in broken:
            err.print(f"[bold red]error:[/] {term(b.error or '')}", highlight=False)
        raise typer.Exit(EXIT_BUNDLE)


def _print_table(where: Home, bundles: list[InstalledBundle], verify: bool) -> None:
    if not bundles:
        out.print(f"No model bundles in {term(str(where.bundles_dir))}. `visuallens models install lite` adds the "
                  "offline one.", highlight=False)
        return
    table = Table("", "name", "version", "size", "ranker", "state", title=term(str(where.bundles_dir)),
                  title_justify="left")
    for b in bundles:
        state = f"[red]broken: {term(b.error)}[/]" if b.error else ("ok, verified" if verify else "ok")
        table.add_row("*" if b.active else "", term(b.name), term(b.version or "?"), _mb(b.bytes),
                      "yes" if b.ranker else "no", state)
    out.print(table, highlight=False)


@models_app.command("install")
def install_command(
    name: str = typer.Argument(..., help="The name to install it under: lite, clip or any folder name."),
    source: Optional[Path] = typer.Option(
        None, "--from", help="A bundle folder or a .zip/.tar(.gz) archive of one (`lite` alone can be built here)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an installed bundle of that name."),
    as_json: bool = typer.Option(False, "--json", help="Print {name, version, path, bytes}."),
) -> None:
    """Install a bundle into the bundles dir after checking every file's sha256 against its manifest."""
    bundles_dir = home().bundles_dir
    with reported_errors():
        if source is not None:
            bundle = install_bundle(source, bundles_dir, name, force=force)
        elif name == LITE:
            bundle = build_lite(bundles_dir, force=force, quiet=as_json)
        else:
            raise InstallError(
                f"{name!r}: only the lite bundle can be built here; pass --from FOLDER_OR_ARCHIVE "
                "(a clip bundle is built with `visuallens-export bundle clip ... --out FOLDER`)"
            )
    _report(bundle, name, as_json)


@models_app.command("remove")
def remove_command(
    name: str = typer.Argument(..., help="The installed bundle's name."),
    force: bool = typer.Option(False, "--force", help="Remove it even if this profile uses it."),
    as_json: bool = typer.Option(False, "--json", help="Print {name, path}."),
) -> None:
    """Delete an installed bundle (the one this profile uses only with --force)."""
    with reported_errors():
        path = remove_bundle(home(), name, force=force)
    if as_json:
        out.print_json(json.dumps({"name": name, "path": str(path)}))
    else:
        out.print(f"Removed bundle {term(name)} ({term(str(path))}).", highlight=False)


def _report(bundle: Bundle, name: str, as_json: bool) -> None:
    size = folder_size(bundle.path)
    if as_json:
        out.print_json(json.dumps({"name": name, "version": bundle.version, "path": str(bundle.path), "bytes": size}))
        return
    out.print(term(f"Installed {name} {bundle.version} ({_mb(size)}, every file's sha256 verified) in {bundle.path}."),
              highlight=False)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"

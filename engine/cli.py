"""`visuallens`: index a photo folder into an encrypted profile and get recommendations from it."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine import __version__
from engine.api import (
    PASSPHRASE_ENV,
    VisualLens,
    initialise,
    unlock,
    wipe,
)
from engine.catalog.items import one_line
from engine.cli_errors import EXIT_ERROR, err, reported_errors
from engine.home import Home
from engine.library.scan import UnsuitablePathError, check_named
from engine.library.watch_cli import watch_command
from engine.models.models_cli import models_app
from engine.profile.keys import (
    KeyManager,
    KeyringUnavailableError,
    PassphraseRequiredError,
    keyring_available,
)
from engine.profile.passphrase_cli import passphrase_command
from engine.serve.cli import serve_command

app = typer.Typer(help="VisualLens: private recommendations from your own photos. Nothing leaves this machine.",
                  no_args_is_help=True, add_completion=False)
out = Console()


def _home() -> Home:
    return Home.default()


def _passphrase_for_unlock(home: Home) -> Optional[str]:
    """The passphrase from the environment, or asked for on a terminal when the keyring cannot unlock."""
    if os.environ.get(PASSPHRASE_ENV) is not None:
        return os.environ[PASSPHRASE_ENV]
    if "keyring" in KeyManager(home.root).protections() and keyring_available():
        return None
    if sys.stdin.isatty():
        return typer.prompt("VisualLens passphrase", hide_input=True)
    raise PassphraseRequiredError(f"{home.root}: the profile is locked: set {PASSPHRASE_ENV} or run on a terminal")


@contextmanager
def _session() -> Iterator[VisualLens]:
    home = _home()
    with reported_errors():
        lens = unlock(home, _passphrase_for_unlock(home) if (home.root / "keys.json").exists() else None)
        try:
            yield lens
        finally:
            lens.close()


@app.command()
def init(
    keyring: Optional[bool] = typer.Option(None, "--keyring/--no-keyring", help="Protect the key with the OS keyring (default: when one works)."),
    bundle: str = typer.Option("lite", "--bundle", help="Model bundle: a name under VISUALLENS_BUNDLES or a folder."),
) -> None:
    """Create an encrypted profile in the data dir (VISUALLENS_HOME, else the platform's user data dir)."""
    home = _home()
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
        initialise(home, passphrase=passphrase, use_keyring=use_keyring, bundle=bundle)
    how = " and ".join(p for p, on in (("the OS keyring", use_keyring), ("your passphrase", bool(passphrase))) if on)
    out.print(f"Created an encrypted profile in [bold]{_term(str(home.root))}[/], protected by {how}.")


@app.command()
def index(
    paths: Optional[list[str]] = typer.Argument(
        None, callback=lambda paths: [_named(path) for path in paths or ()],
        help="Photo folders or photos to index (default: every library folder). A forgotten path comes back "
             "only when it is named here itself, or a folder inside it is."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Index photo folders: new and changed photos are profiled, unchanged ones skipped, deleted ones removed."""
    with _session() as lens:
        with reported_errors():
            lens.bundle  # fail fast on a missing/broken bundle, before scanning
            if not paths:
                known = [Path(f) for f in lens.store.folders()]
                for missing in sorted(f for f in known if not f.is_dir()):
                    err.print(f"[yellow]not available, left as is:[/] {_term(str(missing))}", highlight=False)
                if not known:
                    raise ValueError("no photo folders yet: run `visuallens index FOLDER`")
            with _progress(disable=as_json) as bar:
                task = bar.add_task("Indexing", total=None)

                def on_progress(p) -> None:
                    bar.update(task, completed=p.done, total=p.total, description=f"Indexing {_term(Path(p.path).name[:30])}")

                report = lens.index(paths, progress=on_progress) if paths else lens.refresh(progress=on_progress)
            lens.check_integrity()
    summary = {
        "scanned": report.scanned, "added": report.added, "updated": report.updated, "moved": report.moved,
        "unchanged": report.unchanged, "removed": report.removed, "decoded": report.decoded,
        "captions_filled": report.captions_filled, "reencoded": report.reencoded,
        "failed": [{"path": _shown(p), "reason": r} for p, r in report.failed],
        "seconds": round(report.seconds, 2), "images_per_second": round(report.images_per_second, 1),
        "lifted": [_shown(p) for p in report.lifted],
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    for path in report.lifted:
        out.print(f"Lifted the exclusion of {_term(path)}: you named it, so it is indexed again.",
                  highlight=False, soft_wrap=True)
    for path, reason in report.failed:
        err.print(f"[yellow]skipped[/] {_term(path)}: {_term(reason)}", highlight=False)
    reencoded = f"{report.reencoded} re-encoded for the new model bundle, " if report.reencoded else ""
    out.print(
        f"{report.scanned} photos scanned: {report.added} added, {report.updated} updated, {report.moved} moved, "
        f"{reencoded}{report.unchanged} unchanged, {report.removed} removed, {len(report.failed)} skipped "
        f"({report.decoded} decoded at {report.images_per_second:.1f} images/s)."
    )
    if report.captions_filled:
        out.print(f"Caption vectors added to {report.captions_filled} photos indexed by an older version.")


@app.command()
def search(
    text: str = typer.Argument(..., help='What to look for, e.g. "sunset at the beach".'),
    k: int = typer.Option(10, "-k", "--top", min=1, help="How many photos."),
    as_json: bool = typer.Option(False, "--json", help="Print a list of {path, score}."),
) -> None:
    """Find your photos that match a text query."""
    with _session() as lens:
        with reported_errors():
            hits = lens.search(text, k)
    if as_json:
        out.print_json(json.dumps([{"path": h.path, "score": round(h.score, 4)} for h in hits]))
        return
    table = Table("score", "photo", "caption")
    for h in hits:
        table.add_row(f"{h.score:.3f}", _term(h.path), _term(h.caption))
    out.print(table)


@app.command()
def recommend(
    category: str = typer.Option(..., "--category", "-c", help="Which kind of item, e.g. 'asian food'."),
    catalog: Path = typer.Option(..., "--catalog", help="Candidate items (JSON or CSV)."),
    query: Optional[str] = typer.Option(None, "--query", "-q", help="Optional: what you are in the mood for."),
    grid: Optional[Path] = typer.Option(None, "--grid", help="Save the evidence grid (a picture of your photos) here."),
    top: int = typer.Option(10, "--top", min=1, help="How many items to show (JSON lists all)."),
    w: int = typer.Option(64, "-w", help="How many photos inform the ranking (a square: 16, 36, 64...)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {category, scorer, support, cold_start, ..., ranking: [{id, name, score, rank, evidence}]}."
    ),
) -> None:
    """Rank a catalog's items in a category for you, with the evidence from your photos."""
    with _session() as lens:
        with reported_errors():
            rec = lens.recommend(category, catalog, query=query, w=w)
            if grid is not None:
                grid.parent.mkdir(parents=True, exist_ok=True)
                rec.render_grid(highlight=rec.ranked[0] if rec.ranked else None).save(grid)
    if as_json:
        out.print_json(json.dumps(rec.as_dict()))
        return
    out.print(f"[bold]{_term(category)}[/] for you, ranked by the {rec.scorer} from {len(rec.grid_paths)} of your photos")
    out.print(f"Your profile here: {_term(', '.join(rec.profile_aspects)) or 'no words several photos share yet'}")
    if rec.cold_start:
        out.print(f"[yellow]{_term(rec.cold_start_note())}[/]")
    table = Table("rank", "item", "score", "because of photos", "aspect words")
    for r in rec.ranked[:top]:
        table.add_row(str(r.rank), _term(r.item.name), f"{r.score:+.2f}", " ".join(f"#{c}" for c in r.evidence.cells),
                      _term(", ".join(r.evidence.aspect_words)))
    out.print(table)
    if grid is not None:
        out.print(f"Evidence grid saved to {_term(str(grid))} (cells of the top item framed).")


@app.command()
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """What the profile holds, where it lives and which model serves it."""
    with _session() as lens:
        with reported_errors():
            lens.check_integrity()
            info = lens.status()
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "\n".join(_term(line) for line in _status_lines(key, value)))
    out.print(table)
    if info.get("reencode_pending"):
        out.print(f"{info['reencode_pending']} photos were encoded with another model bundle and are left out of "
                  "search and recommendations until `visuallens index` re-encodes them (their folders must be "
                  "available).")


@app.command()
def forget(path: str = typer.Argument(..., callback=lambda path: _named(path),
                                      help="A photo or a folder to remove from the profile.")) -> None:
    """Remove a photo or a whole folder from the encrypted profile, now, and keep it out."""
    with _session() as lens:
        with reported_errors():
            removed = lens.forget(path)
    shown = _term(path)
    out.print(f"Forgot {removed} photo(s) under {shown}. Future index runs and the watcher skip it, also in the "
              f"folders that hold it, until you index it explicitly: `visuallens index {shown}`.",
              highlight=False, soft_wrap=True)


@app.command(name="wipe")
def wipe_command(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Delete the encrypted profile and its keys: everything VisualLens knows about your photos."""
    home = _home()
    if not yes and not typer.confirm(f"Delete the VisualLens profile in {_printable(str(home.root))}?", default=False):
        raise typer.Exit(EXIT_ERROR)
    with reported_errors():
        wipe(home)
    out.print(f"Wiped the VisualLens profile in {_term(str(home.root))}.")


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


app.command(name="watch")(watch_command)
app.command(name="serve")(serve_command)
app.add_typer(models_app, name="models")
app.command(name="passphrase")(passphrase_command)


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


def _shown(path: str) -> str:
    """A path fit for JSON: undecodable name bytes become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _printable(text: str) -> str:
    """Text from a file name, a photo or a catalog fit for a terminal: undecodable name bytes become U+FFFD, and
    control characters (C0, C1: ESC sequences, newlines) and bidi overrides (U+202A-U+202E, U+2066-U+2069,
    U+200E/F) are shown escaped (\\x1b, \\u202e), so a name cannot restyle the terminal or reorder what it shows."""
    return one_line(_shown(text))


def _term(text: str) -> str:
    """`_printable` text with rich markup escaped: what every rich output line uses for a path, name or caption."""
    return escape(_printable(text))


def _named(path: str) -> str:
    """A path argument; an empty one is a usage error (exit 2), not the current folder."""
    try:
        check_named(path)
    except UnsuitablePathError as exc:
        raise typer.BadParameter(str(exc)) from None
    return path


def _progress(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, disable=disable, transient=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""`visuallens watch PATH...`: keep the profile up to date with photo folders, headless, until SIGINT/SIGTERM."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from engine.cli.context import err, named_paths, out, reported_errors, session
from engine.cli.text import printable, shown, term
from engine.library.watch_runner import summary_line, watch
from engine.profile.indexer import IndexReport

if TYPE_CHECKING:
    from engine.api import VisualLens


def watch_command(
    paths: Optional[list[str]] = typer.Argument(
        None, callback=named_paths,
        help="Photo folders to watch (default: every folder indexed before)."),
    quiet: float = typer.Option(2.0, "--quiet", min=0.05, help="Seconds without changes before an index run."),
    max_delay: float = typer.Option(60.0, "--max-delay", min=0.05, help="Index at least this often during a long stream of changes."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per index run."),
) -> None:
    """Watch photo folders and index changes as they happen (new, edited, renamed, deleted photos); Ctrl+C stops.

    Catches up first with what changed while nothing was watching. A folder that goes away keeps its photos.
    """
    with session() as lens:
        with reported_errors():
            lens.bundle  # fail fast on a missing/broken bundle
            folders = _folders(lens, [Path(path) for path in paths or ()])
            if max_delay < quiet:
                raise ValueError(f"--max-delay ({max_delay:g}) must not be shorter than --quiet ({quiet:g})")

            def on_report(indexed: Sequence[Path], report: IndexReport) -> None:
                if as_json:
                    typer.echo(json.dumps({
                        "folders": [shown(str(f)) for f in indexed], "scanned": report.scanned,
                        "added": report.added, "updated": report.updated, "moved": report.moved,
                        "unchanged": report.unchanged, "removed": report.removed, "decoded": report.decoded,
                        "failed": [{"path": shown(p), "reason": r} for p, r in report.failed],
                        "seconds": round(report.seconds, 2), "lifted": [shown(p) for p in report.lifted],
                    }))
                    return
                for path in report.lifted:
                    out.print(f"Lifted the exclusion of {term(path)}: you named it, so it is "
                                  "indexed again.", highlight=False, soft_wrap=True)
                for path, reason in report.failed:
                    err.print(f"[yellow]skipped[/] {term(path)}: {term(reason)}", highlight=False)
                names = ", ".join(printable(str(f)) for f in indexed)
                out.print(f"{time.strftime('%H:%M:%S')} {names}: {summary_line(report)}.", highlight=False, markup=False, soft_wrap=True)

            def on_availability(folder: Path, available: bool) -> None:
                name = shown(str(folder))
                if as_json:
                    typer.echo(json.dumps({"folder": name, "available": available}))
                elif available:
                    err.print(f"[green]back, watching again:[/] {term(name)}", highlight=False)
                else:
                    err.print(f"[yellow]not available, watching for it to come back:[/] {term(name)}", highlight=False)

            def on_ready(watched: set[Path]) -> None:
                if not as_json:
                    err.print(f"Watching {len(folders)} folder(s) for changes ({len(watched)} available); Ctrl+C to stop.")

            watch(lens, folders, named=bool(paths), on_report=on_report, on_ready=on_ready,
                  on_availability=on_availability, quiet_seconds=quiet, max_delay_seconds=max_delay)
    if not as_json:
        err.print("Stopped watching.")


def _folders(lens: VisualLens, paths: list[Path]) -> list[Path]:
    """The folders asked for (each must exist now), else every folder indexed before (present or not)."""
    if paths:
        for path in paths:
            if not path.expanduser().is_dir():
                raise FileNotFoundError(f"{path.expanduser().resolve()}: folder not found")
        return paths
    known = [Path(f) for f in lens.folders()]
    if not known:
        raise ValueError("no photo folders yet: run `visuallens watch FOLDER`")
    return known


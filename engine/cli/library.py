"""`visuallens index | search`: bring photo folders into the profile, and find photos by text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.context import err, named_paths, out, progress, reported_errors, session
from engine.cli.text import shown, term


def index(
    paths: Optional[list[str]] = typer.Argument(
        None, callback=named_paths,
        help="Photo folders or photos to index (default: every library folder). A forgotten path comes back "
             "only when it is named here itself, or a folder inside it is."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Index photo folders: new and changed photos are profiled, unchanged ones skipped, deleted ones removed."""
    with session() as lens:
        with reported_errors():
            lens.bundle  # fail fast on a missing/broken bundle, before scanning
            if not paths:
                known = [Path(f) for f in lens.folders()]
                for missing in sorted(f for f in known if not f.is_dir()):
                    err.print(f"[yellow]not available, left as is:[/] {term(str(missing))}", highlight=False)
                if not known:
                    raise ValueError("no photo folders yet: run `visuallens index FOLDER`")
            with progress(disable=as_json) as bar:
                task = bar.add_task("Indexing", total=None)

                def on_progress(p) -> None:
                    bar.update(task, completed=p.done, total=p.total, description=f"Indexing {term(Path(p.path).name[:30])}")

                report = lens.index(paths, progress=on_progress) if paths else lens.refresh(progress=on_progress)
            lens.check_integrity()
    summary = {
        "scanned": report.scanned, "added": report.added, "updated": report.updated, "moved": report.moved,
        "unchanged": report.unchanged, "removed": report.removed, "decoded": report.decoded,
        "captions_filled": report.captions_filled, "reencoded": report.reencoded,
        "failed": [{"path": shown(p), "reason": r} for p, r in report.failed],
        "seconds": round(report.seconds, 2), "images_per_second": round(report.images_per_second, 1),
        "lifted": [shown(p) for p in report.lifted],
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    for path in report.lifted:
        out.print(f"Lifted the exclusion of {term(path)}: you named it, so it is indexed again.",
                  highlight=False, soft_wrap=True)
    for path, reason in report.failed:
        err.print(f"[yellow]skipped[/] {term(path)}: {term(reason)}", highlight=False)
    reencoded = f"{report.reencoded} re-encoded for the new model bundle, " if report.reencoded else ""
    out.print(
        f"{report.scanned} photos scanned: {report.added} added, {report.updated} updated, {report.moved} moved, "
        f"{reencoded}{report.unchanged} unchanged, {report.removed} removed, {len(report.failed)} skipped "
        f"({report.decoded} decoded at {report.images_per_second:.1f} images/s)."
    )
    if report.captions_filled:
        out.print(f"Caption vectors added to {report.captions_filled} photos indexed by an older version.")


def search(
    text: str = typer.Argument(..., help='What to look for, e.g. "sunset at the beach".'),
    k: int = typer.Option(10, "-k", "--top", min=1, help="How many photos."),
    as_json: bool = typer.Option(False, "--json", help="Print a list of {path, score}."),
) -> None:
    """Find your photos that match a text query."""
    with session() as lens:
        with reported_errors():
            hits = lens.search(text, k)
    if as_json:
        out.print_json(json.dumps([{"path": h.path, "score": round(h.score, 4)} for h in hits]))
        return
    table = Table("score", "photo", "caption")
    for h in hits:
        table.add_row(f"{h.score:.3f}", term(h.path), term(h.caption))
    out.print(table)

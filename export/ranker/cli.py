"""`visuallens-export train` and `visuallens-export eval`: fit the ranker into a bundle, report like the paper."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import typer
from accelerate import Accelerator
from platformdirs import user_cache_dir
from rich.console import Console
from rich.progress import Progress

from engine.models.bundle import BundleError, load_bundle
from export.bundle_io import BundleExistsError
from export.data.benchmark.format import BenchmarkFormatError, load_benchmark
from export.lite.parity import ParityError
from export.ranker.evaluate import MethodResult, first_relevant_ranks, torch_scores
from export.ranker.examples import ExampleBuilder
from export.ranker.features import embed_benchmark
from export.ranker.pipeline import Recipe, fit, write_ranker_bundle
from export.ranker.report import (
    ablation_plot,
    as_json,
    curve_plot,
    markdown_table,
    rich_table,
    write_json,
)
from export.ranker.study import ablations, candidates_curve, history_curve, main_table
from export.ranker.train import TrainConfig

console = Console()
BENCHMARK = typer.Option(..., "--benchmark", help="Benchmark folder (benchmark.json + items/users/queries.jsonl).")
CACHE = typer.Option(None, "--cache", help="Feature cache folder (default: the user cache dir).")


def train_command(
    benchmark: Path = BENCHMARK,
    bundle: Path = typer.Option(..., "--bundle", help="The bundle whose encoders the ranker reads."),
    out: Path = typer.Option(..., "--out", help="Bundle folder to write: a copy of --bundle plus ranker.onnx."),
    epochs: int = typer.Option(4, "--epochs"),
    layers: int = typer.Option(2, "--layers", help="MiniLM layers in the ranker backbone (1-6)."),
    refine_rounds: int = typer.Option(4, "--refine-rounds", help="Aspect-word refinement rounds (0: none)."),
    cache: Path | None = CACHE,
    force: bool = typer.Option(False, "--force", help="Replace an existing output bundle."),
) -> None:
    """Train the ranker (LoRA + heads, joint loss) on the benchmark's training users and add it to a bundle.

    Runs on one process, or on several with `torchrun --nproc_per_node N -m export.cli train ...`.
    """
    accelerator = Accelerator(cpu=not _cuda())
    log = console.print if accelerator.is_main_process else (lambda _: None)
    recipe = Recipe(backbone_layers=layers, train=TrainConfig(epochs=epochs), refine_rounds=refine_rounds)
    with _errors():
        bench, source = load_benchmark(benchmark), load_bundle(bundle)
        with accelerator.main_process_first():
            features = _features(bench, source, cache, accelerator.is_main_process)
        start = time.perf_counter()
        result = fit(bench, features, recipe, log, accelerator)
        if not accelerator.is_main_process:
            return
        builder = ExampleBuilder(bench, features, recipe.view)
        val = [builder.build(q) for q in bench.split("val")]
        ranks = first_relevant_ranks(torch_scores(result.model, val), val)
        metrics = {key: metric.mean for key, metric in MethodResult("val", ranks).metrics().items()}
        folder, parity = write_ranker_bundle(source, out, result, val[:8], recipe, bench, {"val": metrics}, force)
    minutes = (time.perf_counter() - start) / 60
    size = (folder / "ranker.onnx").stat().st_size / 1e6
    console.print(f"[green]bundle[/green] {folder}: ranker.onnx {size:.1f} MB, trained in {minutes:.1f} min "
                  f"on {result.training.processes} process(es); validation "
                  + ", ".join(f"{k} {100 * v:.1f}" for k, v in metrics.items()))
    console.print(f"parity ranker: max_abs_diff {parity.max_abs_diff:.3g}, min_cosine {parity.min_cosine:.6f}")


def eval_command(
    benchmark: Path = BENCHMARK,
    bundle: Path = typer.Option(..., "--bundle", help="A bundle with a trained ranker (from `train`)."),
    report: Path = typer.Option(..., "--report", help="Folder for report.md, report.json and the plots."),
    with_ablations: bool = typer.Option(True, "--ablations/--no-ablations", help="Train and score each ablation."),
    only: list[str] = typer.Option([], "--ablation", help="Run only this ablation (repeatable; default: all)."),
    with_curves: bool = typer.Option(True, "--curves/--no-curves", help="MRR vs history length and candidates."),
    epochs: int = typer.Option(0, "--epochs", help="Epochs for the ablation runs (0: as the bundle's ranker)."),
    refine_rounds: int = typer.Option(0, "--refine-rounds", help="Refinement rounds of the ablation runs (0: same)."),
    long_histories: Path | None = typer.Option(
        None, "--long-histories", help="A test benchmark with 500-photo histories for the history curve."
    ),
    cache: Path | None = CACHE,
) -> None:
    """The paper's table on the test users (Hit@1/3/10, MRR, 95% bootstrap CIs), ablations and curves."""
    with _errors():
        bench, source = load_benchmark(benchmark), load_bundle(bundle)
        features = _features(bench, source, cache, True)
        report.mkdir(parents=True, exist_ok=True)
        results = main_table(bench, features, source)
        console.print(rich_table(f"{len(bench.split('test'))} test queries", results))
        payload = {"main": as_json(results)}
        sections = [f"## Main table ({len(bench.split('test'))} test queries)\n\n{markdown_table(results)}"]
        if with_ablations:
            recorded = source.manifest.get("ranker", {}).get("recipe", {})
            recipe = Recipe(
                backbone_layers=recorded.get("backbone_layers", 2),
                refine_rounds=refine_rounds or recorded.get("refine_rounds", Recipe().refine_rounds),
                train=TrainConfig(epochs=epochs or recorded.get("train", {}).get("epochs", TrainConfig().epochs)),
            )
            rows = ablations(bench, features, recipe, console.print, only)
            console.print(rich_table("Ablations", rows))
            ablation_plot(rows, report / "ablations.png")
            payload["ablations"] = as_json(rows)
            sections.append(f"## Ablations\n\n{markdown_table(rows)}\n\n![ablations](ablations.png)")
        if with_curves:
            for name, label, curve in (
                ("history", "photos in the user's history", _history_curve(bench, features, source, long_histories, cache)),
                ("candidates", "candidates per query", candidates_curve(bench, features, source)),
            ):
                curve_plot(curve, label, report / f"mrr_vs_{name}.png")
                payload[f"mrr_vs_{name}"] = {m: {x: vars(v) for x, v in pts.items()} for m, pts in curve.items()}
                sections.append(f"## MRR vs {label}\n\n![mrr vs {name}](mrr_vs_{name}.png)")
        write_json(report / "report.json", payload)
        (report / "report.md").write_text("# VisualLens ranker evaluation\n\n" + "\n\n".join(sections) + "\n", "utf-8")
    console.print(f"report written to {report}")


def _history_curve(bench, features, bundle, long_histories: Path | None, cache: Path | None):
    """On `long_histories` when given (histories of 500 photos), else on the benchmark (lengths capped)."""
    if long_histories is None:
        return history_curve(bench, features, bundle)
    long_bench = load_benchmark(long_histories)
    return history_curve(long_bench, _features(long_bench, bundle, cache, True), bundle)


def _features(bench, bundle, cache: Path | None, show: bool):
    folder = cache or Path(user_cache_dir("visuallens")) / "features"
    with Progress(console=console, disable=not show) as progress:
        task = progress.add_task("embedding benchmark photos", total=None)
        return embed_benchmark(bench, bundle, folder, lambda done, total: progress.update(task, completed=done, total=total))


def _cuda() -> bool:
    return torch.cuda.is_available()


class _errors:
    """Known failures become a one-line error and exit code 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, (BenchmarkFormatError, BundleError, BundleExistsError, ParityError)):
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        return False

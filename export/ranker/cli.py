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
from engine.recommend.ranker import OnnxRanker
from export.bundle_io import BundleExistsError
from export.data.benchmark.format import BenchmarkFormatError, load_benchmark
from export.lite.parity import ParityError
from export.ranker.eval_report import (
    Report,
    add_ablations,
    add_bridge,
    add_curves,
    add_feedback,
    add_main_table,
    add_previous,
    reference,
)
from export.ranker.features import embed_benchmark
from export.ranker.pipeline import Recipe, fit, validation_metrics, write_ranker_bundle
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
        metrics, val = validation_metrics(bench, features, result.model, recipe)
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
    cross: list[str] = typer.Option(
        [], "--cross", help="NAME=FOLDER: another benchmark scored as its own table (cross-source; repeatable)."
    ),
    previous: str | None = typer.Option(
        None, "--previous", help="NAME=BUNDLE: a previous bundle whose ranker this one is compared with, paired."
    ),
    with_ablations: bool = typer.Option(True, "--ablations/--no-ablations", help="Train and score each ablation."),
    only: list[str] = typer.Option([], "--ablation", help="Run only this ablation (repeatable; default: all)."),
    with_curves: bool = typer.Option(True, "--curves/--no-curves", help="MRR vs history length and candidates."),
    with_feedback: bool = typer.Option(
        True, "--feedback/--no-feedback", help="Hit@3 and MRR vs the number of like / not-for-me judgements."
    ),
    epochs: int = typer.Option(0, "--epochs", help="Epochs for the ablation runs (0: as the bundle's ranker)."),
    refine_rounds: int = typer.Option(0, "--refine-rounds", help="Refinement rounds of the ablation runs (0: same)."),
    long_histories: Path | None = typer.Option(
        None, "--long-histories", help="A test benchmark with 500-photo histories for the history curve."
    ),
    cache: Path | None = CACHE,
) -> None:
    """The paper's table on the test users (Hit@1/3/10, MRR, 95% bootstrap CIs, share of the random -> oracle gap
    closed), what the photos add, ablations, cross-source tables, the bridge and the curves."""
    with _errors():
        targets = [_named(item, "--cross") for item in cross]
        earlier = _named(previous, "--previous") if previous else None
        bench, source = load_benchmark(benchmark), load_bundle(bundle)
        features = _features(bench, source, cache, True)
        report.mkdir(parents=True, exist_ok=True)
        out = Report("VisualLens ranker evaluation")
        main = add_main_table(out, "Main table", bench, features, source, console.print)
        ref = reference(main)
        if earlier is not None:
            name, folder = earlier
            prior = load_bundle(folder)
            if not (OnnxRanker.available(prior) and OnnxRanker.available(source)):
                raise typer.BadParameter(f"--previous compares two trained rankers: {bundle} and {folder} need one each")
            add_previous(out, name, bench, main, (_features(bench, prior, cache, True), prior), console.print)
        if with_ablations:
            add_ablations(out, bench, features, _ablation_recipe(source, epochs, refine_rounds), ref, report,
                          console.print, tuple(only))
        for name, folder in targets:
            other = load_benchmark(folder)
            add_main_table(out, f"Cross-source: {name}", other, _features(other, source, cache, True), source, console.print)
        add_bridge(out, source)
        if with_curves:
            long_bench = None
            if long_histories is not None:
                loaded = load_benchmark(long_histories)
                long_bench = (loaded, _features(loaded, source, cache, True))
            add_curves(out, bench, features, source, report, long_bench)
        if with_feedback and OnnxRanker.available(source) and all(user.liked for user in bench.users.values()):
            add_feedback(out, bench, features, source, report, console.print)
        out.write(report)
    console.print(f"report written to {report}")


def _named(item: str, option: str) -> tuple[str, Path]:
    name, sep, folder = item.partition("=")
    if not sep or not name or not folder:
        raise typer.BadParameter(f"{option} takes NAME=FOLDER, got {item!r}")
    return name, Path(folder)


def _ablation_recipe(bundle, epochs: int, refine_rounds: int) -> Recipe:
    """The bundle's recorded recipe, with the epochs and refinement rounds overridden when asked."""
    recorded = bundle.manifest.ranker.recipe if bundle.manifest.ranker else {}
    return Recipe(
        backbone_layers=recorded.get("backbone_layers", 2),
        refine_rounds=refine_rounds or recorded.get("refine_rounds", Recipe().refine_rounds),
        train=TrainConfig(epochs=epochs or recorded.get("train", {}).get("epochs", TrainConfig().epochs)),
    )


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

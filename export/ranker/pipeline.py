"""Fit a ranker on a benchmark (refinement rounds, then joint training) and ship it inside a bundle."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from engine.models.bundle import MANIFEST, Bundle, read_manifest
from engine.recommend.ranker import MANIFEST_KEY, io_declaration
from export.bundle_io import built_by, file_entries, staged_bundle
from export.data.benchmark.format import Benchmark
from export.lite.parity import ParityResult
from export.ranker.backbone import minilm_backbone, tiny_backbone
from export.ranker.evaluate import MethodResult, first_relevant_ranks, torch_scores
from export.ranker.examples import ExampleBuilder, ProfileView, QueryExample
from export.ranker.features import BenchmarkFeatures
from export.ranker.lora import LoraSettings, merged, with_lora
from export.ranker.model import SpectrumRanker
from export.ranker.onnx_export import export_ranker
from export.ranker.refine import RefinementRound, initial_aspects, refine
from export.ranker.train import (
    AspectTargets,
    QueryDataset,
    TrainConfig,
    TrainResult,
    collate,
    predict,
    train,
)

RANKER_FILE = "ranker.onnx"


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a trained ranker (recorded in the bundle manifest)."""

    backbone_layers: int = 2
    tiny_backbone: bool = False  # a random tiny BERT instead of MiniLM: for tests only
    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    view: ProfileView = field(default_factory=ProfileView)
    refine_rounds: int = 4  # 0: train on the zero-shot aspect words W⁰ ("w/o refinement")
    refine_epochs: int = 1  # epochs of each refinement round's ranker
    reference_photos: int = 1024  # the generic library the density ratio compares with
    names_only_share: float = 0.5  # training queries whose candidates come without descriptions (catalogs vary)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    model: torch.nn.Module  # the peft-wrapped ranker
    rounds: list[RefinementRound]
    training: TrainResult
    train_queries: int


def new_model(recipe: Recipe, features: BenchmarkFeatures) -> torch.nn.Module:
    torch.manual_seed(recipe.train.seed)
    backbone = tiny_backbone(recipe.backbone_layers) if recipe.tiny_backbone else minilm_backbone(recipe.backbone_layers)
    dim, visual_dim = features.item_image.shape[1], features.item_visual.shape[1]
    return with_lora(SpectrumRanker(backbone, dim, visual_dim, reference_library(features, recipe)), recipe.lora)


def reference_library(features: BenchmarkFeatures, recipe: Recipe) -> torch.Tensor:
    """A generic library for the ranker's density ratio: `reference_photos` benchmark photos drawn at random (the
    pool mixes every kind of thing with everyday noise; no user's taste shows in it)."""
    vectors = features.photos.vectors
    rng = np.random.default_rng(recipe.train.seed)
    rows = np.sort(rng.choice(len(vectors), min(recipe.reference_photos, len(vectors)), replace=False))
    return torch.from_numpy(vectors[rows].astype(np.float32))


def fit(
    bench: Benchmark,
    features: BenchmarkFeatures,
    recipe: Recipe,
    log: Callable[[str], None] = lambda _: None,
    accelerator: Accelerator | None = None,
) -> FitResult:
    """Refine the aspect-word targets on the training split, then train the final ranker on them."""
    builder = ExampleBuilder(bench, features, recipe.view)
    rng = np.random.default_rng(recipe.train.seed)
    examples = [builder.build(q, names_only=rng.random() < recipe.names_only_share) for q in bench.split("train")]
    targets, rounds = _aspect_targets(examples, recipe, features, log, accelerator)
    model = new_model(recipe, features)
    log(f"training on {len(examples)} queries")
    result = train(model, QueryDataset(examples, targets), recipe.train, log, accelerator)
    return FitResult(model=model, rounds=rounds, training=result, train_queries=len(examples))


def validation_metrics(
    bench: Benchmark, features: BenchmarkFeatures, model: torch.nn.Module, recipe: Recipe
) -> tuple[dict[str, float], list[QueryExample]]:
    """Hit@k and MRR of `model` on the validation users (means), and their examples."""
    builder = ExampleBuilder(bench, features, recipe.view)
    examples = [builder.build(q) for q in bench.split("val")]
    ranks = first_relevant_ranks(torch_scores(model, examples), examples)
    return {key: metric.mean for key, metric in MethodResult("val", ranks).metrics().items()}, examples


def _aspect_targets(
    examples: list[QueryExample],
    recipe: Recipe,
    features: BenchmarkFeatures,
    log: Callable[[str], None],
    accelerator: Accelerator | None,
) -> tuple[AspectTargets, list[RefinementRound]]:
    if not (recipe.view.aspects and recipe.train.joint):
        return {}, []
    if recipe.refine_rounds == 0:
        return initial_aspects(examples), []
    quick = replace(recipe.train, epochs=recipe.refine_epochs)

    def predict_words(targets: AspectTargets):
        model = new_model(recipe, features)
        train(model, QueryDataset(examples, targets), quick, accelerator=accelerator)
        return [probs for _, probs in predict(model, examples)]

    return refine(examples, predict_words, max_rounds=recipe.refine_rounds, log=log)


def write_ranker_bundle(
    source: Bundle,
    out: Path,
    fit_result: FitResult,
    examples: list[QueryExample],
    recipe: Recipe,
    benchmark: Benchmark,
    metrics: dict,
    force: bool = False,
) -> tuple[Path, ParityResult]:
    """Copy `source` to `out`, add the exported ranker (LoRA merged) and its manifest section."""
    with staged_bundle(out, force, prefix="visuallens-ranker-") as (partial, _):
        shutil.copytree(source.path, partial, dirs_exist_ok=True)
        parity = add_ranker(partial, source, fit_result, examples, recipe, benchmark, metrics, "visuallens-export train")
    return out, parity


def add_ranker(
    folder: Path,
    source: Bundle,
    fit_result: FitResult,
    examples: list[QueryExample],
    recipe: Recipe,
    benchmark: Benchmark,
    metrics: dict,
    command: str,
) -> ParityResult:
    """Export the ranker (LoRA merged, parity-checked) into `folder`, which holds `source`'s files, and write the
    manifest with its section."""
    model = merged(fit_result.model).cpu()
    feeds = collate([(ex, np.zeros(len(ex.words), np.float32)) for ex in examples])
    parity = export_ranker(model, feeds, folder / RANKER_FILE)
    manifest = read_manifest(source.path)
    size = (folder / RANKER_FILE).stat().st_size
    manifest[MANIFEST_KEY] = {
        "file": RANKER_FILE,
        **io_declaration(source.embedding_dim, source.visual_dim),
        "summary": (
            f"trained ranker ({recipe.backbone_layers} MiniLM layers + LoRA r{recipe.lora.rank}, "
            f"{fit_result.train_queries} training queries, {size / 1e6:.1f} MB)"
        ),
        "recipe": recipe.to_dict(),
        "training": {
            "benchmark": benchmark.meta,
            "queries": fit_result.train_queries,
            "seconds": round(fit_result.training.seconds, 1),
            "epoch_losses": fit_result.training.epoch_losses,
            "processes": fit_result.training.processes,
            "refinement": [r.to_dict() for r in fit_result.rounds],
        },
        "metrics": metrics,
    }
    manifest["parity"] = {**manifest.get("parity", {}), "ranker": parity.to_manifest()}
    manifest["built_by"] = {**built_by(command), "base": manifest.get("built_by")}
    manifest["files"] = file_entries(folder)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return parity

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

from engine.models.bundle import MANIFEST, Bundle
from engine.recommend.ranker import MANIFEST_KEY, io_declaration
from export.bundle_io import built_by, file_entries, staged_bundle
from export.data.benchmark.format import Benchmark
from export.lite.parity import ParityResult
from export.ranker.backbone import minilm_backbone, tiny_backbone
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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    model: torch.nn.Module  # the peft-wrapped ranker
    rounds: list[RefinementRound]
    training: TrainResult
    train_queries: int


def new_model(recipe: Recipe, dim: int) -> torch.nn.Module:
    torch.manual_seed(recipe.train.seed)
    backbone = tiny_backbone(recipe.backbone_layers) if recipe.tiny_backbone else minilm_backbone(recipe.backbone_layers)
    return with_lora(SpectrumRanker(backbone, dim), recipe.lora)


def fit(
    bench: Benchmark,
    features: BenchmarkFeatures,
    recipe: Recipe,
    log: Callable[[str], None] = lambda _: None,
    accelerator: Accelerator | None = None,
) -> FitResult:
    """Refine the aspect-word targets on the training split, then train the final ranker on them."""
    builder = ExampleBuilder(bench, features, recipe.view)
    examples = [builder.build(q) for q in bench.split("train")]
    dim = features.item_image.shape[1]
    targets, rounds = _aspect_targets(examples, recipe, dim, log, accelerator)
    model = new_model(recipe, dim)
    log(f"training on {len(examples)} queries")
    result = train(model, QueryDataset(examples, targets), recipe.train, log, accelerator)
    return FitResult(model=model, rounds=rounds, training=result, train_queries=len(examples))


def _aspect_targets(
    examples: list[QueryExample], recipe: Recipe, dim: int, log: Callable[[str], None], accelerator: Accelerator | None
) -> tuple[AspectTargets, list[RefinementRound]]:
    if not (recipe.view.aspects and recipe.train.joint):
        return {}, []
    if recipe.refine_rounds == 0:
        return initial_aspects(examples), []
    quick = replace(recipe.train, epochs=recipe.refine_epochs)

    def predict_words(targets: AspectTargets):
        model = new_model(recipe, dim)
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
        model = merged(fit_result.model).cpu()
        feeds = collate([(ex, np.zeros(len(ex.words), np.float32)) for ex in examples])
        parity = export_ranker(model, feeds, partial / RANKER_FILE)
        manifest = dict(source.manifest)
        size = (partial / RANKER_FILE).stat().st_size
        manifest[MANIFEST_KEY] = {
            "file": RANKER_FILE,
            **io_declaration(source.embedding_dim),
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
        manifest["built_by"] = {**built_by("visuallens-export train"), "base": manifest.get("built_by")}
        manifest["files"] = file_entries(partial)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out, parity

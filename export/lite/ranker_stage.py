"""The lite bundle's trained ranker, built by the same command as its encoders: simulate, embed, train, export.

The training data is a composed benchmark (`export.data.benchmark.composed`) with no test users: users' photos
in three picture styles, candidates pictured as the sample catalog pictures them. It is cached under the user
cache dir by its configuration, so a rebuild composes nothing again. The recipe is sized so that the whole
`visuallens-export bundle lite` fits in 15 minutes on a 2-core CPU.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from rich.progress import Progress

from engine.models.bundle import load_bundle
from export.bundle_io import counted_step, step
from export.data.benchmark.composed import REVISION, ComposedConfig, generate_composed_benchmark
from export.data.pairs import EMOJI_SETS, FLUENT_SOURCE
from export.data.registry import cache_root
from export.ranker.features import embed_benchmark
from export.ranker.pipeline import Recipe, add_ranker, fit, validation_metrics
from export.ranker.train import TrainConfig

LITE_BENCHMARK = ComposedConfig(
    seed=0,
    train_users=1200,
    val_users=40,
    test_users=0,
    photo_sources=(*(s for s in EMOJI_SETS if s != "emoji-facebook"), FLUENT_SOURCE),
    item_source=FLUENT_SOURCE,
)
LITE_RECIPE = Recipe(train=TrainConfig(epochs=2), refine_rounds=1)


def benchmarks_dir() -> Path:
    """Where simulated benchmarks are cached (beside the registry assets they are made from)."""
    return cache_root().parent / "benchmarks"


def train_ranker_into(folder: Path, work: Path, progress: Progress) -> None:
    """Add a trained `ranker.onnx` to the finished encoder bundle in `folder` (its manifest is rewritten)."""
    with counted_step(progress, "ranker: simulate users (composed photos)") as report:
        bench = generate_composed_benchmark(benchmarks_dir() / _cache_name(LITE_BENCHMARK), LITE_BENCHMARK, report)
    source = load_bundle(folder)
    with counted_step(progress, "ranker: embed their photos") as report:
        features = embed_benchmark(bench, source, work / "features", report)
    with step(progress, "ranker: refine aspect words, train (LoRA, joint loss)"):
        result = fit(bench, features, LITE_RECIPE)
    with step(progress, "ranker: export, parity"):
        metrics, examples = validation_metrics(bench, features, result.model, LITE_RECIPE)
        add_ranker(folder, source, result, examples[:8], LITE_RECIPE, bench, {"val": metrics}, "visuallens-export bundle lite")


def _cache_name(config: ComposedConfig) -> str:
    key = {"config": asdict(config), "revision": REVISION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return f"lite-ranker-{digest}"

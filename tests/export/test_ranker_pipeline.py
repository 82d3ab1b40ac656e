"""The ranker end to end on a small generated benchmark: train (1 and 2 processes), ship, serve, evaluate."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from engine.api import initialise, unlock
from engine.home import Home
from engine.models.bundle import load_bundle, read_manifest
from engine.recommend.ranker import OnnxRanker
from export.cli import app
from export.data.benchmark.simulate import SimulationConfig, generate_benchmark
from export.ranker.evaluate import onnx_scores
from export.ranker.examples import ExampleBuilder
from export.ranker.features import embed_benchmark
from export.ranker.pipeline import Recipe
from export.ranker.study import ablations
from export.ranker.train import TrainConfig

pytestmark = pytest.mark.slow  # not in `./run test fast`

SMALL = SimulationConfig(
    seed=1, train_users=6, val_users=2, test_users=4, queries_per_user=3, candidates=20, history=(20, 40)
)
TRAIN = ["--epochs", "1", "--refine-rounds", "2", "--layers", "1"]


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ranker") / "bench"
    generate_benchmark(root, SMALL)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def ranker_bundle(bench_dir, lite_bundle, cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "lite-ranker"
    args = ["train", "--benchmark", str(bench_dir), "--bundle", str(lite_bundle), "--out", str(out), *TRAIN]
    result = CliRunner().invoke(app, [*args, "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    assert "parity ranker" in result.output and "validation" in result.output
    return out


def test_trained_bundle_is_valid_and_records_its_training(ranker_bundle):
    bundle = load_bundle(ranker_bundle)
    written = read_manifest(ranker_bundle)  # as the export wrote it: the training record is not the engine's to read
    section = written["ranker"]
    assert OnnxRanker.available(bundle)
    assert section["training"]["queries"] == SMALL.train_users * SMALL.queries_per_user
    assert section["training"]["refinement"][0]["round"] == 0 and len(section["training"]["refinement"]) >= 2
    assert set(section["metrics"]["val"]) == {"hit@1", "hit@3", "hit@10", "mrr"}
    assert bundle.manifest.parity["ranker"]["max_abs_diff"] < 1e-3
    assert section["recipe"]["backbone_layers"] == 1 and section["recipe"]["lora"]["rank"] == 16


def test_engine_serves_the_ranker_and_explains(ranker_bundle, photo_dir, catalog, tmp_path):
    home = Home(tmp_path / "home")
    initialise(home, passphrase="a long enough passphrase", use_keyring=False, bundle=str(ranker_bundle))
    with unlock(home, "a long enough passphrase") as lens:
        lens.index([photo_dir])
        rec = lens.recommend("outing", catalog, w=16)
        status = lens.status()
    assert rec.scorer == "trained ranker"
    assert sorted(r.item.id for r in rec.ranked) == ["c1", "c2", "c3"]
    assert all(1 <= cell <= len(rec.grid_paths) for r in rec.ranked for cell in r.evidence.cells)
    assert all(r.evidence.cells for r in rec.ranked)
    assert status["ranker"].startswith("trained ranker")


def test_eval_prints_the_paper_table(ranker_bundle, bench_dir, cache, tmp_path):
    report = tmp_path / "report"
    args = ["eval", "--benchmark", str(bench_dir), "--bundle", str(ranker_bundle), "--report", str(report)]
    cross = ["--cross", f"the same users again={bench_dir}", "--previous", f"the same bundle={ranker_bundle}"]
    ablation = ["--ablation", "no history (candidates only)"]
    result = CliRunner().invoke(app, [*args, *cross, *ablation, "--curves", "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    payload = json.loads((report / "report.json").read_text())
    main = payload["tables"]["Main table"]
    assert list(main) == [
        "Random",
        "True-taste oracle (knows the liked kinds)",
        "Zero-shot CLIP-style (mean history · candidate)",
        "Zero-shot spectrum scorer (engine fallback)",
        "VisualLens ranker (ONNX, this bundle)",
    ]
    for row in main.values():
        low, high = row["mrr"]["ci95"]
        assert 0 < low <= row["mrr"]["mean"] <= high <= 1 and row["queries"] == SMALL.test_users * SMALL.queries_per_user
    assert main["Random"]["gap_closed_hit@3"] == 0 and main["True-taste oracle (knows the liked kinds)"]["gap_closed_hit@3"] == 1
    assert payload["tables"]["Cross-source: the same users again"] == main
    versus = payload["vs_previous"]
    assert versus["rows"]["VisualLens ranker (ONNX, this bundle)"] == main["VisualLens ranker (ONNX, this bundle)"]
    assert all(versus["difference"][key]["mean"] == 0 for key in ("hit@1", "hit@3", "hit@10", "mrr"))
    assert payload["bridge"]["held_out_source"] == "emoji-facebook"
    assert list(payload["ablations"]) == ["full (torch)", "grid cells shuffled (no cell numbers)", "no history (candidates only)"]
    added = payload["photos_vs_no_history"]["hit@3"]
    assert added["low"] <= added["mean"] <= added["high"]
    each = payload["full_minus_ablation"]
    assert list(each) == ["grid cells shuffled (no cell numbers)", "no history (candidates only)"]
    assert each["no history (candidates only)"] == payload["photos_vs_no_history"]
    assert set(payload["mrr_vs_history"]["VisualLens ranker"]) == {"10", "25", "50", "100", "200", "500"}
    assert (report / "mrr_vs_history.png").stat().st_size > 10_000
    feedback = payload["feedback"]
    none = feedback["rows"]["ranker + 0 right judgements"]
    served = main["VisualLens ranker (ONNX, this bundle)"]
    assert all(none[key] == served[key] for key in ("hit@1", "hit@3", "hit@10", "mrr", "queries"))  # k = 0: as served
    assert set(feedback["right_minus_none"]) == set(feedback["wrong_minus_zero_shot"]) == {"1", "3", "5", "10"}
    assert "zero-shot scorer, no feedback" in feedback["rows"]
    assert (report / "feedback_hit3.png").stat().st_size > 10_000 and (report / "feedback_mrr.png").exists()
    assert (report / "mrr_vs_candidates.png").is_file()
    text = (report / "report.md").read_text()
    assert "| Random |" in text and "closes (Hit@3)" in text and "a picture style it never saw" in text
    assert "What the photos add" in text and (report / "ablations.png").is_file()
    assert "| full minus | Hit@1 | Hit@3 | Hit@10 | MRR |" in text \
        and re.search(r"\| no history \(candidates only\) \| [+-]\d", text)
    assert "This bundle against the same bundle" in text


def test_engine_scores_equal_the_exported_graph_on_benchmark_queries(ranker_bundle, bench_dir, lite_bundle, cache):
    from export.data.benchmark.format import load_benchmark

    bench = load_benchmark(bench_dir)
    features = embed_benchmark(bench, load_bundle(lite_bundle), cache)
    examples = [ExampleBuilder(bench, features).build(q) for q in bench.split("test")]
    ranker = OnnxRanker(load_bundle(ranker_bundle), "cpu")
    session = ort.InferenceSession(ranker_bundle / "ranker.onnx", providers=["CPUExecutionProvider"])
    for scores, ex in zip(onnx_scores(ranker, examples), examples):
        feeds = {k: v[None] for k, v in ex.feeds.items()}
        direct = session.run(["scores"], feeds)[0][0]
        np.testing.assert_allclose(scores, direct, rtol=1e-6)


def test_an_ablation_trains_and_scores(bench_dir, lite_bundle, cache):
    from export.data.benchmark.format import load_benchmark

    bench = load_benchmark(bench_dir)
    features = embed_benchmark(bench, load_bundle(lite_bundle), cache)
    recipe = Recipe(tiny_backbone=True, train=TrainConfig(epochs=1), refine_rounds=1)
    rows = ablations(bench, features, recipe, lambda _: None, only=("images only",))
    assert [r.name for r in rows] == ["full (torch)", "grid cells shuffled (no cell numbers)", "images only"]
    assert all(len(r.ranks) == SMALL.test_users * SMALL.queries_per_user for r in rows)


def test_training_runs_on_two_processes(bench_dir, lite_bundle, cache, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "export.cli", "train",
           "--benchmark", str(bench_dir), "--bundle", str(lite_bundle), "--out", str(out), "--cache", str(cache),
           *TRAIN]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert load_bundle(out).manifest.ranker is not None
    assert read_manifest(out)["ranker"]["training"]["processes"] == 2

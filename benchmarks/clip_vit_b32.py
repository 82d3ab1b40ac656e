"""ViT-B/32 on CPU: torch eager fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8, same batch, same run (not a test).

Usage: python benchmarks/clip_vit_b32.py [--rounds 5] [--batch 8]
Exports open_clip ViT-B-32 with random weights (the FLOPs of the real model) through `export_clip_towers`,
quantizes the fp32 files with `quantize_int8`, then times the three back ends in interleaved rounds (so a
machine that speeds up or slows down mid-run affects all three alike) and prints medians and per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engine.imaging.preprocess import PreprocessSpec
from engine.models.sessions import session_options
from export.clip import export_clip_towers, load_open_clip
from export.lite.sample_inputs import PARITY_TEXTS, photo_batch, write_sample_photos
from export.quantize import quantize_int8

SPEC = "ViT-B-32"
BACKENDS = ("torch eager fp32", "onnxruntime fp32", "onnxruntime int8")


def throughput(run: Callable[[], object], items: int, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return items * repeats / (time.perf_counter() - start)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="batches per back end per round")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="visuallens-bench-") as tmp:
        work = Path(tmp)
        print(f"exporting {SPEC} (random weights) ...", flush=True)
        pieces = export_clip_towers(SPEC, work / "fp32", "fp32")
        (work / "int8").mkdir()
        for file in ("image_encoder.onnx", "text_encoder.onnx"):
            quantize_int8(work / "fp32" / file, work / "int8" / file)
        model = load_open_clip(SPEC)  # other random weights, same architecture and FLOPs
        spec = PreprocessSpec.from_manifest(pieces["image_encoder"]["preprocess"])
        photos = photo_batch(write_sample_photos(work / "photos"), spec)
        pixels = photos[torch.arange(args.batch) % len(photos)]
        input_ids = model.tokenizer([PARITY_TEXTS[i % len(PARITY_TEXTS)] for i in range(args.batch)])
        towers = {
            "images": ("image_encoder.onnx", {"pixel_values": pixels}, model.model.encode_image),
            "texts": ("text_encoder.onnx", {"input_ids": input_ids}, model.model.encode_text),
        }
        for unit, (file, feeds, encode) in towers.items():
            sessions = [
                ort.InferenceSession(
                    str(work / precision / file), session_options(), providers=["CPUExecutionProvider"]
                )
                for precision in ("fp32", "int8")
            ]
            rates, agreement = time_backends(torch.inference_mode()(encode), sessions, feeds, args.rounds, args.repeats)
            report(unit, args.batch, rates, agreement)


def time_backends(
    eager: Callable[[torch.Tensor], torch.Tensor],
    sessions: list[ort.InferenceSession],
    feeds: dict[str, torch.Tensor],
    rounds: int,
    repeats: int,
) -> tuple[dict[str, list[float]], np.ndarray]:
    """Items/s of each back end per round, and int8-vs-fp32 embedding cosines."""
    (batch,) = feeds.values()
    numpy_feeds = {name: tensor.numpy() for name, tensor in feeds.items()}
    runs = dict(zip(BACKENDS, [lambda: eager(batch), *(partial(s.run, None, numpy_feeds) for s in sessions)]))
    for run in runs.values():  # warm up
        run()
    rates: dict[str, list[float]] = {name: [] for name in BACKENDS}
    for _ in range(rounds):
        for name, run in runs.items():
            rates[name].append(throughput(run, len(batch), repeats))
    fp32, int8 = (s.run(None, numpy_feeds)[0] for s in sessions)
    return rates, cosines(int8, fp32)


def report(unit: str, batch: int, rates: dict[str, list[float]], agreement: np.ndarray) -> None:
    eager = rates[BACKENDS[0]]
    print(f"\n{SPEC} {unit}, batch {batch}, {os.cpu_count()} CPU threads, {len(eager)} interleaved rounds")
    print(f"{'back end':<18} {unit + '/s (median)':>18} {'min..max':>14} {'x torch eager':>14}")
    for name, values in rates.items():
        ratio = statistics.median(v / e for v, e in zip(values, eager))
        spread = f"{min(values):.1f}..{max(values):.1f}"
        print(f"{name:<18} {statistics.median(values):>18.1f} {spread:>14} {ratio:>14.2f}")
    print(f"int8 vs fp32 embeddings: median cosine {np.median(agreement):.5f}, min {agreement.min():.5f}")


if __name__ == "__main__":
    main()

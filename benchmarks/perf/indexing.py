"""Indexing throughput on a real photo folder: our indexer against a naive script, each in a fresh process.

`python -m benchmarks.perf.indexing {ours,naive,breakdown} --bundle B --folder F --work W` prints one JSON line.
`ours` and `naive` start from an empty profile with the models loaded (session start-up is not timed), write the
same thing (a spectrum profile with its caption vector per photo in the encrypted store) and report photos/s, CPU
seconds and the peak RSS while indexing. `breakdown` times each stage of one photo on one thread, ours and the
naive script's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import psutil
from PIL import Image, ImageOps
from tokenizers import Tokenizer

from benchmarks.perf.workspace import new_profile, open_profile
from engine.imaging.decode import open_oriented
from engine.imaging.preprocess import to_tensor
from engine.library.fingerprint import content_hash
from engine.library.scan import FileEntry, scan_folders
from engine.models.bundle import Bundle, load_bundle
from engine.models.encoders import ImageBatchOutput, ImageEncoder, TextEncoder, load_tokenizer
from engine.profile.describers import load_describer
from engine.profile.records import PhotoProfile

BREAKDOWN_PHOTOS = 32


def run_ours(bundle: Path, folder: Path, work: Path) -> dict:
    """`VisualLens.index`: the product's pipeline (draft decode, lanes, batched inference)."""
    new_profile(work, bundle)
    with open_profile(work) as lens:
        _ = lens.image_encoder, lens.text_encoder, lens.bundle  # load the models before the clock starts
        with RssSampler() as rss:
            cpu_start, start = _cpu_seconds(), time.perf_counter()
            report = lens.index([folder])
            seconds = time.perf_counter() - start
        if report.failed:
            raise RuntimeError(f"{len(report.failed)} photos failed to index, e.g. {report.failed[0]}")
        result = _result(report.added, seconds, _cpu_seconds() - cpu_start, rss.peak_mb, lens.image_encoder.provider)
        # Each distinct caption was embedded once (the memo holds more than this folder's captions).
        captions = {p.caption for p in lens.store.profiles(lens.store.fingerprints())}
        tokens = [len(e.ids) for e in lens.text_encoder.tokenizer.encode_batch(sorted(captions))]  # padded as run
        return {**result, "captions_embedded": len(captions), "caption_tokens": float(np.mean(tokens))}


def run_naive(bundle: Path, folder: Path, work: Path, stride: int = 1) -> dict:
    """What a quick script does: full-size decode, then one photo at a time through default ONNX Runtime
    sessions of the same models (image, then caption), the same describer and the same store."""
    new_profile(work, bundle)
    with open_profile(work) as lens:
        section = lens.bundle.manifest.image_encoder
        spec = section.preprocess
        session = _default_session(lens.bundle.file(section.file))
        text_session = _default_session(lens.bundle.file(lens.bundle.manifest.text_encoder.file))
        tokenizer = load_tokenizer(lens.bundle)
        describer = load_describer(lens.bundle)
        files = scan_folders([folder]).files[::stride]
        with RssSampler() as rss:
            cpu_start, start = _cpu_seconds(), time.perf_counter()
            for entry in files:
                img = _full_decode(entry.path)
                out = _naive_encode(session, to_tensor(img, spec)[None])
                (description,) = describer.describe_batch([img], out)
                caption_vector = _naive_embed(text_session, tokenizer, description.caption)
                profile = _profile(entry, content_hash(entry.path), description, out, img, caption_vector)
                lens.store.add_profiles([profile])
            seconds = time.perf_counter() - start
        return _result(len(files), seconds, _cpu_seconds() - cpu_start, rss.peak_mb, session.get_providers()[0])


def run_breakdown(bundle: Path, folder: Path) -> dict:
    """CPU ms per photo of each stage on one thread, over the first photos of `folder`: ours, then the naive."""
    loaded = load_bundle(bundle)
    encoder = ImageEncoder(loaded, provider="cpu", threads=1)
    text_encoder = TextEncoder(loaded, provider="cpu", threads=1)
    describer = load_describer(loaded, provider="cpu", threads=1)
    paths = [e.path for e in scan_folders([folder]).files[:BREAKDOWN_PHOTOS]]
    ours: dict[str, float] = {}
    images = _stage(ours, "hash", lambda: [content_hash(p) for p in paths])
    images = _stage(ours, "draft decode + reduce", lambda: [open_oriented(p, encoder.spec.resize_size) for p in paths])
    batch = _stage(ours, "preprocess", lambda: np.stack([to_tensor(img, encoder.spec) for img in images]))
    out = _stage(ours, "encode (batches of 8)", lambda: _in_batches(encoder.encode_lane, batch, 8))
    described = _stage(ours, "describe", lambda: describer.describe_batch(images, out))
    captions = [d.caption for d in described]
    _stage(ours, "embed caption (batches of 8)",
           lambda: [text_encoder.encode_lane(captions[i : i + 8]) for i in range(0, len(captions), 8)])
    naive: dict[str, float] = {}
    full = _stage(naive, "full decode", lambda: [_full_decode(p) for p in paths])
    _stage(naive, "preprocess from full size", lambda: [to_tensor(img, encoder.spec) for img in full])
    return {"photos": len(paths), "ours_ms": _per_photo(ours, len(paths)), "naive_ms": _per_photo(naive, len(paths)),
            "caption_padded": _padded_captions(loaded, captions)}


def _padded_captions(bundle: Bundle, captions: list[str]) -> dict | None:
    """CPU ms per caption when every caption is padded to the tower's context, as a fixed-length export runs them:
    the same run's baseline of a text tower with a dynamic sequence axis (None for a fixed-length tower)."""
    section = bundle.manifest.text_encoder
    if section.padding != "longest":
        return None
    padded = TextEncoder(bundle, provider="cpu", threads=1, open_now=False)
    pads = padded.tokenizer.padding
    padded.tokenizer.enable_padding(pad_id=pads["pad_id"], pad_token=pads["pad_token"], length=section.max_length)
    padded.load()
    times: dict[str, float] = {}
    _stage(times, "padded", lambda: [padded.encode_lane(captions[i : i + 8]) for i in range(0, len(captions), 8)])
    return {"tokens": section.max_length, "ms": times["padded"] * 1000 / len(captions)}


def measure(mode: str, bundle: Path, folder: Path, work: Path | None = None, stride: int = 1) -> dict:
    """Run one mode in a fresh interpreter (own peak RSS, own thread pools) and return its JSON result."""
    cmd = [sys.executable, "-m", "benchmarks.perf.indexing", mode, "--bundle", str(bundle), "--folder", str(folder),
           "--stride", str(stride)] + (["--work", str(work)] if work else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"indexing benchmark ({mode}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class RssSampler:
    """The peak resident memory while the block runs, sampled every 20 ms (the process peak would be the
    model loading's)."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        process = psutil.Process()
        while True:
            self.peak_mb = max(self.peak_mb, process.memory_info().rss / 2**20)
            if self._stop.wait(self.interval):
                return


def _full_decode(path: str) -> Image.Image:
    with Image.open(path) as img:
        return (ImageOps.exif_transpose(img) or img).convert("RGB")


def _default_session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _naive_embed(session: ort.InferenceSession, tokenizer: Tokenizer, text: str) -> np.ndarray:
    encoding = tokenizer.encode(text)
    feeds = {"input_ids": np.asarray([encoding.ids], dtype=np.int64),
             "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64)}
    names = {i.name for i in session.get_inputs()}
    vector = session.run(["embedding"], {k: v for k, v in feeds.items() if k in names})[0][0]
    return vector / np.linalg.norm(vector)


def _naive_encode(session: ort.InferenceSession, batch: np.ndarray) -> ImageBatchOutput:
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: batch})))
    embeddings = outputs["embedding"] / np.linalg.norm(outputs["embedding"], axis=-1, keepdims=True)
    return ImageBatchOutput(embeddings=embeddings, label_probs=outputs.get("label_probs"))


def _profile(
    entry: FileEntry, digest: str, description, out: ImageBatchOutput, img: Image.Image, caption_vector: np.ndarray
) -> PhotoProfile:
    return PhotoProfile(
        path=entry.path, folder=entry.folder, size=entry.size, mtime_ns=entry.mtime_ns, content_hash=digest,
        caption=description.caption, aspects=description.aspects, vector=out.embeddings[0], width=img.width,
        height=img.height, caption_vector=caption_vector,
    )


def _in_batches(encode: Callable[[np.ndarray], ImageBatchOutput], batch: np.ndarray, size: int) -> ImageBatchOutput:
    parts = [encode(batch[i : i + size]) for i in range(0, len(batch), size)]
    probs = None if parts[0].label_probs is None else np.concatenate([p.label_probs for p in parts])
    return ImageBatchOutput(np.concatenate([p.embeddings for p in parts]), probs)


def _stage(times: dict[str, float], name: str, run: Callable[[], object]):
    start = time.thread_time()
    value = run()
    times[name] = time.thread_time() - start
    return value


def _per_photo(times: dict[str, float], photos: int) -> dict[str, float]:
    return {name: seconds * 1000 / photos for name, seconds in times.items()}


def _result(images: int, seconds: float, cpu_seconds: float, peak_mb: float, provider: str) -> dict:
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds, "cpu_seconds": cpu_seconds,
            "cores_used": cpu_seconds / seconds, "peak_rss_mb": peak_mb, "provider": provider}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("ours", "naive", "breakdown"))
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--stride", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "ours":
        result = run_ours(args.bundle, args.folder, args.work)
    elif args.mode == "naive":
        result = run_naive(args.bundle, args.folder, args.work, args.stride)
    else:
        result = run_breakdown(args.bundle, args.folder)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

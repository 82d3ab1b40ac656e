"""`benchmarks/run`: indexing, re-indexing, query, start-up and desktop performance, as ratios measured in the same run.

Prints one table and writes `report.md`, `report.json`, `indexing.png` and `queries.png` to `--out`.
The machine may be busy: every speed is compared with a baseline or a ceiling measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.perf import report
from benchmarks.perf.ceiling import measure_in_subprocess
from benchmarks.perf.flops import dense_compute
from benchmarks.perf.indexing import measure as measure_indexing
from benchmarks.perf.photos import PHOTO_PARTS, PhotoFolder, build_photo_folder
from engine.home import Home
from export.data.registry import cache_root

PARTS = ("indexing", "clip", "reindex", "queries", "desktop")
DESKTOP_RUNS = 3  # fresh processes: a first paint happens once per process
REPO = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out", help="report folder")
    parser.add_argument("--bundle", type=Path, default=Home.default().bundles_dir / "lite", help="the lite bundle")
    parser.add_argument("--clip-bundle", type=Path, help="a ViT-B-32 clip bundle (default: build one, see --clip-venv)")
    parser.add_argument("--clip-venv", type=Path,
                        default=Path(os.environ.get("VISUALLENS_CLIP_VENV", REPO / ".venv-clip")),
                        help="the clip export environment used to build the clip bundle when none is given")
    parser.add_argument("--photos", type=int, default=650, help="files in the indexing folder (>= 500)")
    parser.add_argument("--library", type=int, default=10_000, help="photos in the unchanged re-index library")
    parser.add_argument("--naive-stride", type=int, default=1, help="the naive script indexes every k-th file")
    parser.add_argument("--repeats", type=int, default=2,
                        help="indexing runs per mode and part, alternating ours and naive; the fastest of each counts")
    parser.add_argument("--questions", type=int, default=8, help="catalog questions per candidate count and size")
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="library sizes for the query benchmark")
    parser.add_argument("--desktop-photos", type=int, default=report.TARGET_PHOTOS,
                        help="photos in the desktop part's library (the first-paint target's size)")
    parser.add_argument("--previous", type=Path, default=_latest_report(),
                        help="an earlier run's report.json, whose results the table shows beside this run's "
                             "(default: the newest committed in benchmarks/results)")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a shorter run: the naive script on every 4th file, 4 questions per size")
    args = parser.parse_args(argv)
    if args.quick:
        args.naive_stride, args.questions, args.repeats = 4, 4, 1
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    unknown = args.skip - set(PARTS)
    if unknown:
        parser.error(f"unknown parts to skip: {', '.join(sorted(unknown))}")
    if args.photos < 500:
        parser.error("--photos must be at least 500")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not (args.bundle / "manifest.json").is_file():
        sys.exit(f"no lite bundle at {args.bundle}: build one with `visuallens-export bundle lite --out {args.bundle}` "
                 "or pass --bundle")
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    bench_cache = cache_root().parent / "bench"
    results: dict = {"machine": machine(), "arguments": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="visuallens-bench-") as tmp:
        work = Path(tmp)
        if "indexing" not in args.skip:
            _step(f"photo folder: {args.photos} files")
            folder = build_photo_folder(bench_cache / f"photos-{args.photos}", total=args.photos)
            results["indexing"] = {"lite": attempt(lambda: index_bundle(args.bundle, folder, work / "lite", args))}
            if "clip" in args.skip:
                results["indexing"]["clip"] = {"skipped": "--skip clip", "model": "ViT-B-32"}
            else:
                clip = args.clip_bundle or build_clip_bundle(args.clip_venv, bench_cache / "clip-vit-b32")
                results["indexing"]["clip"] = (
                    attempt(lambda: index_bundle(clip, folder, work / "clip", args)) if clip else
                    {"skipped": f"no clip bundle: pass --clip-bundle, or create {args.clip_venv} (README, clip)",
                     "model": "ViT-B-32"}
                )
        if "reindex" not in args.skip:
            results["reindex"] = attempt(lambda: run_reindex(args, bench_cache, work / "reindex"))
        if "queries" not in args.skip:
            results["queries"] = attempt(lambda: run_queries(args, work / "queries"))
        if "desktop" not in args.skip:
            results["desktop"] = attempt(lambda: run_desktop(args, work / "desktop"))
    results["seconds_total"] = time.perf_counter() - started
    publish(results, args.out, args.previous)
    if failed := report.failed_parts(results):
        sys.exit(f"failed: {', '.join(failed)} (the other parts' figures are in {args.out})")


def attempt(measure: Callable[[], dict]) -> dict:
    """A part's results, or what made it fail: a failing part loses its own figures, not the whole run's."""
    try:
        return measure()
    except Exception as exc:  # any failure of one part; the report says which, and the run ends non-zero
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _step(f"failed: {type(exc).__name__}: {exc}")
        return {"failed": f"{type(exc).__name__}: {first}"}


def run_reindex(args: argparse.Namespace, bench_cache: Path, work: Path) -> dict:
    from benchmarks.perf.reindex import build_small_library, measure_reindex

    _step(f"re-index of {args.library:,} unchanged photos")
    library = build_small_library(bench_cache / f"small-library-{args.library}", args.library)
    return dataclasses.asdict(measure_reindex(args.bundle, library, work))


def index_bundle(bundle: Path, folder: PhotoFolder, work: Path, args: argparse.Namespace) -> dict:
    """One bundle on the photo folder: FLOPs, this CPU's matmul rate, then our indexer and the naive script on
    each part of the folder (the large JPEGs, the sample photos), alternating, each in a fresh process, `repeats`
    times; the fastest run of each counts."""
    from engine.models.bundle import load_bundle

    loaded = load_bundle(bundle)
    section = loaded.manifest.image_encoder
    source = section.source
    model = source.get("model", loaded.name) + (", random weights" if source.get("weights") == "random" else "")
    _step(f"{loaded.name}: dense FLOPs of {section.file}")
    compute = dense_compute(loaded.file(section.file))
    _step(f"{loaded.name}: matmul rate")
    rate = measure_in_subprocess()
    _step(f"{loaded.name}: CPU per stage of one photo, one thread")
    breakdown = measure_indexing("breakdown", bundle, folder.root / PHOTO_PARTS[0])
    runs: dict[str, dict] = {}
    for part in PHOTO_PARTS:
        for attempt in range(1, args.repeats + 1):
            for mode in ("ours", "naive"):
                _step(f"{loaded.name}: {'our indexer' if mode == 'ours' else 'naive script'} on {part}, "
                      f"run {attempt} of {args.repeats}")
                run = measure_indexing(mode, bundle, folder.root / part, work / f"{mode}-{part}-{attempt}",
                                       args.naive_stride if mode == "naive" else 1)
                key = f"{mode} {part}"  # the fastest run counts: the others lost time to the machine's other work
                if key not in runs or run["images_per_s"] > runs[key]["images_per_s"]:
                    runs[key] = run
    ours = [run for key, run in runs.items() if key.startswith("ours ")]
    captions_per_photo = sum(r["captions_embedded"] for r in ours) / sum(r["images"] for r in ours)
    tokens = round(max(r["caption_tokens"] for r in ours))
    caption = dense_compute(loaded.file(loaded.manifest.text_encoder.file), dims={"sequence": tokens})
    return {
        "bundle": str(bundle), "model": model, "folder": dataclasses.asdict(folder),
        "image_gflops": compute.flops / 1e9, "caption_gflops": caption.flops / 1e9, "caption_tokens": tokens,
        "captions_per_photo": captions_per_photo,
        "gflops_per_image": compute.flops / 1e9 + captions_per_photo * caption.flops / 1e9,  # the work done per photo
        "macs_by_op": compute.macs_by_op,
        "matmul": dataclasses.asdict(rate), "breakdown": breakdown, "runs": runs, "naive_stride": args.naive_stride,
        "repeats": args.repeats,
        "ours": combined(runs, "ours"), "naive": combined(runs, "naive"),
    }


def combined(runs: dict[str, dict], mode: str) -> dict:
    """A mode's runs over every part as one run over the whole folder."""
    parts = [run for key, run in runs.items() if key.startswith(mode + " ")]
    images, seconds = sum(r["images"] for r in parts), sum(r["seconds"] for r in parts)
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds,
            "cpu_seconds": sum(r["cpu_seconds"] for r in parts), "peak_rss_mb": max(r["peak_rss_mb"] for r in parts)}


def build_clip_bundle(venv: Path, out: Path) -> Path | None:
    """The cached ViT-B-32 bundle, built with the clip export environment when missing; None without one."""
    if (out / "manifest.json").is_file():
        return out
    python = venv / "bin" / "python"
    if not python.is_file():
        return None
    _step(f"building the ViT-B-32 clip bundle with {python} (about two minutes)")
    done = subprocess.run([str(python), "-m", "benchmarks.perf.clip_bundle", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        sys.exit(f"building the clip bundle failed:\n{done.stderr[-3000:]}")
    return out


def run_queries(args: argparse.Namespace, work: Path) -> dict:
    from benchmarks.perf.queries import build_catalogs, measure_size, populate
    from benchmarks.perf.startup import measure_cli_recommend, measure_startup
    from engine.models.bundle import load_bundle
    from export.data.samples import build_sample_catalog

    source = build_sample_catalog(cache_root().parent / "demo" / "catalog")
    catalogs = build_catalogs(source, work / "catalogs", args.questions)
    profile, have, sizes = work / "profile", 0, []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        _step(f"queries: library of {size:,} photos")
        populate(profile, args.bundle, size, have)
        have = size
        sizes.append(dataclasses.asdict(measure_size(profile, catalogs, size, args.questions)))
        _step(f"a CLI recommend with {size:,} photos (fresh process, 50 candidates)")
        category = next(c for c in catalogs if c.startswith("set50-"))
        sizes[-1]["cli_recommend"] = measure_cli_recommend(profile, catalogs[category], category)
    _step(f"start-up with {have:,} photos (fresh process)")
    startup = measure_startup(profile)
    bundle = load_bundle(args.bundle)
    tokens = sizes[-1]["caption_tokens"]  # a batch of captions is padded to its longest
    caption = dense_compute(bundle.file(bundle.manifest.text_encoder.file), dims={"sequence": tokens})
    return {"sizes": sizes, "startup": startup, "caption_gflops": caption.flops / 1e9, "caption_tokens": tokens}


def run_desktop(args: argparse.Namespace, work: Path) -> dict:
    """The main window offscreen over a library of --desktop-photos photos, each a real file."""
    from benchmarks.perf.desktop import build_library, measure_desktop

    photos = args.desktop_photos
    _step(f"desktop: a library of {photos:,} photo files")
    build_library(work / "profile", args.bundle, work, photos)
    runs = []
    for attempt in range(1, DESKTOP_RUNS + 1):
        _step(f"desktop: unlock to first paint and scrolling, run {attempt} of {DESKTOP_RUNS} (fresh process)")
        runs.append(measure_desktop(work / "profile"))
    return {"photos": photos, "runs": runs}


def _latest_report() -> Path | None:
    """The committed run that ran last (by the time it records, whatever its folder is called)."""
    found = (REPO / "benchmarks" / "results").glob("perf-*/report.json")
    return max(found, key=lambda path: json.loads(path.read_text(encoding="utf-8"))["machine"]["when"], default=None)


def publish(results: dict, out: Path, previous: Path | None = None) -> None:
    before = json.loads(previous.read_text(encoding="utf-8")) if previous is not None else None
    rows = report.build_rows(results, before)
    notes = report.notes(results)
    print()
    print(report.render_text(rows))
    if notes:
        print()
        print("\n".join(f"- {note}" for note in notes))
    report.write_json(results, out / "report.json")
    if "queries" in results:
        report.plot_queries(results["queries"], out / "queries.png")
    if "indexing" in results:
        report.plot_indexing(results["indexing"], out / "indexing.png")
    m = results["machine"]
    header = (f"# VisualLens performance\n\n{m['when']} · {m['cpu']} · {m['cores']} cores · load average "
              f"{m['load_at_start']} at start · onnxruntime {m['onnxruntime']} · "
              f"total {results['seconds_total']:.0f} s"
              + (f" · 'before': {previous.parent.name}" if previous is not None else "") + "\n")
    body = report.render_markdown(rows) + "\n\n## What grows, what bounds it\n\n" + "\n".join(f"- {n}" for n in notes)
    plots = "\n\n![indexing](indexing.png)\n\n![queries](queries.png)\n"
    (out / "report.md").write_text(header + "\n" + body + plots, encoding="utf-8")
    print(f"\n{len(rows)} rows; report, JSON and plots in {out} ({results['seconds_total']:.0f} s)")


def machine() -> dict:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_at_start": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
    }


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    main()

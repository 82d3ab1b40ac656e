"""Indexing throughput and query latency of the main job on the sample library (a benchmark, not a test).

Usage: python benchmarks/demo_throughput.py [--repeats 30]
Builds the sample photo folder and catalog (cached), indexes them into a throw-away encrypted profile with the
installed `lite` bundle, then times `search` and `recommend` in-process (warm), printing p50/p95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from engine.api import initialise, unlock
from engine.catalog.loaders import load_catalog
from engine.home import Home
from export.data.registry import cache_root
from export.data.samples import build_sample_catalog, build_sample_photos


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    data = cache_root().parent / "demo"
    photos = build_sample_photos(data / "photos")
    catalog = build_sample_catalog(data / "catalog")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VISUALLENS_HOME"] = tmp
        initialise(Home.default(), passphrase="benchmark passphrase", use_keyring=False)
        with unlock(Home.default(), "benchmark passphrase") as lens:
            lens.bundle  # load and verify the bundle before timing
            report = lens.index([photos])
            print(f"index: {report.decoded} photos in {report.seconds:.1f} s = {report.images_per_second:.1f} images/s "
                  f"({os.cpu_count()} cores, provider {lens.image_encoder.provider})")
            started = time.perf_counter()
            again = lens.index([photos])
            print(f"re-index unchanged: {again.unchanged} photos, {again.decoded} decoded, {time.perf_counter() - started:.2f} s")
            categories = load_catalog(catalog).categories()
            timings = {"search": [], "recommend": []}
            for i in range(args.repeats):
                tick = time.perf_counter()
                lens.search("a red apple", k=20)
                timings["search"].append((time.perf_counter() - tick) * 1000)
                tick = time.perf_counter()
                lens.recommend(categories[i % len(categories)], catalog)
                timings["recommend"].append((time.perf_counter() - tick) * 1000)
            for name, values in timings.items():
                print(f"{name}: p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms "
                      f"over {len(values)} warm queries ({len(categories)} categories, {report.decoded} photos)")


if __name__ == "__main__":
    main()

"""Approximate search indexes against the engine's exact scans, on a structured library (`library_vectors`).

    python -m benchmarks.perf.ann [--size 1000000] [--questions 12] [--out benchmarks/out/ann] [--bundle LITE]

A question at a million photos costs two exact scans of the whole matrix: the category's top 64 (`retrieval.top_w`,
one query) and each candidate's 32 nearest photos in three views (`retrieval.nearest`: 2n queries and n mixes of
them). This measures what faiss indexes would give instead, at each search effort: the recall of the exact top-k (the
issue asks >= 0.99), the p95 time of the same two scans, memory per photo and build time. Questions are built from
real vectors: the candidates are emoji things (their composed pictures' image vectors, their names' text vectors), the
category direction is the engine's own `query_direction`. The engine's own scan of 8-bit codes (`QuantizedVectors`,
rescored) is measured the same way, its shortlist factor as its effort. faiss (`pip install faiss-cpu`) is needed for
its indexes only (`--indexes codes` leaves them out).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.perf.library_vectors import Seeds, seed_vectors, spread_figures, structured_library
from engine.home import Home
from engine.models.bundle import load_bundle
from engine.models.encoders import TextEncoder
from engine.models.sessions import cpu_cores
from engine.profile.quantized_vectors import QuantizedVectors
from engine.recommend.candidates import NEIGHBOURS, view_mix
from engine.recommend.retrieval import library_mean, nearest, query_direction, top_w, unit

TOP_W = 64
CANDIDATES = 50
HNSW_LINKS = 32  # faiss HNSW's M: neighbours a photo keeps per layer (2M on the bottom one)
HNSW_BUILD_EFFORT = 80  # efConstruction
EFFORTS = {"IVF-SQfp16": (16, 32, 64, 128, 256, 512), "HNSW-SQfp16": (64, 128, 256, 512, 1024, 2048, 4096)}
CODES = "8-bit codes (engine)"
SHORTLISTS = (1, 2, 4)  # the codes' shortlist as a multiple of the rows kept (the engine rescores 2x, 32 more at least)


@dataclass
class Question:
    """One recommendation's scans: the category direction and the candidates' pictures and names."""

    direction: np.ndarray  # [d]
    pictures_and_names: np.ndarray  # [2n, d] unit: the pictures, then the names
    shares: tuple[np.ndarray, np.ndarray]  # each candidate's picture and name share of its mixed view

    def mix(self, sims: np.ndarray) -> np.ndarray:
        """The mixed view's similarities from the pictures' and names' (as `CandidateSet.against` mixes them)."""
        n = len(self.shares[0])
        return self.shares[0][:, None] * sims[:n] + self.shares[1][:, None] * sims[n:]

    @property
    def queries(self) -> np.ndarray:
        """[3n, d]: the pictures, the names, then each mix as a vector of its own (what an index is asked)."""
        n = len(self.shares[0])
        both = self.pictures_and_names
        mixes = unit(self.shares[0][:, None] * both[:n] + self.shares[1][:, None] * both[n:])
        return np.concatenate([both, mixes]).astype(np.float32)


@dataclass
class IndexResult:
    name: str
    build_s: float
    bytes_per_photo: float
    efforts: list[dict] = field(default_factory=list)  # {effort, recall_top_w, recall_nearest, *_p95_ms}


def questions(seeds: Seeds, text_encoder: TextEncoder, library: np.ndarray, count: int, seed: int = 0) -> list[Question]:
    """`count` questions of `CANDIDATES` emoji things each: their composed pictures' vectors and their names'."""
    rows = [row for row, thing in enumerate(seeds.things) if thing]
    names = sorted({seeds.things[row] for row in rows})
    by_name = dict(zip(names, text_encoder.encode([name.replace("_", " ") for name in names])))
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(count):
        pick = rng.choice(rows, size=CANDIDATES, replace=False)
        pictures = unit(seeds.vectors[pick])
        texts = unit(np.stack([by_name[seeds.things[row]] for row in pick]))
        made.append(Question(query_direction(unit(pictures + texts), library_mean(library)),
                             np.concatenate([pictures, texts]).astype(np.float32), view_mix(pictures, texts)))
    return made


def exact(library: np.ndarray, asked: list[Question]) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """The engine's exact answers (rows) to each question's two scans, and their p95 times."""
    tops, nears, top_ms, near_ms = [], [], [], []
    for question in asked:
        start = time.perf_counter()
        tops.append(top_w(library, question.direction, TOP_W)[0])
        top_ms.append(_ms(start))
        start = time.perf_counter()
        nears.append(nearest(question.pictures_and_names, library, NEIGHBOURS, question.mix)[1])
        near_ms.append(_ms(start))
    return tops, nears, {"top_w_p95_ms": _p95(top_ms), "nearest_p95_ms": _p95(near_ms),
                         "bytes_per_photo": library.itemsize * library.shape[1]}


def build_index(name: str, library: np.ndarray):
    """A faiss index of the library by inner product, with float16 codes (768 bytes a photo at d = 384)."""
    import faiss

    d, fp16 = library.shape[1], faiss.ScalarQuantizer.QT_fp16
    if name == "IVF-SQfp16":
        lists = 1 << int(np.log2(4 * np.sqrt(len(library))))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(d), d, lists, fp16, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWSQ(d, fp16, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_BUILD_EFFORT
    rng = np.random.default_rng(0)
    index.train(library[rng.choice(len(library), size=min(len(library), 65_536), replace=False)])
    index.add(library)
    return index


def measure_index(name: str, library: np.ndarray, asked: list[Question], tops: list[np.ndarray],
                  nears: list[np.ndarray]) -> IndexResult:
    """Build `name` and measure both scans at each search effort (nprobe for IVF, efSearch for HNSW)."""
    import faiss

    faiss.omp_set_num_threads(cpu_cores())  # as many threads as the exact scan's blocks (a model open limits OpenMP)
    start = time.perf_counter()
    index = build_index(name, library)
    result = IndexResult(name, time.perf_counter() - start, faiss.serialize_index(index).size / len(library))
    for effort in EFFORTS[name]:
        if name == "IVF-SQfp16":
            index.nprobe = effort
        else:
            index.hnsw.efSearch = effort
        result.efforts.append(_sweep(effort, asked, tops, nears, lambda queries, k: index.search(queries, k)[1]))
    return result


def measure_codes(library: np.ndarray, asked: list[Question], tops: list[np.ndarray],
                  nears: list[np.ndarray]) -> IndexResult:
    """The engine's scan of 8-bit codes at each shortlist factor (rows rescored per row kept)."""
    start = time.perf_counter()
    codes = QuantizedVectors.of(library)
    result = IndexResult(CODES, time.perf_counter() - start, codes.nbytes / len(library))
    for factor in SHORTLISTS:
        result.efforts.append(_sweep(factor, asked, tops, nears,
                                     lambda queries, k, f=factor: codes.top(queries, k, f * k)[1]))
    return result


def _sweep(effort: int, asked: list[Question], tops: list[np.ndarray], nears: list[np.ndarray],
           search: Callable[[np.ndarray, int], np.ndarray]) -> dict:
    """Both scans of every question with `search` ([q, d] queries, k -> [q, k] rows): recall and p95 times."""
    top_hits, near_hits, top_ms, near_ms = [], [], [], []
    for question, top, near in zip(asked, tops, nears):
        start = time.perf_counter()
        rows = search(question.direction[None, :].astype(np.float32), TOP_W)
        top_ms.append(_ms(start))
        top_hits.append(_overlap(rows[0], top))
        start = time.perf_counter()
        rows = search(question.queries, NEIGHBOURS)
        near_ms.append(_ms(start))
        near_hits += [_overlap(found, wanted) for found, wanted in zip(rows, near)]
    return {"effort": effort, "recall_top_w": float(np.mean(top_hits)), "recall_nearest": float(np.mean(near_hits)),
            "top_w_p95_ms": _p95(top_ms), "nearest_p95_ms": _p95(near_ms)}


def render(results: dict) -> str:
    """The report: the library's shape, the exact baseline, each index's sweep."""
    ex, shape = results["exact"], results["spread"]
    lines = [f"# Approximate search on a structured library of {results['size']:,} photos",
             "", f"{results['when']} · {results['questions']} questions of {CANDIDATES} candidates · faiss "
             f"{results['faiss']} · effort: nprobe (IVF), efSearch (HNSW), shortlist per row kept (codes)", "",
             f"Likeness (median cosine): real, a thing in two styles {shape['real_same_thing_two_styles']:.2f}, a thing "
             f"and its nearest other thing {shape['real_nearest_other_thing']:.2f}; synthetic, a photo and its nearest "
             f"{shape['synthetic_nearest_photo']:.2f}, its 10th nearest {shape['synthetic_10th_nearest']:.2f}.", "",
             "| index | effort | recall top-64 | recall nearest-32 | top-64 p95 ms | nearest p95 ms | bytes/photo | build s |",
             "|---|---|---|---|---|---|---|---|",
             f"| exact (engine) | | 1.000 | 1.000 | {ex['top_w_p95_ms']:.1f} | {ex['nearest_p95_ms']:.1f} | "
             f"{ex['bytes_per_photo']} | |"]
    for index in results["indexes"]:
        for e in index["efforts"]:
            lines.append(f"| {index['name']} | {e['effort']} | {e['recall_top_w']:.3f} | {e['recall_nearest']:.3f} | "
                         f"{e['top_w_p95_ms']:.1f} | {e['nearest_p95_ms']:.1f} | {index['bytes_per_photo']:.0f} | "
                         f"{index['build_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="photos in the structured library")
    parser.add_argument("--questions", type=int, default=12, help="questions asked of every index")
    parser.add_argument("--bundle", type=Path, default=Home.default().bundles_dir / "lite", help="the lite bundle")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/ann"), help="report folder")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "visuallens" / "bench" / "ann",
                        help="where the seed vectors are kept")
    parser.add_argument("--indexes", default=",".join([CODES.split()[0], *EFFORTS]),
                        help=f"which to measure, comma-separated: codes, {', '.join(EFFORTS)}")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.indexes.split(",") if name.strip()]
    seeds = seed_vectors(args.bundle, args.cache)
    library = structured_library(seeds.vectors, args.size)
    asked = questions(seeds, TextEncoder(load_bundle(args.bundle)), library, args.questions)
    tops, nears, baseline = exact(library, asked)
    measured = [measure_codes(library, asked, tops, nears)] if "codes" in wanted else []
    measured += [measure_index(name, library, asked, tops, nears) for name in EFFORTS if name in wanted]
    results = {"size": args.size, "questions": args.questions, "faiss": _faiss_version(),
               "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "spread": spread_figures(seeds, library), "exact": baseline, "indexes": [asdict(m) for m in measured]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(render(results), encoding="utf-8")
    print(render(results))


def _faiss_version() -> str:
    try:
        import faiss
    except ImportError:
        return "not installed"
    return faiss.__version__


def _overlap(found: np.ndarray, wanted: np.ndarray) -> float:
    return len(np.intersect1d(found, wanted)) / len(wanted)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


if __name__ == "__main__":
    main()

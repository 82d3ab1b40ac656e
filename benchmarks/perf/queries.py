"""Query latency at library scale: recommend and search over 1k, 10k and 100k photos, on the real code path.

The library is synthetic (random image, caption and visual vectors, recorded as the bundle's; captions and aspect
words from the bundle's own describer on random label probabilities, so they look and repeat like real ones; the
words' real vectors), written into a real encrypted store with `ProfileStore.add_profiles`. Queries are the real
`VisualLens.recommend` (a catalog file per question, emoji items of the sample catalog) and `VisualLens.search`, in
freshly unlocked profiles at each library size.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import psutil

from benchmarks.perf.workspace import new_profile, open_profile
from engine.catalog.loaders import load_catalog
from engine.profile.describers import load_describer
from engine.profile.records import PhotoProfile
from engine.profile.vocabulary_describer import VocabularyDescriber
from engine.recommend.candidates import NEIGHBOURS, CandidateEmbedder, nearest_views, view_mix
from engine.recommend.photo_library import shortlist
from engine.recommend.recommender import Recommendation
from engine.recommend.retrieval import nearest, query_direction, top_w, unit

SIZES = (1_000, 10_000, 100_000)
CANDIDATES = (50, 200)
W = 64
CHUNK = 5_000
SEARCHES = (
    "a cat on a sofa", "sunset over the sea", "a bowl of ramen", "children playing football", "a red bicycle",
    "snow on mountains", "birthday cake with candles", "a dog in the park", "city skyline at night", "a cup of coffee",
    "flowers in a garden", "a train station", "pizza with basil", "a boat on a lake", "a forest path in autumn",
    "a museum hall", "a plate of sushi", "an old castle", "a rainy street", "a beach with palm trees",
    "a guitar on a stage", "fresh vegetables at a market", "a hotel room", "a bridge over a river", "an airplane wing",
    "a glass of red wine", "a horse in a field", "a library with books", "a bakery window", "fireworks",
)


@dataclass
class SizeResult:
    """Latencies (ms) at one library size; dicts are keyed by the number of candidates."""

    photos: int
    matrix_mb: float  # vectors as questions hold them: 8-bit codes and their fine bytes [n, d] each
    index_mb: float  # the row ids and path strings held next to them
    new_question_ms: dict[int, list[float]] = field(default_factory=dict)  # a category not asked before (items
    # embedded before: their vectors stored, their nearest photos not remembered)
    repeat_ms: dict[int, list[float]] = field(default_factory=dict)  # the same categories asked again
    new_question_phases: dict[int, dict[str, float]] = field(default_factory=dict)  # medians of timings_ms
    repeat_phases: dict[int, dict[str, float]] = field(default_factory=dict)
    first_query_ms: dict[int, float] = field(default_factory=dict)  # first query after start-up, every memo empty
    new_pictures_ms: dict[int, float] = field(default_factory=dict)  # median, candidates' pictures never seen
    search_ms: list[float] = field(default_factory=list)
    parts_ms: dict[str, float] = field(default_factory=dict)  # pieces of a query timed on their own (medians)
    caption_embedding_ms: float = 0.0  # embedding the 64 retrieved captions, which indexing does instead (median)
    caption_tokens: int = 0  # the longest of the retrieved photos' captions, in tokens
    scan_recall: dict[str, float] = field(default_factory=dict)  # the codes' scans against float32 ones


def build_catalogs(source: Path, out: Path, per_size: int, seed: int = 0) -> dict[str, Path]:
    """One catalog file per category: `per_size` categories of each size in CANDIDATES, random subsets of the
    items of `source` (a catalog file per question, as the CLI and the API receive them)."""
    items = load_catalog(source).items
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for n in CANDIDATES:
        for q in range(per_size):
            category = _category(n, q)
            rows = [
                {"id": items[int(k)].id, "name": items[int(k)].name, "category": category,
                 "description": items[int(k)].description, "image": str(items[int(k)].image)}
                for k in rng.choice(len(items), size=min(n, len(items)), replace=False)
            ]
            files[category] = out / f"{category}.json"
            files[category].write_text(json.dumps({"items": rows}), encoding="utf-8")
    return files


def populate(profile: Path, bundle: Path, upto: int, start: int, seed: int = 0) -> None:
    """Grow the synthetic library in the store at `profile` from `start` to `upto` photos."""
    if start == 0:
        new_profile(profile, bundle)
    with open_profile(profile) as lens:
        dim = lens.bundle.embedding_dim
        describer = load_describer(lens.bundle)
        describe = _describe_fn(describer)
        rng = np.random.default_rng(seed + start)
        for first in range(start, upto, CHUNK):
            n = min(CHUNK, upto - first)
            vectors = rng.standard_normal((n, dim)).astype(np.float32)
            caption_vectors = rng.standard_normal((n, dim)).astype(np.float32)
            caption_vectors /= np.linalg.norm(caption_vectors, axis=1, keepdims=True)
            visual = rng.standard_normal((n, lens.bundle.visual_dim)).astype(np.float32)
            described = describe(rng, n)
            words = lens.store.words_without_vectors(word for _, aspects in described for word in aspects)
            lens.store.add_profiles([
                PhotoProfile(
                    path=f"/benchmark/library/{i // 1000:03d}/IMG_{i:06d}.jpg", folder="/benchmark/library",
                    size=2_000_000 + i, mtime_ns=1_700_000_000_000_000_000 + i, content_hash=f"{i:032x}",
                    caption=caption, aspects=aspects, vector=vectors[i - first], width=4032, height=3024,
                    caption_vector=caption_vectors[i - first],
                    visual_vector=visual[i - first], encoded_with=lens.bundle.identity,
                )
                for i, (caption, aspects) in zip(range(first, first + n), described)
            ], list(zip(words, lens.text_encoder.encode(words))))


def measure_size(profile: Path, catalogs: dict[str, Path], photos: int, per_size: int) -> SizeResult:
    """Latencies at the current library size, in freshly unlocked profiles (as after a start-up)."""
    items = {category: load_catalog(path).items for category, path in catalogs.items()}
    result = SizeResult(photos, *_matrix_memory(profile))
    for n in CANDIDATES:
        with open_profile(profile) as lens:
            lens.warm_up()
            first = _category(n, 0)
            result.first_query_ms[n] = _timed(partial(lens.recommend, first, catalogs[first]))[0]
    with open_profile(profile) as lens:
        lens.warm_up()
        lens.recommender.embedder.vectors([i for group in items.values() for i in group])  # a known catalog
        for n in CANDIDATES:
            asked = [_category(n, q) for q in range(1, per_size)]
            new, again = _recommend_all(lens, catalogs, asked)
            result.new_question_ms[n], result.new_question_phases[n] = new
            result.repeat_ms[n], result.repeat_phases[n] = again
            result.new_pictures_ms[n] = statistics.median(_new_pictures_ms(lens, c, items[c]) for c in asked[:3])
        result.search_ms = [_timed(partial(lens.search, text, k=20))[0] for text in SEARCHES]
        result.parts_ms, result.caption_embedding_ms, result.caption_tokens, result.scan_recall = _parts(
            lens, items[_category(CANDIDATES[0], 1)]
        )
    return result


Latencies = tuple[list[float], dict[str, float]]  # per question ms, and the median of each phase


def _recommend_all(lens, catalogs: dict[str, Path], categories: list[str]) -> tuple[Latencies, Latencies]:
    """Each category asked as a new question (its items' vectors stored, as of a catalog seen before, but none of
    their nearest photos remembered: the library forgets them first), then at once asked again (as when a
    judgement re-ranks it)."""
    runs: tuple[list, list] = ([], [])
    for category in categories:
        lens.photo_library().neighbours.clear()
        for run in runs:
            run.append(_timed(partial(lens.recommend, category, catalogs[category])))
    return _latencies(runs[0]), _latencies(runs[1])


def _latencies(runs: list[tuple[float, Recommendation]]) -> Latencies:
    phases: dict[str, list[float]] = {}
    for _, rec in runs:
        for phase, value in rec.timings_ms.items():
            phases.setdefault(phase, []).append(value)
    return [ms for ms, _ in runs], {phase: statistics.median(values) for phase, values in phases.items()}


def _new_pictures_ms(lens, category: str, items) -> float:
    """A question whose candidates' pictures and names were never seen: a fresh embedder memoises nothing, the
    library remembers none of their nearest photos."""
    embedder = CandidateEmbedder(lens.image_encoder, lens.text_encoder)
    lens.photo_library().neighbours.clear()
    return _timed(partial(lens.recommend_items, category, items, embedder=embedder))[0]


def _parts(lens, items) -> tuple[dict[str, float], float, int, dict[str, float]]:
    """Pieces of a query on their own (the O(photos) scans, on the codes and, as the baseline, on float32 vectors;
    the O(w) fetch), what embedding the retrieved photos' captions would add to each new question had indexing not
    stored their vectors, and the scans' recall of the float32 scans' photos."""
    library = lens.photo_library()
    _, _, matrix = lens.store.load_matrix(lens.bundle.identity)  # float32, from the rows: the baseline
    vectors = lens.recommender.embedder.vectors(items)
    v_c = query_direction(vectors, library.mean)
    rows, _ = library.top_w(v_c, W)
    wanted = [library.paths[r] for r in rows]
    captions = [p.caption for p in lens.store.profiles(wanted)]
    tokens = max(len(lens.text_encoder.tokenizer.encode(c).ids) for c in captions)
    image, text = lens.recommender.embedder.image_vectors(items), lens.recommender.embedder.text_vectors(items)
    picture_share, name_share = view_mix(image, text)
    queries = np.concatenate([picture_share[:, None] * unit(image) + name_share[:, None] * unit(text), unit(image),
                              unit(text)])
    codes = library.vectors
    parts = {
        f"top-{W} scan (8-bit codes, rescored)": _median_ms(lambda: codes.top(v_c, W, shortlist(W))),
        f"top-{W} scan (float32 baseline)": _median_ms(lambda: top_w(matrix, v_c, W)),
        f"nearest photos of {len(items)} candidates (3 views, 8-bit codes, rescored)": _median_ms(
            lambda: codes.top(queries, NEIGHBOURS, shortlist(NEIGHBOURS)), repeats=3),
        f"nearest photos of {len(items)} candidates (float32 baseline)": _median_ms(
            lambda: nearest_views(image, text, matrix), repeats=3),
        f"nearest photos of {len(items)} candidates, the integer product alone (one row kept per query)": _median_ms(
            lambda: codes.top(queries, 1, 1), repeats=3),
        f"fetch {W} profiles and caption vectors from the store": _median_ms(lambda: lens.store.profiles(wanted)),
    }
    exact_top, _ = top_w(matrix, v_c, W)
    _, exact_rows = nearest(queries, matrix, NEIGHBOURS)
    _, found = codes.top(queries, NEIGHBOURS, shortlist(NEIGHBOURS))
    recall = {
        f"top-{W}": len(np.intersect1d(codes.top(v_c, W, shortlist(W))[1][0], exact_top)) / len(exact_top),
        f"nearest-{NEIGHBOURS}": float(np.mean([len(np.intersect1d(a, b)) / NEIGHBOURS
                                                for a, b in zip(found, exact_rows)])),
    }
    captions_ms = _median_ms(lambda: lens.text_encoder.encode(captions), repeats=3)  # `encode` does not memoise
    return parts, captions_ms, tokens, recall


def _matrix_memory(profile: Path) -> tuple[float, float]:
    """MB of the library's vectors as questions hold them (8-bit codes), and of its ids and paths."""
    with open_profile(profile) as lens:
        library = lens.photo_library()
        paths = library.paths
        index_bytes = library.ids.nbytes + sys.getsizeof(paths) + sum(sys.getsizeof(p) for p in paths)
        vector_bytes = library.vectors.nbytes
    del library, paths
    gc.collect()
    return vector_bytes / 2**20, index_bytes / 2**20


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _describe_fn(describer) -> Callable[[np.random.Generator, int], list[tuple[str, tuple[str, ...]]]]:
    """Captions and aspect words as the bundle's describer words them (vocabulary: of embeddings near a few of its
    things, as photos' are)."""
    if isinstance(describer, VocabularyDescriber):
        things = describer.vocabulary.thing_vectors

        def from_vocabulary(rng: np.random.Generator, n: int) -> list[tuple[str, tuple[str, ...]]]:
            out = []
            for _ in range(n):
                near = things[rng.choice(len(things), 2, replace=False)].sum(axis=0)
                vector = near / np.linalg.norm(near) + 0.3 * rng.normal(size=near.shape) / np.sqrt(near.size)
                d = describer.describe((vector / np.linalg.norm(vector)).astype(np.float32))
                out.append((d.caption, d.aspects))
            return out

        return from_vocabulary

    words = ("beach", "dog", "cake", "street", "mountain", "friends", "market", "garden", "museum", "train")

    def templated(rng: np.random.Generator, n: int) -> list[tuple[str, tuple[str, ...]]]:
        picks = rng.choice(len(words), (n, 2))
        return [(f"a photo of a {words[a]} near a {words[b]}", (words[a], words[b])) for a, b in picks]

    return templated


def _category(n: int, q: int) -> str:
    return f"set{n}-{q:02d}"


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = run()
    return (time.perf_counter() - start) * 1000, value


def _median_ms(run: Callable[[], object], repeats: int = 9) -> float:
    return statistics.median(_timed(run)[0] for _ in range(repeats))

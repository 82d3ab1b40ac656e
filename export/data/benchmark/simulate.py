"""Simulated users with a hidden taste, everyday photo histories that show it, and ranking queries it decides.

The photos come from a pool of real registry images (`pool`), the candidates from the emoji
catalog (`items`); both carry WordNet tags from their real metadata (`tags`). An *aspect* is a
tag on at least `min_aspect_photos` photographs of the pool (`evidence_packages`: real photos; the
clip-art drawings show nothing an image encoder could tie to a taste, so they only ever appear as noise)
and `min_aspect_items` query items, found on at most `max_aspect_share` of any category's items
(broader tags such as "food" decide nothing).

Each user likes 2-4 aspects with random weights; aspects with more photos are liked more often
(odds grow with their photo count to the power `popularity`, 0.5 by default), as common things are. Their history holds `history` photos: a
`relevant_fraction` drawn from photos of liked aspects (picked by weight, no photo twice), the
rest drawn uniformly from the whole pool, as task-irrelevant noise. Each query takes a category
with at least `candidates` items, at least one of them liked, and samples the candidates from it
until at least one carries a liked aspect (so the photos can answer it). An item's utility is the
sum of the liked weights of its aspects (the strongest weighs 1) plus Gumbel noise of scale `noise`;
the ground truth is the single best item among those carrying a liked aspect: noise reorders
near-equal ones but never lets an item the user has no liking for win.

That default world has an item prior, as the real one does: items with many aspects, or popular ones,
win for many users. `personal()` removes it, so that only a user's photos can tell the winner: every
item counts only its most specific aspect (`item_aspect="primary"`), candidates are drawn only from
items that have one, and aspects are liked uniformly (`popularity=0`).

Everything is drawn from `random.Random` seeded by (seed, user number), so the same configuration
writes the same bytes.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

from export.data.benchmark.format import (
    SPLITS,
    BenchItem,
    Benchmark,
    BenchQuery,
    BenchUser,
    load_benchmark,
    write_benchmark,
)
from export.data.benchmark.items import EmojiItem, emoji_items, item_sources
from export.data.benchmark.pool import PoolPhoto, copy_photo, photo_pool, pool_sources
from export.data.benchmark.tags import Tagger
from export.data.registry import cache_root
from export.data.samples import publish
from export.lite.wordnet_parents import open_wordnet

Progress = Callable[[int, int], None]
PHOTOS_FILE = "photos.jsonl"
MAX_CANDIDATE_DRAWS = 10_000
WEIGHT_RANGE = (0.2, 1.0)  # liked weights are drawn from this range, then scaled so the strongest is 1


class SimulationError(ValueError):
    """The configuration cannot be simulated from the available data; the message says why."""


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of the simulated benchmark (ranges are inclusive)."""

    seed: int = 0
    train_users: int = 400
    val_users: int = 60
    test_users: int = 200
    queries_per_user: int = 8
    candidates: int = 50
    history: tuple[int, int] = (100, 400)
    relevant_fraction: tuple[float, float] = (0.15, 0.35)
    liked_aspects: tuple[int, int] = (2, 4)
    min_aspect_photos: int = 5
    min_aspect_items: int = 3
    max_aspect_share: float = 0.2
    noise: float = 0.02
    # Packages of real photographs: only these show a user's liked aspects. The rest of the pool (clip-art
    # drawings) appears in histories as task-irrelevant noise, as screenshots and drawings do in a real library.
    evidence_packages: tuple[str, ...] = ("tuxpaint-stamps-default", "mate-backgrounds")
    popularity: float = 0.5  # an aspect is liked with odds (its number of pool photos) ** popularity
    item_aspect: str = "all"  # "all": an item counts every aspect it carries; "primary": only its most specific one
    aspect_candidates_only: bool = False  # candidates only from items with an aspect (none is a sure loser)

    def personal(self) -> SimulationConfig:
        """This configuration without the item prior: only the user's photos can tell the ground truth."""
        return replace(self, popularity=0.0, item_aspect="primary", aspect_candidates_only=True)


@dataclass(frozen=True)
class _Aspect:
    photos: tuple[int, ...]  # pool indices
    items: frozenset[str]


@dataclass(frozen=True)
class _User:
    id: str
    split: str
    liked: dict[str, float]  # aspect -> weight, strongest first
    history: tuple[int, ...]  # pool indices


@dataclass(frozen=True)
class _Query:
    id: str
    user_id: str
    category: str
    candidates: tuple[str, ...]
    ground_truth: str
    ties: int  # candidates sharing the best utility before noise


def generate_benchmark(
    out_dir: Path, config: SimulationConfig = SimulationConfig(), on_progress: Progress | None = None
) -> Benchmark:
    """Simulate a benchmark into `out_dir` (created; reused as is when already built with `config`) and load it.

    `on_progress(done, total)` is called after each photo or item image is copied.
    """
    _check(config)
    out_dir = Path(out_dir).resolve()
    params = {"benchmark": json.loads(json.dumps(asdict(config)))}
    publish(out_dir, params, lambda stage: _simulate(stage, config, on_progress))
    return load_benchmark(out_dir)


def _check(config: SimulationConfig) -> None:
    problems = []
    for name in ("history", "relevant_fraction", "liked_aspects"):
        low, high = getattr(config, name)
        if not 0 <= low <= high:
            problems.append(f"{name} must be a range (low, high) with 0 <= low <= high, got {(low, high)}")
    if config.history[0] < 1 or config.liked_aspects[0] < 1 or config.relevant_fraction[1] > 1:
        problems.append("history and liked_aspects start at 1 or more; relevant_fraction is at most 1")
    if config.candidates < 2 or config.queries_per_user < 1:
        problems.append("candidates must be at least 2 and queries_per_user at least 1")
    if min(config.train_users, config.val_users, config.test_users) < 0 or not config.train_users + config.test_users:
        problems.append("user counts must not be negative, with some train or test users")
    if not 0 < config.max_aspect_share <= 1 or config.noise < 0 or config.popularity < 0:
        problems.append("max_aspect_share must be in (0, 1]; noise and popularity not negative")
    if config.item_aspect not in ("all", "primary"):
        problems.append(f"item_aspect is 'all' or 'primary', got {config.item_aspect!r}")
    if problems:
        raise SimulationError("; ".join(problems))


@cache
def _tagged_sources(asset_cache: Path) -> tuple[list[PoolPhoto], list[EmojiItem]]:
    """The tagged photo pool and emoji catalog of the registry assets in `asset_cache` (computed once per process)."""
    with tempfile.TemporaryDirectory() as workdir:
        tagger = Tagger(open_wordnet(Path(workdir)))
        return photo_pool(tagger), emoji_items(tagger)


def _simulate(stage: Path, config: SimulationConfig, on_progress: Progress | None) -> None:
    pool, catalog = _tagged_sources(cache_root())
    if config.history[1] > len(pool):
        raise SimulationError(f"history of up to {config.history[1]} photos asked; the pool has {len(pool)}")
    categories = _query_categories(catalog, config.candidates)
    aspects = _aspects(pool, categories, config)
    aspects, item_aspects = _item_aspects(categories, aspects, config)
    if len(aspects) < config.liked_aspects[1]:
        raise SimulationError(f"only {len(aspects)} usable aspects; users like up to {config.liked_aspects[1]}")
    if config.aspect_candidates_only:
        categories = _query_categories([i for group in categories.values() for i in group if item_aspects[i.id]],
                                       config.candidates)

    users, queries = [], []
    counts = dict(zip(SPLITS, (config.train_users, config.val_users, config.test_users)))
    splits = [split for split in SPLITS for _ in range(counts[split])]
    for number, split in enumerate(splits, start=1):
        rng = random.Random(f"visuallens-benchmark:{config.seed}:{number}")
        user = _user(f"u{number:04d}", split, rng, pool, aspects, config)
        users.append(user)
        queries += [
            _query(f"{user.id}-q{k}", user, rng, categories, item_aspects, config)
            for k in range(1, config.queries_per_user + 1)
        ]

    used = sorted({photo for user in users for photo in user.history})
    items = [item for members in categories.values() for item in members]
    if config.item_aspect == "primary":  # the items' tags say what the simulation counted
        items = [replace(item, tags=tuple(sorted(item_aspects[item.id]))) for item in items]
    total = len(used) + len(items)
    paths: dict[int, Path] = {}
    (stage / "photos").mkdir()
    (stage / "items").mkdir()
    for done, index in enumerate(used, start=1):
        paths[index] = copy_photo(pool[index].source, stage / "photos" / f"{done:05d}")
        if on_progress:
            on_progress(done, total)
    bench_items = {}
    for done, item in enumerate(items, start=len(used) + 1):
        image = stage / "items" / item.source.name
        image.write_bytes(item.source.read_bytes())
        bench_items[item.id] = BenchItem(item.id, item.name, item.category, image, item.tags)
        if on_progress:
            on_progress(done, total)

    bench = Benchmark(
        root=stage,
        items=bench_items,
        users={user.id: _bench_user(user, paths) for user in users},
        queries=tuple(BenchQuery(q.id, q.user_id, q.category, q.candidates, (q.ground_truth,)) for q in queries),
        meta=_meta(config, pool, catalog, categories, aspects, users, queries),
    )
    write_benchmark(bench, stage)
    _write_photos(stage, used, paths, pool)


def _query_categories(catalog: list[EmojiItem], candidates: int) -> dict[str, list[EmojiItem]]:
    """Categories with at least `candidates` items."""
    by_category: dict[str, list[EmojiItem]] = {}
    for item in catalog:
        by_category.setdefault(item.category, []).append(item)
    usable = {category: members for category, members in by_category.items() if len(members) >= candidates}
    if not usable:
        sizes = ", ".join(f"{category} {len(members)}" for category, members in by_category.items())
        raise SimulationError(f"no category has {candidates} items to sample candidates from ({sizes})")
    return usable


def _aspects(pool: list[PoolPhoto], categories: dict[str, list[EmojiItem]], config: SimulationConfig) -> dict[str, _Aspect]:
    """The usable aspects by name, sorted."""
    photos: dict[str, list[int]] = {}
    for index, photo in enumerate(pool):
        if photo.package not in config.evidence_packages:
            continue
        for tag in photo.tags:
            photos.setdefault(tag, []).append(index)
    items: dict[str, set[str]] = {}
    share: Counter[str] = Counter()
    for members in categories.values():
        per_category = Counter(tag for item in members for tag in item.tags)
        for tag, count in per_category.items():
            share[tag] = max(share[tag], count / len(members))
        for item in members:
            for tag in item.tags:
                items.setdefault(tag, set()).add(item.id)
    return {
        tag: _Aspect(tuple(photos[tag]), frozenset(items[tag]))
        for tag in sorted(photos.keys() & items.keys())
        if len(photos[tag]) >= config.min_aspect_photos
        and len(items[tag]) >= config.min_aspect_items
        and share[tag] <= config.max_aspect_share
    }


def _item_aspects(
    categories: dict[str, list[EmojiItem]], aspects: dict[str, _Aspect], config: SimulationConfig
) -> tuple[dict[str, _Aspect], dict[str, set[str]]]:
    """The aspects each item counts for: all it carries, or only the most specific (on fewest items, then by name).

    In "primary" mode an aspect that is the most specific one of fewer than `min_aspect_items` items is
    dropped (no user could be asked about it), and the items' aspects are chosen again among the rest.
    """
    items = [item for group in categories.values() for item in group]
    while True:
        carried = {item.id: {tag for tag in item.tags if tag in aspects} for item in items}
        if config.item_aspect == "all":
            return aspects, carried
        primary = {
            item: {min(tags, key=lambda tag: (len(aspects[tag].items), tag))} if tags else set()
            for item, tags in carried.items()
        }
        counts = Counter(tag for tags in primary.values() for tag in tags)
        kept = {name: aspect for name, aspect in aspects.items() if counts[name] >= config.min_aspect_items}
        if len(kept) == len(aspects):
            return aspects, primary
        aspects = kept


def _user(
    user_id: str, split: str, rng: random.Random, pool: list[PoolPhoto], aspects: dict[str, _Aspect], config: SimulationConfig
) -> _User:
    count, everything = rng.randint(*config.liked_aspects), sorted(aspects)
    popularity = [len(aspects[name].photos) ** config.popularity for name in everything]
    names: list[str] = []
    while len(names) < count:
        name = rng.choices(everything, weights=popularity)[0]
        if name not in names:
            names.append(name)
    raw = [rng.uniform(*WEIGHT_RANGE) for _ in names]
    liked = dict(sorted(((name, round(w / max(raw), 4)) for name, w in zip(names, raw)), key=lambda kv: -kv[1]))

    length = rng.randint(*config.history)
    wanted = round(rng.uniform(*config.relevant_fraction) * length)
    queues = {name: rng.sample(aspects[name].photos, len(aspects[name].photos)) for name in liked}
    chosen: dict[int, None] = {}
    while len(chosen) < wanted:
        open_aspects = [name for name in liked if queues[name]]
        if not open_aspects:
            break  # the liked aspects have no more photos: the rest of the history is noise
        name = rng.choices(open_aspects, weights=[liked[name] for name in open_aspects])[0]
        chosen.setdefault(queues[name].pop(), None)
    rest = [index for index in range(len(pool)) if index not in chosen]
    history = [*chosen, *rng.sample(rest, length - len(chosen))]
    rng.shuffle(history)
    return _User(user_id, split, liked, tuple(history))


def _query(
    query_id: str,
    user: _User,
    rng: random.Random,
    categories: dict[str, list[EmojiItem]],
    item_aspects: dict[str, set[str]],
    config: SimulationConfig,
) -> _Query:
    def utility(item: EmojiItem) -> float:
        return sum(weight for name, weight in user.liked.items() if name in item_aspects[item.id])

    eligible = [category for category, members in categories.items() if any(utility(item) for item in members)]
    category = rng.choice(eligible)
    for _ in range(MAX_CANDIDATE_DRAWS):
        candidates = rng.sample(categories[category], config.candidates)
        if any(utility(item) for item in candidates):
            break
    else:
        raise SimulationError(f"{query_id}: no {category} candidates with a liked aspect in {MAX_CANDIDATE_DRAWS} draws")
    utilities = [utility(item) for item in candidates]
    noisy = [u + config.noise * -math.log(-math.log(rng.random() or 1e-12)) for u in utilities]
    best = max((index for index, u in enumerate(utilities) if u), key=noisy.__getitem__)
    ties = sum(math.isclose(u, max(utilities)) for u in utilities)
    return _Query(query_id, user.id, category, tuple(item.id for item in candidates), candidates[best].id, ties)


def _bench_user(user: _User, paths: dict[int, Path]) -> BenchUser:
    return BenchUser(
        id=user.id,
        split=user.split,
        history=tuple(paths[index] for index in user.history),
        liked=tuple(user.liked),
        liked_weights=tuple(user.liked.values()),
    )


def _meta(
    config: SimulationConfig,
    pool: list[PoolPhoto],
    catalog: list[EmojiItem],
    categories: dict[str, list[EmojiItem]],
    aspects: dict[str, _Aspect],
    users: list[_User],
    queries: list[_Query],
) -> dict:
    splits = {user.id: user.split for user in users}
    relevant = [
        sum(any(tag in user.liked for tag in pool[index].tags) for index in user.history) / len(user.history)
        for user in users
    ]
    return {
        "name": "VisualLens simulated users",
        "generator": {"module": __name__, "config": asdict(config)},
        "seed": config.seed,
        "sources": [*pool_sources(), *item_sources()],
        "stats": {
            "pool_photos": len(pool),
            "pool_photos_by_package": dict(Counter(photo.package for photo in pool)),
            "photos_used": len({index for user in users for index in user.history}),
            "items_per_category": dict(Counter(item.category for item in catalog)),
            "query_categories": sorted(categories),
            "aspects": len(aspects),
            "users_per_split": dict(Counter(user.split for user in users)),
            "queries_per_split": dict(Counter(splits[query.user_id] for query in queries)),
            "mean_history_length": round(sum(len(user.history) for user in users) / len(users), 2),
            "mean_relevant_fraction": round(sum(relevant) / len(relevant), 4),
            "mean_liked_aspects": round(sum(len(user.liked) for user in users) / len(users), 2),
            "random_hit_at_1": round(1 / config.candidates, 4),
            "oracle_hit_at_1": round(sum(1 / query.ties for query in queries) / len(queries), 4),
            "aspect_sizes": {name: [len(aspect.photos), len(aspect.items)] for name, aspect in aspects.items()},
        },
    }


def _write_photos(stage: Path, used: list[int], paths: dict[int, Path], pool: list[PoolPhoto]) -> None:
    """photos.jsonl: where each copied photo comes from and its tags (for inspection; models must not read it)."""
    with (stage / PHOTOS_FILE).open("w", encoding="utf-8", newline="\n") as out:
        for index in used:
            photo = pool[index]
            record = {
                "path": paths[index].relative_to(stage).as_posix(),
                "package": photo.package,
                "origin": photo.origin,
                "tags": list(photo.tags),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

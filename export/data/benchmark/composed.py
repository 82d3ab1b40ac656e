"""Simulated users with a taste for kinds of things, whose everyday photos are composed from pictures of things.

The world: the emoji of things (`export.data.pairs`, people left out) in five categories ("food & drink", "animals & nature",
...), each belonging to a few *kinds* (its emoji subcategory in plain words, such as "bird" or "asian food", and
the WordNet kinds of its name, such as "noodle" or "tree"). A kind is usable when it has `kind_things` things and
is at most `max_kind_share` of every category's things (broader ones decide nothing).

A user likes 2-4 usable kinds, drawn uniformly (no kind is more popular than another: there is no item prior
to learn), with weights in [0.2, 1] scaled so the strongest is 1. Their photo history (one picture style per
user, from `photo_sources`) holds `relevant_fraction` of photos of things of the kinds they like — only half of
each liked kind's things ever get photographed — and the rest is everyday noise: photos of any thing at all, and
`everyday_share` real photos (wallpaper landscapes, Tux Paint photo stamps). Every photo is composed
(`export.data.compose`): a thing's picture on a background, scaled, turned, blurred, compressed.

A query asks about one category: its candidates are things of that category the user never photographed (each
pictured in `item_source` and described as the sample catalog describes it), at least one of a liked kind. The user's choice is drawn from their taste: a
candidate's utility is the weight of the strongest liked kind it belongs to (0 for none), and the ground truth
is drawn with probability proportional to exp(utility / `truth_temperature`). A true-taste oracle ranks by
utility; it cannot foresee the draw, which is what keeps it from 100%.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
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
from export.data.benchmark.items import CATEGORIES
from export.data.benchmark.pool import copy_photo
from export.data.compose import background_paths, compose, load_item
from export.data.pairs import EMOJI_SETS, FLUENT_SOURCE, LICENCES, EmojiThing, emoji_things
from export.data.registry import cache_root
from export.data.samples import everyday_photos, publish

Progress = Callable[[int, int], None]
MAX_CANDIDATE_DRAWS = 1000
UTILITY = "max"  # how the oracle scores an item from the user's liked kinds (see `export.ranker.evaluate`)
REVISION = 3  # of what the generator writes for a configuration: a cached benchmark of another revision is rebuilt
PICTURE_SOURCES = (*EMOJI_SETS, FLUENT_SOURCE)


class ComposedSimulationError(ValueError):
    """The configuration cannot be simulated from the available pictures; the message says why."""


@dataclass(frozen=True)
class ComposedConfig:
    """Parameters of a composed benchmark (ranges are inclusive)."""

    seed: int = 0
    train_users: int = 300
    val_users: int = 40
    test_users: int = 200
    queries_per_user: int = 6
    candidates: int = 20
    history: tuple[int, int] = (100, 400)
    relevant_fraction: tuple[float, float] = (0.15, 0.35)
    liked_kinds: tuple[int, int] = (2, 4)
    photo_sources: tuple[str, ...] = (FLUENT_SOURCE,)  # each user's photos are in one of these styles
    item_source: str = FLUENT_SOURCE  # the candidates' pictures
    views_per_thing: int = 2  # composed photos of each thing per style in the pool
    everyday_share: float = 0.1  # of the noise photos: real photos rather than composed ones
    kind_things: tuple[int, int] = (4, 30)
    max_kind_share: float = 0.2
    truth_temperature: float = 0.3

    def check(self) -> None:
        problems = []
        unknown = sorted(set(self.photo_sources + (self.item_source,)) - set(PICTURE_SOURCES))
        if unknown:
            problems.append(f"unknown picture source(s) {', '.join(unknown)}; known: {', '.join(PICTURE_SOURCES)}")
        for name in ("history", "relevant_fraction", "liked_kinds", "kind_things"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                problems.append(f"{name} must be a range (low, high) with 0 <= low <= high, got {(low, high)}")
        if self.candidates < 2 or self.queries_per_user < 1 or self.views_per_thing < 1 or not self.photo_sources:
            problems.append("candidates >= 2, queries_per_user >= 1, views_per_thing >= 1 and a photo source are needed")
        if self.truth_temperature <= 0 or not 0 <= self.everyday_share <= 1:
            problems.append("truth_temperature must be positive and everyday_share in [0, 1]")
        if problems:
            raise ComposedSimulationError("; ".join(problems))


@dataclass(frozen=True)
class _Photo:
    """A history photo: a composed view of a thing in a style, or a real everyday photo (`thing` empty)."""

    thing: str
    source: str
    view: int = 0
    real: Path | None = None

    @property
    def name(self) -> str:
        if self.real is not None:
            where = self.real.relative_to(cache_root()).as_posix()  # not the absolute path: the cache may move
            return f"everyday-{hashlib.blake2b(where.encode(), digest_size=4).hexdigest()}-{self.real.stem}"
        return f"{self.source}-{self.thing}-{self.view}"


@dataclass(frozen=True)
class _World:
    things: dict[str, EmojiThing]
    category: dict[str, str]  # thing -> benchmark category
    kinds: dict[str, tuple[str, ...]]  # thing -> its usable kinds
    members: dict[str, tuple[str, ...]]  # usable kind -> its things
    everyday: tuple[Path, ...]


def generate_composed_benchmark(
    out_dir: Path, config: ComposedConfig = ComposedConfig(), on_progress: Progress | None = None
) -> Benchmark:
    """Simulate into `out_dir` (created; reused as is when already built with `config`) and load it."""
    config.check()
    out_dir = Path(out_dir).resolve()
    params = {"composed_benchmark": json.loads(json.dumps(asdict(config))), "revision": REVISION}
    publish(out_dir, params, lambda stage: _simulate(stage, config, on_progress))
    return load_benchmark(out_dir)


def _simulate(stage: Path, config: ComposedConfig, on_progress: Progress | None) -> None:
    world = _world(config)
    counts = dict(zip(SPLITS, (config.train_users, config.val_users, config.test_users)))
    users: list[BenchUser] = []
    queries: list[BenchQuery] = []
    histories: dict[str, list[_Photo]] = {}
    for number, split in enumerate((s for s in SPLITS for _ in range(counts[s])), start=1):
        rng = random.Random(f"visuallens-composed:{config.seed}:{number}")
        user_id = f"u{number:04d}"
        liked = _taste(rng, world, config)
        history = _history(rng, world, liked, config)
        photographed = {photo.thing for photo in history}
        histories[user_id] = history
        users.append(BenchUser(user_id, split, (), tuple(liked), tuple(liked.values())))
        for k in range(1, config.queries_per_user + 1):
            query = _query(f"{user_id}-q{k}", user_id, rng, world, liked, photographed, config)
            if query is not None:
                queries.append(query)

    photos = sorted({photo for history in histories.values() for photo in history}, key=lambda p: p.name)
    things = sorted({thing for q in queries for thing in q.candidates})
    paths = _write_photos(stage / "photos", photos, world, config, on_progress, len(photos) + len(things))
    items = _write_items(stage / "items", things, world, config, on_progress, len(photos))
    bench = Benchmark(
        root=stage,
        items=items,
        users={u.id: BenchUser(u.id, u.split, tuple(paths[p] for p in histories[u.id]), u.liked, u.liked_weights) for u in users},
        queries=tuple(queries),
        meta=_meta(config, world, users, queries, len(photos)),
    )
    write_benchmark(bench, stage)


def _world(config: ComposedConfig) -> _World:
    sources = set(config.photo_sources) | {config.item_source}
    things = {t.key: t for t in emoji_things() if t.group in CATEGORIES and sources <= t.pictures.keys()}
    category = {key: CATEGORIES[t.group] for key, t in things.items()}
    per_category = Counter(category.values())
    counts: dict[str, Counter[str]] = {}
    for key, thing in things.items():
        for kind in thing.kinds:
            counts.setdefault(kind, Counter())[category[key]] += 1
    low, high = config.kind_things
    usable = {
        kind for kind, by_category in counts.items()
        if low <= sum(by_category.values()) <= high
        and all(n / per_category[c] <= config.max_kind_share for c, n in by_category.items())
    }  # fmt: skip
    if len(usable) < config.liked_kinds[1]:
        raise ComposedSimulationError(f"only {len(usable)} usable kinds; users like up to {config.liked_kinds[1]}")
    kinds = {key: tuple(k for k in t.kinds if k in usable) for key, t in things.items()}
    members = {kind: tuple(sorted(key for key in things if kind in kinds[key])) for kind in sorted(usable)}
    return _World(things, category, kinds, members, tuple(everyday_photos()))


def _taste(rng: random.Random, world: _World, config: ComposedConfig) -> dict[str, float]:
    names = rng.sample(sorted(world.members), rng.randint(*config.liked_kinds))
    raw = [rng.uniform(0.2, 1.0) for _ in names]
    return dict(sorted(((n, round(w / max(raw), 4)) for n, w in zip(names, raw)), key=lambda kv: (-kv[1], kv[0])))


def _history(rng: random.Random, world: _World, liked: dict[str, float], config: ComposedConfig) -> list[_Photo]:
    source = rng.choice(config.photo_sources)
    length = rng.randint(*config.history)
    relevant = round(rng.uniform(*config.relevant_fraction) * length)
    photographable = {kind: rng.sample(world.members[kind], max(2, len(world.members[kind]) // 2)) for kind in liked}
    chosen: dict[_Photo, None] = {}
    for _ in range(relevant * 4):  # a bounded number of draws: small kinds run out of distinct photos
        if len(chosen) >= relevant:
            break
        kind = rng.choices(list(liked), weights=list(liked.values()))[0]
        chosen.setdefault(_Photo(rng.choice(photographable[kind]), source, rng.randrange(config.views_per_thing)))
    everything = sorted(world.things)
    while len(chosen) < length:
        if rng.random() < config.everyday_share:
            chosen.setdefault(_Photo("", "everyday", real=world.everyday[rng.randrange(len(world.everyday))]))
        else:
            chosen.setdefault(_Photo(rng.choice(everything), source, rng.randrange(config.views_per_thing)))
    history = list(chosen)
    rng.shuffle(history)
    return history


def _query(
    query_id: str,
    user_id: str,
    rng: random.Random,
    world: _World,
    liked: dict[str, float],
    photographed: set[str],
    config: ComposedConfig,
) -> BenchQuery | None:
    def utility(thing: str) -> float:
        return max((liked[k] for k in world.kinds[thing] if k in liked), default=0.0)

    open_things: dict[str, list[str]] = {}
    for thing in sorted(world.things):
        if thing not in photographed:
            open_things.setdefault(world.category[thing], []).append(thing)
    eligible = [c for c, members in sorted(open_things.items()) if len(members) >= config.candidates and any(map(utility, members))]
    if not eligible:
        return None
    category = rng.choice(eligible)
    for _ in range(MAX_CANDIDATE_DRAWS):
        candidates = rng.sample(open_things[category], config.candidates)
        if any(map(utility, candidates)):
            break
    else:
        return None
    weights = [math.exp(utility(thing) / config.truth_temperature) for thing in candidates]
    truth = rng.choices(candidates, weights=weights)[0]
    return BenchQuery(query_id, user_id, category, tuple(candidates), (truth,))


def _write_photos(
    folder: Path, photos: list[_Photo], world: _World, config: ComposedConfig, on_progress: Progress | None, total: int
) -> dict[_Photo, Path]:
    folder.mkdir()
    backgrounds = background_paths()
    distractors = [t.pictures[s] for t in world.things.values() for s in sorted(t.pictures) if s in config.photo_sources]

    def write(photo: _Photo) -> Path:
        if photo.real is not None:
            return copy_photo(photo.real, folder / photo.name)
        rng = random.Random(f"visuallens-composed:{config.seed}:{photo.name}")
        image = compose(load_item(world.things[photo.thing].pictures[photo.source]), rng, backgrounds, distractors)
        path = folder / f"{photo.name}.jpg"
        image.save(path, "JPEG", quality=95)
        return path

    paths: dict[_Photo, Path] = {}
    with ThreadPoolExecutor(2, thread_name_prefix="compose") as pool:
        for done, (photo, path) in enumerate(zip(photos, pool.map(write, photos)), start=1):
            paths[photo] = path
            if on_progress:
                on_progress(done, total)
    return paths


def _write_items(
    folder: Path, things: list[str], world: _World, config: ComposedConfig, on_progress: Progress | None, done: int
) -> dict[str, BenchItem]:
    folder.mkdir()
    items = {}
    for number, key in enumerate(things, start=done + 1):
        source = world.things[key].pictures[config.item_source]
        image = folder / f"{key}{source.suffix.lower()}"
        image.write_bytes(source.read_bytes())
        thing = world.things[key]
        items[key] = BenchItem(key, thing.name, world.category[key], image, world.kinds[key], thing.description)
        if on_progress:
            on_progress(number, len(things) + done)
    return items


def _meta(config: ComposedConfig, world: _World, users: list[BenchUser], queries: list[BenchQuery], photos: int) -> dict:
    split_of = {user.id: user.split for user in users}
    return {
        "name": "VisualLens composed users (kinds of things)",
        "generator": {"module": __name__, "config": asdict(config)},
        "seed": config.seed,
        "utility": UTILITY,
        "sources": [{"source": s, "licence": LICENCES.get(s, "")} for s in sorted(set(config.photo_sources) | {config.item_source})],
        "stats": {
            "things": len(world.things),
            "kinds": len(world.members),
            "photos": photos,
            "users_per_split": dict(Counter(user.split for user in users)),
            "queries_per_split": dict(Counter(split_of[q.user_id] for q in queries)),
            "random_hit_at_3": round(min(3, config.candidates) / config.candidates, 4),
            "kind_sizes": {kind: len(members) for kind, members in world.members.items()},
        },
    }

"""Two sample people for the demo, each a folder of everyday-looking photos with a clear taste of their own, and one
catalog to ask both the same questions, so a newcomer sees their photos change their ranking.

Mei photographs noodles, sushi and tea; Ben cakes, bread and coffee. Their taste photos are composed from emoji
pictures (Google, Twitter and Fluent 3D styles) as a phone would catch them (`export.data.compose`); the rest of each
library, three quarters of it, is everyday noise: real photo stamps (animals, plants, towns, vehicles, sports) and
landscape wallpapers, and composed photos of random non-food things. The catalog's questions (lunch, a snack,
dessert) mix things of both tastes that neither photographed with things of neither, pictured in the Fluent 3D
style. Built once from registry packages and cached.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.samples import PEOPLE_FILE
from export.data.benchmark.pool import copy_photo
from export.data.compose import BACKGROUND_PACKAGES, background_paths, compose, load_item
from export.data.pairs import EMOJI_SETS, FLUENT_SOURCE, LICENCES, EmojiThing, emoji_things
from export.data.registry import debian_package
from export.data.samples import (
    RENDERS_PACKAGE,
    STAMPS_PACKAGE,
    WALLPAPERS_PACKAGE,
    debian_licences,
    debian_version,
    everyday_photos,
    publish,
)

Progress = Callable[[int, int], None]

STYLES = ("emoji-google", "emoji-twitter", "emoji-fluent-3d")  # each taste thing photographed once in each
NOISE_STAMPS = ("animals", "plants", "town", "vehicles", "sports", "naturalforces")  # Tux Paint stamp folders
NOISE_PHOTOS = 60  # real everyday photos per person
NOISE_COMPOSED = 20  # composed photos of random things that are not food, per person
CATALOG_SOURCE = "emoji-fluent-3d"  # the candidates' pictures: a style the people photograph only a third of


@dataclass(frozen=True)
class SamplePerson:
    name: str
    taste: str  # in a few words, as the demo prints it
    things: tuple[str, ...]  # emoji short names of what they photograph


PEOPLE = (
    SamplePerson("Mei", "noodles, sushi and tea",
                 ("ramen", "spaghetti", "sushi", "bento", "rice_ball", "dumpling", "oden", "tea", "teapot")),
    SamplePerson("Ben", "cakes, bread and coffee",
                 ("cake", "cupcake", "birthday", "doughnut", "pie", "bread", "croissant", "baguette_bread", "coffee")),
)
# The questions both are asked: catalog category -> its items (emoji short names). Each holds things of both tastes
# that neither photographed, and things of neither.
QUESTIONS = {
    "lunch": ("curry", "rice", "fried_shrimp", "takeout_box", "sandwich", "bagel", "hamburger", "pizza", "taco",
              "green_salad", "hotdog", "falafel"),
    "a snack": ("fish_cake", "rice_cracker", "pretzel", "pancakes", "fries", "popcorn", "peanuts", "cheese_wedge",
                "hot_pepper", "bacon"),
    "dessert": ("shaved_ice", "bubble_tea", "dango", "cookie", "waffle", "custard", "chocolate_bar", "honey_pot",
                "ice_cream", "icecream", "lollipop", "candy", "watermelon", "cherries"),
}
# Which candidates are of whose taste (the test and the demo read it): Asian dishes, sweets and tea for Mei, baked
# goods for Ben; anything else (custard, chocolate, ice cream...) is neither's.
OWN = {
    "Mei": ("curry", "rice", "fried_shrimp", "takeout_box", "fish_cake", "rice_cracker", "shaved_ice", "bubble_tea",
            "dango"),
    "Ben": ("sandwich", "bagel", "pretzel", "pancakes", "cookie", "waffle"),
}


def build_sample_people(out_dir: Path, seed: int = 0, on_progress: Progress | None = None) -> Path:
    """Build each sample person's photo folder and the demo catalog in `out_dir` (cached); return `people.json`."""
    out_dir = Path(out_dir)
    publish(out_dir, {"people": [p.name for p in PEOPLE], "seed": seed, "revision": 6},
            lambda stage: _build(stage, seed, on_progress))
    return out_dir / PEOPLE_FILE


def load_people(out_dir: Path) -> dict:
    """The built people.json: {"catalog": path, "questions": [...], "people": [{name, taste, photos, own}]}."""
    return json.loads((Path(out_dir) / PEOPLE_FILE).read_text(encoding="utf-8"))


def _build(stage: Path, seed: int, on_progress: Progress | None) -> None:
    things = {t.key: t for t in emoji_things()}
    backgrounds = background_paths()
    everyday = everyday_photos(NOISE_STAMPS)
    not_food = sorted(key for key, t in things.items() if t.group != "Food & Drink" and set(STYLES) <= t.pictures.keys())
    total = sum(len(p.things) * len(STYLES) + NOISE_PHOTOS + NOISE_COMPOSED for p in PEOPLE) + 1
    done = 0
    people, sources = [], []
    for person in PEOPLE:
        rng = random.Random(f"visuallens-sample-people:{seed}:{person.name}")
        folder = stage / person.name.lower()
        folder.mkdir()
        taste = []
        for key in person.things:
            for style in STYLES:
                image = compose(load_item(things[key].pictures[style]), rng, backgrounds)
                path = folder / f"IMG_{len(taste):04d}_{key}.jpg"
                image.save(path, "JPEG", quality=92)
                taste.append(path.name)
                sources.append(f"{folder.name}/{path.name}\t{style}\t{key}, composed on a wallpaper")
                done = _tick(on_progress, done, total)
        noise = []
        for source in rng.sample(everyday, NOISE_PHOTOS):
            noise.append(copy_photo(source, folder / f"PXL_{len(noise):04d}_{source.stem}").name)
            sources.append(f"{folder.name}/{noise[-1]}\t{_debian_source(source)}\tdownscaled copy")
            done = _tick(on_progress, done, total)
        for key in rng.sample(not_food, NOISE_COMPOSED):
            path = folder / f"PXL_{len(noise):04d}_{key}.jpg"
            style = rng.choice(STYLES)
            compose(load_item(things[key].pictures[style]), rng, backgrounds).save(path, "JPEG", quality=92)
            noise.append(path.name)
            sources.append(f"{folder.name}/{path.name}\t{style}\t{key}, composed on a wallpaper")
            done = _tick(on_progress, done, total)
        people.append({"name": person.name, "taste": person.taste, "folder": folder.name, "taste_photos": taste,
                       "noise_photos": noise, "own": list(OWN[person.name])})
    _write_catalog(stage, things)
    _write_sources(stage, sources)
    (stage / PEOPLE_FILE).write_text(json.dumps({"catalog": "catalog.json", "questions": list(QUESTIONS),
                                                 "people": people}, indent=2) + "\n", encoding="utf-8")
    _tick(on_progress, done, total)


def _write_catalog(stage: Path, things: dict[str, EmojiThing]) -> None:
    """catalog.json: the demo's questions as categories, each item pictured in CATALOG_SOURCE's style."""
    (stage / "items").mkdir()
    items = []
    for category, keys in QUESTIONS.items():
        for key in keys:
            thing = things[key]
            picture = thing.pictures[CATALOG_SOURCE]
            target = stage / "items" / f"{key}{picture.suffix.lower()}"
            if not target.exists():
                target.write_bytes(picture.read_bytes())
            items.append({"id": key, "name": thing.name, "category": category, "description": thing.description,
                          "image": f"items/{target.name}"})
    (stage / "catalog.json").write_text(json.dumps({"items": items}, indent=2) + "\n", encoding="utf-8")


def _write_sources(stage: Path, files: list[str]) -> None:
    """SOURCES.txt: every package the pictures come from, its version and licence, and each photo's source."""
    lines = ["VisualLens sample people: photos composed and copied from registry packages, not our images.", ""]
    for style in STYLES:
        package = EMOJI_SETS.get(style, RENDERS_PACKAGE if style == FLUENT_SOURCE else style)
        lines.append(f"{style}: {package} (npm), pictures licensed {LICENCES[style]}")
    packages = dict.fromkeys([STAMPS_PACKAGE, WALLPAPERS_PACKAGE, *(name for name, _ in BACKGROUND_PACKAGES)])
    for package in packages:
        root = debian_package(package)
        lines.append(f"{package} {debian_version(root, package)} (Debian), licence "
                     f"{', '.join(debian_licences(root, package))}")
    lines.append(f"catalog.json and items/: {CATALOG_SOURCE} pictures, {LICENCES[CATALOG_SOURCE]}")
    lines += ["", "file\tsource\twhat", *files]
    (stage / "SOURCES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _debian_source(path: Path) -> str:
    """`package: path inside it` for a file of an unpacked Debian package."""
    for package in (STAMPS_PACKAGE, WALLPAPERS_PACKAGE):
        root = debian_package(package)
        if path.is_relative_to(root):
            return f"{package}: {path.relative_to(root).as_posix()}"
    raise ValueError(f"{path}: not from a known Debian package")


def _tick(on_progress: Progress | None, done: int, total: int) -> int:
    if on_progress:
        on_progress(done + 1, total)
    return done + 1

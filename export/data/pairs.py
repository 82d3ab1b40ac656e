"""Captioned pictures of things from registry packages: what the lite bridge learns to read photos from.

Each `Picture` is one image file with the texts that name what it shows and the *kinds* it belongs to:

- emoji: every emoji of things (food, animals and plants, places and transport, activities, objects) and of people
  (roles such as a cook or an astronaut, activities, sports: photos are full of people) in each
  emoji image set (Google Noto and Twitter PNGs from npm `emoji-datasource-*`, Microsoft Fluent 3D renders from
  `@lobehub/fluent-emoji-3d`; Facebook's PNGs only as the held-out evaluation set, since their licence is unclear,
  and Apple's not at all: they are not licensed for commercial use). Texts: the name, and the name with its CLDR keywords. Kinds: the
  emoji subcategory in plain words ("asian food", "bird", "land vehicle") and the WordNet kinds of the name
  ("ramen" -> "noodle", "dish"). One emoji is one `key` across the sets, so the sets are views of one thing.
- tuxpaint: the photo-like Tux Paint stamps (real photo cut-outs). Texts: the stamp's description. Kinds: the
  WordNet kinds of its folder and description ("animals/birds", "A robin." -> "bird", "songbird").

A whole source can be held out (`HELD_OUT_SOURCE`): the shipped bridge never sees it, so its retrieval figures on
that source are figures on a picture style it never met.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine.catalog.emoji import cldr_keywords, codepoint_key, emoji_description, emoji_entries, renders_by_codepoints
from export.data.benchmark.items import CATEGORIES as THING_GROUPS
from export.data.benchmark.tags import Tagger
from export.data.registry import debian_package, npm_package
from export.data.samples import (
    ANNOTATIONS_PACKAGE,
    EMOJI_PACKAGE,
    RENDERS_PACKAGE,
    STAMPS_DIR,
    STAMPS_PACKAGE,
    photo_stamps,
)
from export.lite.wordnet_parents import open_wordnet

EMOJI_SETS = {  # source name -> npm package with `img/<set>/64/*.png`
    "emoji-google": EMOJI_PACKAGE,
    "emoji-twitter": "emoji-datasource-twitter@16.0.0",
    "emoji-facebook": "emoji-datasource-facebook@16.0.0",
}
FLUENT_SOURCE = "emoji-fluent-3d"
TUXPAINT_SOURCE = "tuxpaint"
SOURCES = (*EMOJI_SETS, FLUENT_SOURCE, TUXPAINT_SOURCE)
PICTURE_GROUPS = (*THING_GROUPS, "People & Body")  # Unicode emoji groups whose pictures the bridge learns from
HELD_OUT_SOURCE = "emoji-facebook"  # never trained on: the bridge's figures on it are on an unseen style
LICENCES = {
    "emoji-google": "Apache-2.0 (Google Noto emoji images)",
    "emoji-twitter": "CC-BY-4.0 (Twemoji graphics, Copyright Twitter, Inc and other contributors)",
    "emoji-fluent-3d": "MIT (Microsoft Fluent Emoji)",
    "tuxpaint": "GPL-2 (Tux Paint stamps, Debian tuxpaint-stamps-default)",
    "emoji-facebook": "held out: evaluation only, never trained on or shipped",
}

# Emoji subcategories of things and people, in the words a person would use for that kind of thing.
SUBCATEGORY_KINDS = {
    "person": "person", "person-role": "person at work", "person-activity": "person doing something",
    "person-sport": "person playing sport", "person-gesture": "person", "person-resting": "person resting",
    "person-fantasy": "fantasy character", "family": "family", "body-parts": "body part", "hands": "hand",
    "hand-fingers-open": "hand", "hand-fingers-partial": "hand", "hand-fingers-closed": "hand",
    "hand-single-finger": "hand", "hand-prop": "hand",
    "arts & crafts": "arts and crafts", "award-medal": "award", "event": "celebration", "game": "game",
    "sport": "sports equipment", "animal-amphibian": "amphibian", "animal-bird": "bird", "animal-bug": "insect",
    "animal-mammal": "mammal", "animal-marine": "sea animal", "animal-reptile": "reptile", "plant-flower": "flower",
    "plant-other": "plant", "dishware": "tableware", "drink": "drink", "food-asian": "asian food",
    "food-fruit": "fruit", "food-prepared": "prepared dish", "food-sweet": "dessert", "food-vegetable": "vegetable",
    "book-paper": "book", "clothing": "clothing", "computer": "computer", "household": "household item",
    "light & video": "camera and lighting", "lock": "lock", "mail": "mail", "medical": "medical item",
    "money": "money", "music": "music", "musical-instrument": "musical instrument", "office": "office supplies",
    "phone": "phone", "science": "science equipment", "sound": "sound device",
    "tool": "tool", "writing": "writing tool", "hotel": "hotel", "place-building": "building",
    "place-geographic": "landscape", "place-map": "map", "place-other": "place to visit",
    "place-religious": "place of worship", "sky & weather": "weather", "time": "clock", "transport-air": "aircraft",
    "transport-ground": "land vehicle", "transport-water": "boat",
}  # fmt: skip


@dataclass(frozen=True)
class Picture:
    """One captioned picture: `key` names the thing (shared by its pictures in other sources)."""

    path: Path
    source: str
    key: str
    texts: tuple[str, ...]
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class EmojiThing:
    """An emoji of a thing with its words, and its picture in each source that has one."""

    key: str  # the emoji short name
    name: str
    group: str  # the Unicode emoji group ("Food & Drink")
    subcategory: str
    keywords: tuple[str, ...]
    description: str  # as the sample catalog describes it: short names and keywords not in the name
    kinds: tuple[str, ...]
    pictures: dict[str, Path]  # source -> file


def pictures(sources: tuple[str, ...] = SOURCES) -> list[Picture]:
    """Every picture of `sources`, in a fixed order (source, then key)."""
    found = [picture for thing in emoji_things() for picture in _emoji_pictures(thing) if picture.source in sources]
    if TUXPAINT_SOURCE in sources:
        found += list(_stamps())
    return sorted(found, key=lambda p: (SOURCES.index(p.source), p.key))


@cache
def emoji_things() -> tuple[EmojiThing, ...]:
    """The emoji of things and people in Unicode order, with their kinds and their pictures in every emoji source."""
    entries = sorted(emoji_entries(npm_package(EMOJI_PACKAGE) / "emoji.json"), key=lambda e: e["sort_order"])
    keywords = cldr_keywords(npm_package(ANNOTATIONS_PACKAGE) / "en" / "data.json")
    renders = renders_by_codepoints(npm_package(RENDERS_PACKAGE) / "assets")
    tagger = _tagger()
    things = []
    for entry in entries:
        if entry["category"] not in PICTURE_GROUPS or entry["subcategory"] not in SUBCATEGORY_KINDS:
            continue
        name = entry["name"].lower()
        kinds = (SUBCATEGORY_KINDS[entry["subcategory"]], *(t for t in tagger.tags([name]) if t != name))
        things.append(
            EmojiThing(
                key=entry["short_name"],
                name=name,
                group=entry["category"],
                subcategory=entry["subcategory"],
                keywords=tuple(keywords.get(codepoint_key(entry["unified"]), ())),
                description=emoji_description(entry, keywords),
                kinds=tuple(dict.fromkeys(kinds)),
                pictures=_emoji_files(entry, renders),
            )
        )
    return tuple(things)


def describe(thing: EmojiThing) -> tuple[str, ...]:
    """The texts naming an emoji thing: its name, and its name with its keywords."""
    extra = [word for word in thing.keywords if word.lower() != thing.name]
    return (thing.name, f"{thing.name}: {', '.join(extra)}") if extra else (thing.name,)


def _emoji_pictures(thing: EmojiThing) -> Iterator[Picture]:
    texts = describe(thing)
    for source, path in thing.pictures.items():
        yield Picture(path, source, thing.key, texts, thing.kinds)


def _emoji_files(entry: dict, renders: dict[str, Path]) -> dict[str, Path]:
    files = {}
    for source, package in EMOJI_SETS.items():
        folder = source.removeprefix("emoji-")
        path = npm_package(package) / "img" / folder / "64" / entry["image"]
        if entry.get(f"has_img_{folder}", True) and path.is_file():
            files[source] = path
    unified = entry["unified"].lower()
    for codepoints in (unified, (entry.get("non_qualified") or "").lower(), unified.replace("-fe0f", "")):
        if codepoints in renders:
            files[FLUENT_SOURCE] = renders[codepoints]
            break
    return files


def _stamps() -> Iterator[Picture]:
    root = debian_package(STAMPS_PACKAGE) / STAMPS_DIR
    tagger = _tagger()
    for folder, paths in sorted(photo_stamps(root).items()):
        for path in paths:
            description = path.with_suffix(".txt").read_text(encoding="utf-8").splitlines()[0].strip()
            kinds = tagger.tags([folder, description])
            if kinds:
                yield Picture(path, TUXPAINT_SOURCE, path.relative_to(root).as_posix(), (description,), kinds)


def _tagger() -> Tagger:
    return _wordnet_tagger()[0]


@cache
def _wordnet_tagger() -> tuple[Tagger, tempfile.TemporaryDirectory]:
    """One tagger per process; WordNet is read lazily, so its folder lives (and is removed) with the process."""
    workdir = tempfile.TemporaryDirectory(prefix="visuallens-wordnet-")
    return Tagger(open_wordnet(Path(workdir.name))), workdir

"""Candidate items: the emoji of things (3D renders where they exist), in coarse categories, with their tags.

Categories are whole Unicode emoji groups, so they are large enough for 50 to 200 candidates;
groups that are not things (smileys, people, symbols, flags) are left out. Tags come from the
emoji name, its short names and its CLDR keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.catalog.emoji import (
    cldr_keywords,
    codepoint_key,
    emoji_entries,
    emoji_image,
    png_folder,
    renders_by_codepoints,
)
from export.data.benchmark.tags import Tagger
from export.data.registry import npm_package
from export.data.samples import (
    ANNOTATIONS_PACKAGE,
    EMOJI_PACKAGE,
    RENDERS_PACKAGE,
    npm_licence,
)

# Unicode emoji group -> benchmark category
CATEGORIES = {
    "Food & Drink": "food & drink",
    "Animals & Nature": "animals & nature",
    "Travel & Places": "travel & places",
    "Activities": "activities",
    "Objects": "objects",
}


@dataclass(frozen=True)
class EmojiItem:
    """One candidate: its id (the emoji short name), name, category, image file in the package cache, tags."""

    id: str
    name: str
    category: str
    source: Path
    tags: tuple[str, ...]


def emoji_items(tagger: Tagger) -> list[EmojiItem]:
    """The emoji of `CATEGORIES` that have an image, in Unicode order."""
    package, renders_package, annotations = (
        npm_package(spec) for spec in (EMOJI_PACKAGE, RENDERS_PACKAGE, ANNOTATIONS_PACKAGE)
    )
    entries = sorted(emoji_entries(package / "emoji.json"), key=lambda entry: entry["sort_order"])
    renders = renders_by_codepoints(renders_package / "assets")
    keywords = cldr_keywords(annotations / "en" / "data.json")
    pngs = png_folder(package)
    items = []
    for entry in entries:
        source = emoji_image(entry, renders, pngs) if entry["category"] in CATEGORIES else None
        if source is None:
            continue
        words = [entry["name"], *entry.get("short_names", []), *keywords.get(codepoint_key(entry["unified"]), [])]
        category = CATEGORIES[entry["category"]]
        items.append(EmojiItem(entry["short_name"], entry["name"].lower(), category, source, tagger.tags(words)))
    return items


def item_sources() -> list[dict[str, str]]:
    """Package, version and licence of each source of item images and names."""
    used_for = {
        EMOJI_PACKAGE: "item names, categories, 64 px PNGs (Google Noto images: Apache-2.0)",
        RENDERS_PACKAGE: "item images: Microsoft Fluent Emoji 3D renders",
        ANNOTATIONS_PACKAGE: "CLDR keywords for item tags",
    }
    sources = []
    for spec, use in used_for.items():
        name, _, version = spec.rpartition("@")
        licence = npm_licence(npm_package(spec))
        sources.append({"package": name, "registry": "npm", "version": version, "licence": licence, "used_for": use})
    return sources

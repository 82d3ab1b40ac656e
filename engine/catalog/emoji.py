"""Import an emoji data set as a sample catalog of things people get recommended.

The source is an unpacked npm `emoji-datasource-<set>` package: `emoji.json` (name, short_names,
subcategory, unified code points, image file) and its 64 px PNGs in `img/<set>/64/`. Only
subcategories that read as recommendable things are kept (dishes, drinks, buildings, transport,
sports...), renamed to friendly categories; flags, symbols, people, faces and skin tones are left out.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.catalog.items import CatalogError

# emoji.json subcategory -> catalog category
CATEGORIES: dict[str, str] = {
    "food-fruit": "fruit",
    "food-vegetable": "vegetables",
    "food-prepared": "dishes",
    "food-asian": "asian food",
    "food-sweet": "desserts",
    "drink": "drinks",
    "place-building": "buildings",
    "place-religious": "buildings",
    "place-geographic": "places to visit",
    "place-other": "places to visit",
    "transport-ground": "transport",
    "transport-air": "transport",
    "transport-water": "transport",
    "sport": "sports",
    "game": "games",
    "animal-mammal": "animals",
    "animal-bird": "animals",
    "animal-marine": "animals",
    "animal-reptile": "animals",
    "animal-amphibian": "animals",
    "plant-flower": "flowers",
    "clothing": "clothing",
    "musical-instrument": "musical instruments",
}

RENDER_SUFFIXES = (".webp", ".png")
_ENTRY_KEYS = ("name", "short_name", "unified", "image")


def import_emoji_catalog(
    package_dir: Path,
    out_dir: Path,
    *,
    renders_dir: Path | None = None,
    annotations: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write `out_dir/catalog.json` and copy the images it uses into `out_dir/images/`; return the catalog path.

    `renders_dir`: optional folder of larger renders named by code points (`1f35c.webp`, as in
    `@lobehub/fluent-emoji-3d`'s `assets/`), used instead of the 64 px PNG when one exists.
    `annotations`: optional emojibase-data `en/data.json`, whose CLDR keywords enrich descriptions.
    `on_progress(done, total)` is called after each image is copied.
    """
    entries = [entry for entry in emoji_entries(package_dir / "emoji.json") if entry.get("subcategory") in CATEGORIES]
    pngs = png_folder(package_dir)
    renders = renders_by_codepoints(renders_dir) if renders_dir else {}
    keywords = cldr_keywords(annotations) if annotations else {}

    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for done, entry in enumerate(entries, start=1):
        source = emoji_image(entry, renders, pngs)
        if source is not None:
            target = images_dir / f"{entry['unified'].lower()}{source.suffix}"
            shutil.copyfile(source, target)
            items.append(
                {
                    "id": entry["short_name"],
                    "name": entry["name"].lower(),
                    "category": CATEGORIES[entry["subcategory"]],
                    "description": emoji_description(entry, keywords),
                    "image": f"images/{target.name}",
                }
            )
        if on_progress:
            on_progress(done, len(entries))
    if not items:
        raise CatalogError(f"{package_dir}: no emoji with an image in the subcategories {', '.join(CATEGORIES)}")

    catalog = out_dir / "catalog.json"
    catalog.write_text(json.dumps({"items": items}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return catalog


def emoji_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of an emoji-datasource `emoji.json` (a list of objects)."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise CatalogError(f"{path}: expected a list of emoji")
    for number, entry in enumerate(data, start=1):
        missing = [key for key in _ENTRY_KEYS if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise CatalogError(f"{path}: emoji {number} lacks {', '.join(missing)}")
    return data


def png_folder(package_dir: Path) -> Path:
    """The package's one folder of 64 px PNGs (`img/<set>/64`)."""
    folders = sorted((package_dir / "img").glob("*/64"))
    if len(folders) != 1:
        raise CatalogError(f"{package_dir}: expected one img/<set>/64 folder, found {len(folders)}")
    return folders[0]


def renders_by_codepoints(renders_dir: Path) -> dict[str, Path]:
    """Render files by code-point key (`1f35c` -> `1f35c.webp`)."""
    if not renders_dir.is_dir():
        raise CatalogError(f"{renders_dir}: renders folder not found")
    return {path.stem.lower(): path for path in renders_dir.iterdir() if path.suffix.lower() in RENDER_SUFFIXES}


def cldr_keywords(path: Path) -> dict[str, list[str]]:
    """CLDR keywords by code-point key, from an emojibase `data.json`."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise CatalogError(f"{path}: expected emojibase-data's list of emoji")
    return {codepoint_key(entry["hexcode"]): entry.get("tags", []) for entry in data if "hexcode" in entry}


def emoji_image(entry: dict[str, Any], renders: dict[str, Path], pngs: Path) -> Path | None:
    """The best picture of an emoji entry: its 3D render when there is one, else its PNG, else None."""
    unified = entry["unified"].lower()
    for codepoints in (unified, (entry.get("non_qualified") or "").lower(), unified.replace("-fe0f", "")):
        if codepoints in renders:
            return renders[codepoints]
    png = pngs / entry["image"]
    return png if png.is_file() else None


def emoji_description(entry: dict[str, Any], keywords: dict[str, list[str]]) -> str:
    """Short names and CLDR keywords, minus the words already in the name ("ramen, noodle, soup")."""
    name_words = set(entry["name"].lower().split())
    terms = [name.replace("_", " ") for name in entry.get("short_names", [])]
    terms += keywords.get(codepoint_key(entry["unified"]), [])
    unique = dict.fromkeys(term.lower() for term in terms if not set(term.lower().split()) <= name_words)
    return ", ".join(unique)


def codepoint_key(codepoints: str) -> str:
    """Code points without variation selectors, so `2615-FE0F` and `2615` join."""
    return "-".join(part for part in codepoints.upper().split("-") if part != "FE0F")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read ({exc})") from None

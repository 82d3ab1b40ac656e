"""Catalog loading (JSON, CSV, every error case) and the emoji sample catalog importer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from engine.catalog.emoji import import_emoji_catalog
from engine.catalog.items import CatalogError, CatalogItem
from engine.catalog.loaders import load_catalog

ITEMS = [
    {"id": "ichiran", "name": "Ichiran", "category": "Restaurants", "description": "tonkotsu ramen, solo booths",
     "image": "images/ichiran.png"},
    {"id": "tsuta", "name": "Tsuta", "category": "restaurants", "description": "", "image": ""},
    {"id": "park-hyatt", "name": "Park Hyatt", "category": "hotels", "description": "views",
     "image": "images/hyatt.png"},
]


@pytest.fixture()
def folder(tmp_path) -> Path:
    (tmp_path / "images").mkdir()
    for name in ("ichiran.png", "hyatt.png"):
        Image.new("RGB", (8, 8), "red").save(tmp_path / "images" / name)
    return tmp_path


def _json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _csv(path: Path, items: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name", "category", "description", "image"])
        writer.writeheader()
        writer.writerows(items)
    return path


def test_json_and_csv_load_the_same_catalog(folder):
    from_json = load_catalog(_json(folder / "catalog.json", {"items": ITEMS}))
    from_csv = load_catalog(_csv(folder / "catalog.csv", ITEMS))
    assert from_json.items == from_csv.items
    first = from_json.items[0]
    assert first == CatalogItem("ichiran", "Ichiran", "Restaurants", "tonkotsu ramen, solo booths",
                                (folder / "images" / "ichiran.png").resolve())
    assert from_json.items[1].image is None and from_json.items[1].description == ""
    assert from_json.source == folder / "catalog.json"


def test_bare_list_null_fields_bom_and_header_spaces(folder):
    bare = load_catalog(_json(folder / "bare.json", [{"id": "a", "name": "A", "category": "c", "image": None}]))
    assert bare.items == (CatalogItem("a", "A", "c"),)
    path = folder / "excel.csv"
    path.write_bytes("\ufeffid, name ,category\r\nb,B,c\r\n".encode())
    assert load_catalog(path).items == (CatalogItem("b", "B", "c"),)


def test_category_filtering_is_case_insensitive(folder):
    catalog = load_catalog(_json(folder / "catalog.json", ITEMS))
    assert catalog.categories() == ["Restaurants", "hotels", "restaurants"]
    assert [item.id for item in catalog.in_category("RESTAURANTS")] == ["ichiran", "tsuta"]
    assert [item.id for item in catalog.in_category(" hotels ")] == ["park-hyatt"]
    with pytest.raises(CatalogError, match=r"catalog\.json: no category 'museums'; known categories: .*hotels"):
        catalog.in_category("museums")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"items": [', r"bad\.json: invalid JSON at line 1 column 12"),
        ("bad.json", '{"things": []}', r'bad\.json: expected a list of items or \{"items"'),
        ("bad.json", '["ichiran"]', r"bad\.json: item 1: expected an object with id, name, category.*got str"),
        ("bad.json", '[{"id": "a", "name": "A"}]', r"bad\.json: item 1: missing category"),
        ("bad.json", '[{"id": "a", "name": " ", "category": "c"}]', r"bad\.json: item 1: missing name"),
        ("bad.json", '[{"id": 7, "name": "A", "category": "c"}]', r"bad\.json: item 1: id must be text, got int"),
        ("bad.json", '[{"id": "a", "name": "A", "category": "c", "imgae": "x.png"}]',
         r"bad\.json: item 1: unknown field\(s\) imgae; allowed: id, name, category, description, image"),
        ("bad.json", '[{"id": "a", "name": "A", "category": "c"}, {"id": "a", "name": "B", "category": "c"}]',
         r"bad\.json: item 2: duplicate id 'a' \(first used at item 1\)"),
        ("bad.json", '[{"id": "a", "name": "A", "category": "c", "image": "images/gone.png"}]',
         r"bad\.json: item 1 \('a'\): image not found: .*images/gone\.png"),
        ("bad.json", "[]", r"bad\.json: the catalog has no items"),
        ("bad.csv", 'id,name,category\na,"A"x,c\n', r"bad\.csv: invalid CSV at line 2: ',' expected after '\"'"),
        ("bad.csv", "id,name,category\na,A,c,extra\n", r"bad\.csv: line 2: more cells than header columns"),
        ("bad.csv", "id,name\na,A\n", r"bad\.csv: line 2: missing category"),
        ("bad.csv", "id,name,category\na,A,c\nb,B,c\na,C,c\n",
         r"bad\.csv: line 4: duplicate id 'a' \(first used at line 2\)"),
        ("bad.csv", "id,name,category\n", r"bad\.csv: the catalog has no items"),
        ("bad.xml", "<items/>", r"bad\.xml: unsupported catalog format '\.xml'; use \.json or \.csv"),
    ],
)
def test_bad_catalogs_are_one_line_errors(folder, name, content, message):
    path = folder / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=message) as caught:
        load_catalog(path)
    assert "\n" not in str(caught.value)


def test_missing_and_unreadable_files(folder):
    with pytest.raises(CatalogError, match=r"nowhere\.json: catalog file not found"):
        load_catalog(folder / "nowhere.json")
    (folder / "latin1.csv").write_bytes("id,name,category\na,Caf\xe9,c\n".encode("latin-1"))
    with pytest.raises(CatalogError, match=r"latin1\.csv: cannot read catalog \(.*utf-8"):
        load_catalog(folder / "latin1.csv")


# --- emoji importer ---------------------------------------------------------------------------------


def _emoji(name, short_names, subcategory, unified, category="Food & Drink"):
    return {"name": name, "short_name": short_names[0], "short_names": short_names, "category": category,
            "subcategory": subcategory, "unified": unified, "non_qualified": None, "image": f"{unified.lower()}.png"}


@pytest.fixture()
def emoji_package(tmp_path) -> Path:
    """A tiny emoji-datasource-google look-alike: 4 emoji, 64 px PNGs, 1 3D render, CLDR keywords."""
    package = tmp_path / "emoji-datasource-google"
    pngs = package / "img" / "google" / "64"
    pngs.mkdir(parents=True)
    entries = [
        _emoji("STEAMING BOWL", ["ramen"], "food-asian", "1F35C"),
        _emoji("HOT BEVERAGE", ["coffee"], "drink", "2615"),
        _emoji("HOTEL", ["hotel"], "place-building", "1F3E8", category="Travel & Places"),
        _emoji("Japan Flag", ["flag-jp", "jp"], "country-flag", "1F1EF-1F1F5", category="Flags"),
    ]
    (package / "emoji.json").write_text(json.dumps(entries))
    for entry in entries:
        Image.new("RGBA", (64, 64), "orange").save(pngs / entry["image"])
    renders = tmp_path / "fluent" / "assets"
    renders.mkdir(parents=True)
    Image.new("RGBA", (256, 256), "orange").save(renders / "1f35c.webp")
    annotations = tmp_path / "emojibase-en.json"
    annotations.write_text(json.dumps([
        {"hexcode": "1F35C", "label": "steaming bowl", "tags": ["bowl", "noodle", "ramen", "soup"]},
        {"hexcode": "2615", "label": "hot beverage", "tags": ["cafe", "drink", "tea"]},
    ]))
    return package


def test_emoji_importer_writes_a_loadable_catalog(emoji_package, tmp_path):
    out = tmp_path / "out"
    progress = []
    path = import_emoji_catalog(
        emoji_package, out, renders_dir=tmp_path / "fluent" / "assets", annotations=tmp_path / "emojibase-en.json",
        on_progress=lambda done, total: progress.append((done, total)),
    )
    catalog = load_catalog(path)
    assert [(item.id, item.name, item.category, item.description) for item in catalog.items] == [
        ("ramen", "steaming bowl", "asian food", "ramen, noodle, soup"),
        ("coffee", "hot beverage", "drinks", "coffee, cafe, drink, tea"),
        ("hotel", "hotel", "buildings", ""),
    ]
    assert [item.image.name for item in catalog.items] == ["1f35c.webp", "2615.png", "1f3e8.png"]
    assert Image.open(catalog.items[0].image).size == (256, 256)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["1f35c.webp", "1f3e8.png", "2615.png"]
    assert progress[-1] == (3, 3)


def test_emoji_importer_without_extras_uses_the_packages_pngs(emoji_package, tmp_path):
    catalog = load_catalog(import_emoji_catalog(emoji_package, tmp_path / "out"))
    assert {item.image.suffix for item in catalog.items} == {".png"}
    assert catalog.in_category("asian food")[0].description == "ramen"


def test_emoji_importer_names_a_package_without_emoji_json(tmp_path):
    with pytest.raises(CatalogError, match=r"empty/emoji\.json: not found"):
        import_emoji_catalog(tmp_path / "empty", tmp_path / "out")


@pytest.mark.slow
def test_real_sample_catalog(tmp_path):
    from export.data.samples import build_sample_catalog

    catalog = load_catalog(build_sample_catalog(tmp_path / "catalog"))
    big = [c for c in catalog.categories() if sum(1 for i in catalog.in_category(c) if i.image.is_file()) >= 20]
    assert len(big) >= 5, catalog.categories()
    assert {"asian food", "drinks", "buildings"} <= set(catalog.categories())
    webp = [item for item in catalog.items if item.image.suffix == ".webp"]
    assert len(webp) > 0.9 * len(catalog.items)
    assert Image.open(webp[0].image).size == (256, 256)

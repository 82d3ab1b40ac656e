"""What the CLI prints from hostile file names, and how many candidates a query takes (issue #19, finding 10 and the
100,000-candidate catalog): escape sequences and bidi overrides are shown escaped, oversized catalogs are refused
before any model runs."""

from __future__ import annotations

import json
import shutil

import pytest

from engine.catalog.items import MAX_CANDIDATES, CatalogError
from engine.catalog.loaders import load_catalog
from engine.serve.schema import RecommendRequest
from tests.engine.test_models_cli import linked_copy
from tests.test_cli import vl

# ESC sequences (colour, clear screen, window title), a C1 CSI, bidi overrides and isolates, a direction mark.
HOSTILE = "evil\x1b[31m\x1b[2J\x1b]0;pwned\x07\x9b1m\u202egnp\u2066\u2069\u200f"
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u2069", "\u200f"]
SHOWN = ["\\x1b[31m", "\\x1b[2J", "\\x1b]0;pwned\\x07", "\\x9b1m", "\\u202egnp", "\\u2066\\u2069\\u200f"]
WIDE = {"COLUMNS": "1000"}  # no table wrapping in the middle of an escaped name


@pytest.fixture()
def hostile_library(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    (folder / "chelsea.png").rename(folder / f"{HOSTILE}.png")
    (folder / f"{HOSTILE}empty.jpg").write_bytes(b"")  # reported as skipped, by name
    vl("init", "--no-keyring")
    return folder


def assert_escaped(text: str) -> None:
    assert not [char for char in RAW if char in text], repr(text)
    for shown in SHOWN:
        assert shown in text, (shown, text)


def test_index_search_and_forget_show_hostile_names_escaped(hostile_library):
    photo = hostile_library / f"{HOSTILE}.png"
    indexed = vl("index", hostile_library, env=WIDE)
    assert_escaped(indexed.stderr)  # "skipped <name>: empty file"
    assert "empty file" in indexed.stderr

    table = vl("search", "a cat", "-k", "4", env=WIDE).stdout
    assert_escaped(table)
    hits = json.loads(vl("search", "a cat", "-k", "4", "--json").stdout)  # JSON keeps the real name
    assert str(photo) in [hit["path"] for hit in hits]

    forgot = vl("forget", photo, env=WIDE).stdout
    assert "Forgot 1 photo" in forgot
    assert_escaped(forgot)
    assert_escaped(vl("status", env=WIDE).stdout)  # lists the exclusion, escaped like every other name


def test_an_error_naming_a_hostile_path_is_escaped(hostile_library):
    result = vl("index", hostile_library / f"{HOSTILE}missing", env=WIDE, check=False)
    assert result.returncode == 6 and "not found" in result.stderr and "Traceback" not in result.stderr
    assert_escaped(result.stderr)


def test_models_list_shows_a_hostile_bundle_name_escaped(tmp_path, lite_bundle):
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    linked_copy(lite_bundle, bundles / HOSTILE)
    listed = vl("models", "list", env={**WIDE, "VISUALLENS_BUNDLES": str(bundles)}).stdout
    assert_escaped(listed)


def test_catalog_text_is_shown_escaped(hostile_library, tmp_path):
    vl("index", hostile_library)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"items": [{"id": "a", "name": f"cafe {HOSTILE}", "category": "outing"},
                                             {"id": "b", "name": "park", "category": "outing"}]}))
    table = vl("recommend", "--category", "outing", "--catalog", catalog, env=WIDE).stdout
    assert "cafe" in table and "park" in table
    assert_escaped(table)


# -- how many candidates a query takes --------------------------------------------------------------------------
def _catalog(path, counts: dict[str, int]):
    items = [{"id": f"{category}-{i}", "name": f"item {i}", "category": category}
             for category, count in counts.items() for i in range(count)]
    path.write_text(json.dumps({"items": items}))
    return path


def test_a_category_of_at_most_max_candidates_loads(tmp_path):
    catalog = load_catalog(_catalog(tmp_path / "full.json", {"food": MAX_CANDIDATES, "drinks": MAX_CANDIDATES}))
    assert len(catalog.in_category("food")) == MAX_CANDIDATES == len(catalog.in_category("drinks"))


@pytest.mark.parametrize("counts", [{"food": MAX_CANDIDATES + 1}, {"food": MAX_CANDIDATES, "FOOD": 1},
                                    {"food": 100_000}])
def test_a_bigger_category_is_refused_naming_it_and_the_limit(tmp_path, counts):
    with pytest.raises(CatalogError, match=rf"big.json: item {MAX_CANDIDATES + 1}: category '(food|FOOD)' has more "
                                           rf"than {MAX_CANDIDATES} items"):
        load_catalog(_catalog(tmp_path / "big.json", counts))


def test_a_huge_csv_catalog_is_refused_too(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("id,name,category\n" + "".join(f"i{n},item {n},food\n" for n in range(MAX_CANDIDATES + 1)))
    with pytest.raises(CatalogError, match=rf"line {MAX_CANDIDATES + 2}: category 'food' has more than"):
        load_catalog(path)


def test_the_cli_refuses_a_100000_candidate_catalog_before_any_model_runs(home, tmp_path, monkeypatch):
    vl("init", "--no-keyring")
    empty = tmp_path / "no-bundles"
    empty.mkdir()
    catalog = _catalog(tmp_path / "huge.json", {"food": 100_000})
    # No model bundle at all: had the catalog reached an encoder, this would be exit 5 (bundle missing).
    result = vl("recommend", "--category", "food", "--catalog", catalog, env={"VISUALLENS_BUNDLES": str(empty)},
                check=False)
    assert result.returncode == 6 and "Traceback" not in result.stderr
    assert f"more than {MAX_CANDIDATES} items" in result.stderr and "huge.json" in result.stderr


def test_the_api_takes_the_same_number_of_candidates():
    schema = RecommendRequest.model_json_schema()
    assert schema["properties"]["candidates"]["maxItems"] == MAX_CANDIDATES
    assert schema["properties"]["top"]["anyOf"][0]["maximum"] == MAX_CANDIDATES

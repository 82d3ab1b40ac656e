"""Catalogs, well formed or broken, in JSON and CSV: the loader returns exactly the items of a well-formed one and
refuses anything else with one `CatalogError` line naming the file; `visuallens recommend` ranks or exits 6."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.catalog.items import CatalogError
from engine.catalog.loaders import load_catalog
from tests.fuzz.harness import Profile, assert_clean, assert_profile_intact, fuzz_settings, run_cli
from tests.fuzz.strategies import FuzzCatalog, catalogs, cli_text, hostile_text

pytestmark = pytest.mark.fuzz


def _write(catalog: FuzzCatalog, folder: Path) -> Path:
    for name, data in catalog.images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    path = folder / f"catalog{catalog.suffix}"
    path.write_bytes(catalog.content)
    return path


def _fields(item: dict, root: Path) -> dict[str, str]:
    """An item's non-empty fields, its image as a path relative to the catalog's folder (which it must be in)."""
    fields = {key: value for key, value in item.items() if value not in ("", None)}
    if "image" in fields:
        image = (root / fields["image"]).resolve()
        assert image.is_file(), image
        fields["image"] = image.relative_to(root).as_posix()
    return fields


@fuzz_settings(examples=300)
@given(catalog=catalogs(), category=hostile_text)
def test_catalogs_load_exactly_or_fail_with_one_line(catalog: FuzzCatalog, category: str):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(catalog, Path(folder))
        try:
            loaded = load_catalog(path)
        except CatalogError as error:
            assert catalog.expected is None, f"a well-formed catalog was refused: {error}"
            assert str(path) in str(error) and "\n" not in str(error), str(error)
            return
        root = Path(folder).resolve()
        items = [_fields(vars(item), root) for item in loaded.items]
        if catalog.expected is not None:
            assert items == [_fields(item, root) for item in catalog.expected]
        assert all(item["id"] and item["name"] and item["category"] for item in items)
        assert len({item["id"] for item in items}) == len(items)
        try:
            chosen = loaded.in_category(category)
        except CatalogError as error:
            assert "\n" not in str(error), str(error)
        else:
            assert chosen and all(i.category.casefold() == category.strip().casefold() for i in chosen)


@fuzz_settings(examples=8, subprocess_per_example=True)
@given(catalog=catalogs(), category=st.sampled_from(["food", "hotels", " FOOD "]) | cli_text,
       query=st.none() | cli_text, as_json=st.booleans())
def test_recommend_ranks_any_catalog_or_exits_6(fuzz_profile: Profile, tmp_path_factory, catalog: FuzzCatalog,
                                                category: str, query: str | None, as_json: bool):
    path = _write(catalog, tmp_path_factory.mktemp("catalog"))
    args = ["recommend", "--catalog", path, "--category", category, *(["--query", query] if query else [])]
    result = run_cli(fuzz_profile.env, *args, *["--json"] * as_json)
    assert_clean(result, {0, 2, 6}, catalog)  # 2: a category or query the shell would read as an option ("--x")
    if result.returncode == 0 and as_json:
        answer = json.loads(result.stdout)
        ids = [r["id"] for r in answer["ranking"]]
        assert len(ids) == len(set(ids)) and [r["rank"] for r in answer["ranking"]] == list(range(1, len(ids) + 1))
        assert all(isinstance(r["score"], float) for r in answer["ranking"])


def test_the_profile_survived_the_catalogs(fuzz_profile: Profile):
    assert_profile_intact(fuzz_profile)

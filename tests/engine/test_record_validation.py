"""One validation for every record (engine/record_validation.py): catalog items, benchmark lines and API bodies are
refused with the same one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.catalog.items import CatalogError
from engine.catalog.loaders import load_catalog
from engine.record_validation import describe
from engine.serve.schema import RecommendRequest
from export.data.benchmark.format import BenchmarkFormatError, load_benchmark


def _catalog_error(folder: Path, item: dict) -> str:
    path = folder / "catalog.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    return str(refused.value)


def _benchmark_error(folder: Path, item: dict) -> str:
    (folder / "benchmark.json").write_text('{"format": "visuallens-benchmark", "version": 1}')
    (folder / "items.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    with pytest.raises(BenchmarkFormatError) as refused:
        load_benchmark(folder)
    return str(refused.value)


def _api_error(body: dict) -> str:
    with pytest.raises(ValidationError) as refused:
        RecommendRequest.model_validate(body)
    return describe(RecommendRequest, refused.value)


def test_an_unknown_field_is_refused_alike_in_a_catalog_a_benchmark_and_an_api_body(tmp_path):
    item = {"id": "a", "name": "A", "category": "c", "image": "a.png", "imgae": "a.png"}
    assert _catalog_error(tmp_path, item).endswith(
        "catalog.json: item 1: unknown field(s) imgae; allowed: id, name, category, description, image")
    assert _benchmark_error(tmp_path, item).endswith(
        "items.jsonl: line 1: unknown field(s) imgae; allowed: id, name, category, image, tags, description")
    body = {"category": "c", "candidates": [{"id": "a", "name": "A"}], "colour": "red"}
    assert _api_error(body) == "unknown field(s) colour; allowed: category, candidates, query, top"
    body = {"category": "c", "candidates": [{"id": "a", "name": "A", "imgae": "x"}]}
    assert _api_error(body) == "candidates[0]: unknown field(s) imgae; allowed: id, name, description, image, image_path"


@pytest.mark.parametrize(("item", "problem"), [
    ({"id": "a", "name": "A", "category": "c", "a\nb": "x", "\x1b[31m": "y"},
     r"unknown field(s) \x1b[31m, a\nb; allowed: "),
    ({"id": 7, "name": "A", "category": "c"}, "id must be text, got int"),
    ({"id": "a", "name": ["A"], "category": "c"}, "name must be text, got list"),
])
def test_catalog_and_benchmark_say_the_same_in_one_line_with_user_text_escaped(tmp_path, item, problem):
    (tmp_path / "catalog").mkdir(), (tmp_path / "benchmark").mkdir()
    errors = [_catalog_error(tmp_path / "catalog", item), _benchmark_error(tmp_path / "benchmark", item)]
    for error in errors:
        assert problem in error and "\n" not in error and "\x1b" not in error, error


def test_a_record_that_is_not_an_object_names_the_fields_it_should_have(tmp_path):
    assert _benchmark_error(tmp_path, ["a"]).endswith(
        "items.jsonl: line 1: expected an object with id, name, category, image, tags, description, got list")
    assert _api_error({"category": "c", "candidates": ["a"]}) == (
        "candidates[0]: expected an object with id, name, description, image, image_path, got str")

"""A ranking exported as CSV opens in a spreadsheet as text: catalog names that start a formula are defused
(issue #19, finding 10)."""

from __future__ import annotations

import csv
import json

from desktop.ranking_export import save_ranking
from engine.catalog.items import CatalogItem
from engine.recommend.recommender import TRAINED, Evidence, RankedItem, Recommendation

HOSTILE = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def _ranking(names: list[str]) -> Recommendation:
    ranked = [RankedItem(CatalogItem(id=f"={i}", name=name, category="outing"), score=-0.5 + i, rank=i + 1,
                         evidence=Evidence(cells=(1, 2), aspect_words=("-cat", "cafe")))
              for i, name in enumerate(names)]
    return Recommendation(category="outing", query=None, ranked=ranked, grid_paths=[], profile_aspects=(), w=4,
                          scorer=TRAINED)


def test_csv_cells_that_would_run_a_formula_get_an_apostrophe(tmp_path):
    path = tmp_path / "ranking.csv"
    save_ranking(_ranking([*HOSTILE, "cat cafe", "tea = good"]), path)
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [row["name"] for row in rows] == [f"'{name}" for name in HOSTILE] + ["cat cafe", "tea = good"]
    assert all(row["id"].startswith("'=") for row in rows)
    assert {row["aspect_words"] for row in rows} == {"'-cat cafe"}
    assert [float(row["score"]) for row in rows][:2] == [-0.5, 0.5]  # numbers stay numbers
    assert [row["rank"] for row in rows][:2] == ["1", "2"]


def test_json_export_keeps_names_as_they_are(tmp_path):
    path = tmp_path / "ranking.json"
    save_ranking(_ranking(HOSTILE), path)
    assert [item["name"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]] == HOSTILE

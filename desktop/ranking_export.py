"""Save a ranking as CSV or JSON: items, scores and aspect words only (never the user's photo paths)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from engine.recommend.recommender import Recommendation

# A spreadsheet runs a cell that starts with one of these as a formula (`=cmd|' /C calc'!A0`, `@SUM(...)`).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def save_ranking(rec: Recommendation, path: Path) -> None:
    """Write `rec` to `path`; the suffix (.csv or .json) picks the format."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        payload = {
            "category": rec.category,
            "query": rec.query,
            "ranked_by": rec.scorer,
            "profile_aspects": list(rec.profile_aspects),
            "items": rec.records(),
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["rank", "id", "name", "score", "evidence_cells", "aspect_words"])
            for record in rec.records():
                evidence = record["evidence"]
                writer.writerow([record["rank"], inert(record["id"]), inert(record["name"]), record["score"],
                                 " ".join(map(str, evidence["cells"])), inert(" ".join(evidence["aspect_words"]))])
    else:
        raise ValueError(f"{path}: save the ranking as .csv or .json")


def inert(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe (OWASP's
    CSV injection advice). Numbers (rank, score) are written as numbers and need none."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell

"""Save a ranking as CSV or JSON: items, scores and aspect words only (never the user's photo paths)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from engine.recommend.recommender import Recommendation


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
                writer.writerow([record["rank"], record["id"], record["name"], record["score"],
                                 " ".join(map(str, evidence["cells"])), " ".join(evidence["aspect_words"])])
    else:
        raise ValueError(f"{path}: save the ranking as .csv or .json")

"""`visuallens recommend`: rank a catalog's items for you, with the evidence from your photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.context import out, reported_errors, session
from engine.cli.text import term
from engine.profile.records import Judgement


def recommend(
    category: str = typer.Option(..., "--category", "-c", help="Which kind of item, e.g. 'asian food'."),
    catalog: Path = typer.Option(..., "--catalog", help="Candidate items (JSON or CSV)."),
    query: Optional[str] = typer.Option(None, "--query", "-q", help="Optional: what you are in the mood for."),
    grid: Optional[Path] = typer.Option(None, "--grid", help="Save the evidence grid (a picture of your photos) here."),
    top: int = typer.Option(10, "--top", min=1, help="How many items to show (JSON lists all)."),
    w: int = typer.Option(64, "-w", help="How many photos inform the ranking (a square: 16, 36, 64...)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {category, scorer, support, cold_start, ..., ranking: [{id, name, score, rank, evidence}]}."
    ),
) -> None:
    """Rank a catalog's items in a category for you, with the evidence from your photos."""
    with session() as lens:
        with reported_errors():
            rec = lens.recommend(category, catalog, query=query, w=w)
            if grid is not None:
                grid.parent.mkdir(parents=True, exist_ok=True)
                rec.render_grid(highlight=rec.ranked[0] if rec.ranked else None).save(grid)
    if as_json:
        out.print_json(json.dumps(rec.as_dict()))
        return
    out.print(f"[bold]{term(category)}[/] for you, ranked by the {rec.scorer} from {len(rec.grid_paths)} of your photos")
    out.print(f"Your profile here: {term(', '.join(rec.profile_aspects)) or 'no words several photos share yet'}")
    if rec.cold_start:
        out.print(f"[yellow]{term(rec.cold_start_note())}[/]")
    moved = any(r.evidence.feedback is not None for r in rec.ranked[:top])
    table = Table("rank", "item", "id", "score", "because of photos", "aspect words", *(["your feedback"] if moved else []))
    for r in rec.ranked[:top]:
        table.add_row(str(r.rank), term(r.item.name), term(r.item.id), f"{r.score:+.2f}",
                      " ".join(f"#{c}" for c in r.evidence.cells), term(", ".join(r.evidence.aspect_words)),
                      *([_moved_by(r.evidence.feedback, r.item.id)] if moved else []))
    out.print(table)
    out.print("Like one, or not? `visuallens feedback ID --category C --catalog FILE --like` (or --not-for-me).")
    if grid is not None:
        out.print(f"Evidence grid saved to {term(str(grid))} (cells of the top item framed).")


def _moved_by(judgement: Judgement | None, item_id: str) -> str:
    """What the user's feedback did to an item, in a few words ('' when nothing)."""
    if judgement is None:
        return ""
    if judgement.item.id == item_id:
        return "you liked this" if judgement.liked else "not for you"
    return term(f"{'lifted: you liked' if judgement.liked else 'lowered: not for you,'} {judgement.item.name}")

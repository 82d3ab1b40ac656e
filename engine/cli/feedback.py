"""`visuallens feedback`: tell VisualLens you like a ranked item, or that it is not for you; undo it; list them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.context import err, out, reported_errors, session
from engine.cli.text import term


def feedback(
    item: Optional[str] = typer.Argument(None, help="The item's id in the catalog (omit with --list)."),
    category: Optional[str] = typer.Option(None, "--category", "-c", help="The category it was ranked in."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="The catalog it is in (JSON or CSV)."),
    like: bool = typer.Option(False, "--like", help="You like it: rank things like it higher."),
    not_for_me: bool = typer.Option(False, "--not-for-me", help="Not for you: rank things like it lower."),
    undo: bool = typer.Option(False, "--undo", help="Withdraw your judgement of it."),
    listing: bool = typer.Option(False, "--list", help="List your judgements (of --category, if given)."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print [{category, id, name, liked, at}]."),
) -> None:
    """Tell VisualLens you like a ranked item (--like) or that it is not for you (--not-for-me), or --undo that:
    the next rankings of its category move the items like it, and say so in their evidence. Kept encrypted in
    your profile."""
    verbs = [flag for flag, on in (("--like", like), ("--not-for-me", not_for_me), ("--undo", undo), ("--list", listing))
             if on]
    if len(verbs) != 1:
        raise typer.BadParameter("give exactly one of --like, --not-for-me, --undo and --list")
    if not listing and (item is None or category is None):
        raise typer.BadParameter(f"{verbs[0]} needs the ITEM id and its --category")
    if (like or not_for_me) and catalog is None:
        raise typer.BadParameter(f"{verbs[0]} needs the --catalog the item is in")
    with session() as lens, reported_errors():
        if listing:
            _print(lens.judgements(category), as_json)
        elif undo:
            assert item is not None and category is not None
            if not lens.unjudge(category, item):
                err.print(f"nothing to undo: you have not judged {term(item)} in {term(category)}")
                raise typer.Exit(1)
            out.print(f"Withdrawn: your judgement of {term(item)} in {term(category)}.")
        else:
            assert item is not None and category is not None and catalog is not None
            judged = lens.judge(category, catalog, item, liked=like)
            verdict = f"you like {term(judged.name)}" if like else f"{term(judged.name)} is not for you"
            out.print(f"Noted: {verdict}; rankings of {term(category)} will move things like it.")


def _print(judgements, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps([
            {"category": j.item.category, "id": j.item.id, "name": j.item.name, "liked": j.liked, "at": j.at}
            for j in judgements
        ]))
        return
    if not judgements:
        out.print("No judgements yet: `visuallens feedback ITEM --category C --catalog FILE --like` adds one.")
        return
    table = Table("category", "item", "judgement")
    for j in judgements:
        table.add_row(term(j.item.category), term(f"{j.item.name} ({j.item.id})"), "like" if j.liked else "not for me")
    out.print(table)

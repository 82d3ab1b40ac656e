"""`visuallens taste` and `visuallens correct`: see what your photos say about a category, and correct it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.context import err, named, out, reported_errors, session
from engine.cli.text import term

WORDS_SHOWN = 20
PHOTOS_PER_WORD = 3
BAR = 20


def taste(
    category: str = typer.Argument(..., help="Which kind of item, e.g. 'dishes'."),
    catalog: Path = typer.Option(..., "--catalog", help="A catalog with items of that category (JSON or CSV)."),
    w: int = typer.Option(64, "-w", help="How many photos inform it (as for `recommend`)."),
    as_json: bool = typer.Option(False, "--json", help="Print {category, words: [{word, weight, photos, pinned, "
                                 "removed}], grid, excluded_photos}."),
) -> None:
    """What your photos say about a category: its aspect words, how much each weighs and the photos behind it, and
    the photos that fill the evidence grid. Correct it with `visuallens correct`."""
    with session() as lens, reported_errors():
        found = lens.taste(category, catalog, w=w)
    if as_json:
        out.print_json(json.dumps(found.as_dict()))
        return
    out.print(f"[bold]Your taste in {term(category)}[/], from the {len(found.grid_paths)} photos that inform it")
    table = Table("aspect word", "weight", "photos", "for example", "you said")
    for word in found.words[:WORDS_SHOWN]:
        said = "more of this" if word.pinned else "not me" if word.removed else ""
        examples = ", ".join(Path(p).name for p in word.photos[:PHOTOS_PER_WORD])
        table.add_row(term(word.word), _bar(word.weight), str(len(word.photos)), term(examples), said)
    out.print(table)
    if found.excluded:
        out.print(f"Kept out of {term(category)}: " + term(", ".join(Path(p).name for p in found.excluded)))
    out.print("Correct it: `visuallens correct -c CATEGORY --not-me WORD` (or --more-of WORD, --exclude PHOTO).")


def correct(
    category: Optional[str] = typer.Option(None, "--category", "-c", help="The category to correct."),
    everywhere: bool = typer.Option(False, "--everywhere", help="Correct every category instead."),
    not_me: Optional[str] = typer.Option(None, "--not-me", help="An aspect word that is not you: ignore it."),
    more_of: Optional[str] = typer.Option(None, "--more-of", help="An aspect word you want more of: pin it."),
    undo_word: Optional[str] = typer.Option(None, "--undo-word", help="Undo --not-me or --more-of of this word."),
    exclude: Optional[str] = typer.Option(None, "--exclude", help="A photo to keep out of the recommendations."),
    include: Optional[str] = typer.Option(None, "--include", help="Undo --exclude of this photo."),
    listing: bool = typer.Option(False, "--list", help="List your corrections."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print [{category, kind, target}]."),
) -> None:
    """Correct what your photos say: remove an aspect word (--not-me), pin one (--more-of), keep a photo out of
    a category's recommendations or, with --everywhere, out of all of them (--exclude); undo each. Kept encrypted
    in your profile; forgetting a photo forgets its corrections."""
    verbs = {"--not-me": not_me, "--more-of": more_of, "--undo-word": undo_word, "--exclude": exclude,
             "--include": include, "--list": listing or None}
    given = [flag for flag, value in verbs.items() if value is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of " + ", ".join(verbs))
    if not listing and (category is None) == (not everywhere):
        raise typer.BadParameter(f"{given[0]} needs --category CATEGORY or --everywhere")
    where = "" if everywhere else category or ""
    scope = "every category" if everywhere else term(where)
    with session() as lens, reported_errors():
        if listing:
            _print(lens.corrections(), as_json)
        elif not_me is not None or more_of is not None:
            word = not_me if not_me is not None else more_of
            assert word is not None
            lens.correct_word(where, word, pinned=more_of is not None)
            said = "is not you" if not_me is not None else "is what you want more of"
            out.print(f"Noted for {scope}: {term(word)} {said}.")
        elif undo_word is not None:
            _undone(lens.uncorrect_word(where, undo_word), f"your correction of {term(undo_word)} in {scope}")
        elif exclude is not None:
            path = lens.exclude_photo(named(exclude), where)
            out.print(f"Kept out of the recommendations of {scope}: {term(path)}")
        else:
            assert include is not None
            _undone(lens.include_photo(named(include), where), f"the exclusion of {term(include)} from {scope}")


def _undone(done: bool, what: str) -> None:
    if not done:
        err.print(f"nothing to undo: {what} was not there")
        raise typer.Exit(1)
    out.print(f"Undone: {what}.")


def _print(corrections: list[tuple[str, str, str]], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps([{"category": c, "kind": k, "target": t} for c, k, t in corrections]))
        return
    if not corrections:
        out.print("No corrections yet: `visuallens taste CATEGORY --catalog FILE` shows what there is to correct.")
        return
    table = Table("category", "correction", "word or photo")
    said = {"removed": "not me", "pinned": "more of this", "excluded": "kept out"}
    for category, kind, target in corrections:
        table.add_row(term(category or "(every category)"), said[kind], term(target))
    out.print(table)


def _bar(weight: float) -> str:
    filled = round(weight * BAR)
    return "█" * filled + "·" * (BAR - filled) + f" {100 * weight:.0f}%"

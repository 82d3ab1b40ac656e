"""The two-people demo: the same questions asked of each sample person's own encrypted profile, the rankings side by
side with the evidence behind each top item, and each evidence grid saved where the user can open it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.api import unlock
from engine.home import Home
from engine.recommend.recommender import Recommendation

TOP = 5
COUNTED = 3  # the top places whose tastes the demo tallies
_TASTE_PHOTO = re.compile(r"^IMG_\d+_(.+)\.jpg$")  # how sample_people names a photo of the person's taste


@dataclass(frozen=True)
class Answer:
    """One person's ranking of one question, and how many of its top places are of each person's taste."""

    person: str
    question: str
    recommendation: Recommendation
    tally: dict[str, int]  # person -> how many of the top COUNTED items are of their taste
    evidence_photos: tuple[str, ...]  # file names of the photos in the top item's evidence cells


def ask_everyone(people: dict, root: Path, homes: dict[str, Path]) -> list[Answer]:
    """Every question of the built `people.json` (in `root`) asked of every person's profile (`homes` by name)."""
    catalog = root / people["catalog"]
    own = {p["name"]: set(p["own"]) for p in people["people"]}
    answers = []
    for question in people["questions"]:
        for person in people["people"]:
            with unlock(Home(homes[person["name"]])) as lens:
                rec = lens.recommend(question, catalog)
            top = [r.item.id for r in rec.ranked[:COUNTED]]
            tally = {name: sum(item in items for item in top) for name, items in own.items()}
            cells = rec.ranked[0].evidence.cells
            photos = tuple(Path(rec.grid_paths[c - 1]).name for c in cells)
            answers.append(Answer(person["name"], question, rec, tally, photos))
    return answers


def taste_of_photo(name: str) -> str | None:
    """The thing a sample person's photo shows when it is of their taste ('ramen'), None for everyday noise."""
    found = _TASTE_PHOTO.match(name)
    return found.group(1) if found else None


def save_grids(answers: list[Answer], folder: Path) -> list[Path]:
    """Each answer's evidence grid (the top item's cells framed) as `<person>-<question>.png` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for answer in answers:
        rec = answer.recommendation
        path = folder / f"{answer.person.lower()}-{answer.question.replace(' ', '-')}.png"
        rec.render_grid(highlight=rec.ranked[0]).save(path)
        saved.append(path)
    return saved

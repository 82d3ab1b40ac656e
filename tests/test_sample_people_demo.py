"""The demo's claim, checked honestly: two sample people with different tastes, asked the same questions, get
rankings led by their own taste, and the evidence behind each top item is photos of that taste."""

import pytest

from engine.api import initialise, unlock
from engine.home import Home
from engine.samples import load_sample_people
from export.data.people_demo import ask_everyone, save_grids, taste_of_photo
from export.data.sample_people import build_sample_people, load_people

pytestmark = pytest.mark.slow  # composes about 200 photos and indexes them into two profiles (about a minute)
PASS = "correct horse battery staple"


def test_each_persons_photos_lead_their_rankings_of_the_same_questions(home, tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    build_sample_people(root)
    built = load_people(root)
    names = [p["name"] for p in built["people"]]
    assert load_sample_people(root).names() == names  # what the desktop's "Try it with sample photos" opens
    sources = (root / "SOURCES.txt").read_text()
    for licence in ("Apache-2.0", "CC-BY-4.0", "MIT", "GPL-2"):
        assert licence in sources
    listed = {line.split("\t")[0] for line in sources.splitlines() if "\t" in line}
    assert listed >= {f"{p['folder']}/{photo}" for p in built["people"] for photo in p["taste_photos"] + p["noise_photos"]}
    homes = {}
    for person in built["people"]:
        homes[person["name"]] = home.parent / person["folder"]
        initialise(Home(homes[person["name"]]), PASS, use_keyring=False)
        with unlock(Home(homes[person["name"]]), PASS) as lens:
            assert lens.index([root / person["folder"]]).added == len(person["taste_photos"]) + len(person["noise_photos"])
    answers = ask_everyone(built, root, homes)
    assert len(answers) == len(names) * len(built["questions"]) >= 6

    for name in names:
        other = next(n for n in names if n != name)
        mine = [a for a in answers if a.person == name]
        own, theirs = sum(a.tally[name] for a in mine), sum(a.tally[other] for a in mine)
        assert own > theirs, (name, [(a.question, a.tally) for a in mine])  # over the questions, top-3 places
        for answer in mine:
            top = answer.recommendation.ranked[0].item.id
            assert top in set(next(p for p in built["people"] if p["name"] == name)["own"]), (name, answer.question, top)
            shown = [taste_of_photo(photo) for photo in answer.evidence_photos]
            assert sum(thing is not None for thing in shown) * 2 > len(shown), (name, answer.question, shown)

    grids = save_grids(answers, tmp_path_factory.mktemp("grids"))
    assert len(grids) == len(answers) and all(path.stat().st_size > 10_000 for path in grids)

"""The sample people a newcomer can try VisualLens with: where their photos are, and the profile each gets.

A sample set is a folder holding `people.json` (the people, their taste in a few words and their photo folder), a
catalog to ask them the same questions, and `SOURCES.txt` (where every picture comes from, under which licence). The
export side builds it (`visuallens-export samples people`, run by `./run demo`); the frozen app ships one. Each sample
person gets an encrypted profile of their own under the data dir's `sample-profiles/`, unlocked by a passphrase
everyone knows: such a profile holds sample photos only, and the app never adds anyone's own photos to it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from platformdirs import user_cache_dir
from pydantic import Field, ValidationError

from engine.api import VisualLens, initialise, is_initialised, unlock
from engine.home import Home, app_contents_dir
from engine.record_validation import TolerantRecord

SAMPLES_ENV = "VISUALLENS_SAMPLES"
PEOPLE_FILE = "people.json"
SHIPPED_DIR = "samples"  # a frozen app's sample set, in its contents dir beside `bundles/`
PROFILES_DIR = "sample-profiles"
SAMPLE_PASSPHRASE = "visuallens-demo"
_PLAIN_NAME = r"^[A-Za-z0-9_-][A-Za-z0-9._ -]*$"  # a file or folder right inside the set, never outside it


class SamplesError(ValueError):
    """A sample set that cannot be used; the message says what is wrong with it."""


class SamplePerson(TolerantRecord):
    """One sample person: a name, their taste in a few words, their photos' folder (relative to the set)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9 _-]*$")
    taste: str
    folder: str = Field(pattern=_PLAIN_NAME)


class _PeopleFile(TolerantRecord):
    catalog: str = Field(pattern=_PLAIN_NAME)
    questions: list[str] = Field(min_length=1)
    people: list[SamplePerson] = Field(min_length=1)


class SamplePeople:
    """A built sample set: its people, their photo folders, the catalog and the questions both are asked."""

    def __init__(self, root: Path, people: list[SamplePerson], catalog: str, questions: list[str]):
        self.root = root
        self.people = people
        self.catalog = root / catalog
        self.questions = questions

    def person(self, name: str) -> SamplePerson:
        """The person called `name` (any case)."""
        for person in self.people:
            if person.name.lower() == name.lower():
                return person
        raise SamplesError(f"no sample person called {name!r} (there are {', '.join(self.names())})")

    def names(self) -> list[str]:
        return [person.name for person in self.people]

    def photos(self, person: SamplePerson) -> Path:
        """The folder of `person`'s photos."""
        return self.root / person.folder


def default_samples_dir() -> Path:
    """`VISUALLENS_SAMPLES`; else the set a frozen app ships; else where `./run demo` builds it."""
    if os.environ.get(SAMPLES_ENV):
        return Path(os.environ[SAMPLES_ENV]).expanduser()
    contents = app_contents_dir()
    if contents is not None:
        return contents / SHIPPED_DIR
    return Path(user_cache_dir("visuallens")) / "demo" / "people"


def samples_available(root: Path | None = None) -> bool:
    """Whether a sample set is built (or shipped) at `root` (default: `default_samples_dir()`)."""
    return (Path(root or default_samples_dir()) / PEOPLE_FILE).is_file()


def load_sample_people(root: Path | None = None) -> SamplePeople:
    """The sample set at `root` (default: `default_samples_dir()`), checked: every folder and the catalog exist."""
    root = Path(root or default_samples_dir())
    try:
        parsed = _PeopleFile.model_validate_json((root / PEOPLE_FILE).read_bytes())
    except FileNotFoundError:
        raise SamplesError(f"{root}: no sample photos here (build them with `./run demo`)") from None
    except (OSError, ValidationError) as exc:
        raise SamplesError(f"{root / PEOPLE_FILE}: not a usable sample set ({exc})") from exc
    samples = SamplePeople(root, parsed.people, parsed.catalog, parsed.questions)
    missing = [str(path) for path in [samples.catalog, *map(samples.photos, samples.people)] if not path.exists()]
    if missing:
        raise SamplesError(f"the sample set at {root} is incomplete: {', '.join(missing)} missing")
    return samples


def sample_profiles_dir(home: Home) -> Path:
    """Where the sample people's profiles live: a folder of the data dir, apart from the user's own profile."""
    return home.root / PROFILES_DIR


def sample_home(home: Home, person: SamplePerson) -> Home:
    """The data dir of `person`'s sample profile (it shares the installed model bundles with every profile)."""
    return Home(sample_profiles_dir(home) / person.name.lower())


def open_sample_profile(home: Home, person: SamplePerson, bundle: str) -> VisualLens:
    """Unlock `person`'s sample profile, creating it the first time (the sample passphrase, never the keyring)."""
    target = sample_home(home, person)
    if not is_initialised(target):
        initialise(target, SAMPLE_PASSPHRASE, use_keyring=False, bundle=bundle)
    return unlock(target, SAMPLE_PASSPHRASE)


def is_sample_home(home: Home, candidate: Home) -> bool:
    """Whether `candidate` is one of `home`'s sample profiles."""
    return candidate.root.parent == sample_profiles_dir(home)


def remove_sample_profiles(home: Home) -> bool:
    """Delete every sample profile of `home` (their stores and keys); the user's own profile is not touched."""
    folder = sample_profiles_dir(home)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True

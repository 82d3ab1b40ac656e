"""Sample sets and sample profiles: a checked people.json, a profile of each person's own, removal in one call."""

from __future__ import annotations

import json

import pytest

from engine.api import initialise, is_initialised, protections, unlock
from engine.home import Home
from engine.samples import (
    SAMPLE_PASSPHRASE,
    SamplesError,
    default_samples_dir,
    is_sample_home,
    load_sample_people,
    open_sample_profile,
    remove_sample_profiles,
    sample_home,
    sample_profiles_dir,
    samples_available,
)


def test_a_sample_set_loads_with_its_people_folders_and_catalog(sample_set):
    assert default_samples_dir() == sample_set and samples_available()
    samples = load_sample_people()
    assert samples.names() == ["Ada", "Bo"] and samples.questions == ["outing"]
    assert samples.catalog == sample_set / "catalog.csv"
    assert samples.photos(samples.person("bo")) == sample_set / "bo"
    with pytest.raises(SamplesError, match="no sample person called 'Cy'"):
        samples.person("Cy")


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.update(people=[{"name": "Ada", "taste": "x", "folder": "../elsewhere"}]), "not a usable sample set"),
    (lambda p: p.update(catalog="/etc/passwd"), "not a usable sample set"),
    (lambda p: p.update(people=[]), "not a usable sample set"),
    (lambda p: p["people"][0].update(folder="missing"), "incomplete: .*missing"),
])
def test_a_damaged_or_escaping_sample_set_is_refused_with_what_is_wrong(sample_set, change, message):
    people = json.loads((sample_set / "people.json").read_text())
    change(people)
    (sample_set / "people.json").write_text(json.dumps(people))
    assert samples_available()
    with pytest.raises(SamplesError, match=message):
        load_sample_people()


def test_no_sample_set_says_how_to_build_one(tmp_path):
    assert not samples_available(tmp_path)
    with pytest.raises(SamplesError, match=r"\./run demo"):
        load_sample_people(tmp_path)


def test_each_sample_person_gets_a_passphrase_profile_beside_the_own_one_and_removal_spares_it(home, sample_set):
    own = Home(home)
    initialise(own, "own passphrase, not the sample's", use_keyring=False)
    samples = load_sample_people()
    ada, bo = samples.people
    lens = open_sample_profile(own, ada, "lite")
    try:
        assert lens.home == sample_home(own, ada) and is_sample_home(own, lens.home)
        assert lens.home.root.parent == sample_profiles_dir(own) and not is_sample_home(own, own)
        lens.include([samples.photos(ada)])
    finally:
        lens.close()
    assert protections(sample_home(own, ada)) == ["passphrase"]  # never the keyring
    again = open_sample_profile(own, ada, "lite")  # the second time it opens what the first made
    try:
        assert again.folders() == [str(samples.photos(ada))]
    finally:
        again.close()
    open_sample_profile(own, bo, "lite").close()
    unlock(sample_home(own, bo), SAMPLE_PASSPHRASE).close()
    assert remove_sample_profiles(own) and not sample_profiles_dir(own).exists()
    assert not remove_sample_profiles(own)
    assert is_initialised(own)
    unlock(own, "own passphrase, not the sample's").close()

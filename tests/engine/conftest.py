"""Fixtures of the engine tests: an unlocked profile for the API tests, an indexed data dir, a ranking's order."""

import pytest

from engine.api import initialise, unlock
from engine.home import Home
from engine.serve.token import CONFIG_ENV

PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def lens(tmp_path_factory, lite_bundle, photo_dir):
    """An unlocked profile that indexed the sample photos (module-wide: the `home` fixture, once)."""
    root = tmp_path_factory.mktemp("serve")
    (root / "bundles").mkdir()
    (root / "bundles" / "lite").symlink_to(lite_bundle, target_is_directory=True)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VISUALLENS_HOME", str(root / "home"))
        env.setenv("VISUALLENS_BUNDLES", str(root / "bundles"))
        env.setenv("VISUALLENS_PASSPHRASE", PASS)
        env.setenv(CONFIG_ENV, str(root / "config"))
        initialise(Home.default(), PASS, use_keyring=False)
        with unlock(Home.default()) as lens:
            assert lens.index([photo_dir]).added == 4
            yield lens


@pytest.fixture()
def indexed(home, photo_dir):
    """The `home` data dir with a profile that indexed the sample photos (locked again: tests unlock it)."""
    initialise(Home.default(), PASS, use_keyring=False)
    with unlock(Home.default()) as lens:
        assert lens.index([photo_dir]).added == 4
    return home


def ranking(lens, catalog):
    """([(item id, score to 5 decimals)] best first, the Recommendation) of the catalog's "outing" category."""
    rec = lens.recommend("outing", catalog)
    return [(r.item.id, round(r.score, 5)) for r in rec.ranked], rec

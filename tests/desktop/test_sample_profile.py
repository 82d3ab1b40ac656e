"""Trying VisualLens with sample photos first: offered at setup and in the File menu, clearly marked, one sample
person after another, then the user's own photos; the sample profiles removed in one click, the own one untouched."""

from __future__ import annotations

import pytest

from engine.api import initialise, is_initialised
from engine.home import Home
from engine.samples import sample_profiles_dir
from tests.desktop.conftest import PASS, screenshot, wait_indexed

pytestmark = pytest.mark.timeout(300)


def _ranked(qtbot, window) -> list[str]:
    qtbot.waitUntil(lambda: window.recommend.recommendation is not None and window.recommend.go.isEnabled(),
                    timeout=60_000)
    return [r.item.name for r in window.recommend.recommendation.ranked]


def test_setup_offers_the_samples_which_rank_for_each_person_and_removal_leads_to_setup(qtbot, window, home,
                                                                                        sample_set):
    own = Home(home)
    window.start()
    wizard = window.wizard
    assert not wizard.folders_page.samples_button.isHidden()
    screenshot(wizard, "first-run-samples-offer")
    wizard.folders_page.samples_button.click()
    assert not wizard.isVisible()
    qtbot.waitUntil(lambda: window.session.is_unlocked, timeout=30_000)
    assert window.banner.isVisible() and "Ada's photos" in window.banner.text.text()
    assert "sample profile (Ada)" in window.windowTitle()
    assert window.session.home.root == sample_profiles_dir(own) / "ada"
    assert not is_initialised(own)  # the user's own setup waits
    add_folder, settings = window._own_profile_actions
    assert not add_folder.isEnabled() and not settings.isEnabled()  # no way to add their photos to a sample
    wait_indexed(qtbot, window)
    ada = _ranked(qtbot, window)  # the first question is ranked by itself once the photos are in
    assert window.tabs.currentWidget() is window.recommend
    assert window.recommend.category.currentText() == "outing" and sorted(ada) == sorted(
        ["cat cafe", "coffee roastery", "rocket launch viewing"])
    assert window.library.model.rowCount() == 2
    assert "of Ada's photos" in window.statusBar().currentMessage()  # not "your photos": they are Ada's
    window.recommend.table.selectRow(0)
    screenshot(window, "sample-profile-ada")

    bo_button = next(b for b in window.banner._people if "Bo" in b.text())
    bo_button.click()
    qtbot.waitUntil(lambda: window.session.is_unlocked and "Bo's photos" in window.banner.text.text(),
                    timeout=30_000)
    wait_indexed(qtbot, window)
    bo = _ranked(qtbot, window)
    assert bo[0] == "rocket launch viewing" and ada[0] != bo[0]  # their photos, their rankings
    assert window.library.model.rowCount() == 2
    screenshot(window, "sample-profile-bo")

    window.banner.own_button.click()  # setting up their own photos, then thinking better of it
    qtbot.waitUntil(lambda: window.wizard is not None and window.wizard.isVisible())
    assert window.banner.isHidden() and not is_initialised(own)
    window.wizard.reject()
    qtbot.waitUntil(lambda: window.session.is_unlocked and "Bo's photos" in window.banner.text.text(),
                    timeout=30_000)  # back to the sample they were looking at, not out of the app
    assert window.isVisible()
    wait_indexed(qtbot, window)

    window.banner.remove_button.click()
    assert not sample_profiles_dir(own).exists()
    assert not window.banner.isVisible() and window.windowTitle() == "VisualLens"
    qtbot.waitUntil(lambda: window.wizard is not None and window.wizard.isVisible())
    assert not window.session.is_unlocked and window.session.home == own
    assert window.recommend.recommendation is None and window.library.model.rowCount() == 0
    assert window.recommend.grid_view.text() == "Your photos that inform the ranking appear here."


def test_without_samples_setup_offers_none_and_the_menu_is_off(window, home, monkeypatch, tmp_path):
    monkeypatch.setenv("VISUALLENS_SAMPLES", str(tmp_path / "nothing here"))
    window.start()
    assert window.wizard.folders_page.samples_button.isHidden()
    window._update_sample_actions()
    assert not window.samples_action.isEnabled() and not window.remove_samples_action.isEnabled()


def test_a_sample_opened_from_the_menu_leaves_the_own_profile_as_it_was(qtbot, window, home, pictures, sample_set):
    own = Home(home)
    initialise(own, PASS, use_keyring=False)
    window.start()
    window.runner.start([pictures])
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 4)
    assert window.banner.isHidden() and window.samples_action.isEnabled()
    window.samples_action.trigger()
    qtbot.waitUntil(lambda: window.session.is_unlocked and window.banner.isVisible(), timeout=30_000)
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2)
    assert window.remove_samples_action.isEnabled()

    window.banner.own_button.click()  # unlocked silently: VISUALLENS_PASSPHRASE, as the keyring would
    qtbot.waitUntil(lambda: window.session.is_unlocked and window.session.home == own, timeout=30_000)
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 4)
    assert window.banner.isHidden() and window._own_profile_actions[0].isEnabled()
    assert window.session.lens.folders() == [str(pictures)]
    assert sample_profiles_dir(own).exists()  # kept until removed
    window.remove_samples_action.trigger()
    assert not sample_profiles_dir(own).exists() and window.session.is_unlocked
    assert not window.remove_samples_action.isEnabled()


def test_wiping_a_sample_profile_returns_to_the_own_one(qtbot, window, home, sample_set):
    own = Home(home)
    initialise(own, PASS, use_keyring=False)
    window.start()
    window.samples_action.trigger()
    qtbot.waitUntil(lambda: window.session.is_unlocked and window.banner.isVisible(), timeout=30_000)
    wait_indexed(qtbot, window)
    _ranked(qtbot, window)
    window.recommend.recommend()  # a ranking in flight when the profile goes: it must neither fail aloud nor show
    sample = window.session.home
    window.privacy.wipe_everything()
    qtbot.waitUntil(lambda: window.session.is_unlocked and window.session.home == own, timeout=30_000)
    assert window.banner.isHidden() and not is_initialised(sample) and is_initialised(own)
    assert window.recommend.recommendation is None and window.recommend.go.isEnabled()  # no error, nothing stale

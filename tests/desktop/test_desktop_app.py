"""The desktop app driven offscreen through the real engine: setup, unlock, index, search, recommend, privacy."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer

from engine.api import initialise
from engine.home import Home
from tests.desktop.conftest import PASS, screenshot, wait_indexed

pytestmark = pytest.mark.timeout(300)


def _set_up(qtbot, window, folder: Path) -> None:
    """Walk the first-run wizard: one folder, a passphrase, the lite bundle on the CPU."""
    window.start()
    wizard = window.wizard
    assert wizard is not None and wizard.isVisible()
    assert not wizard.folders_page.isComplete()
    wizard.folders_page.folders.add(folder)
    assert wizard.folders_page.isComplete()
    wizard.next()
    protection = wizard.protection_page
    assert not protection.keyring.isEnabled() and protection.passphrase_mode.isChecked()  # tests have no keyring
    protection.passphrase.setText("abc")
    assert not protection.isComplete() and protection.meter.format() == "very weak"
    protection.passphrase.setText(PASS)
    protection.confirm.setText(PASS + "!")
    assert not protection.isComplete() and "differ" in protection.match.text()
    protection.confirm.setText(PASS)
    assert protection.isComplete() and protection.meter.value() >= 3
    screenshot(wizard, "first-run-protection")
    wizard.next()
    assert wizard.model_page.choice.bundle_name() == "lite"
    assert "CPU" in wizard.model_page.choice.provider_info.text()
    screenshot(wizard, "first-run-models")
    wizard.accept()
    wait_indexed(qtbot, window)


def test_first_run_sets_up_an_encrypted_profile_and_indexes_the_folder(qtbot, window, home, pictures):
    (pictures / "broken.jpg").write_bytes(b"not a photo at all")
    _set_up(qtbot, window, pictures)
    failures = window.library.index_panel.failures
    assert failures.isVisibleTo(window) and failures.count() == 1 and "broken.jpg" in failures.item(0).text()
    assert "1 file(s) could not be read" in window.library.index_panel.label.text()
    assert (home / "keys.json").exists() and (home / "profile.db").exists()
    assert window.session.lens.store.count() == 4
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 4)
    assert "4 added" in window.library.index_panel.label.text()
    assert window.photos_label.text() == "4 photos"
    assert "runs on the CPU" in window.engine_label.text()
    qtbot.waitUntil(lambda: all(window.thumbnails.get(p) is not None for p in window.library.model.paths()))
    screenshot(window, "library")


def test_wrong_passphrase_is_refused_without_changing_anything(qtbot, window, home, monkeypatch):
    initialise(Home(home), PASS, use_keyring=False)
    monkeypatch.delenv("VISUALLENS_PASSPHRASE")
    keys_before = (home / "keys.json").read_bytes()
    window.start()
    dialog = window.unlock_dialog
    assert dialog is not None and dialog.isVisible() and not window.session.is_unlocked
    dialog.passphrase.setText("not my passphrase")
    dialog.unlock_button.click()
    assert "not right" in dialog.message.text() and dialog.isVisible()
    assert (home / "keys.json").read_bytes() == keys_before and not window.session.is_unlocked
    screenshot(dialog, "unlock-wrong-passphrase")
    dialog.passphrase.setText(PASS)
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: window.session.is_unlocked)
    assert not dialog.isVisible()


@pytest.fixture()
def ready(qtbot, window, home, pictures):
    """A window unlocked with the keyring-less passphrase from the environment, library indexed."""
    initialise(Home(home), PASS, use_keyring=False)
    window.start()
    assert window.unlock_dialog is None  # VISUALLENS_PASSPHRASE unlocks silently, as the keyring would
    window.runner.start([pictures])
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 4)
    return window


def test_search_shows_the_best_matching_photos_first(qtbot, ready):
    library = ready.library
    library.search_box.setText("a cat")
    with qtbot.waitSignal(library.search_done, timeout=30_000) as hits:
        library.search()
    assert hits.args == [4]
    assert Path(library.model.paths()[0]).name == "chelsea.png"
    assert "best matches" in library.summary.text()
    library.search_box.clear()
    assert library.model.rowCount() == 4


def test_recommend_ranks_with_evidence_and_exports(qtbot, ready, catalog, tmp_path, monkeypatch):
    view = ready.recommend
    ready.tabs.setCurrentWidget(view)
    assert view.open_catalog(catalog)
    assert view.category.currentText() == "outing"
    view.query.setText("a cat")
    with qtbot.waitSignal(view.ranked, timeout=60_000) as ranked:
        view.recommend()
    rec = ranked.args[0]
    assert view.table.rowCount() == 3
    assert [view.table.item(row, 0).text() for row in range(3)] == ["1", "2", "3"]
    assert view.table.item(0, 1).text() == rec.ranked[0].item.name == "cat cafe"
    assert not view.grid_view.picture().isNull() and view.grid_view.picture().width() > 400
    assert "Aspect words" in view.why.text() and "cat cafe" in view.why.text()
    view.table.selectRow(2)
    assert rec.ranked[2].item.name in view.why.text()
    screenshot(ready, "recommend")

    for suffix in (".csv", ".json"):
        target = tmp_path / f"ranking{suffix}"
        monkeypatch.setattr("desktop.recommend_view.QFileDialog.getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        view.export()
        text = target.read_text()
        assert str(ready.library.model.paths()[0]) not in text  # rankings never carry the user's photo paths
    rows = list(csv.DictReader((tmp_path / "ranking.csv").open()))
    assert [r["name"] for r in rows][0] == "cat cafe" and {r["rank"] for r in rows} == {"1", "2", "3"}
    exported = json.loads((tmp_path / "ranking.json").read_text())
    assert exported["category"] == "outing" and len(exported["items"]) == 3


def test_feedback_moves_the_item_says_why_and_undo_restores_the_ranking(qtbot, ready, catalog):
    view = ready.recommend
    ready.tabs.setCurrentWidget(view)
    assert view.open_catalog(catalog)
    with qtbot.waitSignal(view.ranked, timeout=60_000) as ranked:
        view.recommend()
    before = [(r.item.id, round(r.score, 5)) for r in ranked.args[0].ranked]
    assert not view.undo_button.isEnabled()  # nothing judged yet
    view.table.selectRow(2)
    last = ranked.args[0].ranked[2].item
    with qtbot.waitSignal(view.ranked, timeout=60_000) as liked:
        view.like_button.click()
    moved = next(r for r in liked.args[0].ranked if r.item.id == last.id)
    assert moved.rank < 3 and moved.evidence.feedback is not None
    row = moved.rank - 1
    assert view.table.selectionModel().selectedRows()[0].row() == row  # the judged item stays selected
    assert view.table.item(row, 5).text() == "liked" and "You liked this" in view.why.text()
    assert view.undo_button.isEnabled()
    screenshot(ready, "recommend-feedback")
    with qtbot.waitSignal(view.ranked, timeout=60_000) as undone:
        view.undo_button.click()
    assert [(r.item.id, round(r.score, 5)) for r in undone.args[0].ranked] == before
    assert not view.undo_button.isEnabled() and "You liked" not in view.why.text()
    assert ready.session.lens.judgements() == []


def _scores(rec):
    return [(r.item.id, round(r.score, 5)) for r in rec.ranked]


def test_your_taste_shows_the_words_and_its_corrections_change_the_ranking(qtbot, ready, catalog):
    view, taste = ready.recommend, ready.taste
    ready.tabs.setCurrentWidget(view)
    assert view.open_catalog(catalog)
    with qtbot.waitSignal(view.ranked, timeout=60_000) as ranked:
        view.recommend()
    before = _scores(ranked.args[0])
    with qtbot.waitSignal(taste.shown, timeout=60_000) as shown:
        ready.tabs.setCurrentWidget(taste)  # opens on the category Recommend shows
    found = shown.args[0]
    assert found.category == "outing" and taste.words.rowCount() == len(found.words) > 0
    assert taste.photos.count() == len(found.grid_paths)  # no word chosen: every photo that informs the category
    taste.words.selectRow(0)
    word = found.words[0]
    assert taste.photos.count() == len(word.photos) and f"“{word.word}”" in taste.photos_title.text()
    assert taste.not_me.isEnabled() and not taste.undo_word.isEnabled()
    screenshot(ready, "taste")

    with qtbot.waitSignals([view.ranked, taste.shown], timeout=60_000):
        taste.not_me.click()
    rec = view.recommendation
    assert word.word not in rec.profile_aspects and _scores(rec) != before  # the next ranking changed
    row = [w.word for w in taste.taste.words].index(word.word)
    assert taste.words.item(row, 3).text() == "not me" and taste.undo_word.isEnabled()
    screenshot(ready, "taste-not-me")
    with qtbot.waitSignals([view.ranked, taste.shown], timeout=60_000):
        taste.undo_word.click()
    assert _scores(view.recommendation) == before  # undo restores it

    taste.words.clearSelection()
    taste.photos.setCurrentRow(0)
    photo = taste.photos.item(0).data(Qt.ItemDataRole.UserRole)
    with qtbot.waitSignals([view.ranked, taste.shown], timeout=60_000):
        taste.keep_out_all.click()
    assert photo not in view.recommendation.grid_paths and taste.taste.excluded == [photo]
    kept_out = [taste.photos.item(i) for i in range(taste.photos.count())][-1]
    assert kept_out.data(Qt.ItemDataRole.UserRole) == photo and "kept out" in kept_out.text()
    taste.photos.setCurrentItem(kept_out)
    assert taste.let_in.isEnabled() and not taste.keep_out.isEnabled()
    with qtbot.waitSignals([view.ranked, taste.shown], timeout=60_000):
        taste.let_in.click()
    assert _scores(view.recommendation) == before and taste.taste.excluded == []
    assert ready.session.lens.corrections() == []


def test_forget_a_folder_a_subfolder_and_photos_for_good(qtbot, ready, pictures, home):
    privacy = ready.privacy
    ready.tabs.setCurrentWidget(privacy)
    assert [privacy.folders.item(i).text() for i in range(privacy.folders.count())] == [str(pictures.resolve())]
    assert "AES-256" in privacy.location.text() and str(home / "profile.db") in privacy.location.text()
    screenshot(ready, "privacy")

    sub = pictures / "private"
    sub.mkdir()
    (pictures / "rocket.jpg").rename(sub / "rocket.jpg")
    ready.runner.start()
    wait_indexed(qtbot, ready)
    assert ready.session.lens.store.count() == 4
    assert privacy.forget(sub) == 1
    assert ready.session.lens.store.count() == 3 and ready.library.model.rowCount() == 3
    assert privacy.excluded.count() == 1

    library = ready.library
    library.grid.selectionModel().select(library.model.index(0), QItemSelectionModel.SelectionFlag.Select)
    assert library.forget_selected() == 1 and ready.session.lens.store.count() == 2  # the Delete key / context menu
    assert privacy.excluded.count() == 2
    ready.runner.start()  # Index now: what was forgotten stays out
    wait_indexed(qtbot, ready)
    assert ready.session.lens.store.count() == 2

    lifted = []
    ready.runner.lifted.connect(lifted.append)
    ready.runner.start([sub])  # Add photo folder: the forgotten subfolder comes back
    wait_indexed(qtbot, ready)
    assert lifted == [[str(sub.resolve())]] and ready.session.lens.store.count() == 3
    assert privacy.excluded.count() == 1
    assert privacy.forget(pictures) == 3
    assert ready.session.lens.store.count() == 0 and ready.library.model.rowCount() == 0
    assert privacy.folders.count() == 0 and ready.photos_label.text() == "0 photos"


def test_wipe_deletes_the_profile_and_returns_to_setup(qtbot, ready, home):
    ready.privacy.wipe_everything()
    assert not (home / "profile.db").exists() and not (home / "keys.json").exists()
    assert not ready.session.is_unlocked and not ready.tabs.isEnabled()
    qtbot.waitUntil(lambda: ready.wizard is not None and ready.wizard.isVisible())


@pytest.mark.slow  # indexes 64 photos: not in `./run test fast`
def test_the_event_loop_keeps_running_while_indexing(qtbot, window, home, many_photos):
    initialise(Home(home), PASS, use_keyring=False)
    window.start()
    ticks, progress = [], []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.runner.running))
    window.runner.progressed.connect(progress.append)
    timer.start(10)
    window.runner.start([many_photos])
    wait_indexed(qtbot, window)
    timer.stop()
    assert window.session.lens.store.count() == 64
    assert sum(ticks) >= 10  # the timer kept firing while the worker indexed
    assert len(progress) >= 4 and progress[-1].done == progress[-1].total == 64


@pytest.mark.slow  # indexes 64 photos: not in `./run test fast`
def test_pause_holds_indexing_and_resume_finishes_it(qtbot, window, home, many_photos):
    initialise(Home(home), PASS, use_keyring=False)
    window.start()
    panel = window.library.index_panel
    window.runner.start([many_photos])
    with qtbot.waitSignal(window.runner.holding, timeout=60_000):
        panel.pause_button.click()
        assert window.runner.paused and panel.pause_button.text() == "Resume"
    held = window.session.lens.store.count()
    qtbot.wait(500)
    assert window.runner.running and window.session.lens.store.count() == held < 64
    assert panel.label.text().endswith("(paused)")
    panel.pause_button.click()
    wait_indexed(qtbot, window)
    assert window.session.lens.store.count() == 64


def test_settings_change_provider_and_threads_and_keep_them(qtbot, ready, home):
    from desktop.settings_dialog import SettingsDialog

    lens = ready.session.lens
    dialog = SettingsDialog(ready.session.home, lens.settings, lens.store.folders(), ready)
    qtbot.addWidget(dialog)
    assert dialog.models.bundle_name() == "lite" and "lite" in dialog.models.bundle_info.text()
    dialog.models.provider.setCurrentIndex(dialog.models.provider.findData("cpu"))
    dialog.threads.setValue(2)
    screenshot(dialog, "settings")
    ready.apply_settings(dialog.settings(), dialog.folders.folders())
    saved = json.loads((home / "settings.json").read_text())
    assert saved["provider"] == "cpu" and saved["threads"] == 2
    assert ready.session.lens.settings.threads == 2 and ready.session.lens.store.count() == 4


def test_main_starts_the_window_and_quits(qtbot, home, monkeypatch):
    from desktop import app as desktop_app

    shown = []
    monkeypatch.setattr(desktop_app.MainWindow, "start", lambda self: (shown.append(self.isVisible()),
                                                                       QTimer.singleShot(0, self.close)))
    QTimer.singleShot(0, lambda: None)
    assert desktop_app.main([]) == 0 and shown == [True]


def test_about_lists_the_versions_of_what_runs(ready):
    from desktop.about import versions

    info = versions(ready.session)
    assert {"VisualLens", "Qt", "PySide6", "ONNX Runtime", "Model bundle", "Runs on"} <= set(info)
    assert info["Runs on"] == "CPUExecutionProvider" and info["Model bundle"].startswith("lite ")


def test_new_renamed_and_deleted_photos_show_up_by_themselves(qtbot, ready, pictures, photo_dir):
    from PIL import Image

    assert ready.live.folders == (pictures.resolve(),)
    ready.live.quiet_seconds = 0.5  # not the app's 2 s: three bursts settle sooner; the watcher tests cover the wait
    ready.live.stop()
    ready.live.follow()
    assert ready.live.folders == (pictures.resolve(),)
    Image.open(photo_dir / "coffee.jpg").rotate(180).save(pictures / "new.jpg")
    qtbot.waitUntil(lambda: ready.library.model.rowCount() == 5, timeout=60_000)
    (pictures / "new.jpg").rename(pictures / "renamed.jpg")
    qtbot.waitUntil(lambda: any(p.endswith("renamed.jpg") for p in ready.library.model.paths()), timeout=60_000)
    assert ready.library.model.rowCount() == 5
    (pictures / "renamed.jpg").unlink()
    qtbot.waitUntil(lambda: ready.library.model.rowCount() == 4, timeout=60_000)
    assert ready.session.lens.store.count() == 4


@pytest.mark.slow  # indexes 64 photos: not in `./run test fast`
def test_a_fuller_library_fills_the_grid_and_the_evidence(qtbot, window, home, many_photos, catalog):
    initialise(Home(home), PASS, use_keyring=False)
    window.start()
    window.runner.start([many_photos])
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 64)
    qtbot.waitUntil(lambda: all(window.thumbnails.get(p) is not None for p in window.library.model.paths()[:24]),
                    timeout=30_000)
    screenshot(window, "library-64")
    view = window.recommend
    window.tabs.setCurrentWidget(view)
    view.open_catalog(catalog)
    with qtbot.waitSignal(view.ranked, timeout=60_000) as ranked:
        view.recommend()
    rec = ranked.args[0]
    assert len(rec.grid_paths) == 64 and all(1 <= c <= 64 for r in rec.ranked for c in r.evidence.cells)
    screenshot(window, "recommend-64")

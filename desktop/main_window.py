"""The main window: Library, Recommend, Your taste and Privacy tabs, menus with shortcuts, a status bar; startup,
setup, and the sample profiles a newcomer can try first."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from desktop.about import show_about
from desktop.first_run import FirstRunWizard, SetupChoices
from desktop.icons import app_icon, standard_icon
from desktop.indexing import IndexRunner
from desktop.library_view import LibraryView
from desktop.live_watch import LiveWatch
from desktop.privacy_view import PrivacyView
from desktop.recommend_view import RecommendView
from desktop.sample_banner import SampleBanner
from desktop.session import Session
from desktop.settings_dialog import SettingsDialog
from desktop.tasks import run_task, wait_for_tasks
from desktop.taste_view import TasteView
from desktop.thumbnails import ThumbnailCache
from desktop.unlock_dialog import UnlockDialog
from engine.api import VisualLens, initialise, unlock
from engine.home import Home, Settings
from engine.profile.keys import PassphraseRequiredError, WrongPassphraseError, keyring_available
from engine.samples import (
    SamplePeople,
    SamplePerson,
    SamplesError,
    load_sample_people,
    open_sample_profile,
    remove_sample_profiles,
    sample_home,
    sample_profiles_dir,
    samples_available,
)

SAMPLES_CHOSEN = 2  # the wizard's result when the user would rather try the sample photos first
PROVIDER_NAMES = {"CPUExecutionProvider": "runs on the CPU", "CUDAExecutionProvider": "runs on the GPU (CUDA)"}


class MainWindow(QMainWindow):
    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.own_home = session.home  # the user's own profile; a sample profile is opened beside it, never in it
        self.samples: SamplePeople | None = None  # while a sample profile is open
        self._last_sample: str | None = None  # the sample person shown last, to go back to from a cancelled setup
        self._rank_when_indexed = False  # a sample profile just opened: rank its first question once indexed
        self.setWindowTitle("VisualLens")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(900, 600))
        self.resize(1280, 820)
        self.thumbnails = ThumbnailCache()
        self.runner = IndexRunner(session)
        self.live = LiveWatch(session, self.runner)
        self.library = LibraryView(session, self.runner, self.thumbnails)
        self.recommend = RecommendView(session)
        self.taste = TasteView(session)
        self.privacy = PrivacyView(session)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library, standard_icon("SP_DirIcon"), "Library")
        self.tabs.addTab(self.recommend, standard_icon("SP_DialogYesButton"), "Recommend")
        self.tabs.addTab(self.taste, standard_icon("SP_FileDialogInfoView"), "Your taste")
        self.tabs.addTab(self.privacy, standard_icon("SP_VistaShield"), "Privacy")
        self.banner = SampleBanner()
        self.banner.person_chosen.connect(self.try_samples)
        self.banner.own_photos_chosen.connect(self.use_own_photos)
        self.banner.remove_chosen.connect(self.remove_samples)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.photos_label = QLabel()
        self.engine_label = QLabel()
        self.statusBar().addPermanentWidget(self.photos_label)
        self.statusBar().addPermanentWidget(self.engine_label)
        self.wizard: FirstRunWizard | None = None
        self.unlock_dialog: UnlockDialog | None = None
        self._build_menus()
        for view in (self.recommend, self.taste, self.privacy):
            view.status.connect(self.show_message)
        self.recommend.catalog_opened.connect(lambda catalog: self.taste.set_catalog(
            catalog, self.recommend.category.currentText()))
        self.taste.corrected.connect(self.recommend.rank_again)
        self.tabs.currentChanged.connect(self._entered_tab)
        self.runner.finished.connect(lambda report: self.show_message(f"Indexing done in {report.seconds:.0f} s"))
        self.runner.finished.connect(self._rank_sample_question)
        self.runner.failed.connect(self.show_message)
        self.runner.lifted.connect(lambda paths: self.show_message(f"Indexing again what you had forgotten: "
                                                                   f"{', '.join(paths)}"))
        self._statuses = 0  # numbers the status updates: one read in a worker is shown only if still the latest
        session.unlocked.connect(self._update_status_in_background)
        for signal in (session.library_changed, session.settings_changed):
            signal.connect(self._update_status)
        session.wiped.connect(self._after_wipe)
        self._set_enabled(False)

    # -- startup --------------------------------------------------------------------------------------
    def start(self) -> None:
        """First run: the setup wizard. Later: unlock with the keyring silently, else ask for the passphrase."""
        if not self.session.initialised:
            self._show_wizard()
            return
        try:
            lens = unlock(self.session.home)
        except (PassphraseRequiredError, WrongPassphraseError):
            self._ask_passphrase()
            return
        except Exception as exc:  # noqa: BLE001 - e.g. keyring failure: the passphrase may still work
            self._ask_passphrase(str(exc))
            return
        self._unlocked(lens)

    def _show_wizard(self) -> None:
        self.wizard = FirstRunWizard(self.session.home, keyring_available(), samples_available(), self)
        self.wizard.accepted.connect(lambda: self._finish_setup(self.wizard.choices()))
        self.wizard.rejected.connect(self._wizard_cancelled)
        self.wizard.samples_requested.connect(self._wizard_chose_samples)
        self.wizard.open()

    def _wizard_cancelled(self) -> None:
        """Cancelling the setup quits, unless the user came from a sample profile: then it opens again."""
        if self._last_sample is not None and sample_profiles_dir(self.own_home).exists():
            self.try_samples(self._last_sample)
        else:
            self.close()

    def _wizard_chose_samples(self) -> None:
        self.wizard.done(SAMPLES_CHOSEN)  # neither accepted nor rejected: the own profile's setup waits
        self.try_samples()

    def _finish_setup(self, choices: SetupChoices) -> None:
        home = self.session.home
        self.show_message("Creating your encrypted profile…")

        def work(_) -> VisualLens:
            initialise(home, choices.passphrase, choices.use_keyring, choices.bundle)
            settings = home.load_settings()
            settings.provider = choices.provider
            home.save_settings(settings)
            lens = unlock(home, choices.passphrase)
            lens.warm_up()
            return lens

        run_task(work, done=lambda lens: self._unlocked(lens, choices.folders), failed=self._setup_failed)

    def _setup_failed(self, exc: BaseException) -> None:
        QMessageBox.critical(self, "Setup failed", str(exc))
        self._show_wizard()

    def _ask_passphrase(self, reason: str = "") -> None:
        self.unlock_dialog = UnlockDialog(lambda passphrase: unlock(self.session.home, passphrase), self)
        self.unlock_dialog.message.setText(reason)
        self.unlock_dialog.accepted.connect(lambda: self._unlocked(self.unlock_dialog.lens))
        self.unlock_dialog.rejected.connect(self.close)
        self.unlock_dialog.open()

    def _unlocked(self, lens: VisualLens, new_folders: list[str] | None = None) -> None:
        self.session.attach(lens)
        self._set_enabled(True)
        self.runner.start(new_folders)  # the first run indexes the chosen folders; later runs catch up with the disk

    # -- sample profiles ------------------------------------------------------------------------------
    def try_samples(self, name: str | None = None) -> None:
        """Open a sample person's profile (the first, unless named) and index their photos into it; the user's own
        profile is closed meanwhile, untouched."""
        try:
            samples = load_sample_people()
            person = samples.person(name) if name else samples.people[0]
        except SamplesError as exc:
            QMessageBox.warning(self, "No sample photos", str(exc))
            return
        self._close_profile(sample_home(self.own_home, person))
        self.samples, self._last_sample = samples, person.name
        self.banner.show_person(samples, person)
        self.recommend.set_owner(f"{person.name}'s")
        self.setWindowTitle(f"VisualLens: sample profile ({person.name})")
        self.show_message(f"Opening {person.name}'s sample profile…")
        own, bundle = self.own_home, self.own_home.load_settings().bundle
        run_task(lambda _: open_sample_profile(own, person, bundle),
                 done=lambda lens: self._sample_opened(lens, samples, person), failed=self._sample_failed)

    def use_own_photos(self) -> None:
        """Leave the sample profile for the user's own: set it up on first use, else unlock it."""
        self._close_profile(self.own_home)
        self.samples = None
        self.banner.hide()
        self.recommend.set_owner("your")
        self.setWindowTitle("VisualLens")
        self._update_sample_actions()
        self.start()

    def remove_samples(self) -> None:
        """Delete every sample profile (leaving one that is open for the user's own first)."""
        if self.samples is not None:
            self.use_own_photos()
        removed = remove_sample_profiles(self.own_home)
        self._update_sample_actions()
        self.show_message("The sample profiles were removed." if removed else "There were no sample profiles.")

    def _sample_opened(self, lens: VisualLens, samples: SamplePeople, person: SamplePerson) -> None:
        if self.samples is not samples or self.session.home != lens.home:
            lens.close()  # the user moved on while it opened
            return
        self._unlocked(lens, [str(samples.photos(person))])
        self._update_sample_actions()
        self.recommend.open_catalog(samples.catalog)
        self.recommend.category.setCurrentText(samples.questions[0])
        self.tabs.setCurrentWidget(self.library)
        self._rank_when_indexed = True

    def _sample_failed(self, exc: BaseException) -> None:
        QMessageBox.critical(self, "Could not open the sample profile", str(exc))
        self.use_own_photos()

    def _rank_sample_question(self) -> None:
        """Once a sample person's photos are indexed, show the ranking of the first question they are asked."""
        if self._rank_when_indexed and self.samples is not None:
            self._rank_when_indexed = False
            self.tabs.setCurrentWidget(self.recommend)
            self.recommend.recommend()

    def _close_profile(self, then: Home) -> None:
        """Stop what the open profile runs, close it, and serve `then` (locked until it is unlocked)."""
        self._rank_when_indexed = False
        self.live.stop()
        self.runner.stop()
        self.thumbnails.wait(5000)
        wait_for_tasks()
        self.session.switch(then)
        self.thumbnails.clear()
        self.photos_label.clear()
        self.engine_label.clear()
        self._set_enabled(False)

    def _update_sample_actions(self) -> None:
        self.samples_action.setEnabled(samples_available())
        self.remove_samples_action.setEnabled(sample_profiles_dir(self.own_home).exists())

    # -- actions --------------------------------------------------------------------------------------
    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder", str(Path.home()))
        if folder:
            self.runner.start([folder])

    def open_settings(self) -> None:
        lens = self.session.lens
        dialog = SettingsDialog(self.session.home, lens.settings, lens.folders(), self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.settings(), dialog.folders.folders()))
        dialog.open()

    def apply_settings(self, settings: Settings, folders: list[str]) -> None:
        old = self.session.lens
        bundle_changed = settings.bundle != old.settings.bundle
        for folder in set(old.folders()) - set(folders):
            old.forget(folder)
        added = [f for f in folders if f not in old.folders()]
        self.session.apply_settings(settings)
        self.session.library_changed.emit()
        if added:
            self.runner.start(added)
        if bundle_changed:
            self.runner.start()  # every folder, re-encoded with the new bundle

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.live.stop()
        self.runner.cancel()
        self.thumbnails.wait(5000)
        wait_for_tasks()
        self.session.close()
        super().closeEvent(event)

    # -- helpers --------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        def action(menu, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        add_folder = action(file_menu, "&Add photo folder…", self.add_folder, "Ctrl+O")
        self._profile_actions = [
            action(file_menu, "Open &catalog…", self.recommend.choose_catalog, "Ctrl+Shift+O"),
            action(file_menu, "&Export ranking…", self.recommend.export, "Ctrl+E"),
        ]
        settings = action(file_menu, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        self._own_profile_actions = [add_folder, settings]  # never in a sample profile: no place for the user's photos
        file_menu.addSeparator()
        self.samples_action = action(file_menu, "Try it with sample &photos", lambda: self.try_samples())
        self.remove_samples_action = action(file_menu, "Remove sample profiles", self.remove_samples)
        self._update_sample_actions()
        file_menu.addSeparator()
        action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        for number, name in enumerate(("&Library", "&Recommend", "Your &taste", "&Privacy")):
            action(view_menu, name, lambda _=False, n=number: self.tabs.setCurrentIndex(n), f"Ctrl+{number + 1}")
        library_menu = self.menuBar().addMenu("&Library")
        self._profile_actions += [
            action(library_menu, "&Index now", lambda: self.runner.start(), "F5"),
            action(library_menu, "&Pause or resume indexing", self._toggle_pause, "Ctrl+P"),
            action(library_menu, "&Search photos", self._focus_search, QKeySequence.StandardKey.Find),
        ]
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "&About VisualLens", lambda: show_about(self, self.session))

    def _entered_tab(self, _: int) -> None:
        """Your taste opens on the category the Recommend tab shows."""
        if self.tabs.currentWidget() is self.taste and self.taste.catalog is not None:
            shown = self.recommend.category.currentText()
            if shown and (shown != self.taste.category.currentText() or self.taste.taste is None):
                self.taste.category.setCurrentText(shown)
                self.taste.show_taste()

    def _toggle_pause(self) -> None:
        if self.runner.running:
            (self.runner.resume if self.runner.paused else self.runner.pause)()

    def _focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.library)
        self.library.search_box.setFocus()

    def _set_enabled(self, unlocked: bool) -> None:
        self.tabs.setEnabled(unlocked)
        for act in self._profile_actions:
            act.setEnabled(unlocked)
        for act in self._own_profile_actions:
            act.setEnabled(unlocked and self.samples is None)

    def _update_status(self) -> None:
        if not self.session.is_unlocked:
            return
        self._statuses += 1
        self._show_status(self.session.lens.status())

    def _update_status_in_background(self) -> None:
        """At unlock, `status()` opens the image encoder to name where it runs (~0.3 s): not before the first paint."""
        self._statuses += 1
        lens, number = self.session.lens, self._statuses
        run_task(lambda _: (number, lens.status()), done=self._on_status, failed=self._on_status_failed)

    def _on_status(self, result: tuple[int, dict]) -> None:
        number, status = result
        if number == self._statuses and self.session.is_unlocked:
            self._show_status(status)

    def _on_status_failed(self, exc: BaseException) -> None:
        self.show_message(f"Could not read the profile's status: {exc}")

    def _show_status(self, status: dict) -> None:
        self.photos_label.setText(f"{status['photos']} photos")
        where = PROVIDER_NAMES.get(status.get("execution_provider", ""), status.get("bundle_error", "unknown"))
        self.engine_label.setText(f"Model bundle {status['bundle']} · {where}")

    def _after_wipe(self) -> None:
        self._set_enabled(False)
        self.photos_label.clear()
        self.engine_label.clear()
        self.thumbnails.clear()
        if self.samples is not None:  # a sample profile was wiped: back to the user's own
            self.use_own_photos()
            return
        self._show_wizard()

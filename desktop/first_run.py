"""First run: choose photo folders, how the profile is protected, and see which models will run where."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from desktop.folder_list import FolderList
from desktop.model_choice import ModelChoice
from desktop.passphrase_strength import passphrase_strength
from desktop.widgets import button, button_row
from engine.home import Home


@dataclass(frozen=True)
class SetupChoices:
    folders: list[str]
    passphrase: str | None
    use_keyring: bool
    bundle: str
    provider: str


class FoldersPage(QWizardPage):
    samples_requested = Signal()

    def __init__(self, offer_samples: bool):
        super().__init__()
        self.setTitle("Your photos")
        self.setSubTitle("Choose the folders VisualLens learns from. It reads them; it never changes or uploads them.")
        self.folders = FolderList(add_text="Add photo folder…")
        self.folders.changed.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folders)
        self.samples_button = button("Try it with sample photos first",
                                     "Open a sample profile of someone else's photos; your own setup waits until you "
                                     "choose it", self.samples_requested.emit)
        self.samples_button.setVisible(offer_samples)
        layout.addLayout(button_row(self.samples_button,
                                    label="Not ready to point it at your photos?" if offer_samples else ""))

    def isComplete(self) -> bool:
        return bool(self.folders.folders())


class ProtectionPage(QWizardPage):
    def __init__(self, keyring_works: bool):
        super().__init__()
        self.setTitle("Protect your profile")
        self.setSubTitle("What VisualLens learns is stored encrypted. Choose what unlocks it.")
        self.keyring = QRadioButton("The system keyring: unlocks by itself when you log in")
        self.passphrase_mode = QRadioButton("A passphrase I type when VisualLens starts")
        group = QButtonGroup(self)
        group.addButton(self.keyring)
        group.addButton(self.passphrase_mode)
        self.keyring.setEnabled(keyring_works)
        if not keyring_works:
            self.keyring.setText(self.keyring.text() + " (no working keyring on this system)")
        (self.keyring if keyring_works else self.passphrase_mode).setChecked(True)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.meter = QProgressBar()
        self.meter.setRange(0, 4)
        self.meter.setTextVisible(True)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.match = QLabel()
        form = QFormLayout()
        form.addRow("Passphrase", self.passphrase)
        form.addRow("Strength", self.meter)
        form.addRow("", self.hint)
        form.addRow("Confirm", self.confirm)
        form.addRow("", self.match)
        layout = QVBoxLayout(self)
        layout.addWidget(self.keyring)
        layout.addWidget(self.passphrase_mode)
        layout.addLayout(form)
        warning = QLabel("There is no way to recover a forgotten passphrase: the profile would have to be rebuilt "
                         "from your photos.")
        warning.setWordWrap(True)
        layout.addWidget(warning)
        for signal in (self.passphrase.textChanged, self.confirm.textChanged, self.passphrase_mode.toggled):
            signal.connect(self._update)
        self._update()

    def chosen_passphrase(self) -> str | None:
        return self.passphrase.text() if self.passphrase_mode.isChecked() else None

    def _update(self) -> None:
        use_passphrase = self.passphrase_mode.isChecked()
        for widget in (self.passphrase, self.confirm, self.meter, self.hint, self.match):
            widget.setEnabled(use_passphrase)
        strength = passphrase_strength(self.passphrase.text())
        self.meter.setValue(strength.score)
        self.meter.setFormat(strength.label)
        self.hint.setText(strength.hint)
        matches = self.passphrase.text() == self.confirm.text()
        self.match.setText("" if matches or not self.confirm.text() else "The two passphrases differ.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if not self.passphrase_mode.isChecked():
            return True
        text = self.passphrase.text()
        return passphrase_strength(text).acceptable and text == self.confirm.text()


class ModelPage(QWizardPage):
    def __init__(self, home: Home):
        super().__init__()
        self.setTitle("Models")
        self.setSubTitle("Every model runs on this computer.")
        self.choice = ModelChoice(home)
        self.choice.add_rows(QFormLayout(self))

    def isComplete(self) -> bool:
        return self.choice.bundle.count() > 0


class FirstRunWizard(QWizard):
    """The setup of the user's own profile; `samples_requested` when they would rather try sample photos first."""

    def __init__(self, home: Home, keyring_works: bool, offer_samples: bool = False, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Welcome to VisualLens")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.folders_page = FoldersPage(offer_samples)
        self.samples_requested = self.folders_page.samples_requested
        self.protection_page = ProtectionPage(keyring_works)
        self.model_page = ModelPage(home)
        for page in (self.folders_page, self.protection_page, self.model_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Start")
        self.resize(720, 560)

    def choices(self) -> SetupChoices:
        passphrase = self.protection_page.chosen_passphrase()
        return SetupChoices(
            folders=self.folders_page.folders.folders(),
            passphrase=passphrase,
            use_keyring=passphrase is None,
            bundle=self.model_page.choice.bundle_name(),
            provider=self.model_page.choice.provider_key(),
        )

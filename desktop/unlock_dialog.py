"""Asks for the passphrase; a wrong one says so and offers nothing destructive."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout

from engine.api import VisualLens
from engine.profile.keys import WrongPassphraseError
from engine.profile.store import WrongKeyError


class UnlockDialog(QDialog):
    """Calls `open_profile(passphrase)` on Unlock; keeps asking while the passphrase is wrong."""

    def __init__(self, open_profile: Callable[[str], VisualLens], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Unlock VisualLens")
        self.open_profile = open_profile
        self.lens: VisualLens | None = None
        intro = QLabel("Your profile is encrypted. Enter your passphrase to unlock it.")
        intro.setWordWrap(True)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.unlock_button = buttons.addButton("Unlock", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.try_unlock)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.passphrase)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(420, 180)

    def try_unlock(self) -> None:
        try:
            self.lens = self.open_profile(self.passphrase.text())
        except (WrongPassphraseError, WrongKeyError):
            self.message.setText("That passphrase is not right. Nothing was changed; try again.")
            self.passphrase.selectAll()
            self.passphrase.setFocus()
            return
        except Exception as exc:  # noqa: BLE001 - any other reason is shown, the dialog stays
            self.message.setText(str(exc))
            return
        self.accept()

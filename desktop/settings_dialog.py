"""Settings: model bundle, execution provider, threads and watched folders."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from desktop.folder_list import FolderList
from desktop.model_choice import ModelChoice
from engine.home import Home, Settings


class SettingsDialog(QDialog):
    """Edits a copy of the settings and the folder list; the caller applies them when accepted."""

    def __init__(self, home: Home, settings: Settings, folders: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.home = home
        self._settings = settings
        self.models = ModelChoice(home, settings.bundle, settings.provider)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setValue(settings.threads or 0)
        self.folders = FolderList(folders)
        form = QFormLayout()
        self.models.add_rows(form)
        form.addRow("Threads", self.threads)
        form.addRow("Photo folders", self.folders)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        note = QLabel("Switching the model bundle re-indexes your photos with the new models.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(640, 520)

    def settings(self) -> Settings:
        return replace(self._settings, bundle=self.models.bundle_name(), provider=self.models.provider_key(),
                       threads=self.threads.value() or None)

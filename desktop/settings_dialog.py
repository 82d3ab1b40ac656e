"""Settings: model bundle, execution provider, threads and watched folders."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from desktop.folder_list import FolderList
from desktop.providers import PROVIDER_CHOICES, bundle_summary, installed_bundles, provider_summary
from engine.home import Home, Settings


class SettingsDialog(QDialog):
    """Edits a copy of the settings and the folder list; the caller applies them when accepted."""

    def __init__(self, home: Home, settings: Settings, folders: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.home = home
        self._settings = settings
        self.bundle = QComboBox()
        names = installed_bundles(home)
        self.bundle.addItems(names if settings.bundle in names else [settings.bundle, *names])
        self.bundle.setCurrentText(settings.bundle)
        self.bundle_info = QLabel()
        self.bundle_info.setWordWrap(True)
        self.bundle.currentTextChanged.connect(lambda name: self.bundle_info.setText(bundle_summary(home, name)))
        self.provider = QComboBox()
        for key, label in PROVIDER_CHOICES.items():
            self.provider.addItem(label, key)
        self.provider.setCurrentIndex(list(PROVIDER_CHOICES).index(settings.provider))
        self.provider_info = QLabel()
        self.provider.currentIndexChanged.connect(lambda _: self.provider_info.setText(provider_summary(self.provider_key())))
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setValue(settings.threads or 0)
        self.folders = FolderList(folders)
        form = QFormLayout()
        form.addRow("Model bundle", self.bundle)
        form.addRow("", self.bundle_info)
        form.addRow("Run models on", self.provider)
        form.addRow("", self.provider_info)
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
        self.bundle_info.setText(bundle_summary(home, settings.bundle))
        self.provider_info.setText(provider_summary(settings.provider))
        self.resize(640, 520)

    def provider_key(self) -> str:
        return self.provider.currentData()

    def settings(self) -> Settings:
        return replace(self._settings, bundle=self.bundle.currentText(), provider=self.provider_key(),
                       threads=self.threads.value() or None)

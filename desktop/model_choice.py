"""Choosing the model bundle and where it runs, each with a one-line explanation under it."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel

from desktop.providers import PROVIDER_CHOICES, bundle_summary, installed_bundles, provider_summary
from engine.home import Home


class ModelChoice(QObject):
    """The two combo boxes and their explanations; `add_rows` puts them in a form so labels line up with the rest."""

    def __init__(self, home: Home, bundle: str | None = None, provider: str = "auto"):
        super().__init__()
        self.home = home
        names = installed_bundles(home)
        self.bundle = QComboBox()
        self.bundle.addItems(names if bundle is None or bundle in names else [bundle, *names])
        if bundle is not None:
            self.bundle.setCurrentText(bundle)
        self.bundle_info = QLabel()
        self.bundle_info.setWordWrap(True)
        self.provider = QComboBox()
        for key, label in PROVIDER_CHOICES.items():
            self.provider.addItem(label, key)
        self.provider.setCurrentIndex(list(PROVIDER_CHOICES).index(provider))
        self.provider_info = QLabel()
        self.bundle.currentTextChanged.connect(self._describe)
        self.provider.currentIndexChanged.connect(self._describe)
        self._describe()

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Model bundle", self.bundle)
        form.addRow("", self.bundle_info)
        form.addRow("Run models on", self.provider)
        form.addRow("", self.provider_info)

    def bundle_name(self) -> str:
        return self.bundle.currentText()

    def provider_key(self) -> str:
        return self.provider.currentData()

    def _describe(self) -> None:
        if self.bundle.count():
            self.bundle_info.setText(bundle_summary(self.home, self.bundle_name()))
        else:
            self.bundle_info.setText(f"No model bundle is installed in {self.home.bundles_dir}. Install one with "
                                     f"`visuallens-export bundle lite --out {self.home.bundles_dir / 'lite'}`.")
        self.provider_info.setText(provider_summary(self.provider_key()))

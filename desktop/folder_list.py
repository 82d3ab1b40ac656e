"""An editable list of folders (add with a folder picker, remove the selected ones)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget


class FolderList(QWidget):
    changed = Signal()

    def __init__(self, folders: list[str] | None = None, add_text: str = "Add folder…"):
        super().__init__()
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        add = QPushButton(add_text)
        add.clicked.connect(self.choose)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        for folder in folders or []:
            self.add(folder)

    def folders(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def selected(self) -> list[str]:
        return [item.text() for item in self.list.selectedItems()]

    def add(self, folder: str | Path) -> None:
        text = str(Path(folder).expanduser().resolve())
        if text not in self.folders():
            self.list.addItem(text)
            self.changed.emit()

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a photo folder", str(Path.home()))
        if folder:
            self.add(folder)

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()

"""Privacy: what is watched, forgetting photos or folders for good, wiping everything, where the store is."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.session import Session
from engine.api import protections, wipe

PROMISE = (
    "<b>Nothing leaves this computer.</b> VisualLens runs every model on this machine and never opens a network "
    "connection. What it learns from your photos (image vectors, captions, aspect words, file paths) is kept only "
    "in an encrypted database; no thumbnails, temporary files or logs about your photos are written to disk."
)
WIPE_WORD = "wipe"


class PrivacyView(QWidget):
    status = Signal(str)

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        promise = QLabel(PROMISE)
        promise.setWordWrap(True)
        promise.setTextFormat(Qt.TextFormat.RichText)

        self.folders = QListWidget()
        self.excluded = QListWidget()
        self.excluded.setMaximumHeight(self.excluded.fontMetrics().lineSpacing() * 5)
        forget_folder = QPushButton("Forget folder")
        forget_folder.setToolTip("Stop watching the selected folder and remove its photos from your profile now")
        forget_folder.clicked.connect(self._forget_selected_folder)
        forget_subfolder = QPushButton("Forget a subfolder…")
        forget_subfolder.setToolTip("Remove a folder's photos from your profile now and never index it again")
        forget_subfolder.clicked.connect(self._choose_subfolder)
        forget_photo = QPushButton("Forget photos…")
        forget_photo.clicked.connect(self._choose_photos)
        buttons = QHBoxLayout()
        for button in (forget_folder, forget_subfolder, forget_photo):
            buttons.addWidget(button)
        buttons.addStretch(1)
        watched = QGroupBox("Watched folders")
        watched_layout = QVBoxLayout(watched)
        watched_layout.addWidget(self.folders)
        watched_layout.addLayout(buttons)
        watched_layout.addWidget(QLabel("Forgotten (skipped until you add them again with Add photo folder):"))
        watched_layout.addWidget(self.excluded)

        self.location = QLabel()
        self.location.setWordWrap(True)
        self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        wipe_button = QPushButton("Wipe everything…")
        wipe_button.setToolTip("Delete the encrypted profile and its keys from this computer")
        wipe_button.clicked.connect(self._confirm_wipe)
        store = QGroupBox("Your encrypted profile")
        store_layout = QVBoxLayout(store)
        store_layout.addWidget(self.location)
        store_layout.addWidget(wipe_button, 0, Qt.AlignmentFlag.AlignLeft)

        layout = QVBoxLayout(self)
        layout.addWidget(promise)
        layout.addWidget(watched, 1)
        layout.addWidget(store)
        session.unlocked.connect(self.refresh)
        session.library_changed.connect(self.refresh)

    def refresh(self) -> None:
        if not self.session.is_unlocked:
            return
        lens = self.session.lens
        self.folders.clear()
        self.folders.addItems(lens.folders())
        self.excluded.clear()
        self.excluded.addItems(lens.exclusions())
        size = self.session.home.disk_usage()
        self.location.setText(
            f"{lens.photo_count()} photos, {size / 1e6:.1f} MB, stored encrypted (SQLCipher, AES-256) in<br>"
            f"<tt>{self.session.home.store_path}</tt><br>Key protection: {', '.join(self._protections())}."
        )

    def forget(self, path: str | Path) -> int:
        """Remove a photo or a folder's photos now and keep them out until the user adds that path again."""
        removed = self.session.lens.forget(path)
        self.status.emit(f"Forgot {removed} photo(s) under {path}; it will not be indexed again unless you add it")
        self.session.library_changed.emit()
        return removed

    def wipe_everything(self) -> None:
        self.session.close()
        wipe(self.session.home)
        self.session.forget_lens()
        self.status.emit("Everything VisualLens knew about your photos was deleted.")

    def _protections(self) -> list[str]:
        return protections(self.session.home) or ["none"]

    def _forget_selected_folder(self) -> None:
        for item in self.folders.selectedItems():
            self.forget(item.text())

    def _choose_subfolder(self) -> None:
        start = self.folders.currentItem().text() if self.folders.currentItem() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Forget a subfolder", start)
        if folder:
            self.forget(folder)

    def _choose_photos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Forget photos", str(Path.home()))
        for path in paths:
            self.forget(path)

    def _confirm_wipe(self) -> None:
        word, ok = QInputDialog.getText(
            self, "Wipe everything",
            f"This deletes your encrypted profile and its keys. Photos themselves are not touched.\n"
            f"Type “{WIPE_WORD}” to confirm:",
        )
        if ok and word.strip().lower() == WIPE_WORD:
            self.wipe_everything()

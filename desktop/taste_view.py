"""Your taste: what your photos say about a category (its aspect words, their weights, the photos behind each) and
your corrections of it: "not me", "more of this", photos kept out; each undone with one click."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.session import Session
from desktop.tasks import ProfileEpoch, run_task
from desktop.thumbnails import thumbnail_image
from desktop.widgets import button, button_row, read_only_table
from engine.catalog.items import Catalog
from engine.recommend.taste import Taste, TasteWord

PHOTO_SIDE = 96
BAR = 16
WORD_COLUMNS = ("Aspect word", "Weight", "Photos", "You said")


class TasteView(QWidget):
    """The category's words on the left (with Not me / More of this / Undo); the selected word's photos, or all the
    photos that inform the category, on the right (with Keep out of this category / of all / Let back in)."""

    status = Signal(str)
    shown = Signal(object)  # Taste
    corrected = Signal()  # a correction was made or undone: rankings change

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.catalog: Catalog | None = None
        self.taste: Taste | None = None
        self._thumbnails: dict[str, QPixmap] = {}  # in memory only, for the photos shown

        self.category = QComboBox()
        self.category.setMinimumContentsLength(18)
        self.category.activated.connect(lambda _: self.show_taste())
        self.refresh = QPushButton("Show")
        self.refresh.setToolTip("Read what your photos say about this category")
        self.refresh.clicked.connect(self.show_taste)
        self.summary = QLabel("Open a catalog in Recommend, then pick a category.")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Category"))
        top.addWidget(self.category)
        top.addWidget(self.refresh)
        top.addWidget(self.summary, 1)

        self.words = read_only_table(WORD_COLUMNS, stretch=0)
        self.words.itemSelectionChanged.connect(self._show_photos)
        self.not_me = button("Not me", "This word is not you: recommendations ignore it",
                             lambda: self._correct_word(False))
        self.more_of = button("More of this", "Rank the items like this word higher", lambda: self._correct_word(True))
        self.undo_word = button("Undo", "Withdraw your correction of this word", lambda: self._correct_word(None))
        left = _column(self.words, button_row(self.not_me, self.more_of, self.undo_word))

        self.photos_title = QLabel()
        self.photos = QListWidget()
        self.photos.setViewMode(QListView.ViewMode.IconMode)
        self.photos.setIconSize(QSize(PHOTO_SIDE, PHOTO_SIDE))
        self.photos.setResizeMode(QListView.ResizeMode.Adjust)
        self.photos.setMovement(QListView.Movement.Static)
        self.photos.setSpacing(4)
        self.photos.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.photos.itemSelectionChanged.connect(self._enable)
        self.keep_out = button("Keep out of this category", "Leave this photo out of this category's rankings",
                               lambda: self._exclude(everywhere=False))
        self.keep_out_all = button("Keep out of all recommendations", "Leave this photo out of every ranking",
                                   lambda: self._exclude(everywhere=True))
        self.let_in = button("Let back in", "Undo keeping this photo out", self._include)
        right = _column(self.photos_title, self.photos, button_row(self.keep_out, self.keep_out_all, self.let_in))

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([560, 700])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self._epoch = ProfileEpoch()  # a read or correction of a profile closed since is neither shown nor reported
        self._enable()
        session.closed.connect(self._clear)

    # -- reading ----------------------------------------------------------------------------------------
    def set_catalog(self, catalog: Catalog, category: str = "") -> None:
        """The catalog whose categories the view offers (the one open in Recommend)."""
        self.catalog = catalog
        self.category.clear()
        self.category.addItems(catalog.categories())
        if category in catalog.categories():
            self.category.setCurrentText(category)

    def show_taste(self, keep: str | None = None) -> None:
        """Read the taste for the chosen category in a worker; `keep` selects that word again afterwards."""
        if self.catalog is None or not self.category.currentText():
            return
        lens, catalog, category = self.session.lens, self.catalog.source, self.category.currentText()
        self.refresh.setEnabled(False)
        self._enable()
        self.status.emit(f"Reading your taste in {category}…")

        def work(_):
            found = lens.taste(category, catalog)
            photos = {p: thumbnail_image(p, PHOTO_SIDE) for p in [*found.grid_paths, *found.excluded]}
            return found, photos

        run_task(work, done=self._epoch.guard(lambda result: self._on_taste(result, keep)),
                 failed=self._epoch.guard(self._failed))

    def _on_taste(self, result, keep: str | None) -> None:
        found, images = result
        self.taste = found
        self._thumbnails = {p: QPixmap.fromImage(image) for p, image in images.items() if not image.isNull()}
        self.refresh.setEnabled(True)
        self.words.setRowCount(len(found.words))
        for row, word in enumerate(found.words):
            cells = (word.word, _bar(word.weight), str(len(word.photos)), _said(word))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0 and word.removed:
                    font = item.font()
                    font.setStrikeOut(True)
                    item.setFont(font)
                self.words.setItem(row, column, item)
        self.words.resizeRowsToContents()
        self.words.clearSelection()
        names = [w.word for w in found.words]
        if keep in names:
            self.words.selectRow(names.index(keep))
        else:
            self._show_photos()
        kept_out = f"; {len(found.excluded)} kept out" if found.excluded else ""
        self.summary.setText(f"From the {len(found.grid_paths)} photos that inform {found.category}{kept_out}. "
                             "Select a word to see the photos behind it.")
        self.status.emit(f"Your taste in {found.category}: {len(found.words)} aspect words")
        self.shown.emit(found)

    def selected_word(self) -> TasteWord | None:
        rows = self.words.selectionModel().selectedRows()
        return self.taste.words[rows[0].row()] if self.taste is not None and rows else None

    def _show_photos(self) -> None:
        self.photos.clear()
        if self.taste is None:
            return
        word = self.selected_word()
        shown = list(word.photos) if word is not None else self.taste.grid_paths
        title = (f"Photos with “{word.word}” ({len(shown)})" if word is not None
                 else f"The photos that inform {self.taste.category} ({len(shown)})")
        for path in [*shown, *([] if word is not None else self.taste.excluded)]:
            excluded = path in self.taste.excluded
            item = QListWidgetItem(Path(path).name + ("\n(kept out)" if excluded else ""))
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            if path in self._thumbnails:
                item.setIcon(QIcon(self._thumbnails[path]))
            if excluded:
                item.setForeground(Qt.GlobalColor.gray)
            self.photos.addItem(item)
        self.photos_title.setText(title)
        self._enable()

    # -- correcting -------------------------------------------------------------------------------------
    def _correct_word(self, pinned: bool | None) -> None:
        word, category = self.selected_word(), self.category.currentText()
        if word is None:
            return
        lens = self.session.lens
        if pinned is None:
            self._change(lambda: lens.uncorrect_word(category, word.word), word.word,
                         f"Withdrew your correction of “{word.word}”")
        else:
            said = "is what you want more of" if pinned else "is not you"
            self._change(lambda: lens.correct_word(category, word.word, pinned), word.word, f"Noted: “{word.word}” {said}")

    def _selected_photo(self) -> str | None:
        items = self.photos.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _exclude(self, everywhere: bool) -> None:
        path, category = self._selected_photo(), self.category.currentText()
        if path is None:
            return
        lens, word = self.session.lens, self.selected_word()
        where = "all recommendations" if everywhere else category
        self._change(lambda: lens.exclude_photo(path, "" if everywhere else category), word and word.word,
                     f"Kept {Path(path).name} out of {where}")

    def _include(self) -> None:
        path, category = self._selected_photo(), self.category.currentText()
        if path is None:
            return
        lens, word = self.session.lens, self.selected_word()
        self._change(lambda: lens.include_photo(path, category) or lens.include_photo(path), word and word.word,
                     f"Let {Path(path).name} back in")

    def _change(self, change, keep: str | None, message: str) -> None:
        """Make a correction in a worker, then read the taste again (keeping the selected word selected)."""
        self.refresh.setEnabled(False)
        self._enable()
        run_task(lambda _: change(), done=self._epoch.guard(lambda _: self._changed(keep, message)),
                 failed=self._epoch.guard(self._failed))

    def _changed(self, keep: str | None, message: str) -> None:
        self.status.emit(message)
        self.corrected.emit()
        self.show_taste(keep)

    def _enable(self) -> None:
        ready = self.refresh.isEnabled() and self.taste is not None
        word, path = self.selected_word() if ready else None, self._selected_photo() if ready else None
        corrected = word is not None and (word.pinned or word.removed)
        self.not_me.setEnabled(word is not None and not word.removed)
        self.more_of.setEnabled(word is not None and not word.pinned)
        self.undo_word.setEnabled(corrected)
        excluded = path is not None and self.taste is not None and path in self.taste.excluded
        self.keep_out.setEnabled(path is not None and not excluded)
        self.keep_out_all.setEnabled(path is not None and not excluded)
        self.let_in.setEnabled(excluded)

    def _failed(self, exc: BaseException) -> None:
        self.refresh.setEnabled(True)
        self._enable()
        self.status.emit("")
        QMessageBox.warning(self, "Cannot read or correct your taste", str(exc))

    def _clear(self) -> None:
        self._epoch.advance()
        self.refresh.setEnabled(True)
        self.taste, self._thumbnails = None, {}
        self.words.setRowCount(0)
        self.photos.clear()
        self.photos_title.clear()
        self._enable()


def _column(*parts: QWidget | QLayout) -> QWidget:
    """The parts stacked in a widget without margins; the one list or table among them takes the spare height."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    for part in parts:
        if isinstance(part, QLayout):
            layout.addLayout(part)
        else:
            layout.addWidget(part, 1 if isinstance(part, QAbstractItemView) else 0)
    return column


def _bar(weight: float) -> str:
    filled = round(weight * BAR)
    return "█" * filled + "·" * (BAR - filled) + f" {100 * weight:.0f}%"


def _said(word: TasteWord) -> str:
    return "more of this" if word.pinned else "not me" if word.removed else ""

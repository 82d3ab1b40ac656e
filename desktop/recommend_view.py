"""Recommend: pick a catalog and category, optionally say what you want, see the ranking and why."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.image_label import ScaledImageLabel
from desktop.ranking_export import save_ranking
from desktop.session import Session
from desktop.tasks import ProfileEpoch, run_task
from desktop.thumbnails import pil_to_qimage, thumbnail_image
from desktop.widgets import button, button_row, read_only_table
from engine.catalog.emoji import import_emoji_catalog
from engine.catalog.items import Catalog
from engine.catalog.loaders import load_catalog
from engine.imaging.grid import GridLayout, highlight_cells
from engine.profile.records import Judgement
from engine.recommend.recommender import GRID_CELL, Recommendation

ICON_SIDE = 40
COLUMNS = ("#", "Item", "Score", "Aspect words", "Photos", "You")


class RecommendView(QWidget):
    """Controls on top; the ranking on the left; the evidence grid and words of the selected item on the right."""

    ranked = Signal(object)  # Recommendation
    status = Signal(str)
    catalog_opened = Signal(object)  # Catalog

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.catalog: Catalog | None = None
        self.recommendation: Recommendation | None = None
        self._grid: Image.Image | None = None
        self._judged: dict[str, bool] = {}  # item id -> liked, the user's judgements in the ranked category
        self._epoch = ProfileEpoch()  # a ranking of a profile closed since is neither shown nor reported
        self.owner = "your"  # whose photos inform the rankings, as the view says it: "your", or "Mei's" in a sample

        self.catalog_label = QLabel("No catalog open")
        self.catalog_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = QPushButton("Open catalog…")
        open_button.setToolTip("A JSON or CSV list of things to rank (Ctrl+Shift+O)")
        open_button.clicked.connect(self.choose_catalog)
        emoji_button = QPushButton("Import emoji set…")
        emoji_button.setToolTip("Use an unpacked emoji-datasource package as a sample catalog")
        emoji_button.clicked.connect(self.choose_emoji_package)
        self.category = QComboBox()
        self.category.setMinimumContentsLength(18)
        self.query = QLineEdit()
        self.query.setPlaceholderText("Optional: what you are in the mood for, e.g. “something spicy”")
        self.query.returnPressed.connect(self.recommend)
        self.go = QPushButton("Recommend")
        self.go.setDefault(True)
        self.go.setToolTip("Rank the category for you (Ctrl+Return)")
        self.go.clicked.connect(self.recommend)
        self.save_button = QPushButton("Export…")
        self.save_button.setToolTip("Save the ranking as CSV or JSON (Ctrl+E)")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.export)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.recommend)

        source = QHBoxLayout()
        source.addWidget(self.catalog_label, 1)
        source.addWidget(open_button)
        source.addWidget(emoji_button)
        ask = QHBoxLayout()
        ask.addWidget(self.category)
        ask.addWidget(self.query, 1)
        ask.addWidget(self.go)
        ask.addWidget(self.save_button)
        form = QFormLayout()
        form.addRow("Catalog", source)
        form.addRow("Category", ask)

        self.table = read_only_table(COLUMNS, stretch=1)
        self.table.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.table.itemSelectionChanged.connect(self._show_evidence)

        self.grid_view = ScaledImageLabel(self._placeholder())
        self.grid_view.setWordWrap(True)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setTextFormat(Qt.TextFormat.RichText)
        self.why.setMinimumHeight(self.why.fontMetrics().lineSpacing() * 6)
        self.why.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.like_button = button("Like", "Rank this item and things like it higher from now on (Ctrl+L)",
                                  lambda: self.judge(True))
        self.dislike_button = button("Not for me", "Rank this item and things like it lower from now on (Ctrl+D)",
                                     lambda: self.judge(False))
        self.undo_button = button("Undo", "Withdraw your judgement of this item", lambda: self.judge(None))
        QShortcut(QKeySequence("Ctrl+L"), self, activated=lambda: self.judge(True))
        QShortcut(QKeySequence("Ctrl+D"), self, activated=lambda: self.judge(False))
        verdicts = button_row(self.like_button, self.dislike_button, self.undo_button,
                              label="Your feedback on this item:")
        self._enable_verdicts()
        evidence = QWidget()
        evidence_layout = QVBoxLayout(evidence)
        evidence_layout.setContentsMargins(0, 0, 0, 0)
        evidence_layout.addWidget(self.grid_view, 1)
        evidence_layout.addWidget(self.why)
        evidence_layout.addLayout(verdicts)

        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(evidence)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(splitter, 1)
        session.closed.connect(self._clear)

    # -- catalog ----------------------------------------------------------------------------------------
    def choose_catalog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a catalog", "", "Catalogs (*.json *.csv);;All files (*)")
        if path:
            self.open_catalog(Path(path))

    def open_catalog(self, path: Path) -> bool:
        try:
            catalog = load_catalog(path)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self, "Cannot open this catalog", str(exc))
            return False
        self.catalog = catalog
        count = len(catalog.categories())
        self.catalog_label.setText(f"{path.name}: {len(catalog.items)} items in {count} "
                                   f"{'category' if count == 1 else 'categories'}")
        self.catalog_label.setToolTip(str(path))
        current = self.category.currentText()
        self.category.clear()
        self.category.addItems(catalog.categories())
        if current in catalog.categories():
            self.category.setCurrentText(current)
        self.catalog_opened.emit(catalog)
        return True

    def choose_emoji_package(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Unpacked emoji-datasource package (with emoji.json)")
        if folder:
            self.import_emoji_package(Path(folder))

    def import_emoji_package(self, package: Path) -> None:
        out = self.session.home.root / "catalogs" / package.name
        self.status.emit(f"Importing the emoji catalog from {package}…")
        run_task(lambda _: import_emoji_catalog(package, out), done=self._opened_import, failed=self._failed)

    def _opened_import(self, path: Path) -> None:
        if self.open_catalog(Path(path)):
            self.status.emit(f"Emoji catalog ready: {path}")

    # -- ranking ----------------------------------------------------------------------------------------
    def recommend(self) -> None:
        if self.catalog is None or not self.category.currentText():
            QMessageBox.information(self, "Choose a catalog", "Open a catalog of things to rank, then pick a category.")
            return
        category, query = self.category.currentText(), self.query.text().strip() or None
        self.go.setEnabled(False)
        self.status.emit(f"Ranking {category} for you…")
        run_task(self._ranking(category, query), done=self._epoch.guard(self._on_ranked),
                 failed=self._epoch.guard(self._failed))

    def rank_again(self) -> None:
        """Rank the shown ranking's category again (after the user corrected their taste), if one is shown."""
        rec = self.recommendation
        if rec is not None and self.catalog is not None and self.go.isEnabled():
            self.go.setEnabled(False)
            self._enable_verdicts()
            run_task(self._ranking(rec.category, rec.query), done=self._epoch.guard(self._on_ranked),
                     failed=self._epoch.guard(self._failed))

    def judge(self, liked: bool | None) -> None:
        """Record the user's judgement of the selected item (None: withdraw it), then rank the category again."""
        rec, rows = self.recommendation, self.table.selectionModel().selectedRows()
        if rec is None or not rows or self.catalog is None or not self.go.isEnabled():
            return
        item, lens, catalog = rec.ranked[rows[0].row()].item, self.session.lens, self.catalog.source
        rank = self._ranking(rec.category, rec.query)

        def work(_):
            if liked is None:
                lens.unjudge(rec.category, item.id)
            else:
                lens.judge(rec.category, catalog, item.id, liked)
            return rank(_)

        self.go.setEnabled(False)
        self._enable_verdicts()
        verb = "Withdrawing your judgement of" if liked is None else "Noting that you " + (
            "like" if liked else "would rather not have")
        self.status.emit(f"{verb} {item.name}; ranking {rec.category} again…")
        run_task(work, done=self._epoch.guard(lambda result: self._on_ranked(result, select=item.id)),
                 failed=self._epoch.guard(self._failed))

    def _ranking(self, category: str, query: str | None):
        """A task that ranks `category` of the open catalog, renders the grid and reads the item icons and the
        user's judgements of the category."""
        lens, catalog = self.session.lens, self.catalog.source if self.catalog else None

        def work(_):
            rec = lens.recommend(category, catalog, query=query)
            icons = {r.item.id: thumbnail_image(str(r.item.image), ICON_SIDE) for r in rec.ranked if r.item.image}
            judged = {j.item.id: j.liked for j in lens.judgements(category)}
            return rec, rec.render_grid(), icons, judged

        return work

    def _on_ranked(self, result, select: str | None = None) -> None:
        rec, grid, icons, judged = result
        self.recommendation, self._grid, self._judged = rec, grid, judged
        self.go.setEnabled(True)
        self.save_button.setEnabled(True)
        self.table.setRowCount(len(rec.ranked))
        for row, ranked in enumerate(rec.ranked):
            name = QTableWidgetItem(ranked.item.name)
            icon = icons.get(ranked.item.id)
            if icon is not None and not icon.isNull():
                name.setIcon(QPixmap.fromImage(icon))
            name.setToolTip(ranked.item.description or ranked.item.name)
            cells = ", ".join(f"#{c}" for c in ranked.evidence.cells)
            values = (QTableWidgetItem(str(ranked.rank)), name, QTableWidgetItem(f"{ranked.score:+.2f}"),
                      QTableWidgetItem(", ".join(ranked.evidence.aspect_words)), QTableWidgetItem(cells),
                      QTableWidgetItem(_verdict(judged.get(ranked.item.id))))
            for column, item in enumerate(values):
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        ids = [r.item.id for r in rec.ranked]
        self.table.selectRow(ids.index(select) if select in ids else 0)
        few = " (few of them relate: see the note)" if rec.cold_start else ""
        self.status.emit(f"Ranked {len(rec.ranked)} {rec.category} by the {rec.scorer}, "
                         f"from {len(rec.grid_paths)} of {self.owner} photos{few}")
        self.ranked.emit(rec)

    def _show_evidence(self) -> None:
        rec, grid = self.recommendation, self._grid
        rows = self.table.selectionModel().selectedRows()
        if rec is None or grid is None or not rows:
            return
        ranked = rec.ranked[rows[0].row()]
        layout = GridLayout.for_count(rec.w, GRID_CELL, 2)
        picture = highlight_cells(grid, ranked.evidence.cells, layout) if ranked.evidence.cells else grid
        self.grid_view.set_picture(QPixmap.fromImage(pil_to_qimage(picture)))
        cells = ", ".join(f"#{c}" for c in ranked.evidence.cells) or "none stood out"
        words = ", ".join(ranked.evidence.aspect_words) or "—"
        self._enable_verdicts()
        self.why.setText(
            f"<b>#{ranked.rank} {escape(ranked.item.name)}</b> (score {ranked.score:+.2f})<br>"
            f"Photos that mattered (framed): {cells}<br>Aspect words: <i>{escape(words)}</i><br>"
            + _feedback_line(ranked.evidence.feedback, ranked.item.id) +
            f"Your profile for {escape(rec.category)}: {escape(', '.join(rec.profile_aspects) or '—')}"
            f"<br><small>Ranked by the {rec.scorer}; the grid shows your top {len(rec.grid_paths)} photos "
            f"for this category.</small>"
            + (f"<br><span style='color:#b36b00'>{escape(rec.cold_start_note())}</span>" if rec.cold_start else "")
        )

    def _enable_verdicts(self) -> None:
        """Like / Not for me for a selected item while no ranking runs; Undo where the item has a judgement."""
        rows = self.table.selectionModel().selectedRows() if self.recommendation is not None else []
        ready = bool(rows) and self.go.isEnabled()
        judged = ready and self.recommendation.ranked[rows[0].row()].item.id in self._judged
        self.like_button.setEnabled(ready)
        self.dislike_button.setEnabled(ready)
        self.undo_button.setEnabled(judged)

    def export(self) -> None:
        if self.recommendation is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the ranking", f"{self.recommendation.category}.csv",
                                              "CSV (*.csv);;JSON (*.json)")
        if path:
            try:
                save_ranking(self.recommendation, Path(path))
            except (ValueError, OSError) as exc:
                QMessageBox.warning(self, "Cannot save the ranking", str(exc))
                return
            self.status.emit(f"Ranking saved to {path}")

    def set_owner(self, possessive: str) -> None:
        """Say whose photos the rankings come from: "your", or a sample person's ("Mei's")."""
        self.owner = possessive
        if self.recommendation is None:
            self.grid_view.setText(self._placeholder())

    def _placeholder(self) -> str:
        return f"{self.owner[:1].upper()}{self.owner[1:]} photos that inform the ranking appear here."

    def _failed(self, exc: BaseException) -> None:
        self.go.setEnabled(True)
        self._enable_verdicts()
        self.status.emit("")
        QMessageBox.warning(self, "Cannot recommend", str(exc))

    def _clear(self) -> None:
        self._epoch.advance()
        self.go.setEnabled(True)
        self.recommendation, self._grid = None, None
        self.table.setRowCount(0)
        self.grid_view.set_picture(QPixmap())
        self.grid_view.setText(self._placeholder())
        self.why.clear()
        self.save_button.setEnabled(False)
        self._judged = {}
        self._enable_verdicts()


def _verdict(liked: bool | None) -> str:
    return "" if liked is None else "liked" if liked else "not for me"


def _feedback_line(judgement: Judgement | None, item_id: str) -> str:
    """What the user's feedback did to this item, as a line of the evidence ('' when it did nothing)."""
    if judgement is None:
        return ""
    if judgement.item.id == item_id:
        text = "You liked this" if judgement.liked else "You marked this as not for you"
    else:
        name = escape(judgement.item.name)
        text = f"Lifted: you liked {name}" if judgement.liked else f"Lowered: you marked {name} as not for you"
    return f"<span style='color:{'#2e7d32' if judgement.liked else '#b71c1c'}'>{text}</span><br>"

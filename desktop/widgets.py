"""Small widget builders the views share: a button wired to its action, a row of buttons, a read-only table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget


def button(text: str, tip: str, clicked: Callable[[], object]) -> QPushButton:
    """A push button with its tooltip, calling `clicked` (with no arguments) when pressed."""
    made = QPushButton(text)
    made.setToolTip(tip)
    made.clicked.connect(lambda: clicked())
    return made


def button_row(*buttons: QPushButton, label: str = "") -> QHBoxLayout:
    """The buttons left-aligned in a row, after an optional label."""
    row = QHBoxLayout()
    if label:
        row.addWidget(QLabel(label))
    for each in buttons:
        row.addWidget(each)
    row.addStretch(1)
    return row


def read_only_table(columns: Sequence[str], stretch: int) -> QTableWidget:
    """A table of whole-row single selection that cannot be edited; column `stretch` takes the spare width."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table

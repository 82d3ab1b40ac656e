"""The strip across the window while a sample profile is open: whose photos these are, and the way back out."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from desktop.widgets import button
from engine.samples import SamplePeople, SamplePerson

STYLE = "#SampleBanner { background: #fff4c2; border-bottom: 1px solid #d9b84a; } #SampleBanner QLabel { color: #3d3000; }"


class SampleBanner(QFrame):
    """Says that the open profile is a sample person's; offers the other people, the user's own photos, removal."""

    person_chosen = Signal(str)  # a sample person's name
    own_photos_chosen = Signal()
    remove_chosen = Signal()

    def __init__(self):
        super().__init__()
        self.setObjectName("SampleBanner")
        self.setStyleSheet(STYLE)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self._people: list[QPushButton] = []
        self.own_button = button("Use my own photos", "Set up (or open) your own profile; this sample stays until "
                                 "you remove it", self.own_photos_chosen.emit)
        self.remove_button = button("Remove sample profiles", "Delete every sample profile from this computer "
                                    "and go to your own", self.remove_chosen.emit)
        self._layout = QHBoxLayout(self)
        self._layout.addWidget(self.text, 1)
        self._layout.addWidget(self.own_button)
        self._layout.addWidget(self.remove_button)
        self.hide()

    def show_person(self, samples: SamplePeople, person: SamplePerson) -> None:
        """Show that `person`'s sample profile is open, with a button for each other sample person."""
        self.text.setText(f"<b>Sample profile: {escape(person.name)}'s photos.</b> {escape(person.name)} photographs "
                          f"{escape(person.taste)}, among everyday things. Nothing here is yours: ask the sample "
                          "catalog's questions and see the ranking follow these photos.")
        for old in self._people:
            self._layout.removeWidget(old)
            old.deleteLater()
        self._people = [button(f"See {other.name}'s", f"Open {other.name}'s sample profile ({other.taste})",
                               lambda name=other.name: self.person_chosen.emit(name))
                        for other in samples.people if other.name != person.name]
        for position, made in enumerate(self._people, start=1):
            self._layout.insertWidget(position, made)
        self.show()

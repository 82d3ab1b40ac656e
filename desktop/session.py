"""The app's shared state: the data dir, the unlocked profile, and signals views listen to."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.api import VisualLens, is_initialised
from engine.home import Home, Settings


class LockedError(RuntimeError):
    """The profile is not unlocked yet."""


class Session(QObject):
    """One data dir and, once unlocked, its `VisualLens`; engine calls run in workers, state changes here."""

    unlocked = Signal()
    library_changed = Signal()  # photos were added, removed or forgotten
    settings_changed = Signal()
    wiped = Signal()

    def __init__(self, home: Home):
        super().__init__()
        self.home = home
        self._lens: VisualLens | None = None

    @property
    def initialised(self) -> bool:
        return is_initialised(self.home)

    @property
    def is_unlocked(self) -> bool:
        return self._lens is not None

    @property
    def lens(self) -> VisualLens:
        if self._lens is None:
            raise LockedError("the profile is locked")
        return self._lens

    def attach(self, lens: VisualLens) -> None:
        """Take an unlocked profile (opened in a worker) and tell the views."""
        self._lens = lens
        self.unlocked.emit()

    def apply_settings(self, settings: Settings) -> None:
        """Serve the same store with new settings; photos must be re-indexed when the bundle changed."""
        self._lens = self.lens.with_settings(settings)
        self.settings_changed.emit()

    def forget_lens(self) -> None:
        """After a wipe: the store is gone."""
        self._lens = None
        self.wiped.emit()

    def close(self) -> None:
        if self._lens is not None:
            self._lens.close()
            self._lens = None

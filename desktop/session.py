"""The app's shared state: the data dir, the unlocked profile, and signals views listen to."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine.api import VisualLens, is_initialised
from engine.home import Home, Settings

MODEL_IDLE_SECONDS = 300  # models unused this long give their memory back (~150 MB for lite); the next use reopens
IDLE_CHECK_MS = 60_000


class LockedError(RuntimeError):
    """The profile is not unlocked yet."""


class Session(QObject):
    """One data dir and, once unlocked, its `VisualLens`; engine calls run in workers, state changes here."""

    unlocked = Signal()
    library_changed = Signal()  # photos were added, removed or forgotten
    settings_changed = Signal()
    closed = Signal()  # the open profile went away: wiped, or another profile opened instead
    wiped = Signal()

    def __init__(self, home: Home):
        super().__init__()
        self.home = home
        self._lens: VisualLens | None = None
        self._idle_check = QTimer(self)
        self._idle_check.setInterval(IDLE_CHECK_MS)
        self._idle_check.timeout.connect(self.release_idle_models)

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
        self._idle_check.start()
        self.unlocked.emit()

    def release_idle_models(self) -> list[str]:
        """Let models unused for `MODEL_IDLE_SECONDS` release their sessions (calls in flight keep theirs)."""
        return [] if self._lens is None else self._lens.release_idle_models(MODEL_IDLE_SECONDS)

    def apply_settings(self, settings: Settings) -> None:
        """Serve the same store with new settings; photos must be re-indexed when the bundle changed."""
        self._lens = self.lens.with_settings(settings)
        self.settings_changed.emit()

    def forget_lens(self) -> None:
        """After a wipe: the store is gone."""
        self._lens = None
        self.closed.emit()
        self.wiped.emit()

    def switch(self, home: Home) -> None:
        """Close the open profile and serve `home` from now on (unlocked later, through `attach`)."""
        was_open = self._lens is not None
        self.close()
        self.home = home
        if was_open:
            self.closed.emit()

    def close(self) -> None:
        self._idle_check.stop()
        if self._lens is not None:
            self._lens.close()
            self._lens = None

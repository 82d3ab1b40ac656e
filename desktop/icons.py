"""Scalable icons (SVG and the style's standard icons), sharp at any device pixel ratio."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

APP_ICON = Path(__file__).parent / "resources" / "visuallens.svg"


def app_icon() -> QIcon:
    return QIcon(str(APP_ICON))


def standard_icon(name: str) -> QIcon:
    """A QStyle standard icon by its enum name, e.g. "SP_DirOpenIcon"."""
    return QApplication.style().standardIcon(getattr(QStyle.StandardPixmap, name))

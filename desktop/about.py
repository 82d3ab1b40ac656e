"""The About box: what this is, the privacy promise, and the versions of everything that runs."""

from __future__ import annotations

import onnxruntime as ort
import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.session import Session
from engine import __version__


def versions(session: Session) -> dict[str, str]:
    info = {"VisualLens": __version__, "Qt": qVersion(), "PySide6": PySide6.__version__,
            "ONNX Runtime": ort.__version__}
    if session.is_unlocked:
        status = session.lens.status()
        info["Model bundle"] = f"{status['bundle']} {status.get('bundle_version', '')}".strip()
        info["Runs on"] = status.get("execution_provider", "unknown")
    return info


def show_about(parent: QWidget, session: Session) -> None:
    rows = "".join(f"<tr><td>{name}</td><td>&nbsp;{value}</td></tr>" for name, value in versions(session).items())
    QMessageBox.about(
        parent,
        "About VisualLens",
        "<h3>VisualLens</h3><p>Private recommendations from your own photos. Every model runs on this computer; "
        f"nothing about your photos leaves it.</p><table>{rows}</table>",
    )

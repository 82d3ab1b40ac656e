"""`visuallens-desktop` / `python -m desktop`: start the window over the data dir (`VISUALLENS_HOME` or the default)."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from desktop.cli_args import parse_args, report_ready
from desktop.first_bundle import install_shipped_bundle
from desktop.icons import app_icon
from desktop.main_window import MainWindow
from desktop.platform_check import xcb_problem
from desktop.session import Session
from engine import __version__
from engine.exit_codes import EXIT_NO_DISPLAY
from engine.home import Home


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("VisualLens")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("visuallens")
    app.setWindowIcon(app_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if problem := xcb_problem():
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    app = create_app(argv)
    install_shipped_bundle(Home.default())
    window = MainWindow(Session(Home.default()))
    window.show()
    if options.check:
        return report_ready(window)
    window.start()
    return app.exec()

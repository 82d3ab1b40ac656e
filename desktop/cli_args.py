"""Command-line options of `visuallens-desktop`: --version, and --check (the smoke test of an installed app)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PySide6.QtWidgets import QApplication

from desktop.main_window import MainWindow
from engine import __version__
from engine.exit_codes import EXIT_BUNDLE
from engine.models.bundle import BundleError, load_bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.profile.quantized_vectors import QuantizedVectors
from engine.samples import SamplesError, load_sample_people


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options from `argv` (with the program name first, as Qt takes it; default `sys.argv`); Qt's own are left.

    `--version` prints and exits. With `--check` and no display (Linux), Qt is set to draw offscreen.
    """
    parser = argparse.ArgumentParser(prog="visuallens-desktop", description="VisualLens desktop app.")
    parser.add_argument("--version", action="version", version=f"VisualLens {__version__}")
    parser.add_argument("--check", action="store_true",
                        help="Open the main window, load the model bundle, print one 'ready' line and quit.")
    options, _ = parser.parse_known_args((sys.argv if argv is None else argv)[1:])
    if options.check and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                                   os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return options


def report_ready(window: MainWindow) -> int:
    """For --check: with the window shown, load the profile's bundle, run both encoders and the library scan once;
    close the window.

    Prints "VisualLens <version> ready: <bundle> <bundle version> on <provider>" and returns 0, or prints why the
    bundle cannot serve and returns 5. Never opens the first-run wizard or the unlock dialog.
    """
    QApplication.processEvents()
    home = window.session.home
    settings = home.load_settings()
    try:
        bundle = load_bundle(home.bundle_path(settings.bundle))
        image = ImageEncoder(bundle, settings.provider, settings.threads)
        size = image.spec.image_size
        image.encode(np.zeros((1, 3, size, size), np.float32))
        TextEncoder(bundle, settings.provider, settings.threads).encode_one("a cup of coffee")
        QuantizedVectors.of(np.eye(3, 4, dtype=np.float32)).top(np.eye(1, 4, dtype=np.float32), 1, 2)  # the scan
    except BundleError as exc:
        _say(f"VisualLens {__version__} not ready: {exc}", sys.stderr)
        code = EXIT_BUNDLE
    else:
        _say(f"VisualLens {__version__} ready: {bundle.path.name} {bundle.version} on {image.provider}", sys.stdout)
        _say(_samples_line(), sys.stdout)
        code = 0
    window.close()
    return code


def _samples_line() -> str:
    """Which sample people "Try it with sample photos" offers, and from where (or why none)."""
    try:
        samples = load_sample_people()
    except SamplesError as exc:
        return f"sample photos: none ({exc})"
    return f"sample photos: {', '.join(samples.names())} ({samples.root})"


def _say(line: str, stream) -> None:
    if stream is not None:  # a windowed Windows build has no console streams
        print(line, file=stream, flush=True)

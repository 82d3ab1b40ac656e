"""Render the app icon (desktop/resources/visuallens.svg) to PNGs in the freedesktop hicolor layout, with Qt.

    python packaging/render_icons.py OUT_DIR   ->  OUT_DIR/hicolor/{48x48,...,512x512}/apps/visuallens.png
                                                   OUT_DIR/hicolor/scalable/apps/visuallens.svg
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parent.parent / "desktop" / "resources" / "visuallens.svg"
SIZES = (48, 64, 128, 256, 512)
ICON_NAME = "visuallens"


def render_icons(out: Path, svg: Path = SVG, sizes: tuple[int, ...] = SIZES) -> dict[int, Path]:
    """Write one PNG per size (and the SVG as the scalable icon); returns {size: png path}."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: Qt cannot read this SVG")
    written = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise OSError(f"{target}: cannot write the icon")
        written[size] = target
    scalable = out / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    return written


if __name__ == "__main__":
    for size, path in render_icons(Path(sys.argv[1])).items():
        print(f"{size:>4} px  {path}")

"""Desktop tests: offscreen Qt, a generated folder of real photos, an unlocked app window, screenshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PASS = "correct horse battery staple"
SCREENSHOTS = Path(os.environ.get("VISUALLENS_ARTIFACTS", "test-artifacts")) / "screenshots"
SKIMAGE_EXTRA = ("astronaut", "camera", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "rocket",
                 "retina", "colorwheel", "logo", "coins", "moon", "page", "clock", "brick", "grass")


@pytest.fixture(scope="session")
def many_photos(tmp_path_factory) -> Path:
    """64 distinct real photos: scikit-image's samples, each also mirrored, cropped and recoloured."""
    from PIL import Image, ImageOps
    from skimage import data

    root = tmp_path_factory.mktemp("many-photos")
    for name in SKIMAGE_EXTRA:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        width, height = image.size
        variants = {
            "": image,
            "-mirrored": ImageOps.mirror(image),
            "-detail": image.crop((width // 8, height // 8, width - width // 8, height - height // 8)),
            "-warm": Image.merge("RGB", [band.point(lambda v, k=k: min(255, int(v * k))) for band, k in
                                         zip(image.split(), (1.1, 1.0, 0.85))]),
        }
        for suffix, variant in variants.items():
            variant.save(root / f"{name}{suffix}.jpg", quality=90)
    return root


@pytest.fixture()
def pictures(photo_dir, tmp_path) -> Path:
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    return folder


@pytest.fixture()
def window(qtbot, home):
    """The main window over an isolated data dir (not started yet); closed, with its workers, after the test."""
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.session import Session
    from engine.home import Home

    create_app([])
    win = MainWindow(Session(Home.default()))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def wait_indexed(qtbot, win, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: win.session.is_unlocked and not win.runner.running, timeout=timeout)


def screenshot(widget, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path

"""Packaging: version files, the desktop entry, first-run bundle install, --check; and (slow) the frozen app itself."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine import __version__
from engine.home import Home
from engine.models.bundle import load_bundle

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"^VisualLens (\S+) ready: (\S+) (\S+) on (\w+ExecutionProvider)$", re.MULTILINE)


@pytest.fixture()
def empty_home(tmp_path, monkeypatch) -> Home:
    monkeypatch.setenv("VISUALLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VISUALLENS_BUNDLES", str(tmp_path / "bundles"))
    return Home.default()


def test_version_changelog_and_licence_agree():
    version = (ROOT / "VERSION").read_text().strip()
    pyproject = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert version == __version__ == pyproject
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Apache-2.0" in (ROOT / "pyproject.toml").read_text()


def test_desktop_entry_names_the_app_and_its_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "packaging" / "visuallens.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Exec"] == "visuallens-desktop"
    assert section["Icon"] == "visuallens" and section["Terminal"] == "false"
    assert section["Categories"].endswith(";")


def test_icons_render_at_every_size(tmp_path):
    from PIL import Image

    # Its own process: it makes a QGuiApplication, and the window tests below need a QApplication.
    subprocess.run([sys.executable, str(ROOT / "packaging" / "render_icons.py"), str(tmp_path)], check=True)
    for size in (48, 64, 128, 256, 512):
        with Image.open(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / "visuallens.png") as image:
            assert image.size == (size, size)
            assert image.getpixel((size // 2, size // 2))[3] == 255 and image.getpixel((0, 0))[3] == 0
    assert (tmp_path / "hicolor" / "scalable" / "apps" / "visuallens.svg").is_file()


def test_the_shipped_bundle_is_installed_once_on_first_run(empty_home, lite_bundle, tmp_path, capsys):
    from desktop.first_bundle import install_shipped_bundle

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "lite").symlink_to(lite_bundle, target_is_directory=True)
    assert install_shipped_bundle(empty_home, shipped=None) is None  # running from source: nothing shipped
    installed = install_shipped_bundle(empty_home, shipped)
    assert installed is not None and installed.path == empty_home.bundles_dir / "lite"
    load_bundle(installed.path, verify_checksums=True)
    assert install_shipped_bundle(empty_home, shipped) is None  # already there: left alone


def test_a_damaged_shipped_bundle_is_reported_and_not_installed(empty_home, lite_bundle, tmp_path, capsys):
    import shutil

    from desktop.first_bundle import install_shipped_bundle

    shipped = tmp_path / "shipped" / "lite"
    shutil.copytree(lite_bundle, shipped)
    (shipped / "vocabulary.json").write_text("[]")
    assert install_shipped_bundle(empty_home, shipped.parent) is None
    assert "vocabulary.json" in capsys.readouterr().err
    assert not (empty_home.bundles_dir / "lite").exists()


def test_check_reports_ready_with_the_bundle_and_provider(home, capsys):
    from desktop.app import create_app
    from desktop.cli_args import parse_args, report_ready
    from desktop.main_window import MainWindow
    from desktop.session import Session

    assert parse_args(["visuallens-desktop", "--check", "-platform", "offscreen"]).check
    assert not parse_args(["visuallens-desktop"]).check
    create_app([])
    window = MainWindow(Session(Home.default()))
    window.show()
    assert report_ready(window) == 0
    ready = READY.search(capsys.readouterr().out)
    assert ready and ready.group(1) == __version__ and ready.group(2) == "lite"
    assert not window.isVisible()


def test_check_fails_clearly_without_a_bundle(empty_home, capsys):
    from desktop.app import create_app
    from desktop.cli_args import report_ready
    from desktop.main_window import MainWindow
    from desktop.session import Session

    create_app([])
    window = MainWindow(Session(empty_home))
    window.show()
    assert report_ready(window) == 5
    assert "not ready" in capsys.readouterr().err


@pytest.mark.skipif(not (sys.platform.startswith("linux") and shutil.which("apt-get")), reason="Debian packages")
def test_the_app_ships_what_qts_x11_plugin_lacks_here(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "packaging"))
    from system_libraries import xcb_libraries

    from desktop.platform_check import missing_libraries, xcb_plugin

    shipped = xcb_libraries()
    assert all(path.is_file() and ".so." in path.name for path in shipped)
    search = os.pathsep.join(str(path.parent) for path in shipped) or None
    assert missing_libraries(xcb_plugin(), search) == []


@pytest.mark.slow
def test_frozen_app_builds_and_starts_offscreen(tmp_path, lite_bundle, sample_set, monkeypatch):
    pytest.importorskip("PyInstaller")
    monkeypatch.delenv("VISUALLENS_SAMPLES")  # the app must find the samples it ships
    dist, work = tmp_path / "dist", tmp_path / "work"
    build = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh"), "--python", sys.executable, "--bundle", str(lite_bundle),
         "--samples", str(sample_set), "--dist", str(dist), "--work", str(work)],
        check=False, capture_output=True, text=True, timeout=1500,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    app = dist / "VisualLens"
    shipped = app / "_internal" / "bundles" / "lite"
    load_bundle(shipped, verify_checksums=True)
    assert not (app / "_internal" / "torch").exists()
    from desktop.platform_check import missing_libraries

    xcb = next(app.rglob("platforms/libqxcb.so"))
    assert missing_libraries(xcb, str(app / "_internal")) == []  # as the bootloader's LD_LIBRARY_PATH has it

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VISUALLENS_HOME": str(tmp_path / "home"),
           "VISUALLENS_BUNDLES": str(tmp_path / "bundles")}
    run = subprocess.run([str(app / "visuallens-desktop"), "--check"], check=False, capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    ready = READY.search(run.stdout)
    assert ready and ready.group(1) == __version__ and ready.group(2) == "lite", run.stdout
    assert f"sample photos: Ada, Bo ({app / '_internal' / 'samples'})" in run.stdout
    load_bundle(tmp_path / "bundles" / "lite", verify_checksums=True)  # installed from the app on first run
    version = subprocess.run([str(app / "visuallens-desktop"), "--version"], check=True, capture_output=True,
                             text=True, env=env)
    assert version.stdout.strip() == f"VisualLens {__version__}"

    licences = (app / "THIRD_PARTY_LICENSES.txt").read_text()
    for expected in ("EfficientNet-Lite0", "all-MiniLM-L6-v2", "WordNet 3.0", "onnxruntime", "PySide6", "numpy",
                     "Apache License"):
        assert expected in licences, expected
    for name in ("LICENSE", "VERSION", "CHANGELOG.md"):
        assert (app / name).is_file()

    data = tmp_path / "xdg"
    subprocess.run([str(app / "install-desktop-entry.sh")], check=True, env={**env, "XDG_DATA_HOME": str(data)},
                   capture_output=True)
    entry = (data / "applications" / "visuallens.desktop").read_text()
    assert f'Exec="{app}/visuallens-desktop"' in entry
    assert (data / "icons" / "hicolor" / "256x256" / "apps" / "visuallens.png").is_file()

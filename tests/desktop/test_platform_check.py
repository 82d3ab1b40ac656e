"""The desktop names the missing system libraries instead of dying in Qt's xcb plugin loader."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from desktop import app, platform_check
from desktop.platform_check import debian_package, missing_libraries, uses_xcb, xcb_problem
from engine.exit_codes import EXIT_NO_DISPLAY


@pytest.fixture()
def needy_library(tmp_path):
    """A real shared library that links to `libghost.so.7`, which is gone."""
    if not shutil.which("gcc"):
        pytest.skip("needs gcc to build a shared library")
    (tmp_path / "ghost.c").write_text("int ghost(void) { return 7; }\n")
    (tmp_path / "needy.c").write_text("int ghost(void);\nint needy(void) { return ghost(); }\n")
    run = lambda *args: subprocess.run(["gcc", "-shared", "-fPIC", *args], cwd=tmp_path, check=True)  # noqa: E731
    run("-Wl,-soname,libghost.so.7", "-o", "libghost.so.7", "ghost.c")
    run("-o", "libneedy.so", "needy.c", "-L.", "-l:libghost.so.7")
    (tmp_path / "libghost.so.7").unlink()
    return tmp_path / "libneedy.so"


def test_the_loader_names_what_a_library_lacks(needy_library):
    assert missing_libraries(needy_library) == ["libghost.so.7"]


def test_without_ldd_the_loader_error_names_it(needy_library, monkeypatch):
    monkeypatch.setattr(platform_check.shutil, "which", lambda _: None)
    assert missing_libraries(needy_library) == ["libghost.so.7"]


def test_a_library_with_everything_lacks_nothing():
    assert missing_libraries(platform_check.xcb_plugin().with_name("libqoffscreen.so")) == []


@pytest.mark.parametrize("soname, package", [
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libGL.so.1", "libgl1"),
])
def test_debian_package_names(soname, package):
    assert debian_package(soname) == package


@pytest.mark.parametrize("environ, expected", [
    ({"DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb:dpi=96;wayland"}, True),
    ({}, False),
])
def test_which_sessions_use_xcb(environ, expected):
    assert uses_xcb(environ, "linux") is expected
    assert uses_xcb(environ, "darwin") is False


def test_xcb_problem_is_one_line_with_the_packages(monkeypatch):
    monkeypatch.setattr(platform_check, "missing_libraries", lambda _: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    problem = xcb_problem({"DISPLAY": ":0"})
    assert "\n" not in problem and problem.endswith("sudo apt install libxcb-cursor0 libxcb-icccm4")
    assert xcb_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) is None


def test_the_app_says_what_to_install_instead_of_crashing(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda _: ["libxcb-keysyms.so.1"])
    monkeypatch.setattr(app, "create_app", lambda *_: pytest.fail("Qt must not start"))
    assert app.main([sys.argv[0]]) == EXIT_NO_DISPLAY
    assert "sudo apt install libxcb-keysyms1" in capsys.readouterr().err

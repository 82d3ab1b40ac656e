"""Before Qt starts: can its X11 (xcb) platform plugin load here, and if not, what to install.

Qt aborts the process with "could not load the Qt platform plugin xcb" when a library the plugin links to is
missing (on Debian: libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, ...). Asking the dynamic loader first turns
that into one line naming the packages.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QLibraryInfo

NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
CANNOT_OPEN = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start with its xcb plugin: on Linux, asked for (`QT_QPA_PLATFORM`) or an X session."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if asked:
        return asked == "xcb"
    wayland = environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland"
    return bool(environ.get("DISPLAY")) and not wayland


def xcb_plugin() -> Path:
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"


def missing_libraries(plugin: Path, library_path: str | None = None) -> list[str]:
    """The shared libraries `plugin` needs that the dynamic loader cannot find (sonames, in ldd's order);
    `library_path` is searched first (as LD_LIBRARY_PATH; ldd only)."""
    if shutil.which("ldd"):
        env = {**os.environ, "LD_LIBRARY_PATH": library_path} if library_path else None
        listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30, env=env).stdout
        return list(dict.fromkeys(NOT_FOUND.findall(listing)))
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:  # the loader names the first library it could not open
        return CANNOT_OPEN.findall(str(exc))[:1]
    return []


def debian_package(soname: str) -> str:
    """Debian's package for a library: `libxcb-cursor.so.0` -> `libxcb-cursor0`, `libxkbcommon-x11.so.0` ->
    `libxkbcommon-x11-0` (Debian policy 8.1: a hyphen when the name ends in a digit)."""
    name, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    return (f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}").lower()


def xcb_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """One line on what keeps the window from opening, or None when Qt's xcb plugin can load (or is not used)."""
    if not uses_xcb(environ):
        return None
    plugin = xcb_plugin()
    if not plugin.is_file():
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    return (f"VisualLens cannot open its window: Qt's X11 plugin needs {', '.join(missing)}. On Debian or Ubuntu: "
            f"sudo apt install {' '.join(map(debian_package, missing))}")

"""The system libraries Qt's X11 (xcb) plugin needs that the build machine lacks, fetched from Debian packages.

PyInstaller bundles every library the frozen Qt links to, but only those the build machine has: where
libxcb-cursor0, libxcb-icccm4 or libxcb-keysyms1 are not installed, the app would fail on the same minimal
desktops. These are downloaded (`apt-get download`, nothing installed) and shipped beside the Qt libraries.
"""

from __future__ import annotations

import os
from pathlib import Path

from desktop.platform_check import debian_package, missing_libraries, xcb_plugin
from export.data.registry import debian_package as unpacked_debian_package

MAX_ROUNDS = 4  # a fetched library may itself need another


def xcb_libraries(plugin: Path | None = None) -> list[Path]:
    """Files (named by soname) to ship so that `plugin` (default: PySide6's libqxcb.so) loads on a machine that has
    only what this one has; empty when this machine has them all (PyInstaller then bundles them itself)."""
    plugin = plugin or xcb_plugin()
    found: dict[str, Path] = {}
    for _ in range(MAX_ROUNDS):
        search = os.pathsep.join(sorted({str(path.parent) for path in found.values()}))
        missing = [soname for soname in missing_libraries(plugin, search or None) if soname not in found]
        if not missing:
            return list(found.values())
        for soname in missing:
            root = unpacked_debian_package(debian_package(soname))
            candidates = sorted(root.rglob(soname))
            if not candidates:
                raise FileNotFoundError(f"{soname}: not in Debian's {debian_package(soname)}")
            found[soname] = candidates[0]
    raise RuntimeError(f"{plugin.name} still lacks libraries after {MAX_ROUNDS} rounds: {', '.join(missing)}")

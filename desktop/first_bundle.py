"""The frozen app ships the `lite` model bundle: on first run it is installed into the user's bundles dir."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.home import Home, app_contents_dir
from engine.models.bundle import MANIFEST, Bundle, BundleError
from engine.models.install import InstallError, install_bundle

SHIPPED_DIR = "bundles"


def shipped_bundles_dir() -> Path | None:
    """`bundles/` in a PyInstaller app's contents dir (`_internal/` or the .app's Resources); None from source."""
    contents = app_contents_dir()
    return contents / SHIPPED_DIR if contents is not None else None


def install_shipped_bundle(home: Home, shipped: Path | None = None) -> Bundle | None:
    """Install the shipped bundle this profile uses (settings, `lite` by default) if it is not installed yet.

    The copy is verified against the manifest's checksums before it is renamed into place. A failure (a damaged
    app folder, a full disk) is reported on stderr and the app starts anyway: it then says the bundle is missing.
    """
    shipped = shipped if shipped is not None else shipped_bundles_dir()
    name = home.load_settings().bundle
    if shipped is None or Path(name).name != name or not (shipped / name / MANIFEST).is_file():
        return None
    target = home.bundles_dir / name
    if target.exists() or target.is_symlink():
        return None
    try:
        return install_bundle(shipped / name, home.bundles_dir, name)
    except (BundleError, InstallError, OSError) as exc:
        if sys.stderr is not None:
            print(f"VisualLens: could not install the model bundle shipped with the app: {exc}", file=sys.stderr)
        return None

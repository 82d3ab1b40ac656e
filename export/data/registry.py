"""Fetch real assets that ship in package registries (Debian .deb, npm tarballs) into a local cache.

Nothing is installed system-wide: a Debian package is downloaded with `apt-get download` and
unpacked with `dpkg-deb -x`; an npm package is fetched with `npm pack` and untarred.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


class AssetFetchError(RuntimeError):
    """A registry asset could not be fetched; the message names the package and the tool."""


def cache_root() -> Path:
    """Where fetched registry assets live (`VISUALLENS_ASSET_CACHE` overrides)."""
    root = os.environ.get("VISUALLENS_ASSET_CACHE") or os.path.join(user_cache_dir("visuallens"), "assets")
    return Path(root)


def debian_package(name: str) -> Path:
    """Return the root of the unpacked Debian package `name` (cached), e.g. `<root>/usr/share/...`."""
    dest = cache_root() / "deb" / name
    if (dest / ".complete").exists():
        return dest
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise AssetFetchError(f"{name}: needs apt-get and dpkg-deb (a Debian/Ubuntu machine)")
    with tempfile.TemporaryDirectory() as tmp:
        _run(["apt-get", "download", name], cwd=tmp, what=name)
        debs = list(Path(tmp).glob("*.deb"))
        if not debs:
            raise AssetFetchError(f"{name}: apt-get download produced no .deb (try `apt-get update`)")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(debs[0]), str(dest)], cwd=tmp, what=name)
    (dest / ".complete").touch()
    return dest


def npm_package(spec: str) -> Path:
    """Return the unpacked `package/` folder of npm package `spec` (e.g. `emoji-datasource-google@16.0.0`)."""
    dest = cache_root() / "npm" / spec.replace("/", "__")
    if (dest / ".complete").exists():
        return dest / "package"
    if not shutil.which("npm"):
        raise AssetFetchError(f"{spec}: needs npm (Node.js)")
    with tempfile.TemporaryDirectory() as tmp:
        _run(["npm", "pack", spec, "--silent"], cwd=tmp, what=spec)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if not tarballs:
            raise AssetFetchError(f"{spec}: npm pack produced no tarball")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(dest, filter="data")
    (dest / ".complete").touch()
    return dest / "package"


def _run(cmd: list[str], cwd: str, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise AssetFetchError(f"{what}: `{' '.join(cmd)}` failed: {detail[-1] if detail else proc.returncode}")

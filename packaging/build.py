"""Build the frozen desktop app: verified model bundle, sample photos, icons, PyInstaller, licences, desktop entry.

    python packaging/build.py [--bundle FOLDER_OR_ARCHIVE] [--samples FOLDER] [--dist DIR] [--work DIR]

Without --bundle the `lite` bundle is built with the export pipeline, without --samples the sample people (both need
the [export] extras). The same script
runs on Windows and macOS (see packaging/README.md); the Linux desktop entry and hicolor icons are added on Linux.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from collect_licences import collect
from render_icons import ICON_NAME, render_icons
from system_libraries import xcb_libraries

from engine.models.install import LITE, build_lite, folder_size, install_bundle
from engine.samples import SHIPPED_DIR, load_sample_people

APP_NAME = "VisualLens"
DOCS = ("LICENSE", "VERSION", "CHANGELOG.md")


def build(dist: Path, work: Path, bundle_source: Path | None, samples_source: Path | None = None) -> Path:
    """Build into `dist`; returns the app folder (dist/VisualLens, or VisualLens.app's Resources on macOS)."""
    started = time.monotonic()
    staged = work / "bundles"
    shutil.rmtree(staged, ignore_errors=True)
    print(f"==> model bundle ({bundle_source or 'building lite with the export pipeline'})", flush=True)
    bundle = install_bundle(bundle_source, staged, LITE) if bundle_source else build_lite(staged)
    print(f"    {bundle.name} {bundle.version}: every file's sha256 verified", flush=True)
    samples = load_sample_people(samples_source or _build_samples(work / "samples"))
    print(f"==> sample photos of {', '.join(samples.names())} ({samples.root})", flush=True)
    icons = render_icons(work / "icons")
    env = {**os.environ, "VISUALLENS_APP_BUNDLE": str(bundle.path), "VISUALLENS_APP_ICON": str(icons[max(icons)]),
           "VISUALLENS_APP_SAMPLES": str(samples.root)}
    if sys.platform.startswith("linux"):
        env["VISUALLENS_APP_LIBS"] = os.pathsep.join(map(str, _system_libraries(work / "system-libraries")))
    print("==> PyInstaller", flush=True)
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(dist),
                    "--workpath", str(work), str(HERE / "visuallens.spec")], check=True, env=env, cwd=ROOT)
    app = dist / f"{APP_NAME}.app" / "Contents" / "Resources" if sys.platform == "darwin" else dist / APP_NAME
    for name in DOCS:
        shutil.copyfile(ROOT / name, app / name)
    shipped = next(app.rglob(f"bundles/{LITE}/manifest.json")).parent.parent
    text, missing = collect(json.loads((work / "visuallens" / "frozen.json").read_text()), shipped)
    (app / "THIRD_PARTY_LICENSES.txt").write_text(text + _sample_sources(samples.root), encoding="utf-8")
    if missing:
        print(f"warning: no licence text found for {', '.join(missing)}", file=sys.stderr)
    if sys.platform.startswith("linux"):
        _linux_desktop_files(app, work / "icons")
    total, shipped_size = folder_size(app), folder_size(shipped)
    print(f"==> {app}: {total / 1e6:.0f} MB ({(total - shipped_size) / 1e6:.0f} MB without the model bundle), "
          f"built in {time.monotonic() - started:.0f} s", flush=True)
    return app


def _build_samples(out: Path) -> Path:
    """The sample people, built with the export side in its own process (`visuallens-export samples people`)."""
    subprocess.run([sys.executable, "-m", "export.cli", "samples", "people", "--out", str(out)], check=True,
                   stdin=subprocess.DEVNULL)
    return out


def _sample_sources(samples: Path) -> str:
    """The sample photos' sources and licences (SOURCES.txt up to its per-file table), for the licences file."""
    sources = samples / "SOURCES.txt"
    if not sources.is_file():
        return ""
    head = sources.read_text(encoding="utf-8").split("\nfile\t")[0].strip()
    return f"\n\n{'=' * 79}\nThe sample photos ({SHIPPED_DIR}/): {head}\n"


def _system_libraries(folder: Path) -> list[Path]:
    """Copies (named by soname) of what Qt's xcb plugin needs and this machine lacks, fetched from Debian."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copies = [Path(shutil.copyfile(path, folder / path.name)) for path in xcb_libraries()]
    print(f"==> Qt's X11 plugin: {', '.join(p.name for p in copies) or 'nothing'} shipped from Debian packages",
          flush=True)
    return copies


def _linux_desktop_files(app: Path, icons: Path) -> None:
    """share/applications/visuallens.desktop, share/icons/hicolor, and the script that installs both per user."""
    share = app / "share"
    (share / "applications").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / f"{ICON_NAME}.desktop", share / "applications" / f"{ICON_NAME}.desktop")
    shutil.copytree(icons / "hicolor", share / "icons" / "hicolor", dirs_exist_ok=True)
    script = app / "install-desktop-entry.sh"
    shutil.copyfile(HERE / "install-desktop-entry.sh", script)
    script.chmod(0o755)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a built lite bundle folder or archive (default: build one)")
    parser.add_argument("--samples", type=Path, help="a built sample set (default: build the sample people)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the app folder goes (default: dist)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller", help="scratch folder")
    args = parser.parse_args(argv)
    build(args.dist.absolute(), args.work.absolute(), args.bundle, args.samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

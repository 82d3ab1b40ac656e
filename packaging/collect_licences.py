"""Collect the third-party licences of a frozen VisualLens app into one THIRD_PARTY_LICENSES.txt.

Sections: the model bundles shipped (each manifest's model sources and the bundle's own LICENSES.txt), the Python
runtime, every Python distribution whose modules or libraries were frozen (licence metadata and licence files,
else the standard text of the declared licence), and on Debian-based build machines the system libraries frozen
with the app (their package's copyright file).

    python packaging/collect_licences.py --frozen build/frozen.json --bundles dist/VisualLens/_internal/bundles \\
        --out dist/VisualLens/THIRD_PARTY_LICENSES.txt
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from importlib.metadata import Distribution, PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON_LICENSES = Path("/usr/share/common-licenses")  # Debian's standard licence texts
# Standard texts for declared licences that come without a licence file (key: SPDX id).
STANDARD_TEXTS = {"Apache-2.0": "Apache-2.0", "LGPL-3.0-only": "LGPL-3", "GPL-3.0-only": "GPL-3", "GPL-2.0-only": "GPL-2"}
CLASSIFIER_SPDX = {"Apache Software License": "Apache-2.0", "MIT License": "MIT", "BSD License": "BSD"}
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|notice|thirdpartynotices|authors)", re.IGNORECASE)
RULE = "=" * 100
OWN_DISTRIBUTION = "visuallens"  # covered by LICENSE


def collect(frozen: dict, bundles: Path | None) -> tuple[str, list[str]]:
    """The whole text, and the distributions for which no licence text was found (to fix before shipping)."""
    parts = [_header(), _bundles_section(bundles), _python_section()]
    dists = frozen_distributions(frozen["modules"], [dest for dest, _ in frozen["binaries"]])
    text, missing = _distributions_section(dists)
    parts.append(text)
    parts.append(_system_libraries_section(src for _, src in frozen["binaries"]))
    return "\n\n".join(p for p in parts if p) + "\n", missing


def frozen_distributions(modules: Iterable[str], binary_dests: Iterable[str]) -> list[Distribution]:
    """The installed distributions that own the frozen modules and libraries (by top-level import name)."""
    tops = {m.split(".")[0] for m in modules}
    tops |= {Path(dest).parts[0].split(".")[0] for dest in binary_dests}  # "numpy.libs/..." -> numpy
    owners = packages_distributions()
    names = sorted({name for top in tops for name in owners.get(top, []) if name != OWN_DISTRIBUTION}, key=str.lower)
    found = []
    for name in names:
        try:
            found.append(distribution(name))
        except PackageNotFoundError:
            continue
    return found


def _header() -> str:
    return (f"VisualLens {(ROOT / 'VERSION').read_text().strip()}: third-party licences\n{RULE}\n"
            "VisualLens itself is under the Apache License 2.0 (LICENSE, beside this file). It ships the components\n"
            "below, each under its own licence.")


def _bundles_section(bundles: Path | None) -> str:
    if bundles is None or not bundles.is_dir():
        return f"MODEL BUNDLES\n{RULE}\nNone shipped with this build."
    out = [f"MODEL BUNDLES\n{RULE}"]
    for folder in sorted(p for p in bundles.iterdir() if (p / "manifest.json").is_file()):
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        out.append(f"Bundle {folder.name} ({manifest.get('name')} {manifest.get('version')}): bundles/{folder.name}/")
        for section in manifest.values():
            if isinstance(section, dict) and "file" in section:
                source = section.get("source") or {}
                if isinstance(source, dict):  # a model's package and licence; a derived file describes itself
                    source = ", ".join(f"{k}: {v}" for k, v in source.items() if v)
                described = source or section.get("summary")
                out.append(f"  {section['file']}: {described or 'see the notices of the bundle below'}")
        notices = folder / "LICENSES.txt"
        if notices.is_file():
            out.append(f"\n{notices.read_text(encoding='utf-8').rstrip()}")
    out.append("\nEmoji data: none is shipped. A catalog imported from emoji-datasource (npm) keeps that package's\n"
               "licences (MIT for the data; Google's Noto Emoji images Apache-2.0 / OFL-1.1, Twemoji CC-BY-4.0).")
    return "\n".join(out)


def _python_section() -> str:
    version = sys.version.split()[0]
    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"]
    text = next((p.read_text(encoding="utf-8", errors="replace") for p in candidates if p.is_file()),
                "Python Software Foundation License Version 2: https://docs.python.org/3/license.html")
    return f"PYTHON {version}\n{RULE}\n{text.rstrip()}"


def _distributions_section(dists: list[Distribution]) -> tuple[str, list[str]]:
    out = [f"PYTHON PACKAGES ({len(dists)})\n{RULE}"]
    missing = []
    for dist in dists:
        name, declared = dist.metadata["Name"], _declared(dist)
        out.append(f"{'-' * 100}\n{name} {dist.version} -- {declared or 'licence not declared'}")
        texts = _licence_files(dist)
        if not texts:
            standard = _standard_texts(declared)
            if standard:
                texts = standard
            else:
                missing.append(name)
        for label, text in texts:
            out.append(f"--- {label}\n{text.rstrip()}")
        if name.lower().startswith("pyside6"):
            out.append("Qt's own third-party components: https://doc.qt.io/qt-6/licenses-used-in-qt.html")
    return "\n".join(out), missing


def _declared(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    licence = (meta.get("License") or "").strip()
    if licence and "\n" not in licence and len(licence) < 100:
        return licence
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(CLASSIFIER_SPDX.get(c, c) for c in classifiers)


def _licence_files(dist: Distribution) -> list[tuple[str, str]]:
    texts, seen = [], set()
    for file in dist.files or []:
        if not LICENCE_FILE.match(file.name) or "test" in str(file).lower():
            continue
        path = Path(dist.locate_file(file))
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if text not in seen:
            seen.add(text)
            texts.append((str(file), text))
    return texts


def _standard_texts(declared: str) -> list[tuple[str, str]]:
    """The standard texts of the licences named in an SPDX expression (Debian's copies), when available."""
    found = []
    for spdx in re.findall(r"[A-Za-z0-9.+-]+", declared):
        path = COMMON_LICENSES / STANDARD_TEXTS.get(spdx, "-")
        if path.is_file():
            found.append((f"{spdx} (standard text)", path.read_text(encoding="utf-8")))
    return found


def _system_libraries_section(sources: Iterable[str]) -> str:
    """Libraries frozen from the build machine's system (not from a Python package), by Debian package."""
    system = sorted({s for s in sources if s.startswith(("/usr/lib", "/lib"))})
    if not system or shutil.which("dpkg") is None:
        return ""
    owners: dict[str, list[str]] = {}
    for lib in system:
        owners.setdefault(_debian_package(lib), []).append(Path(lib).name)
    out = [f"SYSTEM LIBRARIES ({len(system)}, from the build machine's Debian packages)\n{RULE}"]
    for package, libs in sorted(owners.items()):
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.is_file() else ""
        out.append(f"{'-' * 100}\n{package}: {', '.join(sorted(libs))}\n{text.rstrip() or 'no copyright file found'}")
    return "\n".join(out)


def _debian_package(lib: str) -> str:
    """The Debian package that installed a library (usrmerge: dpkg may know it under /lib or /usr/lib)."""
    paths = {lib, os.path.realpath(lib)}
    paths |= {p.replace("/usr/lib/", "/lib/", 1) if p.startswith("/usr/") else "/usr" + p for p in set(paths)}
    for path in sorted(paths):
        result = subprocess.run(["dpkg", "-S", path], check=False, capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].strip()
    return "unknown package"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", type=Path, required=True, help="frozen.json written by visuallens.spec")
    parser.add_argument("--bundles", type=Path, help="the app's bundles folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    text, missing = collect(json.loads(args.frozen.read_text()), args.bundles)
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text) / 1e3:.0f} kB of licences")
    if missing:
        print(f"warning: no licence text found for {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

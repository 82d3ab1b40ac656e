"""Sample data built from registry packages: a stand-in photo library and the emoji candidate catalog.

Both builders are cached: they build into a hidden staging folder next to `out_dir` (`engine.staged_folder`), move
it into place when complete and leave a `.complete` marker, so calling them again returns at once.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image
from pillow_heif import register_heif_opener

from engine.catalog.emoji import import_emoji_catalog
from engine.staged_folder import staged_folder
from export.data.registry import debian_package, npm_package

register_heif_opener()

Progress = Callable[[int, int], None]

EMOJI_PACKAGE = "emoji-datasource-google@16.0.0"
RENDERS_PACKAGE = "@lobehub/fluent-emoji-3d@1.1.0"
ANNOTATIONS_PACKAGE = "emojibase-data@16.0.3"
STAMPS_PACKAGE = "tuxpaint-stamps-default"
WALLPAPERS_PACKAGE = "mate-backgrounds"

STAMPS_DIR = "usr/share/tuxpaint/stamps"
WALLPAPERS_DIR = "usr/share/backgrounds/mate"
WALLPAPERS = ("nature/*.jpg", "abstract/Elephants_5640x3172.jpg")  # real JPEGs, 1280 px to 5640 px wide
# Stamp folders that are not photo-like: letters, coins, road signs, flags, drawings.
SKIPPED_STAMPS = ("symbols/", "/cartoon", "town/roadsigns", "town/flags")
# Top stamp folder -> photo library folder; the rest goes to "misc".
FOLDERS = {
    "food": "food",
    "animals": "nature",
    "plants": "nature",
    "naturalforces": "nature",
    "space": "nature",
    "town": "2024 trip",
    "vehicles": "2024 trip",
    "sports": "2024 trip",
}
WALLPAPER_FOLDER = "2024 trip/camera"
CONVERSIONS = {"webp": 8, "heic": 8, "exif-jpeg": 6}  # stamps re-encoded so every supported format is present
CONVERTED_SUFFIX = {"webp": "webp", "heic": "heic", "exif-jpeg": "jpg"}
EXIF_ORIENTATION = 6  # "rotate 90 degrees clockwise to display", as phones write it
MIN_PHOTOS = 50
MARKER = ".complete"


class SampleBuildError(RuntimeError):
    """Sample data cannot be built into the given folder; the message says why."""


@dataclass(frozen=True)
class _Photo:
    source: Path
    package: str
    target: str  # path relative to the photo folder
    conversion: str  # "copy" or a CONVERSIONS key
    description: str


def build_sample_photos(out_dir: Path, count: int = 320, seed: int = 0, on_progress: Progress | None = None) -> Path:
    """Fill `out_dir` with `count` real images (PNG, JPEG up to 5640 px, WebP, HEIC, EXIF-rotated JPEG)."""
    out_dir = Path(out_dir)
    publish(out_dir, {"photos": count, "seed": seed}, lambda stage: _write_photos(stage, count, seed, on_progress))
    return out_dir


def build_sample_catalog(out_dir: Path, on_progress: Progress | None = None) -> Path:
    """Build the emoji sample catalog (3D renders preferred, CLDR keywords) in `out_dir`; return catalog.json."""
    out_dir = Path(out_dir)
    packages = [EMOJI_PACKAGE, RENDERS_PACKAGE, ANNOTATIONS_PACKAGE]
    publish(out_dir, {"catalog": packages}, lambda stage: _write_catalog(stage, on_progress))
    return out_dir / "catalog.json"


def _write_catalog(stage: Path, on_progress: Progress | None) -> None:
    emoji, renders, annotations = (npm_package(spec) for spec in (EMOJI_PACKAGE, RENDERS_PACKAGE, ANNOTATIONS_PACKAGE))
    import_emoji_catalog(
        emoji,
        stage,
        renders_dir=renders / "assets",
        annotations=annotations / "en" / "data.json",
        on_progress=on_progress,
    )
    lines = [
        "VisualLens sample catalog: emoji of recommendable things, from npm packages (not our images).",
        "",
        f"{EMOJI_PACKAGE} (npm), licence {npm_licence(emoji)}; its Google Noto images are Apache-2.0:"
        " names, short names, categories, 64 px PNGs",
        f"{RENDERS_PACKAGE} (npm), licence {npm_licence(renders)}: Microsoft Fluent Emoji 3D renders, 256 px WebP",
        f"{ANNOTATIONS_PACKAGE} (npm), licence {npm_licence(annotations)}: CLDR keywords for descriptions",
    ]
    (stage / "SOURCES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_photos(stage: Path, count: int, seed: int, on_progress: Progress | None) -> None:
    stamps_root, wallpapers_root = debian_package(STAMPS_PACKAGE), debian_package(WALLPAPERS_PACKAGE)
    wallpapers = [path for pattern in WALLPAPERS for path in sorted((wallpapers_root / WALLPAPERS_DIR).glob(pattern))]
    stamps = photo_stamps(stamps_root / STAMPS_DIR)
    available = len(wallpapers) + sum(len(paths) for paths in stamps.values())
    if not MIN_PHOTOS <= count <= available:
        raise SampleBuildError(f"sample photos: count must be between {MIN_PHOTOS} and {available}, got {count}")

    rng = random.Random(seed)
    picked = _round_robin(stamps, count - len(wallpapers), rng)
    conversions = [kind for kind, n in CONVERSIONS.items() for _ in range(n)]
    conversions += ["copy"] * (len(picked) - len(conversions))
    rng.shuffle(conversions)

    taken: set[str] = set()
    photos = [
        _Photo(path, WALLPAPERS_PACKAGE, _unique(f"{WALLPAPER_FOLDER}/{path.name}", taken), "copy", path.stem)
        for path in wallpapers
    ]
    for path, conversion in zip(picked, conversions):
        folder = FOLDERS.get(path.relative_to(stamps_root / STAMPS_DIR).parts[0], "misc")
        name = path.name if conversion == "copy" else f"{path.stem}.{CONVERTED_SUFFIX[conversion]}"
        description = path.with_suffix(".txt").read_text(encoding="utf-8").splitlines()[0].strip()
        photos.append(_Photo(path, STAMPS_PACKAGE, _unique(f"{folder}/{name}", taken), conversion, description))

    for done, photo in enumerate(photos, start=1):
        target = stage / photo.target
        target.parent.mkdir(parents=True, exist_ok=True)
        _WRITERS[photo.conversion](photo.source, target)
        if on_progress:
            on_progress(done, len(photos))
    _write_photo_sources(stage, photos, {STAMPS_PACKAGE: stamps_root, WALLPAPERS_PACKAGE: wallpapers_root}, seed)


def photo_stamps(stamps_dir: Path) -> dict[str, list[Path]]:
    """Photo-like stamps (those with a `.txt` description, no mirrored copies) by folder."""
    by_folder: dict[str, list[Path]] = {}
    for path in sorted(stamps_dir.rglob("*.png")):
        relative = path.relative_to(stamps_dir).as_posix()
        if any(skip in relative for skip in SKIPPED_STAMPS) or not path.with_suffix(".txt").is_file():
            continue
        by_folder.setdefault(path.parent.relative_to(stamps_dir).as_posix(), []).append(path)
    return by_folder


def everyday_photos(stamp_folders: tuple[str, ...] = ()) -> list[Path]:
    """Real everyday photos: the photo-like stamps (of those top-level stamp folders only, if given), then the
    landscape wallpapers, in a fixed order."""
    stamps = photo_stamps(debian_package(STAMPS_PACKAGE) / STAMPS_DIR)
    chosen = [path for folder, paths in stamps.items() if not stamp_folders or folder.split("/")[0] in stamp_folders
              for path in paths]
    base = debian_package(WALLPAPERS_PACKAGE) / WALLPAPERS_DIR
    return chosen + [path for pattern in WALLPAPERS for path in sorted(base.glob(pattern))]


def _round_robin(groups: dict[str, list[Path]], n: int, rng: random.Random) -> list[Path]:
    """Pick `n` paths spread evenly across the groups, in a seeded order."""
    queues = [rng.sample(paths, len(paths)) for paths in groups.values()]
    rng.shuffle(queues)
    picked: list[Path] = []
    while len(picked) < n:
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop())
    return picked


def _unique(target: str, taken: set[str]) -> str:
    stem, dot, suffix = target.rpartition(".")
    candidate, number = target, 2
    while candidate.lower() in taken:
        candidate, number = f"{stem}-{number}{dot}{suffix}", number + 1
    taken.add(candidate.lower())
    return candidate


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _save_webp(source: Path, target: Path) -> None:
    with Image.open(source) as img:
        img.convert("RGBA").save(target, format="WEBP", quality=85)


def _save_heic(source: Path, target: Path) -> None:
    with Image.open(source) as img:
        img.convert("RGBA").save(target, format="HEIF", quality=80)


def _save_exif_rotated_jpeg(source: Path, target: Path) -> None:
    """Store the pixels turned a quarter left with orientation 6, so viewers that honour EXIF show it upright."""
    with Image.open(source) as img:
        rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = EXIF_ORIENTATION
    flat.transpose(Image.Transpose.ROTATE_90).save(target, format="JPEG", quality=90, exif=exif)


_WRITERS: dict[str, Callable[[Path, Path], None]] = {
    "copy": _copy,
    "webp": _save_webp,
    "heic": _save_heic,
    "exif-jpeg": _save_exif_rotated_jpeg,
}


def _write_photo_sources(stage: Path, photos: list[_Photo], roots: dict[str, Path], seed: int) -> None:
    lines = [f"VisualLens sample photos: {len(photos)} images (seed {seed}) from Debian packages, not our images.", ""]
    for package, root in roots.items():
        version, licences = debian_version(root, package), ", ".join(debian_licences(root, package))
        lines.append(f"{package} {version} (Debian), licence {licences}")
    lines += ["", "file\tpackage\tsource\tconversion\tdescription"]
    for photo in photos:
        source = photo.source.relative_to(roots[photo.package]).as_posix()
        lines.append(f"{photo.target}\t{photo.package}\t{source}\t{photo.conversion}\t{photo.description}")
    (stage / "SOURCES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def debian_version(root: Path, package: str) -> str:
    """The version on the first line of the package's changelog: `name (1.2-3) unstable; ...`."""
    with gzip.open(root / "usr/share/doc" / package / "changelog.Debian.gz", "rt", encoding="utf-8") as changelog:
        first = changelog.readline()
    return first.partition("(")[2].partition(")")[0]


def debian_licences(root: Path, package: str) -> list[str]:
    """The distinct `License:` names of the package's machine-readable copyright file."""
    text = (root / "usr/share/doc" / package / "copyright").read_text(encoding="utf-8")
    names = (line.removeprefix("License:").strip() for line in text.splitlines() if line.startswith("License:"))
    return list(dict.fromkeys(names))


def npm_licence(package_dir: Path) -> str:
    """The `license` field of an unpacked npm package."""
    return json.loads((package_dir / "package.json").read_text(encoding="utf-8")).get("license", "unknown")


def publish(out_dir: Path, params: dict, build: Callable[[Path], None]) -> None:
    """Run `build` into a staging folder and move it to `out_dir`; skip when `out_dir` already holds it."""
    marker = out_dir / MARKER
    if marker.is_file():
        built = json.loads(marker.read_text(encoding="utf-8"))
        if built != params:
            raise SampleBuildError(
                f"{out_dir}: already built with {built}, not {params}; remove it or pick another folder"
            )
        return
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SampleBuildError(f"{out_dir}: exists and is not an empty folder")
    with staged_folder(out_dir) as stage:
        stage.mkdir()
        build(stage)
        (stage / MARKER).write_text(json.dumps(params) + "\n", encoding="utf-8")
        if out_dir.is_dir():
            out_dir.rmdir()  # empty, as checked above; one filled meanwhile is refused here, never replaced

"""Model bundles: a folder with `manifest.json`, ONNX files and tokenizer files, validated before use.

The bundle is the only thing that crosses from `export` (torch) to `engine` (ONNX Runtime). A bundle whose
schema, field types, checksums or declared tensor shapes do not match is refused with a one-line error naming the file.
Every file the manifest names must be a regular file inside the bundle folder, reached without symbolic links, of a
bounded size: a manifest cannot make the engine read, hash or open anything else.

Schema 2 lets the image encoder declare a second output, `visual` ([batch, V]): pooled visual features stored per
photo next to the embedding. Schema 1 bundles predate it and must be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from engine.models.manifest import VISUAL_OUTPUT, Manifest
from engine.record_validation import parse

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
# Size limits for one file and a whole bundle: generous, and far below a disk-filling copy. The largest file of a real
# bundle is the clip bundle's fp32 ViT-B-32 image tower (~350 MB) and a whole fp32 clip bundle is ~1.7 GB; one ONNX
# file cannot exceed protobuf's 2 GiB anyway (larger models keep their weights in external data files).
MAX_FILE_BYTES = 4 << 30
MAX_BUNDLE_BYTES = 8 << 30


class BundleError(Exception):
    """A model bundle that cannot be used; the message names the offending file."""


# What a file's checksum was verified against: (size, mtime_ns, inode, sha256). A file with the same four later is the
# same file, its sha256 not computed again (a tenth of a second of every start-up for the lite bundle).
FileCheck = tuple[int, int, int, str]


@dataclass(frozen=True)
class Bundle:
    """A validated model bundle on disk; `verified` holds the files whose checksums were checked (see FileCheck)."""

    path: Path
    manifest: Manifest
    verified: dict[str, FileCheck] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def embedding_dim(self) -> int:
        return self.manifest.embedding_dim

    @property
    def visual_dim(self) -> int:
        """Width of a photo's visual vector: the `visual` output's when the image encoder declares one, else the
        embedding's (such bundles, the clip bundle say, use the image embedding as the visual vector)."""
        declared = self.manifest.image_encoder.output(VISUAL_OUTPUT)
        return self.embedding_dim if declared is None else int(declared.shape[-1])

    @property
    def identity(self) -> str:
        """What a stored vector depends on: vectors from another identity are not comparable."""
        digest = self.manifest.files[self.manifest.image_encoder.file].sha256
        return f"{self.name}@{self.version}#{digest[:16]}"

    def file(self, name: str) -> Path:
        return self.path / name


def load_bundle(path: str | Path, verify_checksums: bool = True, verified: Mapping[str, FileCheck] = {}) -> Bundle:
    """Read and validate a bundle folder; raise BundleError naming the first problem found. A file `verified` says
    was checked as it is now (size, mtime, inode and the manifest's sha256) is not hashed again."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BundleError(f"{path}: model bundle folder not found")
    manifest_path = path / MANIFEST
    raw = read_manifest(path)
    _check_schema_version(manifest_path, raw)
    manifest = parse(Manifest, raw, lambda problem: BundleError(f"{manifest_path}: {problem}"))
    problem = _files_problem(manifest)
    if problem:
        raise BundleError(f"{manifest_path}: {problem}")
    checked = _check_files(path, manifest, verify_checksums, verified)
    bundle = Bundle(path=path, manifest=manifest, verified=checked)
    _check_declared_shapes(bundle)
    return bundle


def read_manifest(folder: Path) -> dict[str, Any]:
    """The bundle's manifest as the JSON object it is (for `load_bundle`, and for the export side writing a bundle
    from another); BundleError when it is missing or not a JSON object."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path}: missing manifest (not a model bundle)")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BundleError(f"{manifest_path}: unreadable manifest ({exc})") from exc
    if not isinstance(raw, dict):
        raise BundleError(f"{manifest_path}: manifest must be a JSON object")
    return raw


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_schema_version(manifest_path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a bundle of another schema; an older one is told how to get a current one."""
    found = manifest.get("schema_version")
    if found == SCHEMA_VERSION and not isinstance(found, bool):
        return
    if "schema_version" not in manifest:
        raise BundleError(f"{manifest_path}: manifest lacks schema_version")
    if isinstance(found, int) and not isinstance(found, bool) and found < SCHEMA_VERSION:
        raise BundleError(
            f"{manifest_path}: schema version {found} is too old for this VisualLens (expected {SCHEMA_VERSION}): "
            f"{_rebuild_hint(str(manifest.get('name')), manifest_path.parent)}"
        )
    raise BundleError(f"{manifest_path}: schema version {found!r} is not supported (expected {SCHEMA_VERSION})")


def _rebuild_hint(name: str, folder: Path) -> str:
    """How to replace an outdated bundle: the lite bundle can be built here, others come from `visuallens-export`."""
    if name == "lite":
        return (f"rebuild it with `visuallens-export bundle lite --out {folder} --force` "
                "or `visuallens models install lite --force`")
    return (f"rebuild it with `visuallens-export bundle {name} ... --out FOLDER` and install that with "
            f"`visuallens models install {name} --from FOLDER --force`")


def _files_problem(manifest: Manifest) -> str | None:
    """What is wrong with the `files` table (None: nothing): every name is a file inside the bundle, every size
    within the limits."""
    for name, entry in manifest.files.items():
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name or "\0" in name:
            return f"`files` lists {name!r}, which is not a file name inside the bundle"
        if (entry.bytes or 0) > MAX_FILE_BYTES:
            return f"`files` entry {name!r} is {entry.bytes} bytes, over the limit of {MAX_FILE_BYTES} per file"
    if sum(entry.bytes or 0 for entry in manifest.files.values()) > MAX_BUNDLE_BYTES:
        return f"the files add up to more than the limit of {MAX_BUNDLE_BYTES} bytes per bundle"
    return None


def _check_files(
    root: Path, manifest: Manifest, verify_checksums: bool, verified: Mapping[str, FileCheck]
) -> dict[str, FileCheck]:
    """Every name a section gives has a checksum entry; every entry is a regular file inside `root`, of its size
    and (`verify_checksums`) its sha256, unless `verified` has it unchanged. Returns the checks that hold now."""
    for name in sorted(manifest.referenced() - set(manifest.files)):
        raise BundleError(f"{root / name}: referenced by the manifest but has no checksum entry")
    checked: dict[str, FileCheck] = {}
    for name, entry in sorted(manifest.files.items()):
        target = root / name
        try:
            status = _contained_file(root, name)
            size = status.st_size
            if size > MAX_FILE_BYTES:
                raise BundleError(f"{target}: {size} bytes, over the limit of {MAX_FILE_BYTES} per file")
            if entry.bytes is not None and size != entry.bytes:
                raise BundleError(f"{target}: size does not match the manifest (truncated or replaced)")
            if not verify_checksums:
                continue
            check = (size, status.st_mtime_ns, status.st_ino, entry.sha256)
            if tuple(verified.get(name, ())) != check and sha256_file(target) != entry.sha256:
                raise BundleError(f"{target}: sha256 does not match the manifest (corrupt or tampered)")
            checked[name] = check
        except FileNotFoundError:
            raise BundleError(f"{target}: file listed in the manifest is missing") from None
        except OSError as exc:  # unreadable, or a name too long for the file system
            raise BundleError(f"{target}: cannot be read ({exc.strerror or exc})") from exc
    return checked


def _contained_file(root: Path, name: str) -> os.stat_result:
    """The status of `root/name` (a relative name without `..`), which must be a regular file reached through no
    symbolic link below `root`: a link would let the manifest name any file on the machine."""
    here = root
    for part in PurePosixPath(name).parts:
        here = here / part
        status = here.lstat()
        if stat.S_ISLNK(status.st_mode):
            raise BundleError(f"{here}: is a symbolic link; a bundle's files must be inside its folder")
    if not stat.S_ISREG(status.st_mode):
        raise BundleError(f"{here}: is not a regular file")
    return status


def _check_declared_shapes(bundle: Bundle) -> None:
    """Both encoders declare an `embedding` output of the manifest's width; a declared `visual` output is
    [batch, V] with a fixed width V (the store keeps vectors of one width)."""
    dim = bundle.embedding_dim
    for section in (bundle.manifest.image_encoder, bundle.manifest.text_encoder):
        embedding = section.output("embedding")
        if embedding is None:
            raise BundleError(f"{bundle.file(section.file)}: manifest declares no `embedding` output")
        if embedding.shape[-1] != dim:
            raise BundleError(f"{bundle.file(section.file)}: embedding width {embedding.shape[-1]} != embedding_dim {dim}")
    image = bundle.manifest.image_encoder
    visual = image.output(VISUAL_OUTPUT)
    if visual is None:
        return
    width = visual.shape[-1] if len(visual.shape) == 2 else None
    if not isinstance(width, int) or width < 1:
        raise BundleError(
            f"{bundle.file(image.file)}: output `{VISUAL_OUTPUT}` must have shape [\"batch\", V] with a "
            f"positive integer V, the manifest says {visual.shape}"
        )

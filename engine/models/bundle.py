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
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from engine.imaging.preprocess import PreprocessSpec

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
VISUAL_OUTPUT = "visual"
_REQUIRED_KEYS = ("schema_version", "name", "version", "embedding_dim", "image_encoder", "text_encoder", "files")
_MODEL_SECTIONS = ("image_encoder", "text_encoder", "ranker")  # each names an ONNX file and declares its inputs/outputs
_DESCRIBER_FILES = ("file", "vectors", "encoder", "decoder", "tokenizer", "aspect_vocabulary")  # vocabulary, captioner
# Size limits for one file and a whole bundle: generous, and far below a disk-filling copy. The largest file of a real
# bundle is the clip bundle's fp32 ViT-B-32 image tower (~350 MB) and a whole fp32 clip bundle is ~1.7 GB; one ONNX
# file cannot exceed protobuf's 2 GiB anyway (larger models keep their weights in external data files).
MAX_FILE_BYTES = 4 << 30
MAX_BUNDLE_BYTES = 8 << 30


class BundleError(Exception):
    """A model bundle that cannot be used; the message names the offending file."""


@dataclass(frozen=True)
class Bundle:
    """A validated model bundle on disk."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def embedding_dim(self) -> int:
        return int(self.manifest["embedding_dim"])

    @property
    def visual_dim(self) -> int:
        """Width of a photo's visual vector: the `visual` output's when the image encoder declares one, else the
        embedding's (such bundles, the clip bundle say, use the image embedding as the visual vector)."""
        declared = _output(self.section("image_encoder"), VISUAL_OUTPUT)
        return self.embedding_dim if declared is None else int(declared["shape"][-1])

    @property
    def evidence_similarity(self) -> float | None:
        """How like a candidate a photo must be to count as showing its kind of thing (None: not calibrated)."""
        value = self.section("image_encoder").get("evidence_similarity")
        return None if value is None else float(value)

    @property
    def identity(self) -> str:
        """What a stored vector depends on: vectors from another identity are not comparable."""
        digest = self.manifest["files"][self.manifest["image_encoder"]["file"]]["sha256"]
        return f"{self.name}@{self.version}#{digest[:16]}"

    def file(self, name: str) -> Path:
        return self.path / name

    def section(self, key: str) -> dict[str, Any]:
        return self.manifest[key]


def load_bundle(path: str | Path, verify_checksums: bool = True) -> Bundle:
    """Read and validate a bundle folder; raise BundleError naming the first problem found."""
    path = Path(path).expanduser()
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise BundleError(f"{path}: model bundle folder not found")
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path}: missing manifest (not a model bundle)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BundleError(f"{manifest_path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path}: manifest must be a JSON object")
    missing = [k for k in _REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{manifest_path}: manifest lacks {', '.join(missing)}")
    _check_schema_version(manifest_path, manifest)
    problem = _structure_problem(manifest)
    if problem:
        raise BundleError(f"{manifest_path}: {problem}")
    _check_files(path, manifest, verify_checksums)
    bundle = Bundle(path=path, manifest=manifest)
    _check_declared_shapes(bundle)
    return bundle


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_schema_version(manifest_path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a bundle of another schema; an older one is told how to get a current one."""
    found = manifest["schema_version"]
    if found == SCHEMA_VERSION:
        return
    if isinstance(found, int) and found < SCHEMA_VERSION:
        raise BundleError(
            f"{manifest_path}: schema version {found} is too old for this VisualLens (expected {SCHEMA_VERSION}): "
            f"{_rebuild_hint(str(manifest['name']), manifest_path.parent)}"
        )
    raise BundleError(f"{manifest_path}: schema version {found} is not supported (expected {SCHEMA_VERSION})")


def _rebuild_hint(name: str, folder: Path) -> str:
    """How to replace an outdated bundle: the lite bundle can be built here, others come from `visuallens-export`."""
    if name == "lite":
        return (f"rebuild it with `visuallens-export bundle lite --out {folder} --force` "
                "or `visuallens models install lite --force`")
    return (f"rebuild it with `visuallens-export bundle {name} ... --out FOLDER` and install that with "
            f"`visuallens models install {name} --from FOLDER --force`")


def _structure_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the manifest's types, before anything reads them (None: nothing): names and versions
    are text, the embedding width a positive integer, every file a name inside the bundle with a sha256, every model
    section an object naming its file and declaring its inputs and outputs as {name, shape} objects."""
    for key in ("name", "version"):
        if not isinstance(manifest[key], str) or not manifest[key]:
            return f"`{key}` must be non-empty text"
    if not _positive_int(manifest["embedding_dim"]):
        return "`embedding_dim` must be a positive integer"
    files = manifest["files"]
    if not isinstance(files, dict):
        return "`files` must map file names to {sha256, bytes}"
    for name, meta in files.items():
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name or "\0" in name:
            return f"`files` lists {name!r}, which is not a file name inside the bundle"
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) or not _count(meta.get("bytes", 0)):
            return f"`files` entry {name!r} must be {{\"sha256\": text, \"bytes\": integer}}"
        if meta.get("bytes", 0) > MAX_FILE_BYTES:
            return f"`files` entry {name!r} is {meta['bytes']} bytes, over the limit of {MAX_FILE_BYTES} per file"
    if sum(meta.get("bytes", 0) for meta in files.values()) > MAX_BUNDLE_BYTES:
        return f"the files add up to more than the limit of {MAX_BUNDLE_BYTES} bytes per bundle"
    for key in (*_MODEL_SECTIONS, "describer"):
        if key in manifest and not isinstance(manifest[key], dict):
            return f"`{key}` must be an object"
    for key in (key for key in _DESCRIBER_FILES if key in manifest.get("describer", {})):
        if not isinstance(manifest["describer"][key], str):
            return f"`describer.{key}` must be a file name"
    for key in (key for key in _MODEL_SECTIONS if key in manifest):
        section = manifest[key]
        if not isinstance(section.get("file"), str):
            return f"`{key}.file` must be a file name"
        for io in ("inputs", "outputs"):
            declared = section.get(io, [])
            if not isinstance(declared, list) or not all(
                isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("shape"), list)
                and d["shape"] for d in declared
            ):
                return f"`{key}.{io}` must be a list of {{\"name\": text, \"shape\": [dimensions]}}"
    image = manifest["image_encoder"]
    if not image.get("inputs"):
        return "`image_encoder.inputs` must declare the encoder's input"
    try:  # the encoder parses it again later, where a bad value was a KeyError or "bad input" (exit 6)
        PreprocessSpec.from_manifest(image["preprocess"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        return f"`image_encoder.preprocess` is unusable ({type(exc).__name__}: {exc})"
    text = manifest["text_encoder"]
    if not isinstance(text.get("tokenizer", ""), str) or not isinstance(text.get("padding", ""), str):
        return "`text_encoder.tokenizer` and `text_encoder.padding` must be text"
    if not _positive_int(text.get("max_length", 1)) or not _count(text.get("pad_id", 0)):
        return "`text_encoder.max_length` and `text_encoder.pad_id` must be integers"
    if not isinstance(manifest.get("ranker", {}).get("summary", ""), str):
        return "`ranker.summary` must be text"
    similarity = image.get("evidence_similarity")
    if similarity is not None and (isinstance(similarity, bool) or not isinstance(similarity, (int, float))):
        return "`image_encoder.evidence_similarity` must be a number"
    return None


def _positive_int(value: object) -> bool:
    return _count(value) and value > 0


def _count(value: object) -> TypeGuard[int]:
    """A non-negative integer, and not a bool (JSON true would pass for 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _referenced(manifest: dict[str, Any]) -> set[str]:
    """Every file name the manifest's sections give: models, tokenizer, describer files."""
    names = {manifest[key]["file"] for key in _MODEL_SECTIONS if key in manifest}
    names.add(manifest["text_encoder"].get("tokenizer", "tokenizer.json"))
    describer = manifest.get("describer", {})
    return names | {describer[key] for key in _DESCRIBER_FILES if key in describer}


def _check_files(root: Path, manifest: dict[str, Any], verify_checksums: bool) -> None:
    """Every name a section gives has a checksum entry; every entry is a regular file inside `root`, of its size
    and (`verify_checksums`) its sha256."""
    files = manifest["files"]
    for name in sorted(_referenced(manifest) - set(files)):
        raise BundleError(f"{root / name}: referenced by the manifest but has no checksum entry")
    for name, meta in sorted(files.items()):
        target = root / name
        try:
            size = _contained_file(root, name).st_size
            if size > MAX_FILE_BYTES:
                raise BundleError(f"{target}: {size} bytes, over the limit of {MAX_FILE_BYTES} per file")
            if size != meta.get("bytes", size):
                raise BundleError(f"{target}: size does not match the manifest (truncated or replaced)")
            if verify_checksums and sha256_file(target) != meta["sha256"]:
                raise BundleError(f"{target}: sha256 does not match the manifest (corrupt or tampered)")
        except FileNotFoundError:
            raise BundleError(f"{target}: file listed in the manifest is missing") from None
        except OSError as exc:  # unreadable, or a name too long for the file system
            raise BundleError(f"{target}: cannot be read ({exc.strerror or exc})") from exc


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


def _output(section: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The declaration of an encoder's output `name`, or None."""
    return next((o for o in section.get("outputs", []) if o["name"] == name), None)


def _check_declared_shapes(bundle: Bundle) -> None:
    dim = bundle.embedding_dim
    for key in ("image_encoder", "text_encoder"):
        section = bundle.section(key)
        embedding = _output(section, "embedding")
        if embedding is None:
            raise BundleError(f"{bundle.file(section['file'])}: manifest declares no `embedding` output")
        if embedding["shape"][-1] != dim:
            raise BundleError(
                f"{bundle.file(section['file'])}: embedding width {embedding['shape'][-1]} != embedding_dim {dim}"
            )
    _check_visual_output(bundle)


def _check_visual_output(bundle: Bundle) -> None:
    """A declared `visual` output is [batch, V] with a fixed width V: the store keeps vectors of one width."""
    section = bundle.section("image_encoder")
    visual = _output(section, VISUAL_OUTPUT)
    if visual is None:
        return
    shape = visual.get("shape")
    width = shape[-1] if isinstance(shape, list) and len(shape) == 2 else None
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise BundleError(
            f"{bundle.file(section['file'])}: output `{VISUAL_OUTPUT}` must have shape [\"batch\", V] with a "
            f"positive integer V, the manifest says {shape}"
        )

"""Structured generators of hostile inputs: image files and their names, catalogs, JSON documents mutated from a
real one (keys.json, manifest.json, API bodies) and API requests.

Generators that can tell mark what must happen: `FuzzImage.photo` (a valid picture of ordinary proportions:
it must be indexed), `FuzzCatalog.expected` (the items a well-formed catalog must load as).
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from engine.imaging.decode import SUPPORTED_SUFFIXES

# -- images ---------------------------------------------------------------------------------------------------
SAVE_MODES = {  # what Pillow writes in each format (all of it decodes)
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("P", "L", "1"),
    "WEBP": ("L", "RGB", "RGBA"),
    "TIFF": ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"),
    "BMP": ("1", "L", "P", "RGB", "RGBA"),
}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
MAX_SIDE = {"WEBP": 16383, "JPEG": 65500, "GIF": 65535}
TIFF_COMPRESSION = (None, "tiff_lzw", "tiff_adobe_deflate", "packbits")
EXIF_ORIENTATION = 0x0112
PHOTO_RATIO = 4  # valid pictures at most this long and thin must be indexed (phone panoramas reach about 12:1)
MAGIC = (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"II*\x00",
         b"MM\x00*", b"BM", b"\x00\x00\x00\x18ftypheic")


class Brief:
    """Hypothesis prints a failing example's dataclasses field by field (megabytes of image bytes): these print
    their own short repr instead."""

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True)
class FuzzImage(Brief):
    """The bytes of an image file, valid or not; `photo`: a valid picture of ordinary proportions."""

    data: bytes
    suffix: str
    photo: bool
    kind: str  # what it is, for failure messages

    def __repr__(self) -> str:
        return f"FuzzImage({self.kind}, {len(self.data)} bytes)"


def encode(image: Image.Image, fmt: str, orientation: int | None = None, **options) -> bytes:
    """`image` saved as `fmt`, with an EXIF orientation tag when given."""
    if orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def thin_image(width: int, height: int, fmt: str = "PNG") -> FuzzImage:
    """A one-colour picture of `width` x `height`: a 1 x 100000 PNG is a few hundred bytes."""
    data = encode(Image.new("RGB", (width, height), (200, 40, 40)), fmt)
    return FuzzImage(data, SUFFIX[fmt], photo=False, kind=f"{width}x{height} {fmt}")


def _pixels(seed: int, width: int, height: int, mode: str) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode in ("I;16", "I", "F"):
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16)).convert(
            "I;16" if mode == "I;16" else mode)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)


@st.composite
def valid_images(draw: st.DrawFn) -> FuzzImage:
    """A valid picture in any format and mode Pillow writes, 1 to 64 px a side, maybe EXIF-rotated or animated."""
    fmt = draw(st.sampled_from(sorted(SAVE_MODES)))
    mode = draw(st.sampled_from(SAVE_MODES[fmt]))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    image = _pixels(draw(st.integers(0, 2**32 - 1)), width, height, mode)
    options: dict = {}
    if fmt in ("JPEG", "PNG", "WEBP"):
        options["orientation"] = draw(st.none() | st.integers(0, 9) | st.just(65535))
    if fmt == "TIFF":
        options["compression"] = draw(st.sampled_from(TIFF_COMPRESSION if mode in ("L", "RGB", "RGBA") else (None,)))
    if fmt == "JPEG":
        options["quality"] = draw(st.integers(1, 100))
    if fmt in ("GIF", "WEBP") and draw(st.booleans()):
        options.update(save_all=True, append_images=[image.rotate(90 * i) for i in (1, 2)], duration=50)
    data = encode(image, fmt, **{k: v for k, v in options.items() if v is not None})
    photo = max(width, height) <= PHOTO_RATIO * min(width, height)
    return FuzzImage(data, SUFFIX[fmt], photo, f"{fmt} {mode} {width}x{height} {options.get('orientation')}")


@st.composite
def extreme_images(draw: st.DrawFn) -> FuzzImage:
    """1xN, Nx1 and 2xN pictures, N up to 150000: a few hundred bytes that an encoder would scale up to gigabytes."""
    fmt = draw(st.sampled_from(["PNG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "JPEG"]))
    long = min(draw(st.sampled_from([26, 300, 5000, 30000, 100000, 150000]) | st.integers(26, 120000)),
               MAX_SIDE.get(fmt, 150000))
    short = draw(st.integers(1, 3))
    width, height = (short, long) if draw(st.booleans()) else (long, short)
    return thin_image(width, height, fmt)


@st.composite
def corrupt_images(draw: st.DrawFn) -> FuzzImage:
    """A valid picture truncated, bit-flipped, cut to its header, spliced or zero-padded."""
    base = draw(valid_images())
    data = bytearray(base.data)
    how = draw(st.sampled_from(["truncated", "flipped", "header", "spliced", "zero tail"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if how == "truncated":
        data = data[:at]
    elif how == "flipped":
        for offset in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=16)):
            data[offset] ^= draw(st.integers(1, 255))
    elif how == "header":
        data = data[: draw(st.integers(1, 64))]
    elif how == "spliced":
        data = data[:at] + draw(st.binary(min_size=1, max_size=256)) + data[at:]
    else:
        data = data[:at] + bytes(len(data) - at)
    return FuzzImage(bytes(data), base.suffix, photo=False, kind=f"{how} {base.kind}")


noise_images = st.builds(
    lambda magic, tail, suffix: FuzzImage(magic + tail, suffix, photo=False, kind=f"noise after {magic[:12]!r}"),
    st.sampled_from(MAGIC), st.binary(max_size=2048), st.sampled_from(sorted(SUFFIX.values())),
)
empty_images = st.builds(lambda suffix: FuzzImage(b"", suffix, photo=False, kind="empty"),
                         st.sampled_from(sorted(SUFFIX.values())))


def images() -> st.SearchStrategy[FuzzImage]:
    """Any image file: mostly valid pictures, then extreme proportions, corrupt, random and empty ones."""
    return st.one_of(valid_images(), valid_images(), extreme_images(), corrupt_images(), noise_images, empty_images)


# -- file names -----------------------------------------------------------------------------------------------
TRICKY = ("-", "--", "-rf ", "--help", "..", "...", " ", "  ", "\n", "\r", "\t", "'", '"', "\\", "$(id)", "`id`", "*",
          "?", "[", "]", "[bold]", "b]", "[link=x]", "[@click]", "%s%n", "{}", "~", "é", "e\u0301", "\u202e",
          "\u200b", "\ufeff", "\U0001f600", "İ", "ß", "\x1b[31m", ":", ";", "#", "&", "|", "<", ">", "CON", "nul")
MARKUP = ("[/b]", "[/]", "[b]x[/i]", "[link=file:///etc/passwd]x[/link]")  # console markup; not in file names ("/")
_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
name_parts = st.lists(st.sampled_from(TRICKY) | st.text(_NAME_CHARS, min_size=1, max_size=12), min_size=1,
                      max_size=6).map("".join)
long_parts = st.builds(lambda char, n: char * n, st.sampled_from(["x", "é", "\U0001f600", "-"]), st.integers(60, 250))
WRONG_SUFFIXES = (".txt", ".jpg.part", "", ".jpg~", ".jpeg.tmp", ".JPG ", ".heic.crdownload")


def _fit(stem: str, suffix: str, limit: int = 255) -> str:
    """`stem + suffix` cut to `limit` bytes of UTF-8 (the file system's name limit)."""
    room = limit - len(suffix.encode())
    return stem.encode()[:room].decode(errors="ignore") + suffix


# Console markup can span path components: a folder ending in "[" above a name starting with "b]" makes "[/b]".
MARKUP_END, MARKUP_START = ("", "", "", "["), ("", "", "", "b]")


def dir_names() -> st.SearchStrategy[str]:
    """A folder name: any characters a Linux file name may hold, dashes, dots, markup, very long."""
    names = st.builds(lambda start, stem, end: _fit(start + stem, end), st.sampled_from(MARKUP_START),
                      name_parts | long_parts, st.sampled_from(MARKUP_END))
    return names.filter(lambda name: name not in ("", ".", ".."))


@st.composite
def file_names(draw: st.DrawFn, natural_suffix: str) -> str | bytes:
    """A name for a file whose content suits `natural_suffix`: that suffix in any case, another photo suffix,
    one the scanner must skip, or a name that is not valid UTF-8 (bytes)."""
    stem = draw(st.sampled_from(MARKUP_START)) + draw(name_parts | long_parts)
    suffix = draw(st.sampled_from([natural_suffix, natural_suffix.upper(), *sorted(SUPPORTED_SUFFIXES),
                                   *WRONG_SUFFIXES]))
    if draw(st.integers(0, 19)) == 0:
        return b"\xff\xfe" + _fit(stem, suffix, 250).encode()
    return _fit(stem, suffix)


@dataclass(frozen=True)
class FuzzFile:
    """An image file under a generated name (bytes: a name that is not valid UTF-8)."""

    name: str | bytes
    image: FuzzImage

    def write(self, folder: Path) -> str:
        """Write the file into `folder`; returns its path as the engine sees it (os.fsdecode)."""
        path = os.path.join(os.fsencode(folder), os.fsencode(self.name))
        with open(path, "wb") as file:
            file.write(self.image.data)
        return os.fsdecode(path)


@st.composite
def fuzz_files(draw: st.DrawFn) -> FuzzFile:
    """Any image file under any name."""
    image = draw(images())
    return FuzzFile(draw(file_names(image.suffix)), image)


def is_candidate(name: str | bytes) -> bool:
    """Whether a library scan looks at a file of this name: not hidden, and a photo suffix in any case."""
    name = os.fsdecode(name)
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES


def shown(path: str) -> str:
    """A path as the CLI prints it: undecodable name bytes become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# -- JSON documents -------------------------------------------------------------------------------------------
EDGE_INTS = (0, -1, 1, 2, 7, 19, 2**31, 2**32 - 1, 2**63, 2**64, 10**30, -(2**63))
hostile_text = st.one_of(
    st.text(max_size=20), st.sampled_from(TRICKY + MARKUP),
    st.sampled_from(["", " ", "\ud800", "\x00", "a\nb", "../" * 8]), st.integers(1000, 200_000).map(lambda n: "x" * n),
)
# What a command line can carry: no NUL, no lone surrogate, under Linux's 128 KiB per argument.
cli_text = hostile_text.filter(lambda text: "\x00" not in text and len(text) < 100_000 and not any(
    "\ud800" <= char <= "\udfff" for char in text))
hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(), st.floats(allow_nan=True), hostile_text,
)
hostile_values = st.recursive(hostile_scalars, lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _place(draw: st.DrawFn, document: object) -> tuple:
    """A path (keys and indexes) to a value inside `document`, by a random walk from the top that stops at each level
    one time in three: small sections get as many edits as large ones."""
    path: tuple = ()
    while isinstance(document, (dict, list)) and document and (not path or draw(st.integers(0, 2))):
        step = draw(st.sampled_from(list(document) if isinstance(document, dict) else range(len(document))))
        path, document = (*path, step), document[step]
    return path


def _at(document: object, path: tuple) -> object:
    for step in path:
        document = document[step]
    return document


@st.composite
def _edit(draw: st.DrawFn, document: object) -> object:
    """`document` with one edit at a random place: a value replaced, removed, duplicated, emptied, wrapped, or a
    key added."""
    path = _place(draw, document)
    edited = copy.deepcopy(document)
    op = draw(st.sampled_from(["replace", "replace", "remove", "add", "empty", "wrap", "duplicate"]))
    if not path:
        return draw(hostile_values) if op == "replace" else [edited] if op == "wrap" else edited
    parent, last = _at(edited, path[:-1]), path[-1]
    value = parent[last]
    if op == "replace":
        parent[last] = draw(hostile_values)
    elif op == "remove":
        del parent[last]
    elif op == "add" and isinstance(value, dict):
        value[draw(st.text(max_size=10))] = draw(hostile_values)
    elif op == "add" and isinstance(value, list):
        value.append(draw(hostile_values))
    elif op == "empty":
        parent[last] = type(value)() if isinstance(value, (dict, list, str)) else None
    elif op == "wrap":
        parent[last] = [value]
    elif op == "duplicate" and isinstance(value, list) and value:
        value.append(copy.deepcopy(value[0]))
    return edited


@st.composite
def mutated_json(draw: st.DrawFn, document: object) -> object:
    """`document` after one to three edits."""
    for _ in range(draw(st.integers(1, 3))):
        document = draw(_edit(document))
    return document


class Blob(bytes, Brief):
    """File content that prints short in a failing example."""

    def __repr__(self) -> str:
        return f"Blob({len(self)} bytes: {bytes(self[:300])!r}{'...' if len(self) > 300 else ''})"


@st.composite
def mutated_json_bytes(draw: st.DrawFn, document: object) -> Blob:
    """A JSON file derived from `document`: edited and serialised, or broken as text (truncated, deeply nested,
    huge numbers, BOM, another encoding, binary)."""
    return Blob(_serialised(draw, document))


def _serialised(draw: st.DrawFn, document: object) -> bytes:
    text = json.dumps(draw(mutated_json(document)) if draw(st.integers(0, 3)) else document, indent=1)
    how = draw(st.sampled_from(["as is", "as is", "as is", "truncated", "nested", "huge number", "bom", "utf-16",
                                "binary", "empty"]))
    if how == "truncated":
        return text.encode()[: draw(st.integers(0, len(text) - 1))]
    if how == "nested":
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        return ("[" * depth + "]" * depth).encode()
    if how == "huge number":
        return text.replace("1", "1" + "0" * 5000, 1).encode()
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "binary":
        return draw(st.binary(max_size=512))
    if how == "empty":
        return b""
    return text.encode("utf-8", "surrogatepass")


# -- catalogs -------------------------------------------------------------------------------------------------
_TEXT_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r")
catalog_text = (st.text(_TEXT_CHARS, min_size=1, max_size=40) | st.sampled_from(TRICKY + MARKUP)
                | st.integers(1000, 50_000).map(lambda n: "word " * (n // 5)))


@dataclass(frozen=True)
class FuzzCatalog(Brief):
    """A catalog file (`suffix`, `content`) and the pictures beside it; `expected` lists the items (field dicts, image
    names relative to the catalog) a well-formed catalog must load as, None for one that may be refused."""

    suffix: str
    content: bytes
    images: dict[str, bytes]
    expected: tuple[dict[str, str], ...] | None

    def __repr__(self) -> str:
        well_formed = self.expected is not None
        return f"FuzzCatalog({self.suffix}, {self.content[:400]!r}, images={sorted(self.images)}, ok={well_formed})"


@st.composite
def catalog_items(draw: st.DrawFn, pictures: list[str]) -> dict[str, str]:
    """A well-formed item: id, name, category (non-blank), maybe a description and one of `pictures`."""
    required = catalog_text.filter(str.strip)
    category = st.sampled_from(["food", " Food ", "hotels"]) | required
    item = {"id": draw(required), "name": draw(required), "category": draw(category)}
    if draw(st.booleans()):
        item["description"] = draw(catalog_text | st.just(""))
    if pictures and draw(st.booleans()):
        folder, name = draw(st.sampled_from(pictures)).split("/")
        item["image"] = draw(st.sampled_from([f"{folder}/{name}", f"./{folder}/{name}", f"{folder}/../{folder}/{name}",
                                              f"{folder}//{name}"]))
    return item


def _csv_bytes(items: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([[item.get(column, "") for column in columns] for item in items])
    return out.getvalue().encode()


@st.composite
def catalogs(draw: st.DrawFn) -> FuzzCatalog:
    """A JSON or CSV catalog: well formed (with its expected items), or broken structurally or as text."""
    pictures = {f"img/{i}{image.suffix}": image.data for i, image in enumerate(draw(st.lists(images(), max_size=3)))}
    names = sorted(pictures)
    items = draw(st.lists(catalog_items(names), min_size=1, max_size=6, unique_by=lambda item: item["id"].strip()))
    if draw(st.booleans()):
        document: object = {"items": items} if draw(st.booleans()) else items
        content = json.dumps(document).encode()
        broken = draw(st.integers(0, 2)) == 2
        if broken:
            content = draw(mutated_json_bytes(document))
        suffix = ".json"
    else:
        columns = ["id", "name", "category"] + draw(st.lists(st.sampled_from(["description", "image"]), unique=True))
        columns = draw(st.permutations(columns))
        content = _csv_bytes(items, columns)
        if "image" not in columns:
            items = [{k: v for k, v in item.items() if k != "image"} for item in items]
        if "description" not in columns:
            items = [{k: v for k, v in item.items() if k != "description"} for item in items]
        broken = draw(st.integers(0, 2)) == 2
        if broken:
            content = draw(_broken_csv(content))
        suffix = ".csv"
    if draw(st.integers(0, 30)) == 0:
        suffix, broken = draw(st.sampled_from([".xml", ".JSON", ".txt", ""])), True
    expected = None if broken else tuple(_expected(item) for item in items)
    return FuzzCatalog(suffix, content, pictures, expected)


def _expected(item: dict[str, str]) -> dict[str, str]:
    """What the loader makes of a well-formed item: text stripped, empty optional fields dropped."""
    return {key: value.strip() for key, value in item.items() if value.strip() or key in ("id", "name", "category")}


@st.composite
def _broken_csv(draw: st.DrawFn, content: bytes) -> bytes:
    """A CSV catalog broken one way: its header, a row, its quoting, its encoding or its size."""
    lines = content.decode().split("\r\n")
    how = draw(st.sampled_from(["unknown column", "extra cell", "unbalanced quote", "no header", "duplicate id",
                                "missing required", "binary", "nul", "latin-1", "huge field"]))
    if how == "unknown column":
        lines[0] += ",imgae"
    elif how == "extra cell":
        lines[-2 if len(lines) > 1 else 0] += ",extra"
    elif how == "unbalanced quote":
        lines[0] = '"' + lines[0]
    elif how == "no header":
        lines = lines[1:]
    elif how == "duplicate id":
        lines.insert(-1, lines[1])
    elif how == "missing required":
        lines[0] = lines[0].replace("category", "kategorie")
    elif how == "binary":
        return draw(st.binary(max_size=512))
    elif how == "nul":
        lines[0] += "\x00"
    elif how == "latin-1":
        return "id,name,category\nx,Caf\xe9,food\n".encode("latin-1")
    else:
        lines.insert(1, f"big,{'x' * 200_000},food")
    return "\r\n".join(lines).encode()


# -- API requests ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FuzzRequest(Brief):
    """An HTTP request to send with the bearer token."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"FuzzRequest({self.method} {self.path!r} {self.headers} {self.body[:600]!r})"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@st.composite
def candidates(draw: st.DrawFn, usable: str, unusable: list[str]) -> dict:
    """A candidate with text fields and an inline picture or a picture path (mostly usable ones, so that requests
    get past validation to the engine), or no picture."""
    candidate = {"id": draw(st.text(min_size=1, max_size=20)), "name": draw(st.text(min_size=1, max_size=40))}
    if draw(st.booleans()):
        candidate["description"] = draw(st.text(max_size=60))
    picture = draw(st.sampled_from(["none", "image", "path"]))
    bad = draw(st.sampled_from([False, False, True]))
    if picture == "image":
        image = draw(images() if bad else valid_images())
        candidate["image"] = draw(st.sampled_from(["", "data:image/png;base64,"])) + _b64(image.data)
    elif picture == "path":
        candidate["image_path"] = draw(st.sampled_from(unusable)) if bad else usable
    return candidate


@st.composite
def recommend_bodies(draw: st.DrawFn, usable: str, unusable: list[str]) -> object:
    """A `POST /recommend` body: well formed, or mutated into any JSON value."""
    body: dict = {"category": draw(st.text(min_size=1, max_size=30) | st.sampled_from(["food", "outing"])),
                  "candidates": draw(st.lists(candidates(usable, unusable), min_size=1, max_size=3,
                                              unique_by=lambda c: c["id"]))}
    if draw(st.booleans()):
        body["query"] = draw(st.text(min_size=1, max_size=60))
    if draw(st.booleans()):
        body["top"] = draw(st.integers(1, 5))
    return draw(mutated_json(body)) if draw(st.integers(0, 3)) == 3 else body


CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
                 "application/json; charset=latin-1")
PATHS = ("/recommend", "/status", "/openapi.json", "/", "/docs", "/recommend/", "//recommend", "/status?x=1",
         "/../status", "/%2e%2e/status", "/recommend%00", "/" + "a" * 2000, "/st%C3%A4tus")


@st.composite
def api_requests(draw: st.DrawFn, usable: str, unusable: list[str], max_body: int) -> FuzzRequest:
    """A request with the right token: mostly `POST /recommend` with a generated body (pictures by `usable` or
    `unusable` paths too), else any method and path, an odd content type or Host, a body that is not JSON or is
    over `max_body` bytes."""
    odd = draw(st.sampled_from([False] * 3 + [True]))  # one in four: odd method, path, headers or body
    method = draw(st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])) if odd else "POST"
    path = draw(st.sampled_from(PATHS)) if odd and draw(st.booleans()) else "/recommend"
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES)) if odd else CONTENT_TYPES[0]}
    if odd and draw(st.booleans()):
        headers["Host"] = draw(st.sampled_from(["localhost", "127.0.0.1", "evil.example", "127.0.0.1.nip.io", ""]))
    kind = draw(st.sampled_from(["json", "text", "binary", "empty", "oversized", "json-utf16"])) if odd else "json"
    if kind == "json":
        body = json.dumps(draw(recommend_bodies(usable, unusable)), ensure_ascii=draw(st.booleans())).encode(
            "utf-8", "surrogatepass")
    elif kind == "json-utf16":
        body = json.dumps(draw(recommend_bodies(usable, unusable))).encode("utf-16")
    elif kind == "text":
        body = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    elif kind == "binary":
        body = draw(st.binary(max_size=512))
    elif kind == "oversized":
        body = b'{"category": "' + b"x" * (max_body + draw(st.integers(1, 4096))) + b'"}'
    else:
        body = b""
    return FuzzRequest(method, path, headers, body)

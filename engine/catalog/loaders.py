"""Load a catalog of candidate items from a JSON or CSV file.

Catalog format
--------------
A catalog lists the candidates a user wants ranked (restaurants, hotels, dishes, museums...).
Each item has these fields:

| field         | required | meaning                                                             |
|---------------|----------|---------------------------------------------------------------------|
| `id`          | yes      | unique within the file                                              |
| `name`        | yes      | shown to the user                                                   |
| `category`    | yes      | what is asked for ("restaurants"); matched case-insensitively       |
| `description` | no       | free text used when ranking ("tonkotsu ramen, counter seats")       |
| `image`       | no       | path relative to the catalog file's folder (or absolute); must exist |

JSON (UTF-8): `{"items": [...]}` (other top-level keys are ignored) or a bare list of items:

    {"items": [
      {"id": "ichiran", "name": "Ichiran", "category": "restaurants",
       "description": "tonkotsu ramen, solo booths", "image": "images/ichiran.jpg"}
    ]}

CSV (UTF-8, a header row, standard quoting): the columns `id,name,category,description,image`;
`description` and `image` may be left out or left empty.

    id,name,category,description,image
    ichiran,Ichiran,restaurants,"tonkotsu ramen, solo booths",images/ichiran.jpg

Every field value is text (`null` in JSON means left out). Unknown fields are an error, so a typo
such as `imgae` is not silently ignored. Loading raises `CatalogError` with one line naming the
file and the item (`item 3` in JSON, `line 4` in CSV) for: a missing or unreadable file, invalid
JSON or CSV, an item that is not an object, a missing or non-text field, a duplicate id, an image
file that does not exist (an error, not a silent drop, so a broken catalog is noticed before it
skews a ranking), a catalog with no items, and a category with more than `MAX_CANDIDATES` (200) items: a query
ranks one category, and its cost grows with the candidates (5,000 took 18 s), so split a bigger one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict
from pydantic_core import PydanticKnownError

from engine.catalog.items import MAX_CANDIDATES, Catalog, CatalogError, CatalogItem, one_line
from engine.record_validation import Record, parse

RawRecord = tuple[str, Any]  # (where in the file, e.g. "item 3" or "line 4"; the raw item)


def _required(value: object) -> object:
    """Text stripped; left out, null and blank are all "missing"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticKnownError("missing")
    return value.strip() if isinstance(value, str) else value


def _optional(value: object) -> object:
    """Text stripped; null is the same as leaving the field out."""
    return "" if value is None else value.strip() if isinstance(value, str) else value


RequiredText = Annotated[str, BeforeValidator(_required)]
OptionalText = Annotated[str, BeforeValidator(_optional)]


class CatalogRecord(Record):
    """One item as written in the file (JSON values or CSV cells): every value is text."""

    model_config = ConfigDict(strict=True)

    id: RequiredText
    name: RequiredText
    category: RequiredText
    description: OptionalText = ""
    image: OptionalText = ""


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a `.json` or `.csv` catalog; image paths come back resolved."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise CatalogError(f"{path}: unsupported catalog format {path.suffix!r}; use .json or .csv")
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:  # newline="": "\r" inside a CSV cell is kept
            text = file.read()
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read catalog ({exc})") from exc

    items: list[CatalogItem] = []
    first_seen: dict[str, str] = {}
    per_category: dict[str, int] = {}
    for where, record in reader(path, text):
        item = _item(path, where, record)
        if item.id in first_seen:
            raise CatalogError(f"{path}: {where}: duplicate id {item.id!r} (first used at {first_seen[item.id]})")
        first_seen[item.id] = where
        category = item.category.casefold()  # as `Catalog.in_category` matches it
        per_category[category] = per_category.get(category, 0) + 1
        if per_category[category] > MAX_CANDIDATES:
            raise CatalogError(f"{path}: {where}: category {item.category!r} has more than "
                               f"{MAX_CANDIDATES} items, the most one query ranks: split it into smaller categories")
        items.append(item)
    if not items:
        raise CatalogError(f"{path}: the catalog has no items")
    return Catalog(items=tuple(items), source=path)


def _json_records(path: Path, text: str) -> Iterable[RawRecord]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits, arrays nested thousands deep
        raise CatalogError(f"{path}: invalid JSON ({type(exc).__name__}: {exc})") from None
    if isinstance(data, dict) and "items" in data:
        data = data["items"]
    if not isinstance(data, list):
        raise CatalogError(f'{path}: expected a list of items or {{"items": [...]}}')
    return [(f"item {number}", record) for number, record in enumerate(data, start=1)]


def _csv_records(path: Path, text: str) -> Iterable[RawRecord]:
    reader = csv.DictReader(io.StringIO(text), strict=True)
    records: list[RawRecord] = []
    try:
        if reader.fieldnames is not None:
            reader.fieldnames = [column.strip() for column in reader.fieldnames]
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                raise CatalogError(f"{path}: {where}: more cells than header columns")
            records.append((where, {key: value for key, value in row.items() if value is not None}))
    except csv.Error as exc:
        raise CatalogError(f"{path}: invalid CSV at line {reader.reader.line_num}: {exc}") from None
    return records


_READERS: dict[str, Callable[[Path, str], Iterable[RawRecord]]] = {".json": _json_records, ".csv": _csv_records}


def _item(path: Path, where: str, raw: Any) -> CatalogItem:
    record = parse(CatalogRecord, raw, lambda problem: CatalogError(f"{path}: {where}: {problem}"))
    image = _image(path, f"{where} ({record.id!r})", record.image) if record.image else None
    return CatalogItem(id=record.id, name=record.name, category=record.category, description=record.description,
                       image=image)


def _image(path: Path, where: str, value: str) -> Path:
    """The absolute path of an item's image, which must be a file."""
    try:
        image = (path.parent / value).resolve()
        found = image.is_file()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, text the file system cannot encode
        raise CatalogError(f"{path}: {where}: unusable image path ({one_line(str(exc))})") from None
    if not found:
        raise CatalogError(f"{path}: {where}: image not found: {one_line(str(image))}")
    return image

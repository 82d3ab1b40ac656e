"""The VisualLens recommendation benchmark on disk: a folder of four files, read and checked by `load_benchmark`.

A benchmark asks, for a user known only by their photo history, which of N candidate items of a
category they would choose. It fits simulated users (`export.data.benchmark.simulate`) as well
as real review data (Google Review-V, Yelp-V): the photos a reviewer posted are their history,
the businesses they reviewed in a category are the ground truth among sampled candidates.

Folder layout
-------------
    benchmark.json    what the benchmark is: format version, where the data comes from
    items.jsonl       the candidate items, one JSON object per line
    users.jsonl       the users and their photo histories, one per line
    queries.jsonl     the ranking tasks, one per line
    photos/, items/   the images (any layout; the files only need to be where the paths say)

Other files are ignored. The simulator adds `photos.jsonl` (each copied photo's `path`, source
`package` and `origin` inside it, and its `tags`) for inspection; models must not read it.

All text is UTF-8. In the `.jsonl` files every non-empty line is one JSON object (blank lines
are skipped). A file path is relative to the benchmark folder, or absolute; `/` separates folders.
Ids are non-empty strings, unique within their file. Unknown fields are an error, so a typo such
as `candiates` is caught instead of silently ignored. Every list is a JSON array of strings.

benchmark.json
    One JSON object. Required: `"format": "visuallens-benchmark"` and `"version": 1`. Everything
    else is free-form description, kept as `Benchmark.meta`; the simulator writes `name`,
    `generator` (module and parameters, seed), `sources` (package, registry, version, licence and
    use of every image source) and `stats`. The minimal file:

        {"format": "visuallens-benchmark", "version": 1}

items.jsonl (the candidates)

    | field      | required | meaning                                                            |
    |------------|----------|--------------------------------------------------------------------|
    | `id`       | yes      | item id, referenced by queries                                     |
    | `name`     | yes      | what the item is called ("ramen", "Ichiran Shibuya")               |
    | `category` | yes      | its category ("food & drink", "restaurants")                       |
    | `image`    | yes      | an image of the item; the file must exist                          |
    | `description` | no    | more words about it, as a catalog's `description` ("ramen, soup")  |
    | `tags`     | no       | simulator metadata (aspects); models must not read it              |

    {"id": "ramen", "name": "steaming bowl", "category": "food & drink", "image": "items/1f35c.webp", "tags": ["noodle"]}

users.jsonl

    | field           | required | meaning                                                       |
    |-----------------|----------|---------------------------------------------------------------|
    | `id`            | yes      | user id, referenced by queries                                |
    | `split`         | yes      | `train`, `val` or `test`; a user is in exactly one            |
    | `history`       | yes      | the user's photos (non-empty; files must exist), in any order |
    | `liked`         | no       | simulator truth: the aspects the user likes, strongest first  |
    | `liked_weights` | no       | simulator truth: their weights, same length as `liked`        |

    {"id": "u0001", "split": "train", "history": ["photos/00017.png", "photos/00311.jpg"], "liked": ["cat", "cake"]}

queries.jsonl (one ranking task each)

    | field          | required | meaning                                                          |
    |----------------|----------|------------------------------------------------------------------|
    | `id`           | yes      | query id                                                         |
    | `user_id`      | yes      | whose history to use                                             |
    | `category`     | yes      | what is asked for ("food & drink")                               |
    | `candidates`   | yes      | item ids to rank, at least 2, no repeats                         |
    | `ground_truth` | yes      | the item(s) the user chose: at least 1, all among `candidates`   |

    {"id": "q00001", "user_id": "u0001", "category": "food & drink", "candidates": ["ramen", "cake", ...],
     "ground_truth": ["cake"]}

    A query belongs to the split of its user. Simulated queries have exactly one ground truth;
    Review-V style data may have several (every reviewed business among the candidates).

From Review-V / Yelp-V
----------------------
Write each business as an item (its photo as `image`, its category), each reviewer as a user (the
photos they posted as `history`, a split), and each (reviewer, category) task as a query (the
candidate business ids, the reviewed ones as `ground_truth`); add the two-key benchmark.json.
Absolute paths let the images stay where they are.

Errors
------
`load_benchmark` raises `BenchmarkFormatError` naming the file and, for the `.jsonl` files, the
line: a missing file, invalid JSON, a line that is not an object, a missing, unknown or mistyped
field, a duplicate id, an image or photo that does not exist, an unknown split, a user listed in
two splits, a query naming an unknown user or item, repeated candidates, a ground truth that is
not among the candidates, and a file with no entries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticKnownError

from engine.record_validation import Record, parse

FORMAT = "visuallens-benchmark"
VERSION = 1
Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = get_args(Split)
META_FILE, ITEMS_FILE, USERS_FILE, QUERIES_FILE = "benchmark.json", "items.jsonl", "users.jsonl", "queries.jsonl"


class BenchmarkFormatError(ValueError):
    """A benchmark folder that cannot be used; the message names the file and line."""


def _not_blank(value: str) -> str:
    """Text kept as written, but not blank (reported as empty text)."""
    if not value.strip():
        raise PydanticKnownError("string_too_short", {"min_length": 1})
    return value


_Text = Annotated[str, AfterValidator(_not_blank)]
_Entries = list[Annotated[str, Field(min_length=1)]]  # ids, tags, paths: a JSON array of non-empty strings


class _Line(Record):
    """A line of a `.jsonl` file as written: JSON types as they are, no conversions."""

    model_config = ConfigDict(strict=True)


class _ItemLine(_Line):
    """A line of items.jsonl."""

    id: _Text
    name: _Text
    category: _Text
    image: _Text
    tags: _Entries = []
    description: _Text = ""


class _UserLine(_Line):
    """A line of users.jsonl."""

    id: _Text
    split: Split
    history: Annotated[_Entries, Field(min_length=1)]
    liked: _Entries = []
    liked_weights: list[float] = []

    @model_validator(mode="after")
    def _weight_per_aspect(self) -> _UserLine:
        if self.liked_weights and len(self.liked_weights) != len(self.liked):
            raise ValueError(f"liked_weights has {len(self.liked_weights)} entries for {len(self.liked)} liked aspects")
        return self


class _QueryLine(_Line):
    """A line of queries.jsonl; the ids it names are checked against the other files by `_query`."""

    id: _Text
    user_id: _Text
    category: _Text
    candidates: Annotated[_Entries, Field(min_length=2)]
    ground_truth: Annotated[_Entries, Field(min_length=1)]


@dataclass(frozen=True)
class BenchItem:
    """A candidate; `image` is absolute. `tags` are simulator metadata only: models never see them."""

    id: str
    name: str
    category: str
    image: Path
    tags: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class BenchUser:
    """A user known by their photos (absolute paths); `liked` is the simulator's truth, strongest first."""

    id: str
    split: str
    history: tuple[Path, ...]
    liked: tuple[str, ...] = ()
    liked_weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class BenchQuery:
    """Rank `candidates` (item ids of `category`) for `user_id`; `ground_truth` are the chosen ones."""

    id: str
    user_id: str
    category: str
    candidates: tuple[str, ...]
    ground_truth: tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    """A loaded benchmark: items and users by id, queries in file order, `meta` from benchmark.json."""

    root: Path
    items: dict[str, BenchItem]
    users: dict[str, BenchUser]
    queries: tuple[BenchQuery, ...]
    meta: dict = field(default_factory=dict)

    def split(self, name: str) -> list[BenchQuery]:
        """The queries whose user is in split `name` ("train", "val" or "test")."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return [query for query in self.queries if self.users[query.user_id].split == name]

    def photos(self) -> list[Path]:
        """Every history photo once, sorted."""
        return sorted({photo for user in self.users.values() for photo in user.history})


def load_benchmark(root: Path) -> Benchmark:
    """Read and check the benchmark folder `root` (see the module docstring for the format)."""
    root = Path(root).resolve()
    meta = _read_meta(root / META_FILE)
    items = _index(_Reader(root, ITEMS_FILE).records(_item))
    users = _users(_Reader(root, USERS_FILE))
    reader = _Reader(root, QUERIES_FILE)
    queries = _index(reader.records(lambda record, where: _query(record, where, items, users)))
    return Benchmark(root=root, items=items, users=users, queries=tuple(queries.values()), meta=meta)


def write_benchmark(bench: Benchmark, root: Path) -> None:
    """Write the four files of `bench` into `root` (created); paths inside `root` are written relative to it.

    The output is deterministic: the same benchmark gives the same bytes.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, **{k: v for k, v in bench.meta.items() if k not in ("format", "version")}}
    (root / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_lines(root / ITEMS_FILE, (_item_record(item, root) for item in bench.items.values()))
    _write_lines(root / USERS_FILE, (_user_record(user, root) for user in bench.users.values()))
    _write_lines(root / QUERIES_FILE, (_query_record(query) for query in bench.queries))


class _Reader:
    """Reads one `.jsonl` file of the benchmark, line by line, with errors naming file and line."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.path = root, root / name
        self.files: dict[str, Path | None] = {}  # checked paths: the same photo is in many histories

    def file(self, value: str) -> Path | None:
        """The absolute path of `value` if that file exists, else None."""
        if value not in self.files:
            path = Path(os.path.normpath(self.root / value))
            self.files[value] = path if path.is_file() else None
        return self.files[value]

    def records(self, build) -> Iterator[tuple[str, Any]]:
        """(where, build(record, where)) for each object line; raises on an empty file."""
        try:
            lines = self.path.read_text(encoding="utf-8-sig").splitlines()
        except FileNotFoundError:
            raise BenchmarkFormatError(f"{self.path}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchmarkFormatError(f"{self.path}: cannot read ({exc})") from None
        count = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = _Where(self, number)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise where.error(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
            count += 1
            yield where, build(record, where)
        if not count:
            raise BenchmarkFormatError(f"{self.path}: no entries")


_L = TypeVar("_L", bound=BaseModel)


@dataclass(frozen=True)
class _Where:
    """A line of a benchmark file: builds errors that name it and checks its fields."""

    reader: _Reader
    line: int

    def error(self, message: str) -> BenchmarkFormatError:
        return BenchmarkFormatError(f"{self.reader.path}: line {self.line}: {message}")

    def parse(self, model: type[_L], record: Any) -> _L:
        """`record` validated as `model`, or an error naming this line."""
        return parse(model, record, self.error)

    def file(self, value: str, what: str) -> Path:
        path = self.reader.file(value)
        if path is None:
            raise self.error(f"{what} not found: {os.path.normpath(self.reader.root / value)}")
        return path


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise BenchmarkFormatError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFormatError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BenchmarkFormatError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BenchmarkFormatError(f'{path}: not a benchmark file; expected {{"format": "{FORMAT}", "version": 1}}')
    if meta.get("version") != VERSION:
        raise BenchmarkFormatError(f"{path}: format version {meta.get('version')!r} is not supported (only {VERSION})")
    return meta


def _index(records: Iterator[tuple[_Where, Any]]) -> dict[str, Any]:
    """Entries by id, in file order; a repeated id is an error naming both lines."""
    found: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for where, entry in records:
        if entry.id in found:
            raise where.error(f"duplicate id {entry.id!r} (first at line {lines[entry.id]})")
        found[entry.id], lines[entry.id] = entry, where.line
    return found


def _item(record: Any, where: _Where) -> BenchItem:
    line = where.parse(_ItemLine, record)
    return BenchItem(
        id=line.id,
        name=line.name,
        category=line.category,
        image=where.file(line.image, f"image of item {line.id!r}"),
        tags=tuple(line.tags),
        description=line.description,
    )


def _users(reader: _Reader) -> dict[str, BenchUser]:
    users: dict[str, BenchUser] = {}
    lines: dict[str, int] = {}
    for where, user in reader.records(_user):
        if user.id in users:
            first = users[user.id]
            if first.split != user.split:
                raise where.error(
                    f"user {user.id!r} is in two splits: {user.split} here, {first.split} at line {lines[user.id]}"
                )
            raise where.error(f"duplicate id {user.id!r} (first at line {lines[user.id]})")
        users[user.id], lines[user.id] = user, where.line
    return users


def _user(record: Any, where: _Where) -> BenchUser:
    line = where.parse(_UserLine, record)
    return BenchUser(
        id=line.id,
        split=line.split,
        history=tuple(where.file(photo, f"photo of user {line.id!r}") for photo in line.history),
        liked=tuple(line.liked),
        liked_weights=tuple(line.liked_weights),
    )


def _query(record: Any, where: _Where, items: dict[str, BenchItem], users: dict[str, BenchUser]) -> BenchQuery:
    line = where.parse(_QueryLine, record)
    query_id, candidates, ground_truth = line.id, tuple(line.candidates), tuple(line.ground_truth)
    if line.user_id not in users:
        raise where.error(f"query {query_id!r}: unknown user {line.user_id!r}")
    unknown = [item for item in candidates if item not in items]
    if unknown:
        raise where.error(f"query {query_id!r}: unknown item id(s) {', '.join(map(repr, unknown[:5]))}")
    repeated = sorted({item for item in candidates if candidates.count(item) > 1})
    if repeated:
        raise where.error(f"query {query_id!r}: repeated candidate(s) {', '.join(map(repr, repeated))}")
    outside = [item for item in ground_truth if item not in candidates]
    if outside:
        raise where.error(f"query {query_id!r}: ground truth {', '.join(map(repr, outside))} not among the candidates")
    if len(set(ground_truth)) != len(ground_truth):
        raise where.error(f"query {query_id!r}: repeated ground truth")
    return BenchQuery(query_id, line.user_id, line.category, candidates, ground_truth)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def _item_record(item: BenchItem, root: Path) -> dict:
    record = {"id": item.id, "name": item.name, "category": item.category, "image": _relative(item.image, root)}
    if item.description:
        record["description"] = item.description
    return {**record, "tags": list(item.tags)} if item.tags else record


def _user_record(user: BenchUser, root: Path) -> dict:
    record: dict[str, Any] = {"id": user.id, "split": user.split, "history": [_relative(p, root) for p in user.history]}
    if user.liked:
        record["liked"] = list(user.liked)
    if user.liked_weights:
        record["liked_weights"] = list(user.liked_weights)
    return record


def _query_record(query: BenchQuery) -> dict:
    return {
        "id": query.id,
        "user_id": query.user_id,
        "category": query.category,
        "candidates": list(query.candidates),
        "ground_truth": list(query.ground_truth),
    }


def _write_lines(path: Path, records: Iterator[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

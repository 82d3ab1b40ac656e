"""One validation for every record VisualLens reads: catalog items, benchmark lines and local API bodies.

Each kind of record is a pydantic model derived from `Record` (a fixed set of fields: a typo such as `imgae` is an
error, not silently ignored). `parse` validates one record and raises the caller's error with `describe`'s single
line: the field (`candidates[0].image` when nested) and what is wrong, user text escaped (`x\\ny`, never a newline).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from engine.catalog.items import one_line


class Record(BaseModel):
    """A record whose fields are exactly those declared: an unknown one is refused with the allowed ones named."""

    model_config = ConfigDict(extra="forbid")


class TolerantRecord(BaseModel):
    """A strictly typed, immutable record that ignores fields this engine does not read: for files a newer version
    may extend (a bundle's manifest, a sample set's people.json)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


R = TypeVar("R", bound=BaseModel)

# Wrong types, as "<field> must be text, got int".
_TYPE_PHRASES = {"string_type": "must be text", "list_type": "must be a list", "float_type": "must be a number",
                 "int_type": "must be a whole number", "bool_type": "must be true or false"}


def parse(model: type[R], data: object, error: Callable[[str], Exception]) -> R:
    """`data` validated as `model`; a problem raises `error(one line)`, the caller adding file and record."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise error(describe(model, invalid)) from None


def describe(model: type[BaseModel], invalid: ValidationError) -> str:
    """The first problem of `invalid` (unknown fields first, as the likeliest typo) in one line, without newlines."""
    errors = invalid.errors(include_url=False)
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    like_it = [e for e in errors if e["type"] == first["type"] and e["loc"][:-1] == first["loc"][:-1]]
    return one_line(_phrase(model, first, like_it))


def _phrase(model: type[BaseModel], error: ErrorDetails, like_it: list[ErrorDetails]) -> str:
    """What is wrong, naming the field; `like_it` are the errors of the same kind beside it (listed together)."""
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx", {})
    field, got = field_path(loc), type(error["input"]).__name__
    if kind == "extra_forbidden":
        unknown = ", ".join(sorted(str(e["loc"][-1]) for e in like_it))
        return _at(loc[:-1], f"unknown field(s) {unknown}; allowed: {_fields(model, loc[:-1])}")
    if kind == "missing":
        return f"missing {', '.join(field_path(e['loc']) for e in like_it)}"
    if kind in ("model_type", "dict_type"):
        return _at(loc, f"expected an object with {_fields(model, loc)}, got {got}")
    if kind in _TYPE_PHRASES:
        return f"{field} {_TYPE_PHRASES[kind]}, got {got}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{field} must be non-empty text"
    if kind == "too_short":
        return f"{field} needs at least {ctx['min_length']} entries, got {ctx['actual_length']}"
    if kind == "literal_error":
        return f"{field} must be one of {ctx['expected']}, got {error['input']!r}"
    return _at(loc, error["msg"].removeprefix("Value error, "))


def _at(loc: tuple[int | str, ...], message: str) -> str:
    """`message` about the record at `loc`, or about the whole record."""
    return f"{field_path(loc)}: {message}" if loc else message


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's location ("candidates", 0, "image") as the record writes it: candidates[0].image."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _fields(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """The fields of the record at `loc` inside `model`, in declaration order ("" if it is not a model)."""
    found: type[BaseModel] | None = model
    for part in loc:
        if found is not None and isinstance(part, str):
            field = found.model_fields.get(part)
            found = _model_in(field.annotation) if field else None
    return ", ".join(found.model_fields) if found else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds: `Candidate` in `list[Candidate]`."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return next((model for arg in get_args(annotation) if (model := _model_in(arg))), None)

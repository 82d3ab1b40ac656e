"""The catalog model: candidate items (restaurants, hotels, dishes...) grouped by category."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The most candidates one query ranks: a catalog category, an API request. 200 is the largest size the performance
# table measures (p95 0.44 s at 100k photos); 5,000 took 18 s and 315 MB, 100,000 gave no answer in 300 s.
MAX_CANDIDATES = 200


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the file (and the item) in one line."""


def one_line(text: str) -> str:
    """Text from a catalog or a file name as it may appear in a message or on a terminal: every non-printable
    character (C0 and C1 controls such as newline and ESC, bidi overrides U+202A-U+202E, isolates U+2066-U+2069,
    marks U+200E/F) shown escaped as in a Python literal (\\n, \\x1b, \\u202e)."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def category_key(category: str) -> str:
    """How categories compare: case-insensitively, without surrounding spaces."""
    return category.strip().casefold()


@dataclass(frozen=True)
class CatalogItem:
    """One candidate a user may be recommended; `image` is an absolute path (checked to exist when loaded)."""

    id: str
    name: str
    category: str
    description: str = ""
    image: Path | None = None


@dataclass(frozen=True)
class Catalog:
    """The items of one catalog file, in file order."""

    items: tuple[CatalogItem, ...]
    source: Path

    def categories(self) -> list[str]:
        """The distinct category names, sorted."""
        return sorted({item.category for item in self.items})

    def in_category(self, category: str) -> list[CatalogItem]:
        """The items of `category` (case-insensitive), in file order."""
        wanted = category_key(category)
        found = [item for item in self.items if item.category.casefold() == wanted]
        if not found:
            known = ", ".join(map(one_line, self.categories()))
            raise CatalogError(f"{self.source}: no category {category!r}; known categories: {known}")
        return found

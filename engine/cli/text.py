"""Text from file names, photos and catalogs made safe to show: in JSON, on a terminal, inside rich markup."""

from __future__ import annotations

from rich.markup import escape

from engine.catalog.items import one_line


def shown(path: str) -> str:
    """A path fit for JSON: undecodable name bytes become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def printable(text: str) -> str:
    """Text from a file name, a photo or a catalog fit for a terminal: undecodable name bytes become U+FFFD, and
    control characters (C0, C1: ESC sequences, newlines) and bidi overrides (U+202A-U+202E, U+2066-U+2069,
    U+200E/F) are shown escaped (\\x1b, \\u202e), so a name cannot restyle the terminal or reorder what it shows."""
    return one_line(shown(text))


def term(text: str) -> str:
    """`printable` text with rich markup escaped: what every rich output line uses for a path, name or caption."""
    return escape(printable(text))

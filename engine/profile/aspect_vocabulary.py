"""Aspect words: the concrete things a caption names, matched against the bundle's vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.models.bundle import BundleError
from engine.profile.description import MAX_ASPECTS

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")  # "dog's" reads as "dog", "s"
_IRREGULAR_PLURALS = {
    "men": "man", "women": "woman", "children": "child", "people": "person", "feet": "foot", "teeth": "tooth",
    "geese": "goose", "mice": "mouse", "oxen": "ox",
}


def singular_candidates(word: str) -> list[str]:
    """`word` and its possible singulars, most literal first ("tomatoes" -> tomatoes, tomatoe, tomato)."""
    candidates = [word]
    if word in _IRREGULAR_PLURALS:
        candidates.append(_IRREGULAR_PLURALS[word])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        candidates.append(word[:-1])
        if word.endswith("es"):
            candidates.append(word[:-2])
        if word.endswith("ies"):
            candidates.append(word[:-3] + "y")
        if word.endswith("ves"):
            candidates += [word[:-3] + "f", word[:-3] + "fe"]
    return candidates


@dataclass(frozen=True)
class AspectVocabulary:
    """Lower-case entries of one or more words; the vocabulary decides which singular a plural folds to."""

    entries: frozenset[str]
    longest: int

    @classmethod
    def from_words(cls, words: list[str]) -> AspectVocabulary:
        entries = frozenset(" ".join(w.lower().split()) for w in words if w.strip())
        return cls(entries=entries, longest=max((len(e.split()) for e in entries), default=0))

    @classmethod
    def from_file(cls, path: Path) -> AspectVocabulary:
        """One entry per line (UTF-8)."""
        try:
            return cls.from_words(path.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: unreadable aspect vocabulary ({exc})") from exc

    def extract(self, caption: str, limit: int = MAX_ASPECTS) -> tuple[str, ...]:
        """Entries named in `caption`, in caption order, longest match first, on word boundaries, no repeats."""
        words = _WORD.findall(caption.lower())
        found: list[str] = []
        i = 0
        while i < len(words) and len(found) < limit:
            match = self._longest_match(words, i)
            if match is None:
                i += 1
                continue
            entry, length = match
            if entry not in found:
                found.append(entry)
            i += length
        return tuple(found)

    def _longest_match(self, words: list[str], start: int) -> tuple[str, int] | None:
        for length in range(min(self.longest, len(words) - start), 0, -1):
            head = " ".join(words[start : start + length - 1])
            for last in singular_candidates(words[start + length - 1]):
                entry = f"{head} {last}" if head else last
                if entry in self.entries:
                    return entry, length
        return None

"""Tags of images from their real metadata (folder names, file names, descriptions, CLDR keywords) via WordNet.

A word becomes a tag when one of its first noun senses is a thing one photographs or gets
recommended: an animal, plant, food, artefact, natural object, substance or phenomenon, or a
sport, game, season or holiday. Proper names never count. Of those senses the one agreeing most
with the other words of the same image wins ("plants/flowers": the organism, not the factory),
ties going to WordNet's order (most frequent first); a sense other than the most frequent one
needs such support ("three" in a clock's keywords is not the playing card). The tag is that
sense's common name plus its `PARENTS` nearest qualifying hypernyms, skipping names too vague to
be a taste, so "kitten" meets "young mammal", "pizza" meets "dish", "stadium" skips "structure".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader

from export.lite.wordnet_parents import STOP_SYNSETS, common_name

THING_LEXNAMES = frozenset(
    {"noun.animal", "noun.plant", "noun.food", "noun.artifact", "noun.object", "noun.phenomenon", "noun.substance"}
)
TOP_THINGS = frozenset({"animal.n.01", "plant.n.02", "food.n.01"})  # in WordNet's noun.Tops file
# Activities and times are tags only below these: sports, games, seasons, holidays and other special days.
OCCASION_ROOTS = frozenset({"sport.n.01", "game.n.01", "season.n.02", "season.n.03", "day.n.03"})
# Names too vague to be a taste; skipped on the way up the hypernyms ("stadium" -> "structure" -> ...).
VAGUE_TAGS = frozenset(
    {
        "area", "binary compound", "building complex", "building material", "chemical element", "compartment",
        "compound", "container", "course", "craft", "creation", "day", "design", "device", "electrical device",
        "equipment", "establishment", "facility", "fixing", "food product", "helping", "housing", "implement",
        "instrument", "line", "mechanical device", "mechanism", "natural phenomenon", "nature", "nutrition", "part",
        "physical phenomenon", "piece", "place of business", "product", "recording", "representation", "restraint",
        "sheet", "source of illumination", "striker", "structure", "support", "thing", "universe", "ware", "workplace",
    }
)  # fmt: skip
BROAD_LEXNAMES = frozenset({"noun.artifact"})  # sharing it says little about which sense is meant
PARENTS = 2
SENSES = 3  # senses considered per word, in WordNet's order
MIN_LETTERS = 3
_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


class Tagger:
    """Turns the metadata texts of one image into sorted WordNet tags."""

    def __init__(self, wordnet: WordNetCorpusReader) -> None:
        self._wordnet = wordnet
        self._senses = cache(self._senses_of)
        self._closure = cache(lambda synset: frozenset(synset.closure(lambda s: s.hypernyms())))
        self._tags_of_sense = cache(self._tags_of)

    def tags(self, texts: Iterable[str]) -> tuple[str, ...]:
        """The tags of all `texts` of one image ("food/meats_and_eggs", "LadyBird", "A bunch of grapes.")."""
        terms = [term for text in texts for term in self._terms(text)]
        senses = [self._senses(term) for term in terms]
        found: set[str] = set()
        for index, candidates in enumerate(senses):
            context = [sense for other, group in enumerate(senses) if other != index for _, sense in group]
            scored = [(self._agreement(sense, context), -rank, sense) for rank, sense in candidates]
            if scored:
                agreement, negative_rank, best = max(scored, key=lambda score: score[:2])
                if agreement or negative_rank == 0:  # a rarer sense needs support from the context
                    found.update(self._tags_of_sense(best))
        return tuple(sorted(found))

    def _terms(self, text: str) -> list[str]:
        """Words of `text`, two-word WordNet compounds ("ice cream", "big cats") kept together."""
        words = _WORD.findall(_CAMEL.sub(" ", text).lower())
        terms: list[str] = []
        i = 0
        while i < len(words):
            if i + 1 < len(words) and self._wordnet.morphy(f"{words[i]}_{words[i + 1]}", "n"):
                terms.append(f"{words[i]}_{words[i + 1]}")
                i += 2
            else:
                if len(words[i]) >= MIN_LETTERS:
                    terms.append(words[i])
                i += 1
        return terms

    def _senses_of(self, term: str) -> tuple[tuple[int, Synset], ...]:
        """The qualifying senses among the term's first `SENSES`, with their rank in WordNet's order."""
        lemma = self._wordnet.morphy(term, "n")
        if lemma is None:
            return ()
        senses = enumerate(self._wordnet.synsets(lemma, "n")[:SENSES])
        return tuple((rank, sense) for rank, sense in senses if not sense.instance_hypernyms() and self._qualifies(sense))

    def _qualifies(self, synset: Synset) -> bool:
        if synset.name() in STOP_SYNSETS:
            return False
        if synset.lexname() in THING_LEXNAMES or synset.name() in TOP_THINGS:
            return True
        return synset.lexname() in ("noun.act", "noun.time") and any(
            node.name() in OCCASION_ROOTS for node in (synset, *self._closure(synset))
        )

    def _agreement(self, sense: Synset, context: list[Synset]) -> int:
        """How many context senses lie on one hypernym line with the sense, or share its (specific) lexicographer file."""
        return sum(
            (other.lexname() == sense.lexname() and sense.lexname() not in BROAD_LEXNAMES)
            or other in self._closure(sense)
            or sense in self._closure(other)
            for other in context
        )

    def _tags_of(self, synset: Synset) -> tuple[str, ...]:
        """The sense's name and its nearest qualifying hypernyms' (vague names and jargon such as "pome" skipped)."""
        names: list[str] = []
        node: Synset | None = synset
        while node is not None and len(names) <= PARENTS:
            name = common_name(node) or (node.lemmas()[0].name().replace("_", " ") if node is synset else None)
            if name and name.lower() not in VAGUE_TAGS and name.lower() not in names:
                names.append(name.lower())
            parents = sorted(node.hypernyms())  # nltk keeps pointers in a set: its order changes with PYTHONHASHSEED
            node = parents[0] if parents and self._qualifies(parents[0]) else None
        return tuple(names)

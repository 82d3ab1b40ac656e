"""The aspect vocabulary: concrete, everyday words a caption can be reduced to ("dome", "ramen", "wooden").

Recipe (deterministic; WordNet 3.0 from Debian's `wordnet-base` + `wordnet-sense-index`, frequencies from
`wordfreq`):

1. Nouns: WordNet noun lemmas of one or two words (lower-case letters and hyphens, >= 3 characters) that are not
   an inflected form of another noun ("glasses" folds to "glass" at match time) and have a concrete sense among
   their first `SENSES_CONSIDERED` lower-case senses: in `CONCRETE_LEXFILES` or a place (below `PLACES`), not an
   instance (no proper names) and not below `TECHNICAL_ROOTS` (chemistry, particles, microbes, drugs).
2. Everyday words only: a single word needs Zipf frequency >= `MIN_ZIPF` and must not be tagged (SemCor counts)
   more than `OTHER_POS_RATIO` times as often as a verb, adjective or adverb than as a noun ("simple", "local");
   a two-word compound needs both words >= `MIN_ZIPF_PART` and must occur in the glosses or examples of other
   synsets, i.e. in WordNet's own prose ("ice cream", "parking lot"; not "policeman bird").
3. Adjectives: colour names (lemmas of WordNet's chromatic and achromatic colours, two levels down, that are
   adjectives too, Zipf >= `MIN_ZIPF_ADJECTIVE`) and the material, texture and style adjectives in
   `STYLE_ADJECTIVES` that WordNet knows as adjectives.
4. `EXTRA_WORDS` adds everyday things WordNet 3.0 (2006) predates; `CAPTION_BOILERPLATE` removes words captions use
   about the photo itself or for positions and amounts in it ("picture", "view", "lot", "piece").

The result is sorted, one entry per line, written as `aspect_vocabulary.txt`.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from functools import cache
from itertools import pairwise
from pathlib import Path

from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader
from wordfreq import zipf_frequency

from export.lite.wordnet_parents import open_wordnet

VOCABULARY_FILE = "aspect_vocabulary.txt"
CONCRETE_LEXFILES = frozenset(
    {"noun.food", "noun.artifact", "noun.animal", "noun.plant", "noun.object", "noun.substance"}
)
PLACES = "geographical_area.n.01"  # noun.location also holds "edge", "middle", "direction": only places count
TECHNICAL_ROOTS = frozenset(
    {
        "chemical_element.n.01", "compound.n.02", "atom.n.01", "molecule.n.01", "elementary_particle.n.01",
        "microorganism.n.01", "virus.n.01", "drug.n.01", "hormone.n.01", "enzyme.n.01", "acid.n.01",
        "computer_memory.n.01", "software.n.01",
    }
)
SENSES_CONSIDERED = 3
OTHER_POS_RATIO = 3
MIN_ZIPF = 2.5
MIN_ZIPF_PART = 3.0
MIN_ZIPF_ADJECTIVE = 3.0
COLOUR_ROOTS = ("chromatic_color.n.01", "achromatic_color.n.01")
STYLE_ADJECTIVES = (
    "antique", "baked", "bright", "ceramic", "colorful", "cosy", "cozy", "creamy", "crispy", "crunchy", "dark",
    "elegant", "fluffy", "fresh", "fried", "frozen", "furry", "gilded", "golden", "gothic", "grilled", "historic",
    "leafy", "luxurious", "medieval", "metallic", "misty", "modern", "neon", "ornate", "plastic", "rainy", "roasted",
    "rocky", "rustic", "sandy", "shiny", "snowy", "spicy", "striped", "sunny", "sweet", "traditional", "tropical",
    "velvet", "vintage", "wooden", "woolen", "woven",
)
EXTRA_WORDS = (
    "bubble tea", "burrito bowl", "cupcake", "e-bike", "emoji", "food truck", "hoodie", "laptop", "macaron", "pho",
    "poke bowl", "ramen", "selfie stick", "smartphone", "smartwatch", "solar panel", "tablet", "tapas", "udon",
)
CAPTION_BOILERPLATE = frozenset(
    {
        "air", "back", "background", "bit", "center", "centre", "close-up", "closeup", "display", "edge", "end",
        "front", "group", "image", "item", "lot", "part", "photo", "photograph", "picture", "piece", "row", "scene",
        "shot", "side", "thing", "top", "view", "way",
    }
)
_POS_OF_SS_TYPE = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def build_vocabulary(wordnet: WordNetCorpusReader) -> list[str]:
    """The sorted aspect vocabulary, following the module's recipe."""
    words = set(_concrete_nouns(wordnet)) | set(_colour_adjectives(wordnet))
    words |= {w for w in STYLE_ADJECTIVES if wordnet.synsets(w, "a")}
    words |= set(EXTRA_WORDS)
    return sorted(words - CAPTION_BOILERPLATE)


@cache
def wordnet_vocabulary() -> list[str]:
    """The vocabulary built from Debian's WordNet, once per process (the build takes ~20 s)."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_vocabulary(open_wordnet(Path(tmp)))


def write_vocabulary(out_dir: Path) -> Path:
    """Write `aspect_vocabulary.txt` (one entry per line) into `out_dir`."""
    path = out_dir / VOCABULARY_FILE
    path.write_text("".join(f"{w}\n" for w in wordnet_vocabulary()), encoding="utf-8")
    return path


def _concrete_nouns(wordnet: WordNetCorpusReader) -> Iterable[str]:
    technical = {s for root in TECHNICAL_ROOTS for s in wordnet.synset(root).closure(lambda s: s.hyponyms())}
    places = set(wordnet.synset(PLACES).closure(lambda s: s.hyponyms()))
    in_glosses = _gloss_bigrams(wordnet)
    tags = _tag_counts(wordnet)
    for name in wordnet.all_lemma_names("n"):
        word = name.replace("_", " ")
        parts = word.split()
        if len(parts) > 2 or len(word) < 3 or not all(_WORD.fullmatch(p) for p in parts):
            continue
        if any(base != name for base in wordnet._morphy(name, "n")):  # an inflected form of another noun
            continue
        if len(parts) == 1:
            everyday = zipf_frequency(word, "en") >= MIN_ZIPF and _mainly_a_noun(tags, name)
        else:
            everyday = in_glosses[word] > 0 and min(zipf_frequency(p, "en") for p in parts) >= MIN_ZIPF_PART
        if not everyday:
            continue
        synsets = [s for s in wordnet.synsets(name, "n") if any(lemma.name() == name for lemma in s.lemmas())]
        if not any(_is_concrete(s, technical, places) for s in synsets[:SENSES_CONSIDERED]):
            continue
        if len(parts) == 1 or in_glosses[word] > _own_gloss_uses(synsets, word):
            yield word


def _is_concrete(synset: Synset, technical: set[Synset], places: set[Synset]) -> bool:
    if synset.instance_hypernyms() or synset in technical:
        return False
    return synset.lexname() in CONCRETE_LEXFILES or synset in places


def _mainly_a_noun(tags: Counter[tuple[str, str]], name: str) -> bool:
    """False for words tagged far more often in another part of speech ("simple", "local")."""
    return all(tags[name, pos] <= OTHER_POS_RATIO * tags[name, "n"] for pos in "avr")


def _tag_counts(wordnet: WordNetCorpusReader) -> Counter[tuple[str, str]]:
    """SemCor tag counts per (lemma, part of speech), summed over senses, from `index.sense`."""
    counts: Counter[tuple[str, str]] = Counter()
    with open(Path(wordnet.root.path) / "index.sense", encoding="utf-8") as index:
        for line in index:
            sense_key, _offset, _number, tag_count = line.split()
            lemma, _, lex_sense = sense_key.partition("%")
            counts[lemma, _POS_OF_SS_TYPE[lex_sense[0]]] += int(tag_count)
    return counts


def _gloss_bigrams(wordnet: WordNetCorpusReader) -> Counter[str]:
    """How often each word pair occurs in WordNet's glosses and examples (read straight from the data files)."""
    counts: Counter[str] = Counter()
    for part in ("noun", "verb", "adj", "adv"):
        with open(Path(wordnet.root.path) / f"data.{part}", encoding="utf-8") as data:
            for line in data:
                if not line.startswith(" "):  # the license header lines start with two spaces
                    words = _WORD.findall(line.partition(" | ")[2].lower())
                    counts.update(f"{a} {b}" for a, b in pairwise(words))
    return counts


def _own_gloss_uses(synsets: list[Synset], phrase: str) -> int:
    """Uses of `phrase` in its own synsets' glosses, which are no evidence that people say it."""
    return sum(" ".join([s.definition(), *s.examples()]).lower().count(phrase) for s in synsets)


def _colour_adjectives(wordnet: WordNetCorpusReader) -> Iterable[str]:
    for root in COLOUR_ROOTS:
        for synset in wordnet.synset(root).closure(lambda s: s.hyponyms(), depth=2):
            for lemma in synset.lemmas():
                name = lemma.name()
                common = _WORD.fullmatch(name) and zipf_frequency(name, "en") >= MIN_ZIPF_ADJECTIVE
                if common and wordnet.synsets(name, "a"):
                    yield name

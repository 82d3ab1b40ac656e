"""WordNet 3.0 (Debian's `wordnet-base`) through nltk: hypernym chains turned into concrete parent words."""

from __future__ import annotations

import gzip
import re
import shutil
import warnings
from pathlib import Path

import nltk
from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader
from wordfreq import zipf_frequency

from export.data.registry import debian_package

# Climbing stops at these synsets: above them hypernyms are too abstract to describe a photo.
STOP_SYNSETS = frozenset(
    {
        "entity.n.01", "physical_entity.n.01", "abstraction.n.06", "object.n.01", "whole.n.02",
        "artifact.n.01", "living_thing.n.01", "organism.n.01", "matter.n.03", "instrumentality.n.03",
        "causal_agent.n.01", "part.n.01", "relation.n.01", "substance.n.01", "substance.n.07",
        "natural_object.n.01", "commodity.n.01", "consumer_goods.n.01", "durable_goods.n.01", "covering.n.02",
        "solid.n.01", "fluid.n.01", "reproductive_structure.n.01", "plant_organ.n.01", "plant_part.n.01", "agent.n.03",
        "drug_of_abuse.n.01", "obstruction.n.01", "article.n.02", "surface.n.01", "material.n.01",
        "psychological_feature.n.01", "event.n.01", "act.n.02", "group.n.01", "attribute.n.02",
        "measure.n.02", "communication.n.02",
    }
)
# Zipf frequency (wordfreq, English) below which a parent is jargon ("cyprinid", "chordate", "placental").
MIN_ZIPF = 3.0
MAX_PARENTS = 5
# ImageNet's class "cup" (index 968, photos of tea cups) carries the WordNet id of cup.n.06,
# "a punch served in a pitcher"; its parents are taken from the tableware sense instead.
WNID_FOR_PARENTS = {"n07930864": "n04397452"}  # cup.n.06 -> teacup.n.02
_LEXNAME_ROW = re.compile(r"^(\d\d)\t(\S+)", re.MULTILINE)
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def open_wordnet(workdir: Path) -> WordNetCorpusReader:
    """Lay Debian's WordNet 3.0 out as an nltk data tree under `workdir` and open it.

    nltk needs `lexnames` (Debian documents it in lexnames(5WN) but ships no file) and
    `index.sense` (from `wordnet-sense-index`); the tree is authorised through `nltk.data.path`,
    which nltk's path-security check accepts as a data root.
    """
    base = debian_package("wordnet-base")
    corpus = workdir / "corpora" / "wordnet"
    shutil.copytree(base / "usr/share/wordnet", corpus)
    shutil.copytree(debian_package("wordnet-sense-index") / "usr/share/wordnet", corpus, dirs_exist_ok=True)
    (corpus / "lexnames").write_text(_lexnames_from_manpage(base / "usr/share/man/man5/lexnames.5WN.gz"))
    if str(workdir) not in nltk.data.path:
        nltk.data.path.append(str(workdir))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return WordNetCorpusReader(str(corpus), None)


def wordnet_license() -> str:
    """The WordNet 3.0 license text, from the Debian package's copyright file."""
    copyright_text = (debian_package("wordnet-base") / "usr/share/doc/wordnet-base/copyright").read_text()
    stanza = copyright_text.split("License: WordNet3.0\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join("" if line.strip() == "." else line[1:] for line in stanza.splitlines())


def _lexnames_from_manpage(manpage: Path) -> str:
    """Rebuild WordNet's `lexnames` file (number, name, syntactic category) from the lexnames(5WN) table."""
    rows = _LEXNAME_ROW.findall(gzip.decompress(manpage.read_bytes()).decode())
    return "".join(f"{number}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n" for number, name in rows)


def synset_for_wnid(wordnet: WordNetCorpusReader, wnid: str) -> Synset:
    """The noun synset of an ImageNet id such as `n01440764`."""
    return wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))


def common_name(synset: Synset) -> str | None:
    """The synset's first lemma as people write it, else its most frequent one; None if all are jargon.

    ("domestic_cat.n.01" -> "domestic cat", "plaything.n.01" -> "toy", "cyprinid.n.01" -> None)
    """
    first, *others = (lemma.name().replace("_", " ") for lemma in synset.lemmas())
    if zipf_frequency(first, "en") >= MIN_ZIPF:
        return first
    frequency = {name: zipf_frequency(name, "en") for name in others}
    return max((name for name in others if frequency[name] >= MIN_ZIPF), key=frequency.get, default=None)


def concrete_parents(synset: Synset, exclude: set[str]) -> list[str]:
    """Hypernyms nearest-first, cut at `STOP_SYNSETS`, without jargon or names in `exclude` (lower case).

    Of all hypernym paths the one giving the most parents wins, then the one climbing higher
    before its stop (ties: the first in name order; nltk's own order changes with PYTHONHASHSEED). Beyond `MAX_PARENTS` the nearest ones and the most
    general one are kept.
    """
    best: list[str] = []
    best_rank = (-1, -1)
    for path in sorted(synset.hypernym_paths()):
        names: list[str] = []
        climbed = 0
        for node in reversed(path[:-1]):
            if node.name() in STOP_SYNSETS:
                break
            climbed += 1
            name = common_name(node)
            if name and name.lower() not in exclude and name not in names:
                names.append(name)
        if (len(names), climbed) > best_rank:
            best, best_rank = names, (len(names), climbed)
    return best if len(best) <= MAX_PARENTS else best[: MAX_PARENTS - 1] + best[-1:]

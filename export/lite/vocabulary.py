"""The lite describer's vocabulary: names of things and of kinds of things, embedded by the bundle's text encoder.

Things: every captioned picture's thing (emoji names: "steaming bowl", "astronaut") and the ImageNet classes the
classifier knows ("tabby cat", "espresso"). Kinds: every kind that at least two things share ("asian food",
"bird", "noodle") and the WordNet parents of the ImageNet classes ("cat", "feline", "beverage"). The engine names a
photo by the entries nearest its embedding (`engine.profile.vocabulary_describer`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from export.data.pairs import HELD_OUT_SOURCE, TUXPAINT_SOURCE, Picture

MIN_KIND_THINGS = 2


def build_vocabulary(
    pictures: Sequence[Picture], labels: Sequence[dict], embed: Callable[[list[str]], np.ndarray]
) -> tuple[dict, np.ndarray]:
    """({"things": [...], "kinds": [...]}, unit vectors [things + kinds, d] in that order)."""
    seen = [p for p in pictures if p.source != HELD_OUT_SOURCE]
    named = [p for p in seen if p.source != TUXPAINT_SOURCE]  # a stamp's text is a sentence, not a name
    names = {p.key: p.texts[0] for p in named} | {f"imagenet:{e['index']}": _plain(e["name"]) for e in labels}
    things = _unique(names.values())
    kinds_of = {p.key: set(p.kinds) for p in seen} | {f"imagenet:{e['index']}": set(e["parents"]) for e in labels}
    shared = Counter(kind for kinds in kinds_of.values() for kind in kinds)
    kinds = _unique(kind for kind, count in shared.items() if count >= MIN_KIND_THINGS)
    vectors = embed(things + kinds).astype(np.float32)
    return {"things": things, "kinds": kinds}, vectors


def _plain(name: str) -> str:
    """'ram (adult male sheep)' -> 'ram': the disambiguation helps the text encoder, not a caption."""
    return re.sub(r"\s*\([^)]*\)", "", name).strip() or name


def _unique(words) -> list[str]:
    """Lower-case, de-duplicated, sorted."""
    return sorted({word.strip().lower() for word in words if word.strip()})

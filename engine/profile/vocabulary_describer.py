"""Captions and aspect words from the photo's own embedding: the names of things and kinds of things nearest to it.

The lite bundle's embedding lives in its text encoder's space (the trained bridge), so naming a photo is a
nearest-neighbour lookup over a vocabulary the bundle ships with its vectors: names of things ("steaming bowl",
"tabby cat") and kinds of things ("asian food", "noodle", "bird"). The caption hedges by how clearly the best name
beats the next; aspect words are the kinds (and the best name) nearest the photo. Nothing is said that the
embedding does not support: a photo the bridge cannot place gets "Possibly ..." and its nearest kinds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.models.bundle import Bundle, BundleError
from engine.models.encoders import ImageBatchOutput
from engine.models.manifest import VocabularySection
from engine.profile.description import MAX_ASPECTS, MAX_CAPTION_WORDS, Description

CLEAR_MARGIN = 0.08  # best name this much above the second: stated, not hedged
CLOSE_MARGIN = 0.03  # names within this of the best are offered as alternatives


@dataclass(frozen=True)
class Vocabulary:
    """Names of things and of kinds, with their unit vectors in the bundle's text space."""

    things: list[str]
    thing_vectors: np.ndarray  # [T, d]
    kinds: list[str]
    kind_vectors: np.ndarray  # [K, d]


class VocabularyDescriber:
    """Describes photos by the things and kinds nearest to their embeddings."""

    def __init__(self, vocabulary: Vocabulary, kinds_per_photo: int = MAX_ASPECTS - 1):
        self.vocabulary = vocabulary
        self.kinds_per_photo = kinds_per_photo

    @classmethod
    def from_bundle(cls, bundle: Bundle, provider: str = "auto", threads: int | None = None) -> VocabularyDescriber:
        """The bundle's vocabulary (`provider` and `threads` are for describers that run a model: this one does not)."""
        section = bundle.manifest.describer
        if not isinstance(section, VocabularySection):
            raise BundleError(f"{bundle.path / 'manifest.json'}: describer kind {section.kind!r} is not 'vocabulary'")
        names_path, vectors_path = bundle.file(section.file), bundle.file(section.vectors)
        try:
            names = json.loads(names_path.read_text(encoding="utf-8"))
            vectors = np.load(vectors_path, allow_pickle=False).astype(np.float32)
            things, kinds = list(names["things"]), list(names["kinds"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{names_path}: unreadable vocabulary ({exc})") from exc
        if vectors.shape != (len(things) + len(kinds), bundle.embedding_dim):
            raise BundleError(f"{vectors_path}: {vectors.shape} vectors for {len(things)} things and {len(kinds)} kinds")
        return cls(Vocabulary(things, vectors[: len(things)], kinds, vectors[len(things) :]))

    def describe_batch(self, images: Sequence[Image.Image], encoded: ImageBatchOutput) -> list[Description]:
        return [self.describe(vector) for vector in encoded.embeddings]

    def close(self) -> None:
        """Nothing to release: the vocabulary is arrays in memory."""

    def describe(self, embedding: np.ndarray) -> Description:
        thing_sims = self.vocabulary.thing_vectors @ embedding
        kind_sims = self.vocabulary.kind_vectors @ embedding
        things = np.argsort(-thing_sims, kind="stable")[:3]
        kinds = [self.vocabulary.kinds[k] for k in np.argsort(-kind_sims, kind="stable")[: self.kinds_per_photo]]
        best = self.vocabulary.things[things[0]]
        close = [self.vocabulary.things[t] for t in things[1:] if thing_sims[things[0]] - thing_sims[t] < CLOSE_MARGIN]
        return Description(caption=self._caption(best, close, kinds, thing_sims[things]), aspects=_unique([best, *kinds]))

    @staticmethod
    def _caption(best: str, close: list[str], kinds: list[str], sims: np.ndarray) -> str:
        margin = float(sims[0] - sims[1]) if len(sims) > 1 else 1.0
        lead = "A photo of" if margin >= CLEAR_MARGIN else "Probably" if margin >= CLOSE_MARGIN else "Possibly"
        text = f"{lead} {_article(best)}"
        if close:
            text += ", or perhaps " + " or ".join(_article(name) for name in close)
        shown = [kind for kind in kinds[:2] if kind != best]
        if shown:
            text += "; a kind of " + " and ".join(shown)
        return " ".join((text + ".").split()[:MAX_CAPTION_WORDS])


def _unique(words: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))[:MAX_ASPECTS]


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun

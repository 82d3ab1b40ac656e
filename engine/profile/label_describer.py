"""Captions and aspect words a `lite` bundle can honestly produce: its top labels and their WordNet parents."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.models.bundle import Bundle, BundleError
from engine.models.encoders import ImageBatchOutput
from engine.profile.description import MAX_ASPECTS, MAX_CAPTION_WORDS, Description


@dataclass(frozen=True)
class Label:
    name: str
    parents: tuple[str, ...]


class LabelDescriber:
    """Turns a classifier's label probabilities into a short caption and a handful of aspect words.

    The caption states what the classifier saw, with hedging that follows its confidence; it never invents
    content the model did not predict. Aspect words are the most probable concrete labels and parents,
    scored by the probability mass that supports them.
    """

    def __init__(self, labels: list[Label], top_k: int = 5, min_prob: float = 0.04):
        self.labels = labels
        self.top_k = top_k
        self.min_prob = min_prob

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> LabelDescriber:
        section = bundle.manifest["describer"]
        path = bundle.file(section["file"])
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))["labels"]
            labels = [Label(name=_plain(e["name"]), parents=tuple(e.get("parents", ()))) for e in raw]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{path}: unreadable label list ({exc})") from exc
        return cls(labels)

    def describe_batch(self, images: Sequence[Image.Image], encoded: ImageBatchOutput) -> list[Description]:
        if encoded.label_probs is None:
            raise BundleError("the image encoder has no `label_probs` output, which the labels describer needs")
        return [self.describe(row) for row in encoded.label_probs]

    def describe(self, probs: np.ndarray) -> Description:
        order = np.argsort(probs)[::-1][: self.top_k]
        top = [(self.labels[i], float(probs[i])) for i in order]
        kept = [top[0]] + [(label, p) for label, p in top[1:] if p >= self.min_prob]
        return Description(caption=self._caption(kept), aspects=self._aspects(kept))

    def _caption(self, kept: list[tuple[Label, float]]) -> str:
        (best, p), others = kept[0], kept[1:3]
        lead = "A photo of" if p >= 0.5 else "Probably" if p >= 0.2 else "Possibly"
        text = f"{lead} {_article(best.name)}"
        if others:
            text += ", or perhaps " + " or ".join(_article(label.name) for label, _ in others)
        kinds = [parent for parent in best.parents[:2] if parent != best.name]
        if kinds:
            text += "; a kind of " + " and ".join(kinds)
        words = (text + ".").split()
        return " ".join(words[:MAX_CAPTION_WORDS])

    def _aspects(self, kept: list[tuple[Label, float]]) -> tuple[str, ...]:
        scores: dict[str, float] = defaultdict(float)
        for label, p in kept:
            scores[label.name] += p
            for depth, parent in enumerate(label.parents[:3]):
                scores[parent] += p * (0.8**depth) * 0.7
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(word for word, _ in ranked[:MAX_ASPECTS])


def _plain(name: str) -> str:
    """'ram (adult male sheep)' -> 'ram': the disambiguation helps the text encoder, not a caption."""
    return re.sub(r"\s*\([^)]*\)", "", name).strip() or name


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun

"""Pick the describer a bundle declares, by its kind (`manifest.describer.kind`)."""

from __future__ import annotations

from collections.abc import Callable

from engine.models.bundle import Bundle
from engine.profile.captioner import CaptionDescriber
from engine.profile.description import Describer
from engine.profile.vocabulary_describer import VocabularyDescriber

# `vocabulary`: the names of things and kinds nearest the photo's embedding (lite); `captioner`: an ONNX
# image-to-text model (clip). The manifest accepts only these kinds, so every bundle that loads has its describer.
DESCRIBERS: dict[str, Callable[[Bundle, str, int | None], Describer]] = {
    "vocabulary": VocabularyDescriber.from_bundle,
    "captioner": CaptionDescriber.from_bundle,
}


def load_describer(bundle: Bundle, provider: str = "auto", threads: int | None = None) -> Describer:
    """The describer of the bundle's kind, opened on `provider` with `threads` intra-op threads."""
    return DESCRIBERS[bundle.manifest.describer.kind](bundle, provider, threads)

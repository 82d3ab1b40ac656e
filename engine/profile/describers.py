"""Pick the describer a bundle declares (`manifest.describer.kind`)."""

from __future__ import annotations

from engine.models.bundle import Bundle, BundleError
from engine.profile.captioner import CaptionDescriber
from engine.profile.description import Describer
from engine.profile.vocabulary_describer import VocabularyDescriber


def load_describer(bundle: Bundle, provider: str = "auto", threads: int | None = None) -> Describer:
    """`vocabulary`: the names of things and kinds nearest the photo's embedding (lite); `captioner`: an ONNX
    image-to-text model (clip)."""
    kind = (bundle.manifest.get("describer") or {}).get("kind")
    if kind == "vocabulary":
        return VocabularyDescriber.from_bundle(bundle)
    if kind == "captioner":
        return CaptionDescriber.from_bundle(bundle, provider, threads)
    raise BundleError(f"{bundle.path / 'manifest.json'}: describer kind {kind!r} is not supported")

"""Pick the describer a bundle declares (`manifest.describer.kind`)."""

from __future__ import annotations

from engine.models.bundle import Bundle, BundleError
from engine.profile.description import Describer
from engine.profile.label_describer import LabelDescriber


def load_describer(bundle: Bundle) -> Describer:
    """`labels`: top classifier labels and their WordNet parents (the lite bundle)."""
    kind = (bundle.manifest.get("describer") or {}).get("kind")
    if kind == "labels":
        return LabelDescriber.from_bundle(bundle)
    raise BundleError(f"{bundle.path / 'manifest.json'}: describer kind {kind!r} is not supported")

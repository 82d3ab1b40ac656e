"""Captions and aspect words name the things and kinds nearest a photo's embedding, hedged by how clear it is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.models.bundle import Bundle, BundleError
from engine.models.manifest import Manifest, VocabularySection
from engine.profile.description import MAX_ASPECTS, MAX_CAPTION_WORDS
from engine.profile.vocabulary_describer import Vocabulary, VocabularyDescriber

AXES = np.eye(6, dtype=np.float32)
VOCABULARY = Vocabulary(
    things=["steaming bowl", "bento box", "tabby cat"],
    thing_vectors=np.stack([AXES[0], 0.6 * AXES[0] + 0.8 * AXES[1], AXES[2]]),
    kinds=["asian food", "noodle", "cat", "animal"],
    kind_vectors=np.stack([0.8 * AXES[0] + 0.6 * AXES[1], AXES[0], AXES[2], 0.6 * AXES[2] + 0.8 * AXES[3]]),
)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_a_clear_photo_is_named_and_its_kinds_are_its_aspect_words():
    d = VocabularyDescriber(VOCABULARY).describe(AXES[0])
    assert d.caption == "A photo of a steaming bowl; a kind of noodle and asian food."
    assert d.aspects[:3] == ("steaming bowl", "noodle", "asian food")
    assert len(d.aspects) <= MAX_ASPECTS and len(set(d.aspects)) == len(d.aspects)


def test_close_names_are_offered_and_unclear_ones_hedged():
    between = _unit(AXES[0] + 0.9 * (0.6 * AXES[0] + 0.8 * AXES[1]))  # nearly as like the bowl as the bento box
    d = VocabularyDescriber(VOCABULARY).describe(between)
    assert d.caption.startswith(("Possibly", "Probably")) and "or perhaps a" in d.caption
    assert len(d.caption.split()) <= MAX_CAPTION_WORDS


def test_the_vocabulary_loads_from_a_bundle_and_a_mismatch_is_refused(tmp_path):
    (tmp_path / "vocabulary.json").write_text(json.dumps({"things": VOCABULARY.things, "kinds": VOCABULARY.kinds}))
    np.save(tmp_path / "vocabulary.npy", np.concatenate([VOCABULARY.thing_vectors, VOCABULARY.kind_vectors]))
    describer_section = VocabularySection(kind="vocabulary", file="vocabulary.json", vectors="vocabulary.npy")
    manifest = Manifest.model_construct(embedding_dim=6, describer=describer_section)
    describer = VocabularyDescriber.from_bundle(Bundle(tmp_path, manifest))
    assert describer.describe(AXES[2]).aspects[0] == "tabby cat"
    np.save(tmp_path / "vocabulary.npy", np.zeros((3, 6), np.float32))
    with pytest.raises(BundleError, match="3 things and 4 kinds"):
        VocabularyDescriber.from_bundle(Bundle(tmp_path, manifest))

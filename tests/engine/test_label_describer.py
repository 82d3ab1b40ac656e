"""Captions and aspect words come only from what the classifier predicted, hedged by its confidence."""

import numpy as np

from engine.profile.description import MAX_ASPECTS, MAX_CAPTION_WORDS
from engine.profile.label_describer import Label, LabelDescriber

LABELS = [
    Label("tabby", ("cat", "feline", "carnivore")),
    Label("tiger cat", ("cat", "feline", "carnivore")),
    Label("espresso", ("coffee", "beverage")),
    Label("rocket", ("vehicle",)),
]


def _probs(*values):
    return np.asarray(values, dtype=np.float32)


def test_confident_prediction_gives_a_plain_caption_and_concrete_aspects():
    d = LabelDescriber(LABELS).describe(_probs(0.8, 0.15, 0.03, 0.02))
    assert d.caption == "A photo of a tabby, or perhaps a tiger cat; a kind of cat and feline."
    assert d.aspects[:3] == ("tabby", "cat", "feline")
    assert "espresso" not in d.aspects  # below the probability floor


def test_uncertain_prediction_is_hedged():
    d = LabelDescriber(LABELS).describe(_probs(0.1, 0.05, 0.3, 0.55))
    assert d.caption.startswith("A photo of a rocket, or perhaps an espresso or a tabby")
    d = LabelDescriber(LABELS).describe(_probs(0.25, 0.25, 0.25, 0.25))
    assert d.caption.split()[0] == "Probably"


def test_limits_hold_for_any_distribution():
    rng = np.random.default_rng(0)
    many = [Label(f"label number {i} with a long name", ("some parent", "another parent")) for i in range(50)]
    for _ in range(20):
        d = LabelDescriber(many).describe(rng.dirichlet(np.ones(50)).astype(np.float32))
        assert len(d.caption.split()) <= MAX_CAPTION_WORDS
        assert 1 <= len(d.aspects) <= MAX_ASPECTS
        assert len(set(d.aspects)) == len(d.aspects)

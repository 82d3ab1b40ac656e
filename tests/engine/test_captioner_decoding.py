"""The engine's captioner: greedy and beam decoding of an exported tiny ViT-GPT2, caption cleaning, aspect words."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from engine.imaging.decode import open_oriented
from engine.models.bundle import Bundle, BundleError
from engine.models.encoders import ImageBatchOutput
from engine.models.manifest import CaptionerIO, CaptionerSection, Manifest, VocabularySection
from engine.profile.aspect_vocabulary import AspectVocabulary, singular_candidates
from engine.profile.captioner import CaptionDescriber, clean_caption
from engine.profile.description import MAX_ASPECTS, MAX_CAPTION_WORDS

pytestmark = pytest.mark.slow  # not in `./run test fast`

DECODE_SIDE = 256  # the indexer decodes photos with their shorter side at about this size


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Bundle:
    """A folder holding the exported tiny captioner, with just the manifest section the describer reads."""
    from export.captioner.export import export_captioner
    from export.captioner.tiny import build_tiny_captioner

    root = tmp_path_factory.mktemp("captioner")
    section = export_captioner(str(build_tiny_captioner(root / "hf")), root / "bundle")
    return Bundle(root / "bundle", Manifest.model_construct(describer=CaptionerSection.model_validate(section)))


@pytest.fixture(scope="module")
def describer(bundle: Bundle) -> CaptionDescriber:
    return CaptionDescriber.from_bundle(bundle, provider="cpu", threads=2)


@pytest.fixture(scope="module")
def photos(photo_dir: Path) -> list:
    return [open_oriented(path, DECODE_SIDE) for path in sorted(photo_dir.iterdir())]


def no_embeddings(count: int) -> ImageBatchOutput:
    return ImageBatchOutput(embeddings=np.zeros((count, 4), dtype=np.float32), label_probs=None)


def test_describe_batch_gives_one_clean_short_caption_per_photo(describer: CaptionDescriber, photos: list) -> None:
    descriptions = describer.describe_batch(photos, no_embeddings(len(photos)))
    assert len(descriptions) == len(photos)
    for description in descriptions:
        assert len(description.caption.split()) <= MAX_CAPTION_WORDS
        assert description.caption == clean_caption(description.caption)
        assert len(description.aspects) <= MAX_ASPECTS
        assert set(description.aspects) <= describer.vocabulary.entries


def test_greedy_stops_at_eos_or_the_token_budget(describer: CaptionDescriber, photos: list) -> None:
    hypotheses = describer.generate(photos, num_beams=1)
    limit = describer.settings.max_new_tokens
    assert all(len(h.tokens) <= limit for h in hypotheses)
    assert describer.settings.eos_token_id not in {t for h in hypotheses for t in h.tokens}
    assert any(len(h.tokens) < limit for h in hypotheses), "the tiny model ends some captions early"
    assert any(len(h.tokens) == limit for h in hypotheses)


def test_batching_does_not_change_captions(describer: CaptionDescriber, photos: list) -> None:
    batched = describer.generate(photos, num_beams=1)
    one_by_one = [describer.generate([photo], num_beams=1)[0] for photo in photos]
    assert [h.tokens for h in batched] == [h.tokens for h in one_by_one]


def test_beam_search_scores_at_least_as_well_as_greedy(describer: CaptionDescriber, photos: list) -> None:
    greedy = describer.generate(photos, num_beams=1)
    beam = describer.generate(photos, num_beams=4)
    for g, b in zip(greedy, beam):
        assert b.score >= g.score - 1e-5
    assert any(b.score > g.score + 1e-3 for g, b in zip(greedy, beam)), "beam search found nothing better"


def test_beam_search_matches_torch_generate(describer: CaptionDescriber, photos: list, bundle: Bundle) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(bundle.path.parent / "hf").eval()
    pixels = torch.from_numpy(describer.pixel_values(photos))
    settings = describer.settings
    with torch.inference_mode():
        sequences = model.generate(
            pixel_values=pixels, num_beams=4, max_new_tokens=settings.max_new_tokens, do_sample=False
        )
    expected = []
    for row in sequences[:, 1:].tolist():
        expected.append(tuple(row[: row.index(settings.eos_token_id)] if settings.eos_token_id in row else row))
    assert [h.tokens for h in describer.generate(photos, num_beams=4)] == expected


def test_caption_speed_is_measured(describer: CaptionDescriber, photos: list) -> None:
    describer.captions(photos)  # warm-up
    started = time.perf_counter()
    describer.captions(photos * 4)
    speed = 4 * len(photos) / (time.perf_counter() - started)
    print(f"tiny captioner: {speed:.0f} images/s (greedy, batch {4 * len(photos)})")
    assert speed > 0


def test_empty_batch_needs_no_model_run(describer: CaptionDescriber) -> None:
    assert describer.describe_batch([], no_embeddings(0)) == []


def test_a_bundle_with_another_describer_kind_is_refused(bundle: Bundle) -> None:
    vocabulary = VocabularySection(kind="vocabulary", file="vocabulary.json", vectors="vocabulary.npy")
    with pytest.raises(BundleError, match="describer kind 'vocabulary' is not 'captioner'"):
        CaptionDescriber.from_bundle(Bundle(bundle.path, Manifest.model_construct(describer=vocabulary)))


def test_an_encoder_in_place_of_the_merged_decoder_is_refused(bundle: Bundle, tmp_path: Path) -> None:
    shutil.copytree(bundle.path, tmp_path / "bundle")
    section = bundle.manifest.describer
    assert isinstance(section, CaptionerSection)
    section = section.model_copy(update={"decoder": section.encoder, "io": CaptionerIO(encoder=section.io.encoder, decoder=section.io.encoder)})
    with pytest.raises(BundleError, match="not an optimum merged decoder"):
        CaptionDescriber(tmp_path / "bundle", section, provider="cpu")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  a cat   sitting\non a mat ", "A cat sitting on a mat"),
        ("ramen\ufffd\ufffd bowl", "Ramen bowl"),
        ("", ""),
        ("word " * 40, " ".join(["Word"] + ["word"] * (MAX_CAPTION_WORDS - 1))),
    ],
)
def test_clean_caption(raw: str, clean: str) -> None:
    assert clean_caption(raw) == clean


VOCABULARY = AspectVocabulary.from_words(
    [
        "cat", "cathedral", "dome", "tomato", "hot dog", "dog", "ice cream",
        "cream", "glass", "berry", "knife", "bus", "shoe",
    ]
)


@pytest.mark.parametrize(
    ("caption", "aspects"),
    [
        ("A cathedral with a dome", ("cathedral", "dome")),
        ("Catherine holds a catalogue", ()),
        ("Tomatoes and berries next to knives", ("tomato", "berry", "knife")),
        ("Two hot dogs and a dog", ("hot dog", "dog")),
        ("Ice cream, cream and more ice cream", ("ice cream", "cream")),
        ("Buses and shoes", ("bus", "shoe")),
        ("A glass of water", ("glass",)),
        ("DOME! Dome? dome.", ("dome",)),
        ("The dog's tomatoes", ("dog", "tomato")),
    ],
)
def test_aspects_follow_the_caption_on_word_boundaries(caption: str, aspects: tuple[str, ...]) -> None:
    assert VOCABULARY.extract(caption) == aspects


def test_aspects_are_capped() -> None:
    caption = "cat dog tomato shoe bus glass knife berry dome"
    assert VOCABULARY.extract(caption) == ("cat", "dog", "tomato", "shoe", "bus", "glass")[:MAX_ASPECTS]


def test_plural_candidates_try_the_literal_word_first() -> None:
    assert singular_candidates("tomatoes") == ["tomatoes", "tomatoe", "tomato"]
    assert singular_candidates("glass") == ["glass"]
    assert singular_candidates("women") == ["women", "woman"]


def test_bundle_vocabulary_reads_real_captions(bundle: Bundle, describer: CaptionDescriber) -> None:
    caption = "A wooden table with bowls of ramen and tomatoes in front of a cathedral with a golden dome"
    assert describer.describe_caption(caption).aspects == ("wooden", "table", "bowl", "ramen", "tomato", "cathedral")
    assert "cat" not in describer.vocabulary.extract("the cathedral")

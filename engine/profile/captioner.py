"""Captions from a real image-to-text model (manifest `describer.kind == "captioner"`), run with ONNX Runtime.

The bundle holds optimum's `encoder_model.onnx` and `decoder_model_merged.onnx`, the model's `tokenizer.json`,
its own image preprocessing and generation settings. Aspect words are the vocabulary entries the caption names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tokenizers import Tokenizer

from engine.imaging.preprocess import to_tensor
from engine.models.bundle import Bundle, BundleError
from engine.models.encoders import ImageBatchOutput
from engine.models.inference_model import InferenceModel
from engine.models.manifest import CaptionerSection
from engine.models.sessions import ModelSession, active_provider, open_session
from engine.profile.aspect_vocabulary import AspectVocabulary
from engine.profile.caption_search import Hypothesis, MergedDecoder
from engine.profile.description import MAX_CAPTION_WORDS, Description

KIND = "captioner"


class CaptionDescriber(InferenceModel["_CaptionerSessions"]):
    """Encodes a batch once, decodes captions greedily or with beam search, and picks aspect words from them."""

    def __init__(self, root: Path, section: CaptionerSection, provider: str = "auto", threads: int | None = None):
        super().__init__()
        self._root, self._section, self._requested, self._threads = root, section, provider, threads
        self.spec = section.preprocess
        self.settings = section.generation
        self.tokenizer = _load_tokenizer(root / section.tokenizer)
        self.vocabulary = AspectVocabulary.from_file(root / section.aspect_vocabulary)
        self.provider = ""  # the provider serving the encoder, once open
        self.load()

    @classmethod
    def from_bundle(cls, bundle: Bundle, provider: str = "auto", threads: int | None = None) -> CaptionDescriber:
        section = bundle.manifest.describer
        if not isinstance(section, CaptionerSection):
            raise BundleError(f"{bundle.path / 'manifest.json'}: describer kind {section.kind!r} is not {KIND!r}")
        return cls(bundle.path, section, provider, threads)

    def describe_batch(self, images: Sequence[Image.Image], encoded: ImageBatchOutput) -> list[Description]:
        """`encoded` (the bundle's retrieval embeddings) is not needed: the captioner has its own encoder."""
        return [self.describe_caption(caption) for caption in self.captions(images)]

    def describe_caption(self, caption: str) -> Description:
        return Description(caption=caption, aspects=self.vocabulary.extract(caption))

    def captions(self, images: Sequence[Image.Image], num_beams: int | None = None) -> list[str]:
        return [self.text(h) for h in self.generate(images, num_beams)]

    def generate(self, images: Sequence[Image.Image], num_beams: int | None = None) -> list[Hypothesis]:
        """Best token sequence per image; `num_beams` overrides the manifest's (1 = greedy)."""
        if not images:
            return []
        pixels = self.pixel_values(images)
        with self._running() as sessions:
            hidden = sessions.encode(pixels)
            beams = num_beams or self.settings.num_beams
            if beams == 1:
                return sessions.decoder.greedy(hidden, self.settings)
            return sessions.decoder.beam_search(hidden, self.settings.model_copy(update={"num_beams": beams}))

    def pixel_values(self, images: Sequence[Image.Image]) -> np.ndarray:
        return np.stack([to_tensor(img.convert("RGB"), self.spec) for img in images])

    def encode(self, pixel_values: np.ndarray) -> np.ndarray:
        with self._running() as sessions:
            return sessions.encode(pixel_values)

    def text(self, hypothesis: Hypothesis) -> str:
        return clean_caption(self.tokenizer.decode(list(hypothesis.tokens), skip_special_tokens=True))


    def _load(self) -> _CaptionerSessions:
        io = self._section.io
        encoder = open_session(self._root / self._section.encoder, io.encoder, self._requested, self._threads)
        decoder_path = self._root / self._section.decoder
        decoder = open_session(decoder_path, io.decoder, self._requested, self._threads)
        self.provider = active_provider(encoder)
        return _CaptionerSessions(encoder, io.encoder.inputs[0].name, io.encoder.outputs[0].name,
                                  MergedDecoder(decoder, decoder_path))


@dataclass(frozen=True)
class _CaptionerSessions:
    """An open captioner: the encoder session with its input and output names, and the merged decoder."""

    encoder: ModelSession
    encoder_input: str
    encoder_output: str
    decoder: MergedDecoder

    def encode(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.encoder.run([self.encoder_output], {self.encoder_input: pixel_values})[0]


def clean_caption(text: str) -> str:
    """Printable characters only (no U+FFFD from split byte tokens), single spaces, sentence case, at most
    `MAX_CAPTION_WORDS` words."""
    printable = "".join(c if c.isprintable() and c != "\ufffd" else " " for c in text)
    caption = " ".join(printable.split()[:MAX_CAPTION_WORDS])
    return caption[:1].upper() + caption[1:]


def _load_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise BundleError(f"{path}: cannot load tokenizer ({exc})") from exc

"""The bundle's `manifest.json` as typed records, parsed and checked once when the bundle loads.

Types are strict (JSON `true` is not a count, `"384"` is not a width); fields this engine does not use are ignored,
so a newer exporter may add metadata. Whether a file name is inside the bundle, within the size limits, a regular
file and of its checksum is `engine.models.bundle`'s to check.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, PlainValidator, PositiveInt

from engine.imaging.preprocess import PreprocessSpec
from engine.record_validation import TolerantRecord

VISUAL_OUTPUT = "visual"


def _preprocess(value: object) -> PreprocessSpec:
    """The image preprocessing a section declares, refused here if this engine cannot apply it."""
    if isinstance(value, PreprocessSpec):
        return value
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    try:
        return PreprocessSpec.from_manifest(value)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"unusable ({type(exc).__name__}: {exc})") from exc


def _dimension(value: object) -> int | str:
    """A tensor dimension: a fixed size (an integer, not JSON `true`) or the name of a dynamic axis."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"a dimension must be an integer or an axis name, not {value!r}")


Preprocess = Annotated[PreprocessSpec, PlainValidator(_preprocess)]
Dimension = Annotated[int | str, PlainValidator(_dimension)]


class Tensor(TolerantRecord):
    """One declared model input or output: its name and shape (integers fixed, text named dynamic axes)."""

    name: str
    shape: list[Dimension] = Field(min_length=1)
    dtype: str | None = None


class ModelIO(TolerantRecord):
    """What an ONNX model takes and gives, checked against the model when its session opens."""

    inputs: list[Tensor] = []
    outputs: list[Tensor] = []
    precision: str | None = None

    def output(self, name: str) -> Tensor | None:
        """The declaration of output `name`, or None."""
        return next((o for o in self.outputs if o.name == name), None)


class ModelSection(ModelIO):
    """A model section: its ONNX file, its inputs/outputs and where the model came from."""

    file: str
    source: dict[str, Any] = {}  # the model, package and licence it was built from (reports and licences)


class ImageEncoderSection(ModelSection):
    inputs: list[Tensor] = Field(min_length=1)
    preprocess: Preprocess
    evidence_similarity: float | None = None  # how like a candidate a photo must be to show its kind of thing
    bridge: dict[str, Any] | None = None  # how the lite bundle's bridge was fitted and evaluated (reports only)


class TextEncoderSection(ModelSection):
    tokenizer: str = "tokenizer.json"
    max_length: PositiveInt = 128
    padding: str = "longest"  # "max_length": towers with a fixed context (open_clip: 77 tokens)
    pad_id: NonNegativeInt | None = None  # None: the tokenizer's [PAD] id, else 0


class RankerSection(ModelSection):
    summary: str = "trained ranker"
    recipe: dict[str, Any] = {}  # the training recipe, for retraining and reports
    metrics: dict[str, dict[str, float]] = {}  # validation figures at export, per split


class VocabularySection(TolerantRecord):
    """Describes photos by the nearest names of things and kinds (lite)."""

    kind: Literal["vocabulary"]
    file: str  # names of things and kinds (JSON)
    vectors: str  # their unit vectors (.npy)


class GenerationSettings(TolerantRecord):
    """A captioner's special token ids and search width/length."""

    decoder_start_token_id: NonNegativeInt
    eos_token_id: NonNegativeInt
    pad_token_id: NonNegativeInt
    max_new_tokens: PositiveInt
    num_beams: PositiveInt = 1
    length_penalty: float = 1.0


class CaptionerIO(TolerantRecord):
    encoder: ModelIO
    decoder: ModelIO


class CaptionerSection(TolerantRecord):
    """An ONNX image-to-text model (optimum's encoder and merged decoder), its tokenizer and aspect vocabulary."""

    kind: Literal["captioner"]
    encoder: str
    decoder: str
    tokenizer: str
    aspect_vocabulary: str
    preprocess: Preprocess
    generation: GenerationSettings
    io: CaptionerIO


DescriberSection = Annotated[VocabularySection | CaptionerSection, Field(discriminator="kind")]


class FileEntry(TolerantRecord):
    sha256: str
    bytes: NonNegativeInt | None = None


class Manifest(TolerantRecord):
    """A bundle's whole contract with the engine."""

    schema_version: int
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    embedding_dim: PositiveInt
    image_encoder: ImageEncoderSection
    text_encoder: TextEncoderSection
    describer: DescriberSection
    ranker: RankerSection | None = None
    files: dict[str, FileEntry]
    parity: dict[str, dict[str, Any]] = {}  # export-time parity figures per model, shown by `visuallens status`
    built_by: dict[str, Any] | None = None

    @property
    def models(self) -> dict[str, ModelSection]:
        """The ONNX model sections present, by manifest key."""
        present = {"image_encoder": self.image_encoder, "text_encoder": self.text_encoder, "ranker": self.ranker}
        return {key: section for key, section in present.items() if section is not None}

    def referenced(self) -> set[str]:
        """Every file name a section gives: models, the tokenizer, the describer's files."""
        names = {section.file for section in self.models.values()} | {self.text_encoder.tokenizer}
        if isinstance(self.describer, VocabularySection):
            return names | {self.describer.file, self.describer.vectors}
        describer = self.describer
        return names | {describer.encoder, describer.decoder, describer.tokenizer, describer.aspect_vocabulary}

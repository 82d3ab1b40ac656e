"""What a bundle says about a photo: a short caption and a handful of aspect words, and who says it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from engine.models.encoders import ImageBatchOutput

MAX_CAPTION_WORDS = 30
MAX_ASPECTS = 6


@dataclass(frozen=True)
class Description:
    caption: str
    aspects: tuple[str, ...]


class Describer(Protocol):
    """Describes a batch of decoded photos; `encoded` is the image encoder's output for the same batch."""

    def describe_batch(self, images: Sequence[Image.Image], encoded: ImageBatchOutput) -> list[Description]: ...

    def close(self) -> None:
        """Release what the describer holds open (sessions, threads)."""

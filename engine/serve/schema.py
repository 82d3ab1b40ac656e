"""The API's request and response bodies; pydantic validates them and FastAPI publishes them as OpenAPI."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from engine.catalog.items import MAX_CANDIDATES  # one limit for catalogs (CLI, desktop) and requests
from engine.record_validation import Record

MAX_TEXT = 500
MAX_DESCRIPTION = 2000
_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)


def _base64(value: object) -> object:
    """Strict base64 (a `data:...;base64,` prefix is allowed) decoded to bytes; anything else is left to pydantic."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(_DATA_URL.sub("", value, count=1), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64 image data") from None


ImageBytes = Annotated[bytes, BeforeValidator(_base64), Field(min_length=1),
                      WithJsonSchema({"type": "string", "contentEncoding": "base64"})]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class Candidate(Record):
    """One item to rank; its picture is sent inline (`image`) or named by an absolute path on this machine."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Text
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    image: ImageBytes | None = Field(None, description="The item's picture, base64 (or a base64 data: URL).")
    image_path: Text | None = Field(None, description="Or: an absolute path to the item's picture on this machine.")

    @field_validator("image_path")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        if path is not None and not Path(path).is_absolute():
            raise ValueError("must be an absolute path")
        return path

    @model_validator(mode="after")
    def _one_picture(self) -> Candidate:
        if self.image is not None and self.image_path is not None:
            raise ValueError("give either image or image_path, not both")
        return self


class RecommendRequest(Record):
    """Rank `candidates` of one `category` for the user of this profile, optionally steered by a text `query`."""

    category: Text
    candidates: Annotated[list[Candidate], Field(min_length=1, max_length=MAX_CANDIDATES)]
    query: Text | None = None
    top: Annotated[int, Field(ge=1, le=MAX_CANDIDATES)] | None = Field(None, description="Return only the best `top`.")


class FeedbackRequest(Record):
    """The user's judgement of an item ranked in `category`: "like", "not_for_me", or "undo" (withdraw it). Later
    rankings of the category move the items like it (a judged item's picture counts when it is among a request's
    candidates again; otherwise its name and description do)."""

    category: Text
    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Text | None = Field(None, description="The item's name (needed for like / not_for_me).")
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    verdict: Literal["like", "not_for_me", "undo"]

    @model_validator(mode="after")
    def _named(self) -> FeedbackRequest:
        if self.verdict != "undo" and self.name is None:
            raise ValueError(f"a {self.verdict} needs the item's name")
        return self


class FeedbackResponse(BaseModel):
    category: str
    id: str
    verdict: str
    changed: bool = Field(description="False for an undo of an item that had no judgement.")
    judgements: int = Field(description="The user's judgements in this category now.")


class MovedBy(BaseModel):
    id: str
    name: str
    liked: bool


class RankedCandidate(BaseModel):
    id: str
    name: str
    score: float
    rank: int
    aspect_words: list[str] = Field(description="Aspect words of the user's photos that support this item.")
    moved_by: MovedBy | None = Field(None, description="The user's judgement that moved this item to its place.")


class RecommendResponse(BaseModel):
    category: str
    query: str | None
    scorer: str = Field(description='"trained ranker" or "zero-shot scorer".')
    query_aspect_words: list[str] = Field(description="Aspect words of the user's photos this request retrieved.")
    ranking: list[RankedCandidate]


class StatusResponse(BaseModel):
    version: str
    photos: int
    bundle: str
    bundle_version: str
    provider: str = Field(description="The ONNX Runtime execution provider in use.")
    ranker: str
    scorer: str = Field(description='What serves /recommend: "trained ranker" or "zero-shot scorer".')


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[ErrorField] = []

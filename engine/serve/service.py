"""The engine behind the API: one unlocked profile, used by one request thread at a time, answering only
with rankings and aspect words (never the user's photos, paths, captions or vectors)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from engine import __version__
from engine.api import VisualLens
from engine.catalog.items import CatalogItem
from engine.imaging.decode import ImageDecodeError
from engine.profile.records import Judgement
from engine.recommend.ranker import ranker_summary
from engine.recommend.recommender import TRAINED, ZERO_SHOT
from engine.serve.images import (
    MAX_PATH_BYTES_PER_REQUEST,
    ImageVectorCache,
    RequestEmbedder,
    digest,
    encode_tensors,
    read_image_file,
    tensor,
)
from engine.serve.schema import (
    FeedbackRequest,
    FeedbackResponse,
    MovedBy,
    RankedCandidate,
    RecommendRequest,
    RecommendResponse,
    StatusResponse,
)

# One answer for every path that cannot be used, so that the API tells nothing about which files exist or what
# they hold; the user's own photos are refused too (their aspect words would describe that one photo).
UNUSABLE_PATH = "no usable picture there: give a readable image file outside your photo library folders"


class InputError(ValueError):
    """A request field the engine cannot use; `field` names it as the client wrote it (`candidates[2].image`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LensService:
    """Serialises access to the `VisualLens` object; picture decoding runs outside the lock."""

    def __init__(self, lens: VisualLens):
        self.lens = lens
        self.lock = threading.Lock()
        self.cache = ImageVectorCache()
        with self.lock:  # load the models and the library now: fail at start-up, answer the first request fast
            lens.warm_up()

    def recommend(self, request: RecommendRequest) -> RecommendResponse:
        _check_unique_ids(request)
        self._refuse_library_paths(request)
        pictures = _picture_bytes(request)
        digests = {item_id: digest(data) for item_id, data in pictures.items()}
        known = self.cache.lookup(set(digests.values()))
        spec = self.lens.image_encoder.spec
        tensors: dict[str, np.ndarray] = {}
        for item_id, data in pictures.items():
            key = digests[item_id]
            if key not in known and key not in tensors:
                try:
                    tensors[key] = tensor(data, spec)
                except ImageDecodeError as exc:
                    field = _picture_field(request, item_id)
                    raise InputError(field, UNUSABLE_PATH if field.endswith("image_path") else str(exc)) from None
        items = [CatalogItem(id=c.id, name=c.name, category=request.category, description=c.description)
                 for c in request.candidates]
        with self.lock:
            fresh = encode_tensors(self.lens.image_encoder, tensors)
            by_digest = {**known, **fresh}
            vectors = {item_id: by_digest[key] for item_id, key in digests.items()}
            embedder = RequestEmbedder(self.lens.text_encoder, vectors, self.lens.image_encoder.visual_dim)
            rec = self.lens.recommend_items(request.category, items, request.query, embedder=embedder)
        self.cache.add(fresh)
        return RecommendResponse(
            category=request.category,
            query=request.query,
            scorer=rec.scorer,
            query_aspect_words=list(rec.profile_aspects),
            ranking=[
                RankedCandidate(id=r.item.id, name=r.item.name, score=round(r.score, 6), rank=r.rank,
                                aspect_words=list(r.evidence.aspect_words), moved_by=_moved_by(r.evidence.feedback))
                for r in rec.ranked[: request.top]
            ],
        )

    def feedback(self, request: FeedbackRequest) -> FeedbackResponse:
        """Record or withdraw the user's judgement of an item."""
        with self.lock:
            if request.verdict == "undo":
                changed = self.lens.unjudge(request.category, request.id)
            else:
                item = CatalogItem(id=request.id, name=request.name or request.id, category=request.category,
                                   description=request.description)
                self.lens.store.judge(item, liked=request.verdict == "like")
                changed = True
            count = len(self.lens.judgements(request.category))
        return FeedbackResponse(category=request.category, id=request.id, verdict=request.verdict, changed=changed,
                                judgements=count)

    def _refuse_library_paths(self, request: RecommendRequest) -> None:
        """An `image_path` inside a library folder (links resolved) is refused before anything is read."""
        named = [(i, c.image_path) for i, c in enumerate(request.candidates) if c.image_path is not None]
        if not named:
            return
        with self.lock:
            folders = [_comparable(folder) for folder in self.lens.store.folders()]
        for i, path in named:
            try:
                inside = any(_comparable(path).is_relative_to(folder) for folder in folders)
            except ValueError:  # a NUL byte: no file system has such a path
                inside = True
            if inside:
                raise InputError(f"candidates[{i}].image_path", UNUSABLE_PATH)

    def status(self) -> StatusResponse:
        with self.lock:
            bundle = self.lens.bundle
            ranker = self.lens.recommender.ranker
            return StatusResponse(
                version=__version__,
                photos=self.lens.store.count(),
                bundle=bundle.name,
                bundle_version=bundle.version,
                provider=self.lens.image_encoder.provider,
                ranker=ranker_summary(bundle),
                scorer=TRAINED if ranker is not None else ZERO_SHOT,
            )


def _check_unique_ids(request: RecommendRequest) -> None:
    first: dict[str, int] = {}
    for i, candidate in enumerate(request.candidates):
        if candidate.id in first:
            raise InputError(f"candidates[{i}].id", f"repeats candidates[{first[candidate.id]}].id")
        first[candidate.id] = i


def _picture_bytes(request: RecommendRequest) -> dict[str, bytes]:
    """Item id -> picture bytes, for the candidates that have a picture. Pictures named by path total at most
    MAX_PATH_BYTES_PER_REQUEST: the one that would go over is unusable, like any other."""
    pictures: dict[str, bytes] = {}
    budget = MAX_PATH_BYTES_PER_REQUEST
    for i, candidate in enumerate(request.candidates):
        if candidate.image is not None:
            pictures[candidate.id] = candidate.image
        elif candidate.image_path is not None:
            try:
                pictures[candidate.id] = read_image_file(candidate.image_path, budget)
                budget -= len(pictures[candidate.id])
            except ImageDecodeError:
                raise InputError(f"candidates[{i}].image_path", UNUSABLE_PATH) from None
    return pictures


def _moved_by(judgement: Judgement | None) -> MovedBy | None:
    if judgement is None:
        return None
    return MovedBy(id=judgement.item.id, name=judgement.item.name, liked=judgement.liked)


def _comparable(path: str) -> Path:
    """A path with links resolved and case folded as the file system compares it."""
    return Path(os.path.normcase(os.path.realpath(path)))


def _picture_field(request: RecommendRequest, item_id: str) -> str:
    i, candidate = next((i, c) for i, c in enumerate(request.candidates) if c.id == item_id)
    return f"candidates[{i}].{'image' if candidate.image is not None else 'image_path'}"

"""The trained ranker served from the bundle: one ONNX call scores every candidate of a query.

The graph reads the query-conditioned profile (the top-w photos in grid order with their image, caption,
aspect-word and visual vectors and relevance) and the candidates (picture, name and visual vectors, and the
similarities of each to its nearest photos in the whole library, with the library's size), and returns a score
per candidate, a logit per aspect word of the profile, and the evidence it used: attention over grid cells and
each aspect word's support for each candidate. `ranker_feeds` builds its inputs; training uses the same
function, so what the model learns on is exactly what the engine feeds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.models.bundle import Bundle, BundleError
from engine.models.inference_model import InferenceModel
from engine.models.sessions import ModelSession, open_session
from engine.recommend.candidates import NEIGHBOURS, VIEWS, CandidateSet
from engine.recommend.scorer import HistoryContext, ScoredCandidates, softmax, word_mass

MANIFEST_KEY = "ranker"
PRIOR_TEMPERATURE = 0.1  # softmax temperature over photo relevance for the zero-shot aspect-word mass

# name -> (dims after the batch axis); "w" photos, "n" candidates, "k" aspect words, "d" embedding width,
# "v" visual width, "views" the candidate views neighbours are retrieved by, "m" neighbours per view; 1 a fixed axis
INPUTS: dict[str, tuple[str | int, ...]] = {
    "category": ("d",),
    "photo_image": ("w", "d"),
    "photo_caption": ("w", "d"),
    "photo_aspect": ("w", "d"),
    "photo_visual": ("w", "v"),
    "photo_relevance": ("w",),
    "photo_mask": ("w",),
    "candidate_image": ("n", "d"),
    "candidate_text": ("n", "d"),
    "candidate_visual": ("n", "v"),
    "candidate_neighbours": ("n", "views", "m"),
    "candidate_mask": ("n",),
    "library_size": (1,),
    "aspect_vectors": ("k", "d"),
    "aspect_prior": ("k",),
    "aspect_mask": ("k",),
}
OUTPUTS: dict[str, tuple[str, ...]] = {
    "scores": ("n",),
    "aspect_logits": ("k",),
    "cell_weights": ("n", "w"),
    "aspect_support": ("n", "k"),
}


DYNAMIC_AXES = {"w": "photos", "n": "candidates", "k": "words"}  # the graph's names for the axes that vary


def io_declaration(dim: int, visual_dim: int) -> dict[str, list[dict]]:
    """The manifest's `inputs`/`outputs` entries for a ranker over `dim`-wide vectors."""
    fixed = {"d": dim, "v": visual_dim, "m": NEIGHBOURS, "views": len(VIEWS), **DYNAMIC_AXES}

    def entries(spec: Mapping[str, Sequence[str | int]]) -> list[dict]:
        return [
            {"name": name, "shape": ["batch", *(fixed.get(a, a) if isinstance(a, str) else a for a in axes)],
             "dtype": "float32"}
            for name, axes in spec.items()
        ]

    return {"inputs": entries(INPUTS), "outputs": entries(OUTPUTS)}


def aspect_prior(ctx: HistoryContext) -> np.ndarray:
    """Zero-shot weight of each profile word: its photos' relevance, soft-maxed, summed and normalised."""
    if not ctx.aspect_words:
        return np.zeros(0, np.float32)
    return word_mass(ctx, softmax(ctx.relevance.astype(np.float64) / PRIOR_TEMPERATURE))


def ranker_feeds(ctx: HistoryContext, category: np.ndarray, candidates: CandidateSet) -> dict[str, np.ndarray]:
    """The ranker's inputs for one query, without the batch axis (see `INPUTS`)."""
    w, n, k = len(ctx.vectors), len(candidates.image), len(ctx.aspect_words)
    dim = candidates.image.shape[1]
    index = {word: i for i, word in enumerate(ctx.aspect_words)}
    photo_aspect = np.zeros((w, dim), np.float32)
    for row, words in enumerate(ctx.aspects):
        if words:
            photo_aspect[row] = ctx.aspect_vectors[[index[word] for word in words]].mean(axis=0)
    return {
        "category": category.astype(np.float32).reshape(dim),
        "photo_image": ctx.vectors.astype(np.float32),
        "photo_caption": ctx.caption_vectors.astype(np.float32),
        "photo_aspect": photo_aspect,
        "photo_visual": ctx.visual_vectors.astype(np.float32).reshape(w, candidates.visual.shape[1]),
        "photo_relevance": ctx.relevance.astype(np.float32),
        "photo_mask": np.ones(w, np.float32),
        "candidate_image": candidates.image.astype(np.float32),
        "candidate_text": candidates.text.astype(np.float32),
        "candidate_visual": candidates.visual.astype(np.float32),
        "candidate_neighbours": candidates.neighbours.astype(np.float32),
        "candidate_mask": np.ones(n, np.float32),
        "library_size": np.array([candidates.library_size], np.float32),
        "aspect_vectors": ctx.aspect_vectors.astype(np.float32).reshape(k, dim),
        "aspect_prior": aspect_prior(ctx),
        "aspect_mask": np.ones(k, np.float32),
    }


def ranker_summary(bundle: Bundle) -> str:
    """One line on what ranks for this bundle: its trained ranker's summary, or the zero-shot fallback."""
    ranker = bundle.manifest.ranker
    return "zero-shot (the bundle has no ranker)" if ranker is None else ranker.summary


@dataclass(frozen=True)
class RankerOutput:
    """The ranker's answer for one query, plus the query's aspect-word probabilities."""

    scored: ScoredCandidates
    aspect_probs: np.ndarray  # [k] in `HistoryContext.aspect_words` order


class OnnxRanker(InferenceModel[ModelSession]):
    """The bundle's `ranker.onnx`, one session, batch of one query."""

    def __init__(self, bundle: Bundle, provider: str = "auto", threads: int | None = None, open_now: bool = True):
        super().__init__()
        self._bundle, self._requested, self._threads = bundle, provider, threads
        if open_now:  # else on first use
            self.load()

    def _load(self) -> ModelSession:
        section = self._bundle.manifest.ranker
        if section is None:
            raise BundleError(f"{self._bundle.path}: the bundle has no ranker")
        return open_session(self._bundle.file(section.file), section, self._requested, self._threads)

    @staticmethod
    def available(bundle: Bundle) -> bool:
        """Whether the bundle ships a trained ranker."""
        return bundle.manifest.ranker is not None

    def rank(self, ctx: HistoryContext, category: np.ndarray, candidates: CandidateSet) -> RankerOutput:
        """Score the candidates of one query (at least one photo) in a single ONNX call."""
        feeds = ranker_feeds(ctx, category, candidates)
        k = len(ctx.aspect_words)
        if k == 0:  # no aspect words in the profile: one masked placeholder keeps every axis non-empty
            feeds.update(
                aspect_vectors=np.zeros((1, feeds["category"].shape[0]), np.float32),
                aspect_prior=np.zeros(1, np.float32),
                aspect_mask=np.zeros(1, np.float32),
            )
        with self._running() as session:
            outputs = session.run(list(OUTPUTS), {name: value[None] for name, value in feeds.items()})
        scores, aspect_logits, cell_weights, support = (out[0] for out in outputs)
        probs = 1.0 / (1.0 + np.exp(-aspect_logits[:k].astype(np.float64)))
        return RankerOutput(ScoredCandidates(scores, cell_weights, support[:, :k]), probs.astype(np.float32))

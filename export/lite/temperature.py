"""Choose the bridge temperature T by measured image<->text retrieval on real photos and queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from export.lite.bridge import bridge_embedding

TEMPERATURE_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class RetrievalScore:
    """Retrieval quality of one setting (a bridge temperature, or a trained/label mix).

    `text_to_image`: queries whose relevant photos all outrank the others; `image_to_text`:
    photos whose best-matching query is one of theirs; `mean_margin`: mean over queries of
    (lowest relevant similarity - highest irrelevant similarity).
    """

    setting: float
    text_to_image: int
    image_to_text: int
    mean_margin: float

    def rank(self) -> tuple[int, float]:
        return self.text_to_image + self.image_to_text, self.mean_margin

    def to_manifest(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def score_temperature(
    logits: torch.Tensor,
    label_embeddings: torch.Tensor,
    photo_names: list[str],
    query_embeddings: torch.Tensor,
    relevant: list[frozenset[str]],
    temperature: float,
) -> RetrievalScore:
    """Score one temperature; `relevant[i]` names the photos query `i` should retrieve."""
    images = bridge_embedding(logits, label_embeddings, temperature)
    return retrieval_score(images, photo_names, query_embeddings, relevant, temperature)


def retrieval_score(
    images: torch.Tensor,
    photo_names: list[str],
    query_embeddings: torch.Tensor,
    relevant: list[frozenset[str]],
    setting: float,
) -> RetrievalScore:
    """How well photo embeddings `images` answer the probe queries (`setting` labels the result)."""
    sims = query_embeddings @ images.T  # [queries, photos]
    is_relevant = torch.tensor([[name in rel for name in photo_names] for rel in relevant])
    lowest_relevant = sims.masked_fill(~is_relevant, float("inf")).min(dim=1).values
    highest_other = sims.masked_fill(is_relevant, float("-inf")).max(dim=1).values
    margins = lowest_relevant - highest_other
    best_query = sims.argmax(dim=0)
    image_to_text = int(is_relevant[best_query, torch.arange(len(photo_names))].sum())
    return RetrievalScore(setting, int((margins > 0).sum()), image_to_text, float(margins.mean()))


def choose_temperature(
    logits: torch.Tensor,
    label_embeddings: torch.Tensor,
    photo_names: list[str],
    query_embeddings: torch.Tensor,
    relevant: list[frozenset[str]],
    grid: tuple[float, ...] = TEMPERATURE_GRID,
) -> tuple[RetrievalScore, list[RetrievalScore]]:
    """The best-ranked temperature of `grid` (most correct retrievals, then widest mean margin) and all scores."""
    scores = [score_temperature(logits, label_embeddings, photo_names, query_embeddings, relevant, t) for t in grid]
    return max(scores, key=RetrievalScore.rank), scores

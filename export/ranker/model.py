"""The spectrum ranker: a pretrained transformer (MiniLM layers) over grid-cell tokens and candidate tokens.

Token sequence per query: [category] + one token per grid cell (image, caption, aspect-word and visual vectors
and relevance; the cell number is the position id) + one token per candidate (picture, name and visual vectors
and its library-density readings). Heads, trained fully: aspect-word logits from the category token against the
profile's word vectors; per-candidate evidence attention over the cells; a matching score from the candidate's
hidden state, the attended cells and the similarity channels (image, caption, visual, predicted aspect words,
category, and library density against a reference library).

The density channels are a likelihood ratio: how densely the user's photos gather around a candidate (a kernel
over its nearest library photos, at learned temperatures) against how densely a generic library does (the
`reference` photo vectors, a buffer fixed at training). A person's taste is what their library holds more of than
everyone's does. The backbone is adapted with LoRA (see `lora.py`). Inputs and outputs are
`engine.recommend.ranker`'s.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertModel

from engine.recommend.candidates import VIEWS

NEG = -1e4  # additive mask value (finite, so fp16 and ONNX Runtime stay NaN-free)
RELEVANCE_TEMPERATURE = 0.1
HEAD_MODULES = (
    "photo_in", "candidate_in", "category_in", "evidence_query", "evidence_key", "aspect_query", "density", "scorer",
)  # fmt: skip
DENSITY_TEMPERATURES = (0.05, 0.1, 0.2)  # initial values; learned
CHANNELS = (
    "image_mean", "image_max", "caption_mean", "caption_max", "visual_mean", "visual_max", "aspects", "category",
    *(f"density_{v}_{t}" for v in VIEWS for t in DENSITY_TEMPERATURES),
    *(f"density_ratio_{v}_{t}" for v in VIEWS for t in DENSITY_TEMPERATURES),
)  # fmt: skip
DENSITIES = len(VIEWS) * len(DENSITY_TEMPERATURES)


class SpectrumRanker(nn.Module):
    """Scores candidates against a query-conditioned profile; forward takes the engine's ranker inputs."""

    def __init__(self, backbone: BertModel, dim: int, visual_dim: int, reference: torch.Tensor, evidence_dim: int = 64):
        super().__init__()
        hidden = backbone.config.hidden_size
        self.backbone = backbone
        self.density = LibraryDensity(reference)
        self.photo_in = nn.Linear(3 * dim + visual_dim + 1, hidden)
        self.candidate_in = nn.Linear(2 * dim + visual_dim + 2 * DENSITIES, hidden)
        self.category_in = nn.Linear(dim, hidden)
        self.evidence_query = nn.Linear(hidden, evidence_dim)
        self.evidence_key = nn.Linear(hidden, evidence_dim)
        self.aspect_query = nn.Linear(hidden, dim + 2)  # word direction, prior weight, bias
        self.scorer = ScoreHead(hidden, len(CHANNELS))

    def forward(
        self,
        category: torch.Tensor,
        photo_image: torch.Tensor,
        photo_caption: torch.Tensor,
        photo_aspect: torch.Tensor,
        photo_visual: torch.Tensor,
        photo_relevance: torch.Tensor,
        photo_mask: torch.Tensor,
        candidate_image: torch.Tensor,
        candidate_text: torch.Tensor,
        candidate_visual: torch.Tensor,
        candidate_neighbours: torch.Tensor,
        candidate_mask: torch.Tensor,
        library_size: torch.Tensor,
        aspect_vectors: torch.Tensor,
        aspect_prior: torch.Tensor,
        aspect_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        w = photo_image.shape[1]
        item = F.normalize(candidate_image + candidate_text, dim=-1)
        views = (item, F.normalize(candidate_image, dim=-1), F.normalize(candidate_text, dim=-1))  # as VIEWS
        own, ratio = self.density(views, candidate_neighbours, library_size)  # [B, n, views * T] each
        photos = self.photo_in(
            torch.cat([photo_image, photo_caption, photo_aspect, photo_visual, photo_relevance[..., None]], -1)
        )
        candidates = self.candidate_in(
            torch.cat([candidate_image, candidate_text, candidate_visual, _centred(own, candidate_mask), ratio], -1)
        )
        hidden = self._encode(self.category_in(category)[:, None], photos, candidates, photo_mask, candidate_mask)
        h_query, h_photos, h_candidates = hidden[:, 0], hidden[:, 1 : 1 + w], hidden[:, 1 + w :]

        evidence = self.evidence_query(h_candidates) @ self.evidence_key(h_photos).transpose(1, 2)
        evidence = evidence / math.sqrt(self.evidence_key.out_features) + (1.0 - photo_mask[:, None, :]) * NEG
        cell_weights = torch.softmax(evidence, dim=-1)  # [B, n, w]

        aspect_logits = self._aspect_logits(h_query, aspect_vectors, aspect_prior, aspect_mask)
        aspect_probs = torch.sigmoid(aspect_logits) * aspect_mask
        aspect_sims = _centred(item @ aspect_vectors.transpose(1, 2), candidate_mask)  # [B, n, k]
        aspect_support = aspect_probs[:, None, :] * aspect_sims
        channels = torch.stack(
            [
                *self._photo_channels(item, photo_image, photo_relevance, photo_mask, candidate_mask),
                *self._photo_channels(item, photo_caption, photo_relevance, photo_mask, candidate_mask),
                *self._photo_channels(candidate_visual, photo_visual, photo_relevance, photo_mask, candidate_mask),
                aspect_support.sum(-1) / (aspect_probs.sum(-1, keepdim=True) + 1e-6),
                (item @ category[..., None])[..., 0],
                *own.unbind(-1),
                *ratio.unbind(-1),
            ],
            dim=-1,
        )
        channels = _standardised(channels, candidate_mask)
        scores = self.scorer(h_candidates, cell_weights @ h_photos, channels)
        scores = scores + (1.0 - candidate_mask) * NEG
        return scores, aspect_logits, cell_weights, aspect_support

    def _encode(
        self,
        category: torch.Tensor,
        photos: torch.Tensor,
        candidates: torch.Tensor,
        photo_mask: torch.Tensor,
        candidate_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Run the backbone; cells get position ids 1..w (their grid numbers), category and candidates 0."""
        batch, w, n = photos.shape[0], photos.shape[1], candidates.shape[1]
        tokens = torch.cat([category, photos, candidates], dim=1)
        ones = torch.ones(batch, 1, dtype=photo_mask.dtype, device=photo_mask.device)
        mask = torch.cat([ones, photo_mask, candidate_mask], dim=1)
        cells = torch.arange(1, w + 1, device=tokens.device)
        zeros = torch.zeros(n + 1, dtype=cells.dtype, device=tokens.device)
        positions = torch.cat([zeros[:1], cells, zeros[1:]])[None].expand(batch, -1)
        types = torch.cat([torch.zeros(w + 1, dtype=cells.dtype, device=tokens.device), zeros[1:] + 1])
        return self.backbone(
            inputs_embeds=tokens,
            attention_mask=mask,
            position_ids=positions,
            token_type_ids=types[None].expand(batch, -1),
        ).last_hidden_state

    def _aspect_logits(
        self, h_query: torch.Tensor, words: torch.Tensor, prior: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """logit_k = <q, word_k> + a·log(prior_k) + b, with q, a, b read off the category token."""
        query = self.aspect_query(h_query)
        direction, prior_weight, bias = query[:, :-2], query[:, -2:-1], query[:, -1:]
        logits = (words @ direction[..., None])[..., 0] + prior_weight * torch.log(prior + 1e-4) + bias
        return logits + (1.0 - mask) * NEG

    @staticmethod
    def _photo_channels(
        item: torch.Tensor, views: torch.Tensor, relevance: torch.Tensor, photo_mask: torch.Tensor, candidate_mask
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Relevance-weighted mean and max similarity of each candidate to the cells' `views`."""
        sims = _centred(item @ views.transpose(1, 2), candidate_mask)  # [B, n, w]
        attention = torch.softmax(relevance / RELEVANCE_TEMPERATURE + (1.0 - photo_mask) * NEG, dim=-1)
        mean = (sims * attention[:, None, :]).sum(-1)
        peak = (sims + (1.0 - photo_mask[:, None, :]) * NEG).max(-1).values
        return mean, peak


class LibraryDensity(nn.Module):
    """Kernel densities at each candidate, in each of its views: of the user's library (from its nearest photos)
    and its ratio to a generic reference library's, at `DENSITY_TEMPERATURES` (learned, kept positive through their
    logs)."""

    def __init__(self, reference: torch.Tensor):
        super().__init__()
        self.register_buffer("reference", F.normalize(reference.float(), dim=-1).contiguous())
        self.log_reference_size = math.log(len(reference))
        self.log_temperature = nn.Parameter(torch.log(torch.tensor(DENSITY_TEMPERATURES)))

    def forward(
        self, views: tuple[torch.Tensor, ...], neighbours: torch.Tensor, library_size: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.log_temperature.exp()  # [T]
        size = torch.log(library_size.clamp(min=1.0))[:, :, None, None]  # [B, 1, 1, 1]
        own = torch.logsumexp(neighbours[..., None] / t, dim=-2) - size  # [B, n, views, T]
        generic = torch.stack([view @ self.reference.T for view in views], dim=2)  # [B, n, views, R]
        background = torch.logsumexp(generic[..., None] / t, dim=-2) - self.log_reference_size
        return own.flatten(2), (own - background).flatten(2)


class ScoreHead(nn.Module):
    """score = MLP([candidate state, attended cells, channels]) + a linear read of the channels."""

    def __init__(self, hidden: int, channels: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * hidden + channels, hidden), nn.GELU(), nn.Linear(hidden, 1))
        self.linear = nn.Linear(channels, 1)

    def forward(self, candidates: torch.Tensor, attended: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
        return (self.mlp(torch.cat([candidates, attended, channels], -1)) + self.linear(channels))[..., 0]


def _centred(sims: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
    """Subtract each column's mean over the (unmasked) candidates: what all candidates share cancels."""
    weights = candidate_mask[..., None]
    mean = (sims * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1.0)
    return sims - mean


def _standardised(channels: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
    """z-score each channel over the query's candidates."""
    weights = candidate_mask[..., None]
    count = weights.sum(1, keepdim=True).clamp(min=1.0)
    mean = (channels * weights).sum(1, keepdim=True) / count
    var = (((channels - mean) * weights) ** 2).sum(1, keepdim=True) / count
    return (channels - mean) / torch.sqrt(var + 1e-6) * weights

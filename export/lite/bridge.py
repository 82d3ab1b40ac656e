"""The lite image encoder graph: a frozen classifier whose photos land in the sentence encoder's text space.

Two bridges carry a photo there: the label-semantic one (a softmax-weighted mix of the embeddings of the
classifier's 1000 label names) and the trained projection of its pooled features (`projection.py`); the
embedding is their measured mix. The pooled features themselves, whitened and reduced, are the photo's second
(visual) vector.
"""

from __future__ import annotations

import torch
from torch import nn

PROMPT_TEMPLATES = ("{}", "a photo of a {}.")


def prompt_name(clean_name: str) -> str:
    """A class name ready for a template: curated names like "a cat having a striped coat" lose the article."""
    for article in ("a ", "an "):
        if clean_name.startswith(article):
            return clean_name[len(article) :]
    return clean_name


def class_prompts(clean_names: list[str], template: str) -> list[str]:
    """One prompt per class for `template`."""
    return [template.format(prompt_name(name)) for name in clean_names]


class LiteImageEncoder(nn.Module):
    """pixels -> (embedding, label_probs, visual).

    embedding = normalize(mix * normalize(projection([pooled, logits])) + (1 - mix) * label bridge), comparable
    with text-encoder embeddings of free text; visual = normalize((pooled - mean) @ basis).
    """

    def __init__(
        self,
        classifier: nn.Module,
        label_embeddings: torch.Tensor,
        temperature: float,
        projection: nn.Module,
        mix: float,
        visual_mean: torch.Tensor,
        visual_basis: torch.Tensor,
    ):
        super().__init__()
        self.classifier = classifier
        self.projection = projection
        self.register_buffer("label_embeddings", label_embeddings.float().contiguous())
        self.register_buffer("visual_mean", visual_mean.float().contiguous())
        self.register_buffer("visual_basis", visual_basis.float().contiguous())
        self.temperature = float(temperature)
        self.mix = float(mix)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pooled = self.classifier.features(pixel_values)
        logits = self.classifier._fc(pooled)
        trained = nn.functional.normalize(self.projection(torch.cat([pooled, logits], dim=-1)), dim=-1)
        label = bridge_embedding(logits, self.label_embeddings, self.temperature)
        embedding = nn.functional.normalize(self.mix * trained + (1.0 - self.mix) * label, dim=-1)
        visual = nn.functional.normalize((pooled - self.visual_mean) @ self.visual_basis, dim=-1)
        return embedding, logits.softmax(dim=-1), visual


def bridge_embedding(logits: torch.Tensor, label_embeddings: torch.Tensor, temperature: float) -> torch.Tensor:
    """L2-normalised `softmax(logits / temperature) @ label_embeddings`."""
    mixed = (logits / temperature).softmax(dim=-1) @ label_embeddings
    return nn.functional.normalize(mixed, dim=-1)

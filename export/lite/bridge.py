"""The label-semantic bridge: an image lands in the text space as a softmax-weighted mix of label embeddings."""

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


class LabelSemanticImageEncoder(nn.Module):
    """pixels -> (normalize(softmax(logits / T) @ L), softmax(logits)).

    `L` [classes, dim] holds the text embedding of each class, so the image embedding is
    comparable with text-encoder embeddings of free-text queries.
    """

    def __init__(self, classifier: nn.Module, label_embeddings: torch.Tensor, temperature: float):
        super().__init__()
        self.classifier = classifier
        self.register_buffer("label_embeddings", label_embeddings.float().contiguous())
        self.temperature = float(temperature)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.classifier(pixel_values)
        return bridge_embedding(logits, self.label_embeddings, self.temperature), logits.softmax(dim=-1)


def bridge_embedding(logits: torch.Tensor, label_embeddings: torch.Tensor, temperature: float) -> torch.Tensor:
    """L2-normalised `softmax(logits / temperature) @ label_embeddings`."""
    mixed = (logits / temperature).softmax(dim=-1) @ label_embeddings
    return nn.functional.normalize(mixed, dim=-1)

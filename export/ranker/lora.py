"""Parameter-efficient fine-tuning: LoRA adapters on the backbone's linear layers, the heads trained fully."""

from __future__ import annotations

from dataclasses import dataclass

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from export.ranker.model import HEAD_MODULES, SpectrumRanker

TARGETS = r".*backbone\.encoder\.layer\.\d+\..*(query|key|value|dense)$"


@dataclass(frozen=True)
class LoraSettings:
    """The paper's PaliGemma settings: rank 16, alpha 16."""

    rank: int = 16
    alpha: int = 16
    dropout: float = 0.05


def with_lora(model: SpectrumRanker, settings: LoraSettings = LoraSettings()) -> PeftModel:
    """Wrap the ranker: the backbone is frozen except its adapters; every head module is trained in full."""
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=TARGETS,
        modules_to_save=list(HEAD_MODULES),
    )
    return get_peft_model(model, config)


def merged(model: nn.Module) -> SpectrumRanker:
    """The plain ranker with the adapters folded into the backbone weights (what gets exported)."""
    return model.merge_and_unload() if isinstance(model, PeftModel) else model

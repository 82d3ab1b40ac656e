"""open_clip's tokenizer as a `tokenizer.json` the engine loads with the `tokenizers` library, ids unchanged.

open_clip cleans text with ftfy before tokenizing. The character-map parts of ftfy's default fixes (Latin
ligatures, full/half-width forms, curly quotes, control characters, NFC) are mirrored as normalizers built from
ftfy's own tables; ftfy's mojibake repair and open_clip's HTML-entity unescaping have no `tokenizers` equivalent.
"""

from __future__ import annotations

import json
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ftfy import chardata
from open_clip.tokenizer import HFTokenizer, SigLipTokenizer, SimpleTokenizer, get_clean_fn
from tokenizers import Regex, Tokenizer, normalizers
from transformers import CLIPTokenizerFast, PreTrainedTokenizerFast

# `SimpleTokenizer` pads with zeros after the end-of-text token.
SIMPLE_PAD_ID = 0
_MERGES_HEADER = "#version: 0.2"


class TokenizerExportError(ValueError):
    """open_clip's tokenizer for this model cannot be written as an equivalent `tokenizer.json`."""


@dataclass(frozen=True)
class TokenizerSettings:
    """What the engine must do around `tokenizer.json`: truncate to `max_length` and pad with `pad_id`, every text
    to `max_length` for a text tower of fixed length, else to the longest text of a batch."""

    max_length: int
    pad_id: int

    def to_manifest(self, fixed_length: bool) -> dict:
        padding = "max_length" if fixed_length else "longest"
        return {"max_length": self.max_length, "padding": padding, "pad_id": self.pad_id}


def save_tokenizer(tokenizer: object, path: Path) -> TokenizerSettings:
    """Write the `tokenizers` equivalent of an open_clip tokenizer to `path` (truncation and padding included)."""
    converted, pad_id = _convert(tokenizer)
    max_length = int(tokenizer.context_length)
    converted.enable_truncation(max_length=max_length)
    converted.enable_padding(length=max_length, pad_id=pad_id, pad_token=converted.id_to_token(pad_id))
    converted.save(str(path))
    return TokenizerSettings(max_length=max_length, pad_id=pad_id)


def verify_tokenizer(tokenizer: object, path: Path, texts: list[str]) -> None:
    """Raise `TokenizerExportError` unless `path` gives open_clip's token ids for every text."""
    expected = tokenizer(texts).tolist()
    actual = [encoding.ids for encoding in Tokenizer.from_file(str(path)).encode_batch(texts)]
    mismatched = [text for text, want, got in zip(texts, expected, actual, strict=True) if want != got]
    if mismatched:
        raise TokenizerExportError(f"{path}: token ids differ from open_clip's for {mismatched[0]!r}")


def token_counts(path: Path, texts: list[str]) -> list[int]:
    """How many tokens `path` gives each text before padding (end-of-text token included, truncation applied)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    return [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]


def _convert(tokenizer: object) -> tuple[Tokenizer, int]:
    if isinstance(tokenizer, SimpleTokenizer):
        return _from_simple(tokenizer), SIMPLE_PAD_ID
    if isinstance(tokenizer, (HFTokenizer, SigLipTokenizer)):
        return _from_hugging_face(tokenizer)
    raise TokenizerExportError(f"{type(tokenizer).__name__}: no tokenizer.json conversion for this open_clip tokenizer")


def _from_simple(tokenizer: SimpleTokenizer) -> Tokenizer:
    """The OpenAI CLIP BPE rebuilt through `CLIPTokenizerFast` from open_clip's own vocabulary and merges."""
    if tokenizer.reduction_fn is not None:
        raise TokenizerExportError("SimpleTokenizer: token reduction masks have no tokenizer.json equivalent")
    if tokenizer.clean_fn is not get_clean_fn("lower"):
        raise TokenizerExportError("SimpleTokenizer: only the default 'lower' text cleaning is supported")
    sot, eot, *extra = [tokenizer.decoder[i] for i in tokenizer.all_special_ids]
    if extra:
        raise TokenizerExportError(f"SimpleTokenizer: additional special tokens {extra} are not supported")
    merges = sorted(tokenizer.bpe_ranks, key=tokenizer.bpe_ranks.__getitem__)
    with tempfile.TemporaryDirectory(prefix="visuallens-bpe-") as work:
        vocab_file, merges_file = Path(work, "vocab.json"), Path(work, "merges.txt")
        vocab_file.write_text(json.dumps(tokenizer.encoder, ensure_ascii=False), encoding="utf-8")
        merges_file.write_text("\n".join([_MERGES_HEADER, *(" ".join(m) for m in merges)]), encoding="utf-8")
        fast = CLIPTokenizerFast(
            vocab_file=str(vocab_file),
            merges_file=str(merges_file),
            bos_token=sot,
            eos_token=eot,
            unk_token=eot,
            pad_token=eot,
        )
    converted = fast.backend_tokenizer
    converted.normalizer = normalizers.Sequence([*_ftfy_normalizers(), converted.normalizer])
    return converted


def _from_hugging_face(tokenizer: HFTokenizer | SigLipTokenizer) -> tuple[Tokenizer, int]:
    """The wrapped fast tokenizer's own json, with open_clip's text cleaning prepended."""
    hf = tokenizer.tokenizer
    name = getattr(hf, "name_or_path", type(hf).__name__)
    if not isinstance(hf, PreTrainedTokenizerFast):
        raise TokenizerExportError(f"{name}: the wrapped tokenizer has no fast (tokenizers) implementation")
    if isinstance(tokenizer, HFTokenizer):
        if tokenizer.tokenizer_mode or tokenizer.strip_sep_token:
            raise TokenizerExportError(f"{name}: tokenizer_mode/strip_sep_token post-processing is not supported")
        cleaning = _clean_normalizers(tokenizer.clean_fn)
    else:  # SigLipTokenizer always canonicalises
        cleaning = _clean_normalizers(get_clean_fn("canonicalize"))
    converted = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    steps = [*_ftfy_normalizers(), *cleaning]
    if converted.normalizer is not None:
        steps.append(converted.normalizer)
    converted.normalizer = normalizers.Sequence(steps)
    return converted, int(hf.pad_token_id)


def _ftfy_normalizers() -> list[normalizers.Normalizer]:
    """ftfy.fix_text's default character maps, in ftfy's order, from ftfy's own tables."""
    character_maps = {**chardata.LIGATURES, **chardata.WIDTH_MAP}
    removed = "".join(chr(c) for c in chardata.CONTROL_CHARS)
    return [
        *(normalizers.Replace(chr(code), text) for code, text in character_maps.items()),
        normalizers.Replace(Regex(chardata.SINGLE_QUOTE_RE.pattern), "'"),
        normalizers.Replace(Regex(chardata.DOUBLE_QUOTE_RE.pattern), '"'),
        normalizers.Replace(Regex(f"[{_escape_class(removed)}]"), ""),
        normalizers.NFC(),
    ]


def _clean_normalizers(clean_fn: object) -> list[normalizers.Normalizer]:
    """open_clip's `clean` option ('whitespace', 'lower' or 'canonicalize') as normalizers."""
    whitespace = [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    if clean_fn is get_clean_fn("whitespace"):
        return whitespace
    if clean_fn is get_clean_fn("lower"):
        return [*whitespace, normalizers.Lowercase()]
    if clean_fn is get_clean_fn("canonicalize"):
        punctuation = normalizers.Replace(Regex(f"[{_escape_class(string.punctuation)}]"), "")
        return [normalizers.Replace("_", " "), punctuation, normalizers.Lowercase(), *whitespace]
    raise TokenizerExportError(f"{clean_fn!r}: unknown open_clip text cleaning")


def _escape_class(chars: str) -> str:
    """`chars` escaped for use inside a regex character class."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in chars)

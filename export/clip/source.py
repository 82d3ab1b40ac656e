"""An open_clip model from a `MODEL[:PRETRAINED|PATH]` spec, with its preprocessing, tokenizer and provenance.

Pretrained tags are resolved by open_clip itself (a hub cache with `HF_HUB_OFFLINE=1`, or a download on a machine
with internet); no pretrained part means random weights, for tests and benchmarks.
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import open_clip
import torch

from engine.models.bundle import sha256_file

PACKAGE = "open_clip_torch"


class ModelSpecError(ValueError):
    """A `MODEL[:PRETRAINED|PATH]` spec open_clip cannot resolve."""


class OpenClip(NamedTuple):
    """An eval-mode open_clip model and what describes it."""

    model: torch.nn.Module
    preprocess_cfg: dict[str, Any]
    tokenizer: Any
    provenance: dict[str, Any]


def register_model_config(name: str, config: dict[str, Any]) -> None:
    """Make a custom architecture (`embed_dim`, `vision_cfg`, `text_cfg`) loadable as `name`."""
    with tempfile.TemporaryDirectory(prefix="visuallens-open-clip-") as folder:
        path = Path(folder, f"{name}.json")
        path.write_text(json.dumps(config))
        open_clip.add_model_config(path)  # reads the file now; the registry keeps the config in memory
    if name not in open_clip.list_models():
        raise ModelSpecError(f"{name}: open_clip rejected the config (needs embed_dim, vision_cfg and text_cfg)")


def load_open_clip(spec: str) -> OpenClip:
    """Build the model named by `spec`; the pretrained part is an open_clip tag or a local checkpoint file."""
    name, _, weights = spec.partition(":")
    if name not in open_clip.list_models():
        raise ModelSpecError(f"{spec}: unknown open_clip model {name!r} (see open_clip.list_models())")
    tag = open_clip.get_pretrained_cfg(name, weights) if weights else {}
    if weights and not tag and not Path(weights).is_file():
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise ModelSpecError(
            f"{spec}: {weights!r} is neither a checkpoint file nor a pretrained tag of {name} ({tags})"
        )
    try:
        model = open_clip.create_model(
            name,
            pretrained=weights or None,
            force_quick_gelu=bool(tag.get("quick_gelu", False)),
            pretrained_text=False,  # never fetch a separate text-tower checkpoint
        )
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelSpecError(f"{spec}: open_clip could not build the model ({_first_line(exc)})") from exc
    try:
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, ValueError) as exc:  # a Hugging Face tokenizer that is neither cached nor downloadable
        raise ModelSpecError(f"{spec}: open_clip could not load its tokenizer ({_first_line(exc)})") from exc
    return OpenClip(
        model=model.eval(),
        preprocess_cfg=dict(model.visual.preprocess_cfg),
        tokenizer=tokenizer,
        provenance=_provenance(name, weights, tag),
    )


def _provenance(name: str, weights: str, tag: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = {"model": name, "package": f"{PACKAGE}=={version(PACKAGE)}"}
    if not weights:
        return {**source, "weights": "random"}
    if tag:
        origin = tag.get("hf_hub") or tag.get("url")
        return {**source, "weights": "pretrained", "pretrained": weights, "origin": origin}
    checkpoint = Path(weights)
    return {**source, "weights": "checkpoint", "checkpoint": checkpoint.name, "sha256": sha256_file(checkpoint)}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

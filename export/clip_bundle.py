"""Build a `clip` model bundle: open_clip image/text towers + an optimum-exported captioner, one manifest.

Every part is exported to ONNX, optionally quantized, and parity-checked against torch on real photos; the
figures go into the manifest (the engine shows them in `visuallens status`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from rich.progress import Progress

from engine.models.bundle import MANIFEST, SCHEMA_VERSION, load_bundle
from export.bundle_io import built_by, file_entries, staged_bundle
from export.captioner.export import export_captioner
from export.clip.towers import export_clip_towers
from export.quantize import check_precision

# The captioner runs on the CPU during indexing: an fp16 bundle (for GPU towers) keeps an fp32 captioner.
CAPTIONER_PRECISION = {"fp32": "fp32", "fp16": "fp32", "int8": "int8"}


def build_clip_bundle(
    out: Path,
    clip: str,
    captioner: str,
    precision: str = "fp32",
    name: str = "clip",
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Export `clip` (open_clip `MODEL[:PRETRAINED|PATH]`) and `captioner` (HF id or folder) into a bundle at `out`."""
    check_precision(precision)
    progress = progress or Progress(disable=True)
    with staged_bundle(out, force, prefix="visuallens-clip-") as (folder, _work):
        towers = export_clip_towers(clip, folder, precision=precision, progress=progress)
        describer = export_captioner(captioner, folder, precision=CAPTIONER_PRECISION[precision], progress=progress)
        now = datetime.now(timezone.utc)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "version": now.strftime("%Y.%m.%d"),
            "description": f"open_clip {clip} image/text towers and the {captioner} captioner ({precision}).",
            "embedding_dim": towers["embedding_dim"],
            "precision": precision,
            "built_by": built_by(
                f"visuallens-export bundle clip --clip {clip} --captioner {captioner} --precision {precision}"
            ),
            "image_encoder": towers["image_encoder"],
            "text_encoder": towers["text_encoder"],
            "describer": describer,
            "parity": {**towers["parity"], "captioner": describer.get("parity", {})},
        }
        manifest["files"] = file_entries(folder)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        load_bundle(folder)  # the engine must accept what we wrote
    return Path(out)

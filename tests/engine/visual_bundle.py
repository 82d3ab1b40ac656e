"""Model bundles made from the lite bundle for tests of a bundle change and of the `visual` output."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from engine.models.bundle import MANIFEST, VISUAL_OUTPUT, sha256_file

IMAGE_ENCODER = "image_encoder.onnx"
VISUAL_DIM = 16


def bundle_with_visual_output(source: Path, target: Path, version: str = "2099.01.01") -> Path:
    """A copy of the bundle at `source` whose image encoder also has a `visual` output ([batch, VISUAL_DIM]: the
    embedding through a fixed random projection) and whose manifest declares it, under another `version`: another
    identity, as a rebuilt bundle would have. A source that already has the output is copied with the new version.

    The other files are hard links into `source` (fast); only the image encoder and the manifest are new files.
    """
    manifest = json.loads((source / MANIFEST).read_text())
    outputs = manifest["image_encoder"]["outputs"]
    shutil.copytree(source, target, copy_function=_link)
    if not any(o["name"] == VISUAL_OUTPUT for o in outputs):
        (target / IMAGE_ENCODER).unlink()
        _add_visual_output(source / IMAGE_ENCODER, target / IMAGE_ENCODER, int(manifest["embedding_dim"]))
        outputs.append({"name": VISUAL_OUTPUT, "shape": ["batch", VISUAL_DIM], "dtype": "float32"})
        encoder = target / IMAGE_ENCODER
        manifest["files"][IMAGE_ENCODER] = {"sha256": sha256_file(encoder), "bytes": encoder.stat().st_size}
    manifest["version"] = version
    (target / MANIFEST).unlink()
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return target


def _add_visual_output(source: Path, target: Path, width: int) -> None:
    """Write the ONNX graph at `source` to `target` with `visual = embedding @ W` (W: [width, VISUAL_DIM]) as an
    extra output."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    weight = np.random.default_rng(0).standard_normal((width, VISUAL_DIM)).astype(np.float32)
    model.graph.initializer.append(numpy_helper.from_array(weight, name="visual_projection"))
    model.graph.node.append(helper.make_node("MatMul", ["embedding", "visual_projection"], [VISUAL_OUTPUT]))
    model.graph.output.append(helper.make_tensor_value_info(VISUAL_OUTPUT, TensorProto.FLOAT, ["batch", VISUAL_DIM]))
    onnx.save(model, str(target))


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)

"""How far a converted (fp16 / int8) encoder drifts from the torch fp32 model on the same real inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.models.sessions import session_options
from export.lite.parity import ParityError

# int8/fp16 target on real photos and texts; random weights are only reported.
MIN_MEDIAN_COSINE = 0.99
# onnxruntime 1.32 on x86 dereferences null in NchwcTransformer while optimising fp16 graphs
# (microsoft/onnxruntime#28392): an fp16 session needs it disabled or it segfaults at load.
FP16_DISABLED_OPTIMIZERS = ["NchwcTransformer"]


@dataclass(frozen=True)
class ConvertedParity:
    """Agreement of every output row with torch fp32, in cosine (the retrieval metric) and absolute terms."""

    precision: str
    median_cosine: float
    min_cosine: float
    max_abs_diff: float
    inputs: list[str]

    def to_manifest(self) -> dict:
        return asdict(self)


def open_converted(path: Path, precision: str) -> ort.InferenceSession:
    """A CPU session with the engine's settings (plus the fp16 workaround)."""
    disabled = FP16_DISABLED_OPTIMIZERS if precision == "fp16" else None
    return ort.InferenceSession(
        str(path), sess_options=session_options(), providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )


def check_converted_parity(
    expected: np.ndarray,
    onnx_path: Path,
    feeds: dict[str, np.ndarray],
    inputs: list[str],
    precision: str,
    enforce: bool,
) -> ConvertedParity:
    """Compare `embedding` rows with torch fp32 `expected`; with `enforce`, raise below `MIN_MEDIAN_COSINE`."""
    actual = open_converted(onnx_path, precision).run(["embedding"], feeds)[0].astype(np.float64)
    reference = expected.astype(np.float64)
    cosine = (actual * reference).sum(-1) / (np.linalg.norm(actual, axis=-1) * np.linalg.norm(reference, axis=-1))
    result = ConvertedParity(
        precision=precision,
        median_cosine=float(np.median(cosine)),
        min_cosine=float(cosine.min()),
        max_abs_diff=float(np.abs(actual - reference).max()),
        inputs=inputs,
    )
    if enforce and result.median_cosine < MIN_MEDIAN_COSINE:
        raise ParityError(
            f"{onnx_path.name}: {precision} embeddings drift from torch fp32"
            f" (median cosine {result.median_cosine:.4f} < {MIN_MEDIAN_COSINE})"
        )
    return result

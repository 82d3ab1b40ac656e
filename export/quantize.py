"""Smaller copies of an exported fp32 ONNX graph with the same input/output names and dtypes: fp16 or int8."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.float16 import convert_float_to_float16
from onnxruntime.transformers.onnx_model import OnnxModel

PRECISIONS = ("fp32", "fp16", "int8")
# Conv stays fp32: ConvInteger has no fast CPU kernel, and a ViT spends little time in its patch embedding.
INT8_OP_TYPES = ["MatMul", "Gemm", "Gather"]


class PrecisionError(ValueError):
    """A precision other than fp32, fp16 or int8."""


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return precision


def write_precision(src: Path, dst: Path, precision: str) -> None:
    """Write `src` (fp32) to `dst` in `precision`."""
    converters = {"fp32": shutil.copyfile, "fp16": convert_fp16, "int8": quantize_int8}
    converters[check_precision(precision)](src, dst)


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 for CPU: int8 weights (per output channel, 7-bit range), activations quantised at run time.

    Signed weights select ONNX Runtime's u8s8 kernels, the fast path on x86 (AVX2, AVX-512/VNNI) and ARM
    (ViT-B/32 image tower, random weights, 2-core AVX2: 1.5x fp32; uint8 weights 1.3x). Without VNNI, AVX2's
    u8s8 multiply saturates int16 sums: full-range int8 weights dropped the min cosine to 0.98, the 7-bit
    range keeps it at 0.9997, per-channel scales win back the lost bit. Gather (the token embedding table)
    is quantised too: the ViT-B/32 text encoder shrinks from 254 MB to 64 MB.
    """
    quantize_dynamic(
        Path(src),
        Path(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        op_types_to_quantize=INT8_OP_TYPES,
    )
    onnx.checker.check_model(str(dst), full_check=True)


def convert_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and compute with fp32 inputs/outputs kept (for GPUs; no faster than fp32 on CPU)."""
    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    OnnxModel(model).topological_sort()  # the converter appends its input casts after their consumers
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)

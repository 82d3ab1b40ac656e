"""Dense compute of an ONNX graph: multiply-accumulates of its Conv, Gemm and MatMul nodes, from real shapes.

Only the dense operators count (what a matmul rate bounds); element-wise work, softmax and normalisation are
left out, so the figure is a lower bound of the work and the ceiling built from it an upper bound of the speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

DENSE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul")


@dataclass(frozen=True)
class DenseCompute:
    """Multiply-accumulates per op type for one sample (batch 1); FLOPs = 2 x MACs."""

    macs_by_op: dict[str, int]

    @property
    def macs(self) -> int:
        return sum(self.macs_by_op.values())

    @property
    def flops(self) -> int:
        return 2 * self.macs


def dense_compute(path: str | Path, batch: int = 1, dims: dict[str, int] | None = None) -> DenseCompute:
    """MACs of every dense node for one sample, from a run of the graph on a batch of `batch` zeros.

    Static shape inference cannot resolve every exported graph (dynamic `same` padding, computed reshapes), so
    the shapes are read from one ONNX Runtime run with every dense node's operands exposed as outputs.
    `dims` sets named symbolic input dims other than the batch (e.g. {"sequence": 16}).
    """
    model = onnx.load(str(path))
    nodes = [node for node in model.graph.node if node.op_type in DENSE_OPS]
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    wanted = sorted({name for node in nodes for name in _operands(node) if name and name not in shapes})
    shapes.update(_run_shapes(model, wanted, batch, dims or {}))
    totals: dict[str, int] = {}
    for node in nodes:
        totals[node.op_type] = totals.get(node.op_type, 0) + _node_macs(node, shapes)
    return DenseCompute({op: macs // batch for op, macs in totals.items()})


def _operands(node: onnx.NodeProto) -> tuple[str, str, str]:
    """(A, B, output) of a dense node; the quantized forms interleave scales and zero points."""
    if node.op_type in ("QLinearConv", "QLinearMatMul"):
        return node.input[0], node.input[3], node.output[0]
    return node.input[0], node.input[1], node.output[0]


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int:
    a_name, b_name, out_name = _operands(node)
    a, b, out = shapes[a_name], shapes[b_name], shapes[out_name]
    op = node.op_type
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        return prod(out) * prod(b[1:])  # weight [C_out, C_in / group, k...]
    if op == "ConvTranspose":
        return prod(a) * prod(b[1:])  # weight [C_in, C_out / group, k...]: each input pixel scatters a kernel
    if op == "Gemm":
        trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
        return prod(out) * (a[0] if trans_a else a[1])
    return prod(out) * a[-1]  # MatMul family: [..., M, K] x [..., K, N]


def _run_shapes(
    model: onnx.ModelProto, names: list[str], batch: int, dims: dict[str, int]
) -> dict[str, tuple[int, ...]]:
    initializers = {init.name for init in model.graph.initializer}
    feeds = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else dims.get(d.dim_param, batch) for d in tensor.shape.dim]
        feeds[value.name] = np.zeros(shape, dtype=helper.tensor_dtype_to_np_dtype(tensor.elem_type))
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names if name not in outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor name
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    produced = [o.name for o in session.get_outputs()]
    values = session.run(None, feeds)
    return {name: tuple(value.shape) for name, value in zip(produced, values)}

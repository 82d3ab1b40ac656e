"""The engine's integer similarity graph (`engine/profile/int8_similarity.onnx`): MatMulInteger then TopK, written
with onnx's helpers. `python -m export.scan_graph` writes it again; a test checks the shipped file is this graph."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper, numpy_helper

SHIPPED = Path(__file__).resolve().parents[1] / "engine" / "profile" / "int8_similarity.onnx"
ZERO_POINT = 128  # the codes are uint8 with this zero point (int8 values + 128), the form the VNNI kernels take


def similarity_graph() -> onnx.ModelProto:
    """codes uint8 [rows, dim] x queries int8 [dim, queries] -> each query's `k` best rows: int32 scores and int64
    row indices [queries, k], best first (the codes' zero point subtracted)."""
    import numpy as np

    zero = numpy_helper.from_array(np.array(ZERO_POINT, dtype=np.uint8), "codes_zero_point")
    nodes = [
        helper.make_node("MatMulInteger", ["codes", "queries", "codes_zero_point"], ["products"]),
        helper.make_node("Transpose", ["products"], ["by_query"], perm=[1, 0]),
        helper.make_node("TopK", ["by_query", "k"], ["scores", "rows"], axis=-1, largest=1, sorted=1),
    ]
    graph = helper.make_graph(
        nodes, "int8_similarity",
        [helper.make_tensor_value_info("codes", TensorProto.UINT8, ["rows", "dim"]),
         helper.make_tensor_value_info("queries", TensorProto.INT8, ["dim", "queries"]),
         helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("scores", TensorProto.INT32, ["queries", "k"]),
         helper.make_tensor_value_info("rows", TensorProto.INT64, ["queries", "k"])],
        [zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="visuallens")
    onnx.checker.check_model(model, full_check=True)
    return model


def main(out: Path = SHIPPED) -> None:
    out.write_bytes(similarity_graph().SerializeToString())
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

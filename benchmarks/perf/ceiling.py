"""This CPU's sustained dense fp32 matmul rate, measured now: the compute ceiling for an encoder's dense work.

The rate is counted two ways: per second of wall time on all cores (the issue's ceiling), and per second of
CPU time this process got (what a core does when it runs: on a shared, busy machine this one moves far less
with the load, so fractions computed from it are the steadier figure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper


@dataclass(frozen=True)
class Rate:
    wall_gflops: float  # per second of wall time, all cores
    cpu_gflops: float  # per second of CPU time used


@dataclass(frozen=True)
class MatmulRate:
    """A large square fp32 GEMM on all cores with NumPy's BLAS and with ONNX Runtime (MLAS)."""

    numpy: Rate
    onnxruntime: Rate

    @property
    def best(self) -> Rate:
        """The ceiling takes the faster library: the hardware's rate as well as anyone here drives it."""
        return max((self.numpy, self.onnxruntime), key=lambda r: r.wall_gflops)


def measure_matmul_rate(n: int = 2048, seconds: float = 2.0) -> MatmulRate:
    """Back-to-back n x n x n GEMMs for `seconds` per library (after a warm-up), FLOPs counted as 2 n^3."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    session = _matmul_session(b)
    return MatmulRate(
        numpy=_rate(lambda: a @ b, 2 * n**3, seconds),
        onnxruntime=_rate(lambda: session.run(None, {"a": a}), 2 * n**3, seconds),
    )


def _rate(run: Callable[[], object], flops: int, seconds: float) -> Rate:
    run()
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        run()
        count += 1
    cpu = time.process_time() - cpu_start
    return Rate(wall_gflops=flops * count / elapsed / 1e9, cpu_gflops=flops * count / cpu / 1e9)


def _matmul_session(b: np.ndarray) -> ort.InferenceSession:
    n = b.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor("b", TensorProto.FLOAT, list(b.shape), b.tobytes(), raw=True)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def measure_in_subprocess(seconds: float = 2.0) -> MatmulRate:
    """Measure in a fresh interpreter: BLAS and ONNX Runtime thread pools as a plain process has them."""
    code = (
        "import json, dataclasses; from benchmarks.perf.ceiling import measure_matmul_rate; "
        f"print(json.dumps(dataclasses.asdict(measure_matmul_rate(seconds={seconds}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return MatmulRate(numpy=Rate(**raw["numpy"]), onnxruntime=Rate(**raw["onnxruntime"]))

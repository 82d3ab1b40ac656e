"""ONNX Runtime sessions: CUDA when it really works, else CPU; names and shapes checked against the manifest, and
a model that fails while running is a `BundleError` naming its file."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
from threadpoolctl import ThreadpoolController

from engine.models.bundle import BundleError
from engine.models.manifest import ModelIO, Tensor

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# What `InferenceSession.run` raises when a graph cannot run: a buffer larger than this machine can allocate
# ("Failed to allocate memory"), shapes the graph's nodes cannot take, a kernel that fails.
RUN_ERRORS = (ort_errors.Fail, ort_errors.RuntimeException, ort_errors.InvalidArgument, ort_errors.EPFail,
              ort_errors.NotImplemented, ort_errors.EngineError, MemoryError)


class ModelSession(ort.InferenceSession):
    """An ONNX Runtime session that names its model when a run fails: the bundle is broken for this machine, and
    `index` or `search` reports that in one line (exit code 5) instead of an ONNX Runtime traceback."""

    def __init__(self, path: Path, **kwargs: Any):
        super().__init__(str(path), **kwargs)
        self.model_path = path

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        try:
            return super().run(output_names, input_feed, run_options)
        except RUN_ERRORS as exc:
            raise BundleError(f"{self.model_path}: ONNX Runtime failed running it ({_first_line(exc)})") from exc


def preferred_providers(requested: str = "auto") -> list[str]:
    """Providers in order of preference: `auto` = CUDA then CPU when CUDA is available; `cpu` forces CPU."""
    if requested == "cpu":
        return [CPU]
    available = ort.get_available_providers()
    if requested == "cuda" and CUDA not in available:
        raise BundleError("CUDA was requested but this onnxruntime build has no CUDAExecutionProvider")
    return [CUDA, CPU] if CUDA in available else [CPU]


def cpu_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS and Windows have no affinity API in `os`
        return os.cpu_count() or 1


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Deliberate thread settings: intra-op = `threads` (default: all cores), one inter-op thread, no spinning.

    Idle intra-op threads block instead of spin-waiting: a spinning pool burns the cores that photo decoding,
    the other model sessions and the desktop app need (measured on a busy 2-core machine: about 20 % more CPU per
    indexed photo with spinning).
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or cpu_cores()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 4  # fatal only: a failure reaches the user as one line (`ModelSession`), not twice
    return opts


@functools.cache
def limit_blas_threads() -> None:
    """One BLAS thread for NumPy in a process that serves models (done once, on the first session).

    The engine's NumPy work is small products (candidates x 64 photos) and memory-bound scans; the cores'
    parallelism belongs to ONNX Runtime. With a BLAS pool, each small product waits for pool threads to be
    scheduled: on a busy 2-core machine a 50 x 384 x 64 product took up to 48 ms instead of 0.04 ms.
    """
    ThreadpoolController().limit(limits=1, user_api="blas")


def open_session(path: Path, declared: ModelIO, provider: str = "auto", threads: int | None = None) -> ModelSession:
    """Open an ONNX model and check its inputs/outputs against the manifest's declaration: every input the model
    takes is declared (the engine feeds only those), every declared input and output exists with the declared rank
    and fixed dimensions."""
    limit_blas_threads()
    try:
        # onnxruntime's NchwcTransformer crashes loading fp16 graphs on x86 CPUs (onnxruntime issue #28392).
        disabled = ["NchwcTransformer"] if declared.precision == "fp16" else None
        session = ModelSession(
            path,
            sess_options=session_options(threads),
            providers=preferred_providers(provider),
            disabled_optimizers=disabled,
        )
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types for bad models
        raise BundleError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)})") from exc
    undeclared = sorted({i.name for i in session.get_inputs()} - {d.name for d in declared.inputs})
    if undeclared:
        raise BundleError(
            f"{path}: the model takes inputs {undeclared} the manifest does not declare (manifest mismatch)"
        )
    _check_io(path, "input", session.get_inputs(), declared.inputs)
    _check_io(path, "output", session.get_outputs(), declared.outputs)
    return session


def _first_line(exc: BaseException) -> str:
    """An exception's message as one line (ONNX Runtime's run over several, with a stack trace)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def active_provider(session: ort.InferenceSession) -> str:
    """The provider actually serving a session (ONNX Runtime falls back silently)."""
    return session.get_providers()[0]


def _check_io(path: Path, kind: str, actual: list[Any], declared: list[Tensor]) -> None:
    by_name = {a.name: a for a in actual}
    for spec in declared:
        got = by_name.get(spec.name)
        if got is None:
            raise BundleError(f"{path}: the model has no {kind} named {spec.name!r} (manifest mismatch)")
        if len(got.shape) != len(spec.shape):
            raise BundleError(f"{path}: {kind} {spec.name!r} has rank {len(got.shape)}, manifest says {spec.shape}")
        for have, want in zip(got.shape, spec.shape):
            if isinstance(want, int) and isinstance(have, int) and have != want:
                raise BundleError(f"{path}: {kind} {spec.name!r} has shape {got.shape}, manifest says {spec.shape}")

"""The library's vectors in memory as 8-bit codes, scanned with ONNX Runtime's integer matrix product.

A unit vector's value in dimension j is stored as round(x_j / s_j) + 128 in one byte, s_j being the largest
|x_j| of the library over 127, and what that rounding left out in a second byte (`fine`, in 254ths of a step): half
of float32's memory. A query y is scored by folding the scales into it
(y_j * s_j), rounding that to int8 and taking the integer product with the codes (MatMulInteger: the u8 x s8 kernels
that use AVX-VNNI or AVX2), which on a 2-core CPU scans a million photos for one query in ~20 ms and for 100 queries
in ~50 ms, against ~100 and ~470 ms for NumPy's float32 product (measured with random vectors). Its rounding moves a
similarity by about 5e-4, so each query's best rows by integer score are a shortlist, rescored with the query
unrounded and both bytes (a cosine error below 1e-5): the exact scan's rows, in the exact order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.models.sessions import session_options

GRAPH = Path(__file__).with_name("int8_similarity.onnx")  # written by `python -m export.scan_graph`
ZERO_POINT = 128
LEVELS = 127
# The least peak a dimension's scale is made from: a dimension nearly empty in every photo (|x| < 1e-6, which a
# similarity cannot tell from 0) would otherwise get a subnormal scale, and arithmetic on subnormal floats is ~10x
# slower (measured: 12 s instead of 1.3 s to quantize a million synthetic photos that fill 80 of 384 dimensions).
PEAK_FLOOR = 1e-6
BLOCK = 32_768  # rows per call: a block's scores stay small (rows x queries int32)
DENSE_RESCORE = 16  # distinct rows per row a query rescores under which one product scores every pair

_session: ort.InferenceSession | None = None
_session_lock = threading.Lock()


@dataclass(frozen=True)
class QuantizedVectors:
    """Codes (uint8 [n, d]), what their rounding left out (`fine`, int8 [n, d]), per-dimension scales (float32 [d])
    and the mean of the vectors they were made from."""

    codes: np.ndarray
    fine: np.ndarray
    scales: np.ndarray
    mean: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.fine.nbytes + self.scales.nbytes + self.mean.nbytes

    @classmethod
    def of(cls, vectors: np.ndarray) -> QuantizedVectors:
        """The codes of float32 [n, d] vectors, a block of rows at a time into reused buffers (no float copy of the
        whole matrix, few passes over each block: every value is within its dimension's 127 steps by construction,
        and what rounding leaves out within half a step, so nothing needs clipping)."""
        n, d = vectors.shape if vectors.ndim == 2 else (len(vectors), 0)
        if n == 0:
            return cls(np.zeros((0, d), np.uint8), np.zeros((0, d), np.int8), np.ones(d, np.float32),
                       np.zeros(d, np.float32))
        peak = np.zeros(d, np.float32)
        total = np.zeros(d, np.float64)
        for start in range(0, n, BLOCK):
            block = vectors[start : start + BLOCK]
            np.maximum(peak, np.maximum(block.max(axis=0), -block.min(axis=0)), out=peak)
            total += np.ones(len(block), np.float32) @ block
        scales = (np.maximum(peak, PEAK_FLOOR) / LEVELS).astype(np.float32)
        codes, fine = np.empty((n, d), np.uint8), np.empty((n, d), np.int8)
        steps, rounded = np.empty((BLOCK, d), np.float32), np.empty((BLOCK, d), np.float32)
        for start in range(0, n, BLOCK):
            block = vectors[start : start + BLOCK]
            size = len(block)
            np.divide(block, scales, out=steps[:size])
            np.rint(steps[:size], out=rounded[:size])
            np.subtract(steps[:size], rounded[:size], out=steps[:size])  # what rounding left out, within +-0.5
            np.multiply(steps[:size], 2 * LEVELS, out=steps[:size])
            fine[start : start + size] = np.rint(steps[:size], out=steps[:size])
            codes[start : start + size] = np.add(rounded[:size], ZERO_POINT, out=rounded[:size])
        return cls(codes, fine, scales, (total / n).astype(np.float32))

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of `rows` as both bytes hold them (float32 [k, d])."""
        steps = (self.codes[rows].astype(np.int16) - ZERO_POINT) * (2 * LEVELS) + self.fine[rows]  # fits in int16
        return steps.astype(np.float32) * (self.scales / (2 * LEVELS))

    def top(
        self, queries: np.ndarray, keep: int, shortlist: int, hidden: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """([q, keep] similarities, [q, keep] rows) of each query's (float32 [q, d]) `keep` most similar rows, best
        first, rows in `hidden` left out; -inf and -1 fill places no row can.

        Each block's `shortlist` best rows by integer score (MatMulInteger and TopK in one ONNX Runtime call, so no
        rows x queries matrix of scores reaches Python), the blocks' shortlists merged, the best `shortlist` rescored
        with the queries unrounded, the best `keep` of those kept.
        """
        queries = np.atleast_2d(queries).astype(np.float32)
        hidden = np.unique(hidden) if hidden is not None else np.zeros(0, np.int64)
        found_scores, found_rows = [], []
        for start, scores, rows in self._blocks(queries, shortlist + len(hidden)):
            found_scores.append(scores)
            found_rows.append(rows + start)
        if not found_rows:
            return np.full((len(queries), keep), -np.inf, np.float32), np.full((len(queries), keep), -1, np.int64)
        scores, rows = np.concatenate(found_scores, axis=1).astype(np.int64), np.concatenate(found_rows, axis=1)
        scores[np.isin(rows, hidden)] = np.iinfo(np.int64).min
        k = min(shortlist, scores.shape[1])
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        rows = np.take_along_axis(rows, best, axis=1)
        rows[np.take_along_axis(scores, best, axis=1) == np.iinfo(np.int64).min] = -1
        sims = self._rescore(queries, rows)
        order = np.argsort(-sims, axis=1, kind="stable")[:, :keep]
        sims_out = np.full((len(queries), keep), -np.inf, np.float32)
        rows_out = np.full((len(queries), keep), -1, np.int64)
        sims_out[:, : order.shape[1]] = np.take_along_axis(sims, order, axis=1)
        rows_out[:, : order.shape[1]] = np.take_along_axis(rows, order, axis=1)
        rows_out[~np.isfinite(sims_out)] = -1
        return sims_out, rows_out

    def _rescore(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Similarities (float32 [q, k]) of each query to its own `rows` ([q, k]; -1: none, scored -inf).

        Each distinct row is decoded once; when few rows are shared by many queries (a small library) one matrix
        product scores them all, else each query's own rows are gathered and scored."""
        distinct, where = np.unique(np.maximum(rows, 0), return_inverse=True)
        where = where.reshape(rows.shape)
        vectors = self.rows(distinct)
        if len(distinct) <= DENSE_RESCORE * rows.shape[1]:
            sims = (queries @ vectors.T)[np.arange(len(queries))[:, None], where]
        else:
            sims = np.matmul(vectors[where], queries[:, :, None])[..., 0]
        return np.where(rows >= 0, sims, -np.inf).astype(np.float32)

    def _blocks(self, queries: np.ndarray, k: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first row, int32 [q, k'] scores, int64 [q, k'] rows in the block) of each block's best `k` rows per
        query by integer score; a score is the dot product with the row's vector over the query's own scale."""
        if len(self.codes) == 0:
            return
        folded = queries * self.scales
        scale = np.maximum(np.abs(folded).max(axis=1), 1e-12) / LEVELS
        rounded = np.ascontiguousarray(np.clip(np.rint(folded / scale[:, None]), -LEVELS, LEVELS).astype(np.int8).T)
        session = _scanner()
        for start in range(0, len(self.codes), BLOCK):
            codes = self.codes[start : start + BLOCK]
            scores, rows = session.run(None, {"codes": codes, "queries": rounded,
                                              "k": np.array([min(k, len(codes))], np.int64)})
            yield start, scores, rows


def _scanner() -> ort.InferenceSession:
    """The similarity graph's session, made once per process, on every core, its idle threads not spinning."""
    global _session
    with _session_lock:
        if _session is None:
            _session = ort.InferenceSession(str(GRAPH), session_options(), providers=["CPUExecutionProvider"])
        return _session

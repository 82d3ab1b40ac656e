"""Query-conditioned retrieval: a category vector and the user's top-w photos by cosine similarity."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BLOCK = 32_768  # library photos per block of `nearest`: the block's similarities stay small (q x BLOCK floats)
HIDDEN = -1e6  # the similarity an excluded photo gets in `nearest`
SAMPLE_STRIDE = 16  # `_block_top` thresholds each row at its sample of every 16th photo
Derived = Callable[[np.ndarray], np.ndarray]  # [n, b] similarities -> [j, b] similarities of derived queries


def unit(v: np.ndarray) -> np.ndarray:
    """L2-normalise a vector or the rows of a matrix."""
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def category_vector(item_vectors: np.ndarray) -> np.ndarray:
    """v_c: the normalised mean of a category's item vectors (the paper averages sampled items' CLIP vectors)."""
    if len(item_vectors) == 0:
        raise ValueError("a category vector needs at least one item")
    return unit(np.mean(unit(item_vectors), axis=0))


def library_mean(vectors: np.ndarray) -> np.ndarray:
    """The mean of a matrix's rows of photo vectors (a zero, which broadcasts like one, when it has none)."""
    if len(vectors) == 0:
        return np.zeros((), np.float32)
    return vectors.mean(axis=0, dtype=np.float32)


def query_direction(item_vectors: np.ndarray, library_mean: np.ndarray) -> np.ndarray:
    """Retrieve along the direction from the user's average photo (`library_mean`) towards the category.

    Near-blank or generic photos sit close to every mean and would otherwise top every query (hubness).
    """
    return unit(category_vector(item_vectors) - library_mean)


def top_w(
    matrix: np.ndarray, query: np.ndarray, w: int, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the `w` rows most similar to `query` (best first) and their cosine similarities; rows in
    `excluded` (row indices) are never among them.

    One pass over the library, then a partial sort of the scores: O(n) in photos. The pass is NumPy's own SIMD
    loop (`einsum`), not a BLAS matrix-vector product: it is memory-bound, and at 100k x 384 it ran in half the
    time of a BLAS call, single- or multi-threaded.
    """
    if len(matrix) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    sims = np.einsum("ij,j->i", matrix, query.astype(matrix.dtype, copy=False))
    if excluded is not None and len(excluded):
        sims[excluded] = -np.inf
    k = min(w, len(sims) - (0 if excluded is None else len(np.unique(excluded))))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    part = np.argpartition(-sims, k - 1)[:k]
    order = part[np.argsort(-sims[part], kind="stable")]
    return order.astype(np.int64), sims[order].astype(np.float32)


def nearest(
    candidates: np.ndarray, matrix: np.ndarray, m: int, derived: Derived | None = None,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """([q, m] cosine similarities, [q, m] library rows) of each query's `m` nearest photos, best first.

    The queries are the `candidates`' rows, then the rows `derived` computes from each block of their similarities
    (a linear mix of the candidates' similarities is the similarity of the same mix of their vectors, so one matrix
    product serves every mix). Rows in `excluded` (row indices) are left out. With fewer than `m` photos the missing
    places hold similarity -1 (no photo is less like anything) and row -1. Exact: the library is read in blocks of `BLOCK` photos, one thread per core, each block's
    top `m` per query found by `_block_top`, the blocks' winners merged. O(q * photos) time, O(q * BLOCK) memory per
    thread.
    """
    queries = candidates.astype(matrix.dtype, copy=False)
    hidden = np.unique(excluded) if excluded is not None else np.zeros(0, np.int64)

    def winners(start: int) -> tuple[np.ndarray, np.ndarray]:
        block = queries @ matrix[start : start + BLOCK].T  # [n, b]
        inside = hidden[(hidden >= start) & (hidden < start + BLOCK)] - start
        block[:, inside] = HIDDEN  # finite: a derived mix of it stays far below every real similarity, never NaN
        tops = [_block_top(block, m)] + ([_block_top(derived(block), m)] if derived is not None else [])
        return np.concatenate([sims for sims, _ in tops]), np.concatenate([cols for _, cols in tops]) + start

    starts = range(0, max(len(matrix), 1), BLOCK)
    if len(starts) == 1:  # most libraries, and every training query: no threads to start
        found = [winners(0)]
    else:
        with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:  # NumPy releases the GIL
            found = list(pool.map(winners, starts))
    sims, rows = np.concatenate([s for s, _ in found], axis=1), np.concatenate([r for _, r in found], axis=1)
    k = min(m, sims.shape[1])
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    sims_out = np.full((len(sims), m), -1.0, dtype=np.float32)
    rows_out = np.full((len(sims), m), -1, dtype=np.int64)
    sims_out[:, :k] = np.take_along_axis(sims, order, axis=1)
    rows_out[:, :k] = np.take_along_axis(rows, order, axis=1)
    missing = np.isin(rows_out, hidden)  # excluded rows fill only places no photo could
    sims_out[missing], rows_out[missing] = -1.0, -1
    return sims_out, rows_out


def _block_top(block: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The `m` largest similarities of each row of `block` and their columns (unordered).

    A full partition of every row costs about ten times a comparison per entry, so the rows are first cut at a
    threshold that cannot lose a winner: the m-th largest of a strided sample is at most the row's own m-th largest.
    About m * `SAMPLE_STRIDE` entries per row pass it, and only those are partitioned.
    """
    rows, cols = block.shape
    k = min(m, cols)
    if k == 0:
        return np.zeros((rows, 0), block.dtype), np.zeros((rows, 0), np.int64)
    if cols <= 2 * SAMPLE_STRIDE * k:  # small block: partition it whole
        top = np.argpartition(block, cols - k, axis=1)[:, cols - k :]
        return np.take_along_axis(block, top, axis=1), top
    sample = block[:, ::SAMPLE_STRIDE]
    threshold = np.partition(sample, sample.shape[1] - k, axis=1)[:, sample.shape[1] - k]
    sims, cols_out = np.empty((rows, k), dtype=block.dtype), np.empty((rows, k), dtype=np.int64)
    for r in range(rows):
        passed = np.flatnonzero(block[r] >= threshold[r])  # at least k: the sample's own top k pass
        values = block[r, passed]
        top = np.argpartition(values, len(values) - k)[len(values) - k :]
        sims[r], cols_out[r] = values[top], passed[top]
    return sims, cols_out

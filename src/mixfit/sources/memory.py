"""Rows held in memory, optionally compressed to distinct rows with counts (exact).

Compression is seed 001's "occurrences" table: EM only needs each distinct row once, with its
count as a weight, so the cost of an iteration grows with the number of distinct rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from mixfit._math import FloatArray
from mixfit.sources._base import Chunk

S = TypeVar("S")

#: Bytes of design rows per block: a block is read from memory once for both products.
BLOCK_BYTES = 1 << 22
#: Blocks are reduced on this many threads (NumPy and BLAS release the GIL).
N_THREADS = min(8, os.cpu_count() or 1)
#: Up to this many possible distinct rows (or 4 per row), rows are counted with bincount; above
#: it, by sorting their codes.
DENSE_CODES = 1 << 16


class ArraySource:
    """A design matrix in memory, reduced block by block in a fixed order.

    Parameters
    ----------
    design : ndarray of shape (m, n_design_columns)
        Design rows (distinct rows when compressed).
    weight : ndarray of shape (m,), optional
        Weight of each design row (sample weight times occurrences).
    inverse : ndarray of shape (n_rows,), optional
        For compressed data, the design row of each original row.
    """

    def __init__(
        self,
        design: FloatArray,
        weight: FloatArray | None = None,
        inverse: np.ndarray | None = None,
        block_rows: int | None = None,
    ) -> None:
        self.design = design
        self.weight = weight
        self.inverse = inverse
        self.n_rows = design.shape[0] if inverse is None else inverse.shape[0]
        self.total_weight = float(design.shape[0] if weight is None else weight.sum())
        row_bytes = max(1, design.shape[1] * design.itemsize)
        self.block_rows = block_rows or max(256, BLOCK_BYTES // row_bytes)

    @property
    def compressed(self) -> bool:
        return self.inverse is not None

    def chunks(self) -> Iterator[Chunk]:
        for start in range(0, self.design.shape[0], self.block_rows):
            stop = start + self.block_rows
            weight = None if self.weight is None else self.weight[start:stop]
            yield Chunk(self.design[start:stop], weight)

    def reduce(self, fn: Callable[[Chunk], S]) -> S:
        """``sum(fn(chunk) for chunk in chunks)``, always added in the same order.

        With several blocks, blocks run on ``N_THREADS`` threads, each with single-threaded
        BLAS, so the element-wise work of the E-step runs in parallel too; the partial results
        are still added in block order, so a fit is reproducible run to run.
        """
        if self.design.shape[0] <= self.block_rows or N_THREADS == 1:
            parts = [fn(chunk) for chunk in self.chunks()]
        else:
            with _blas().limit(limits=1, user_api="blas"):
                parts = list(_pool().map(fn, self.chunks()))
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def identity(self) -> bytes:
        """What a checkpoint fingerprint hashes: the design rows and their weights."""
        parts = [np.ascontiguousarray(self.design).tobytes()]
        if self.weight is not None:
            parts.append(np.ascontiguousarray(self.weight).tobytes())
        return b"".join(parts)

    def map_rows(self, fn: Callable[[Chunk], np.ndarray]) -> np.ndarray:
        """``fn`` applied per chunk, concatenated, and expanded to the original rows."""
        out = np.concatenate([fn(chunk) for chunk in self.chunks()])
        return out if self.inverse is None else out[self.inverse]


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(N_THREADS, thread_name_prefix="mixfit")


def unique_rows(data: FloatArray) -> tuple[FloatArray, np.ndarray, np.ndarray]:
    """Distinct rows (sorted), the distinct row of each row, and the count of each distinct row.

    Whole-number data are coded as one integer per row (mixed radix, first column most
    significant), then counted with ``bincount`` or a 1-D sort; other data use ``np.unique``.
    """
    codes, radix = _row_codes(data)
    if codes is None:
        unique, inverse, counts = np.unique(data, axis=0, return_inverse=True, return_counts=True)
        return unique, inverse.reshape(-1), counts
    if radix <= max(DENSE_CODES, 4 * codes.size):
        counts_all = np.bincount(codes, minlength=radix)
        present = np.flatnonzero(counts_all)
        position = np.zeros(radix, dtype=np.intp)
        position[present] = np.arange(present.size)
        inverse = position[codes]
        first = np.zeros(present.size, dtype=np.intp)
        first[inverse[::-1]] = np.arange(codes.size)[::-1]
        return data[first], inverse, counts_all[present]
    _, first, inverse, counts = np.unique(codes, return_index=True, return_inverse=True, return_counts=True)
    return data[first], inverse.reshape(-1), counts


def distinct_bound(data: FloatArray) -> float:
    """An upper bound on the number of distinct rows from per-column ranges (inf if not integral)."""
    if data.size == 0 or not _integral(data):
        return float("inf")
    spans = data.max(axis=0) - data.min(axis=0) + 1
    return float(np.prod(spans.astype(float)))


def _integral(data: FloatArray) -> bool:
    return bool(np.all(data == np.round(data)))


def _row_codes(data: FloatArray) -> tuple[np.ndarray | None, int]:
    bound = distinct_bound(data)
    if bound >= 2**62:
        return None, 0
    low = data.min(axis=0)
    spans = (data.max(axis=0) - low + 1).astype(np.int64)
    codes = np.zeros(data.shape[0], dtype=np.int64)
    for j in range(data.shape[1]):
        codes *= spans[j]
        codes += (data[:, j] - low[j]).astype(np.int64)
    return codes, int(bound)

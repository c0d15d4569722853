"""Rows held in memory, optionally compressed to distinct rows with counts (exact).

Compression is Ch6's "occurrences" table: EM only needs each distinct row once, with its
count as a weight, so the cost of an iteration grows with the number of distinct rows.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np
from numpy.typing import DTypeLike
from threadpoolctl import ThreadpoolController

from mixfit._math import FloatArray, whole_numbers
from mixfit.sources.base import Addable, Chunk

S = TypeVar("S", bound=Addable)
A = TypeVar("A")
R = TypeVar("R")

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
    fixed : ndarray of shape (m, K), optional
        Responsibilities held fixed for some rows (NaN rows are free): semi-supervised fits.
    inverse : ndarray of shape (n_rows,), optional
        For compressed data, the design row of each original row.
    covariates : ndarray of shape (m, 1 + q), optional
        Covariates on class membership of each design row, the intercept first.
    """

    def __init__(
        self,
        design: FloatArray,
        weight: FloatArray | None = None,
        inverse: np.ndarray | None = None,
        block_rows: int | None = None,
        dtype: DTypeLike = np.float64,
        fixed: FloatArray | None = None,
        covariates: FloatArray | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        self.fixed = fixed
        self.covariates = covariates
        self.design = compact(design)
        self.weight = weight
        self.inverse = inverse
        self.n_rows = design.shape[0] if inverse is None else inverse.shape[0]
        self.total_weight = float(design.shape[0] if weight is None else weight.sum())
        row_bytes = max(1, design.shape[1] * self.dtype.itemsize)
        self.block_rows = block_rows or max(256, BLOCK_BYTES // row_bytes)
        self.n_blocks = -(-design.shape[0] // self.block_rows)
        #: a table of one block is converted to the compute dtype once, not on every pass
        self._whole = self._convert(0) if self.n_blocks == 1 else None

    @property
    def compressed(self) -> bool:
        return self.inverse is not None

    def chunks(self) -> Iterator[Chunk]:
        for block in range(self.n_blocks):
            yield self.chunk(block)

    def chunk(self, block: int) -> Chunk:
        """Block ``block`` of the design rows, in the compute dtype (converted here, per block)."""
        if self._whole is not None:
            return self._whole
        return self._convert(block)

    def _convert(self, block: int) -> Chunk:
        start, stop = block * self.block_rows, (block + 1) * self.block_rows
        weight = None if self.weight is None else self.weight[start:stop]
        fixed = None if self.fixed is None else self.fixed[start:stop]
        covariates = None if self.covariates is None else self.covariates[start:stop]
        return Chunk(np.asarray(self.design[start:stop], dtype=self.dtype), weight, fixed, covariates)

    def reduce(self, fn: Callable[[Chunk], S]) -> S:
        """``sum(fn(chunk) for chunk in chunks)``, always added in the same order.

        With several blocks, blocks run on ``N_THREADS`` threads, each with single-threaded
        BLAS, so the element-wise work of the E-step runs in parallel too; the partial results
        are still added in block order, so a fit is reproducible run to run.
        """
        if self.n_blocks == 1:
            return fn(self.chunk(0))
        if N_THREADS == 1:
            parts = [fn(chunk) for chunk in self.chunks()]
        else:  # each thread converts its own block, so no float copy of the whole design exists
            with blas_controller().limit(limits=1, user_api="blas"):
                parts = list(thread_pool().map(in_context(lambda block: fn(self.chunk(block))), range(self.n_blocks)))
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def identity(self) -> bytes:
        """What a checkpoint fingerprint hashes: the design rows and their weights."""
        parts = [np.ascontiguousarray(self.design).tobytes()]
        for extra in (self.weight, self.fixed, self.covariates):
            if extra is not None:
                parts.append(np.ascontiguousarray(extra).tobytes())
        return b"".join(parts)

    def map_rows(self, fn: Callable[[Chunk], np.ndarray]) -> np.ndarray:
        """``fn`` applied per chunk, concatenated, and expanded to the original rows."""
        out = np.concatenate([fn(chunk) for chunk in self.chunks()])
        return out if self.inverse is None else out[self.inverse]


def compact(design: FloatArray) -> np.ndarray:
    """``design`` as ``uint8`` when it holds only whole numbers 0..255 (binary and one-hot data:
    8 times less memory than float64; blocks are converted back as they are used), else as is."""
    if design.dtype == np.uint8 or design.size == 0 or design.min() < 0 or design.max() > 255:
        return design
    return design.astype(np.uint8) if whole_numbers(design) else design


@cache
def blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


@cache
def thread_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(N_THREADS, thread_name_prefix="mixfit")


def in_context(fn: Callable[[A], R]) -> Callable[[A], R]:
    """``fn`` run on a pool thread with the caller's context (``mixfit.config``'s settings)."""
    context = contextvars.copy_context()
    return lambda arg: context.copy().run(fn, arg)


Ranges = tuple[np.ndarray, np.ndarray] | None


def unique_rows(data: FloatArray, ranges: Ranges | bool = True) -> tuple[FloatArray, np.ndarray, np.ndarray]:
    """Distinct rows (sorted), the distinct row of each row, and the count of each distinct row.

    Whole-number data are coded as one integer per row (mixed radix, first column most
    significant), then counted with ``bincount`` or a 1-D sort; other data by one lexicographic
    sort of the rows (``_sorted_unique_rows``). ``ranges`` may pass ``integer_ranges(data)``
    when it is already known.
    """
    codes, radix = _row_codes(data, integer_ranges(data) if ranges is True else ranges or None)
    if codes is None:
        return _sorted_unique_rows(data)
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


def _sorted_unique_rows(data: FloatArray) -> tuple[FloatArray, np.ndarray, np.ndarray]:
    """``unique_rows`` by a lexicographic sort of the rows (first column most significant, NaN
    equal to NaN): ``np.unique(data, axis=0)`` builds a structured view of the rows, which costs
    0.15 ms on 60 x 2 floats."""
    n_rows = data.shape[0]
    if n_rows == 0:
        return data[:0], np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.lexsort(data.T[::-1])
    ordered = data[order]
    differ = ordered[1:] != ordered[:-1]
    if ordered.dtype.kind == "f":
        differ &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
    new = np.ones(n_rows, dtype=bool)
    new[1:] = differ.any(axis=1)
    starts = np.flatnonzero(new)
    inverse = np.empty(n_rows, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return ordered[starts], inverse, np.diff(np.append(starts, n_rows))


#: Whole numbers beyond this magnitude are not coded as int64 row codes (they would overflow and
#: merge distinct rows); such data are compressed by ``np.unique`` instead.
CODE_LIMIT = 2**53


def integer_ranges(data: FloatArray) -> Ranges:
    """Per-column (minimum, maximum) of whole-number data; None for other (or empty) data and
    for whole numbers too large to code exactly (beyond ``CODE_LIMIT``)."""
    if data.size == 0 or not whole_numbers(data):
        return None
    low, high = column_ranges(data)
    if np.any(np.abs(low.astype(float)) > CODE_LIMIT) or np.any(np.abs(high.astype(float)) > CODE_LIMIT):
        return None
    return low, high


def distinct_bound(ranges: Ranges) -> float:
    """An upper bound on the number of distinct rows from ``integer_ranges`` (inf for None)."""
    if ranges is None:
        return float("inf")
    low, high = ranges
    return float(np.prod(high.astype(float) - low + 1))


def column_ranges(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column minimum and maximum; for narrow arrays one strided reduction per column (a
    reduction over axis 0 of a narrow C-ordered array is an order of magnitude slower)."""
    if data.shape[1] > 16:
        return data.min(axis=0), data.max(axis=0)
    columns = range(data.shape[1])
    return np.array([data[:, j].min() for j in columns]), np.array([data[:, j].max() for j in columns])


def _row_codes(data: FloatArray, ranges: Ranges) -> tuple[np.ndarray | None, int]:
    bound = distinct_bound(ranges)
    if bound >= 2**62 or ranges is None:
        return None, 0
    low, high = (v.astype(np.int64) for v in ranges)
    spans = high - low + 1
    codes = np.zeros(data.shape[0], dtype=np.int64)
    step = 1 << 16  # rows per block: the temporaries stay in cache
    for start in range(0, data.shape[0], step):
        block, out = data[start : start + step], codes[start : start + step]
        for j in range(data.shape[1]):
            out *= spans[j]
            out += (block[:, j] - low[j]).astype(np.int64)
    return codes, int(bound)

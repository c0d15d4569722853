"""Where rows come from: memory (with exact compression to distinct rows), files read chunk by
chunk (``FileTable``), and Dask collections reduced on a cluster."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from mixfit._math import FloatArray
from mixfit.sources.base import SAMPLE_ROWS, Chunk, DataSource, Schema
from mixfit.sources.cluster import DaskSource, DaskTable, is_dask_collection
from mixfit.sources.files import CHUNK_ROWS, FileTable, StreamSource
from mixfit.sources.memory import ArraySource, Ranges, distinct_bound, integer_ranges, unique_rows

#: Data read pass by pass instead of held in memory.
Table = FileTable | DaskTable

Compress = bool | Literal["auto"]


def as_source(
    data: FloatArray,
    family: Schema,
    *,
    sample_weight: FloatArray | None = None,
    compress: Compress = "auto",
    dtype: DTypeLike = np.float64,
    fixed: FloatArray | None = None,
    covariates: FloatArray | None = None,
) -> ArraySource:
    """An in-memory source of ``family.design(data)``, compressed to distinct rows when it pays.

    ``compress="auto"`` merges identical rows when the column ranges allow at most half as many
    distinct rows as there are rows, or when an evenly spaced sample of 10,000 rows has at most
    a quarter as many distinct rows as sampled; the fit is the same to round-off. Rows with
    fixed responsibilities (``fixed``, semi-supervised fits) or with covariates (rows of
    ``covariates``, the intercept first) are never merged.
    """
    if fixed is not None or covariates is not None:
        return ArraySource(family.design(data), sample_weight, dtype=dtype, fixed=fixed, covariates=covariates)
    if not compress:
        return ArraySource(family.design(data), sample_weight, dtype=dtype)
    coded, gaps, marker = _gaps_as_value(data)
    ranges = integer_ranges(coded)  # one scan of the data serves the decision and the coding
    distinct = unique_rows(coded, ranges) if compress != "auto" else _distinct_if_fewer(coded, ranges)
    if distinct is None:
        return ArraySource(family.design(data), sample_weight, dtype=dtype)
    unique, inverse, counts = distinct
    if gaps:
        unique[unique == marker] = np.nan
    if sample_weight is None:
        weight = counts.astype(float)
    else:
        weight = np.bincount(inverse, weights=sample_weight, minlength=unique.shape[0])
    return ArraySource(family.design(unique), weight, inverse, dtype=dtype)


def open_table(X: Any) -> Table | None:
    """X as a table read pass by pass (a ``FileTable`` or a Dask collection), else ``None``."""
    if isinstance(X, FileTable):
        return X
    if is_dask_collection(X):
        return DaskTable(X)
    return None


def table_source(
    table: Table, family: Schema, dtype: DTypeLike = np.float64, n_covariates: int = 0
) -> StreamSource | DaskSource:
    """The source that validates and designs ``table``'s rows for ``family`` on every pass (its
    last ``n_covariates`` columns: covariates on class membership)."""
    if isinstance(table, FileTable):
        return StreamSource(table, family, dtype, n_covariates)
    return DaskSource(table, family, dtype, n_covariates)


def _gaps_as_value(data: FloatArray) -> tuple[FloatArray, bool, float]:
    """``(data, whether it has gaps, marker)`` with NaN (a missing value) replaced by a marker
    below all other values, so that rows compare gap for gap."""
    if data.dtype.kind != "f" or not np.isnan(data).any():
        return data, False, 0.0
    marker = np.nanmin(data, initial=0.0) - 1.0
    return np.where(np.isnan(data), marker, data), True, marker


def _distinct_if_fewer(data: FloatArray, ranges: Ranges) -> tuple[FloatArray, np.ndarray, np.ndarray] | None:
    """``unique_rows(data)`` when compressing pays (see ``as_source``), else None; a table of at
    most 10,000 rows is its own sample, so its distinct rows are found once."""
    n_rows = data.shape[0]
    bound = distinct_bound(ranges)
    if bound <= n_rows / 2:
        return unique_rows(data, ranges)
    if bound >= 2**62:
        return None
    step = max(1, n_rows // 10_000)
    if step == 1:
        distinct = unique_rows(data, ranges)
        return distinct if distinct[0].shape[0] <= n_rows / 4 else None
    sample = data[::step]
    return unique_rows(data, ranges) if unique_rows(sample, ranges)[0].shape[0] <= sample.shape[0] / 4 else None


__all__ = [
    "CHUNK_ROWS",
    "SAMPLE_ROWS",
    "ArraySource",
    "Chunk",
    "DaskSource",
    "DaskTable",
    "DataSource",
    "FileTable",
    "StreamSource",
    "Table",
    "as_source",
    "open_table",
    "table_source",
    "unique_rows",
]

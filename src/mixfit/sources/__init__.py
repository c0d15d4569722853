"""Where rows come from. Today: memory, with exact compression to distinct rows."""

from __future__ import annotations

from typing import Literal

import numpy as np

from mixfit._math import FloatArray
from mixfit.families import Family
from mixfit.sources._base import Chunk, DataSource
from mixfit.sources.memory import ArraySource, distinct_bound, unique_rows

Compress = bool | Literal["auto"]


def as_source(
    data: FloatArray,
    family: Family,
    *,
    sample_weight: FloatArray | None = None,
    compress: Compress = "auto",
) -> ArraySource:
    """An in-memory source of ``family.design(data)``, compressed to distinct rows when it pays.

    ``compress="auto"`` merges identical rows when the column ranges allow at most half as many
    distinct rows as there are rows, or when an evenly spaced sample of 10,000 rows has at most
    a quarter as many distinct rows as sampled; the fit is the same to round-off.
    """
    if compress == "auto":
        compress = _compression_pays(data)
    if not compress:
        return ArraySource(family.design(data), sample_weight)
    unique, inverse, counts = unique_rows(data)
    if sample_weight is None:
        weight = counts.astype(float)
    else:
        weight = np.bincount(inverse, weights=sample_weight, minlength=unique.shape[0])
    return ArraySource(family.design(unique), weight, inverse)


def _compression_pays(data: FloatArray) -> bool:
    n_rows = data.shape[0]
    bound = distinct_bound(data)
    if bound <= n_rows / 2:
        return True
    if bound >= 2**62:
        return False
    sample = data[:: max(1, n_rows // 10_000)]
    return unique_rows(sample)[0].shape[0] <= sample.shape[0] / 4


__all__ = ["ArraySource", "Chunk", "DataSource", "as_source", "unique_rows"]

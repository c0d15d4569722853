"""What streamed and Dask tables teach a family before a fit: the value sets of their columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mixfit._data import check_cells
from mixfit.sources.base import Schema


def distinct_per_column(frame: np.ndarray, columns: list[str]) -> list[np.ndarray]:
    """The distinct values of every column of a chunk (in order of appearance)."""
    import pandas as pd  # imported when a table is read: importing mixfit.sources does not load it

    if frame.dtype.kind == "O":
        check_cells(frame, columns)
    return [
        pd.unique(np.asarray(frame[:, j], dtype=object if frame.dtype.kind == "O" else None))
        for j in range(frame.shape[1])
    ]


def learn_schema(family: Schema, columns: Sequence[str], distinct: Iterable[list[np.ndarray]]) -> Any:
    """``family.fitted_to`` the whole data, from the distinct values of each chunk's columns.

    ``fitted_to`` only learns value sets (category levels), so a table whose columns hold the
    union of every chunk's values, each column padded by repetition, teaches it the same.
    """
    import pandas as pd

    merged: list[list[np.ndarray]] = [[] for _ in columns]
    for values in distinct:
        for j, column in enumerate(values):
            merged[j].append(column.astype(object))
    union = [pd.unique(np.concatenate(parts)) for parts in merged]
    width = max(len(values) for values in union)
    representative = np.empty((width, len(columns)), dtype=object)
    for j, values in enumerate(union):
        representative[:, j] = np.resize(values, width)
    return family.fitted_to(_numeric_if_possible(representative), columns)


def _numeric_if_possible(values: np.ndarray) -> np.ndarray:
    """An object array as int64 or float64 when all its values are integers or numbers."""
    flat = [v for v in values.ravel() if not isinstance(v, (bool, np.bool_))]
    if len(flat) < values.size:
        return values
    if all(isinstance(v, (int, np.integer)) for v in flat):
        return values.astype(np.int64)
    if all(isinstance(v, (int, float, np.number)) for v in flat):
        return values.astype(float)
    return values

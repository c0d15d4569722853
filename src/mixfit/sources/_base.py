"""What the EM engine sees of data: chunks of design rows with weights."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import pandas as pd

from mixfit._math import FloatArray

if TYPE_CHECKING:
    from mixfit.families import Family

S = TypeVar("S")

#: Rows drawn evenly from a table too large for memory to start a fit (k-means++ runs on them).
SAMPLE_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows of a design matrix and their weights (sample weight x occurrences).

    X : ndarray of shape (m, n_design_columns)
    weight : ndarray of shape (m,), or None when every row counts once
    fixed : ndarray of shape (m, K), optional
        Responsibilities held fixed (semi-supervised rows); NaN rows are free.
    """

    X: FloatArray
    weight: FloatArray | None
    fixed: FloatArray | None = None


class DataSource(Protocol):
    """Where rows come from; the engine only reduces over chunks."""

    n_rows: int
    total_weight: float

    def chunks(self) -> Iterator[Chunk]: ...

    def reduce(self, fn: Callable[[Chunk], S]) -> S: ...

    def map_rows(self, fn: Callable[[Chunk], np.ndarray]) -> np.ndarray: ...

    def identity(self) -> bytes: ...


def sum_in_order(parts: Iterable[S]) -> S:
    """``parts[0] + parts[1] + ...`` left to right (fixed order: reproducible round-off)."""
    iterator = iter(parts)
    total = next(iterator)
    for part in iterator:
        total = total + part
    return total


def distinct_per_column(frame: np.ndarray) -> list[np.ndarray]:
    """The distinct values of every column of a chunk (in order of appearance)."""
    return [
        pd.unique(np.asarray(frame[:, j], dtype=object if frame.dtype.kind == "O" else None))
        for j in range(frame.shape[1])
    ]


def learn_schema(family: Family, columns: Sequence[str], distinct: Iterable[list[np.ndarray]]) -> Family:
    """``family.fitted_to`` the whole data, from the distinct values of each chunk's columns.

    ``fitted_to`` only learns value sets (category levels), so a table whose columns hold the
    union of every chunk's values, each column padded by repetition, teaches it the same.
    """
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

"""What the EM engine sees of data: chunks of design rows with weights."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from mixfit._math import FloatArray
from mixfit.errors import DataError


class Addable(Protocol):
    """Statistics, summaries and totals: what a source adds up over its chunks."""

    def __add__(self, other: Any) -> Any: ...


S = TypeVar("S", bound=Addable)


class Schema(Protocol):
    """What a source needs of a family: validate rows, turn them into design rows, and learn
    value sets (category levels) from data. Sources take it as a parameter and never import
    ``mixfit.families``."""

    def validate(self, data: Any, columns: Sequence[str]) -> np.ndarray: ...

    def design(self, data: np.ndarray) -> np.ndarray: ...

    def learns_from_data(self) -> bool: ...

    def fitted_to(self, data: Any, columns: Sequence[str]) -> Any: ...


#: Rows drawn evenly from a table too large for memory to start a fit (k-means++ runs on them).
SAMPLE_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows of a design matrix and their weights (sample weight x occurrences).

    X : ndarray of shape (m, n_design_columns)
    weight : ndarray of shape (m,), or None when every row counts once
    fixed : ndarray of shape (m, K), optional
        Responsibilities held fixed (semi-supervised rows); NaN rows are free.
    covariates : ndarray of shape (m, 1 + q), optional
        Covariates on class membership, the intercept first (``mixfit.concomitant``).
    """

    X: FloatArray
    weight: FloatArray | None
    fixed: FloatArray | None = None
    covariates: FloatArray | None = None


class DataSource(Protocol):
    """Where rows come from; the engine only reduces over chunks."""

    n_rows: int
    total_weight: float
    #: the compute dtype of the chunks' design rows (float64, or float32)
    dtype: np.dtype

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


def covariate_rows(values: np.ndarray, names: list[str]) -> np.ndarray:
    """Covariate columns of a chunk as floats with an intercept column first; a value that is
    not a finite number is an error naming its column."""
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"covariate columns {names} must hold numbers") from None
    bad = ~np.isfinite(numbers)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        raise DataError(f"covariate column {names[j]!r} has missing or infinite values; drop or impute those rows")
    return np.hstack([np.ones((len(numbers), 1)), numbers])

"""What the EM engine sees of data: chunks of design rows with weights."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from mixfit._math import FloatArray

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows of a design matrix and their weights (sample weight x occurrences).

    X : ndarray of shape (m, n_design_columns)
    weight : ndarray of shape (m,), or None when every row counts once
    """

    X: FloatArray
    weight: FloatArray | None


class DataSource(Protocol):
    """Where rows come from; the engine only reduces over chunks."""

    n_rows: int
    total_weight: float

    def chunks(self) -> Iterator[Chunk]: ...

    def reduce(self, fn: Callable[[Chunk], S]) -> S: ...

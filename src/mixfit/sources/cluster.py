"""Dask arrays and DataFrames: each EM pass maps the E-step over partitions and tree-reduces.

The statistics of a partition are a few K x D arrays, so a pass sends the parameters to the
workers once (one shared task), computes one small result per partition where the partition
lives, and adds results in a fixed tree (``TREE_WIDTH`` at a time): the answer does not depend
on which worker finished first, and a lost partition is recomputed by Dask from its lineage.
Dask is imported only here, and only when a Dask collection is fitted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import DTypeLike

from mixfit._data import as_table
from mixfit._validation import check_column, check_unique_columns
from mixfit.errors import ClusterError, DataError
from mixfit.sources.base import Addable, Chunk, Schema, covariate_rows, sum_in_order
from mixfit.sources.schema import distinct_per_column, learn_schema

S = TypeVar("S", bound=Addable)
F = TypeVar("F", bound=Schema)

#: Partial results added per task of the reduction tree.
TREE_WIDTH = 8


def is_dask_collection(X: Any) -> bool:
    """Whether X is a Dask collection (without importing Dask when it is not loaded)."""
    return type(X).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(X, "__dask_graph__")


class DaskTable:
    """A Dask array (rows x columns, any row chunks) or Dask DataFrame, partition by partition."""

    def __init__(self, collection: Any) -> None:
        import dask
        import dask.array as da

        check_workers()
        if isinstance(collection, da.Array):
            if collection.ndim not in (1, 2):
                raise DataError(f"X must be 1-D or 2-D; got {collection.ndim} dimensions")
            if collection.ndim == 2 and collection.numblocks[1] != 1:
                collection = collection.rechunk({1: -1})
            self.columns = ["x"] if collection.ndim == 1 else [f"x{j}" for j in range(collection.shape[1])]
            self.is_frame = False
        else:
            self.columns = [str(c) for c in collection.columns]
            self.is_frame = True
            check_unique_columns(self.columns)
        self.collection = collection
        parts = list(np.ravel(collection.to_delayed()))
        self.token = dask.base.tokenize(collection)
        lengths = [int(n) for n in _compute(*(dask.delayed(_part_rows)(part) for part in parts))]
        self.parts = [part for part, n in zip(parts, lengths, strict=True) if n > 0]
        self.lengths = [n for n in lengths if n > 0]
        self.n_rows = sum(self.lengths)
        if self.n_rows == 0:
            raise DataError("X must have at least one row; the Dask collection is empty")

    def map_parts(self, fn: Callable[..., Any], *shared: Any) -> list[Any]:
        """Delayed ``fn(*shared, rows, columns)`` per partition (``rows``: the partition as a checked array)."""
        import dask

        shared_keys = [dask.delayed(value, traverse=False) for value in shared]
        return [dask.delayed(_on_part, pure=False)(fn, self.columns, part, *shared_keys) for part in self.parts]

    def sample_rows(self, max_rows: int) -> np.ndarray:
        """Up to ``max_rows`` rows spread evenly over the partitions."""
        step = max(1, -(-self.n_rows // max_rows))
        offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        import dask

        tasks = [
            dask.delayed(_on_part)(_every, self.columns, part, (-int(offset)) % step, step)
            for part, offset in zip(self.parts, offsets, strict=True)
        ]
        return np.concatenate(_compute(*tasks))

    def select(self, columns: list[str]) -> DaskTable:
        """The table of these columns of a Dask DataFrame (a new collection)."""
        if not self.is_frame:
            raise DataError("covariates name columns: give a Dask DataFrame, not a Dask array")
        for name in columns:
            check_column(name, self.columns, "the Dask DataFrame")
        return DaskTable(self.collection[list(columns)])

    def learn_schema(self, family: F) -> F:
        if not family.learns_from_data():
            return family
        return learn_schema(family, self.columns, _compute(*self.map_parts(_distinct)))


class DaskSource:
    """A ``DaskTable`` seen through a family: partitions are validated and designed on the workers."""

    weight = None

    def __init__(self, table: DaskTable, family: Schema, dtype: DTypeLike = np.float64, n_covariates: int = 0) -> None:
        """``n_covariates``: the table's last columns are covariates on class membership."""
        self.table, self.family, self.dtype = table, family, np.dtype(dtype)
        self.n_covariates = n_covariates
        self.n_rows = table.n_rows
        self.total_weight = float(table.n_rows)

    def chunks(self) -> Iterator[Chunk]:
        for part in self.table.map_parts(_design, self.family, self.dtype, self.n_covariates):
            yield _compute(part)[0]

    def reduce(self, fn: Callable[[Chunk], S]) -> S:
        """``fn`` on every partition where it lives, summed in a fixed tree of ``TREE_WIDTH``."""
        import dask

        level = self.table.map_parts(_apply_designed, self.family, self.dtype, self.n_covariates, fn)
        while len(level) > 1:
            level = [dask.delayed(_sum_parts)(*level[i : i + TREE_WIDTH]) for i in range(0, len(level), TREE_WIDTH)]
        return _compute(level[0])[0]

    def map_rows(self, fn: Callable[[Chunk], np.ndarray]) -> np.ndarray:
        parts = self.table.map_parts(_apply_designed, self.family, self.dtype, self.n_covariates, fn)
        return np.concatenate(_compute(*parts))

    def identity(self) -> bytes:
        return f"dask:{self.table.token}:{self.n_covariates}".encode()


@contextmanager
def dask_client(scheduler: str | None, n_workers: int | None) -> Iterator[Any]:
    """A Dask client of the cluster at ``scheduler``, or of a new local cluster of ``n_workers``
    single-threaded worker processes; closed (and the local cluster stopped) on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(
            "Dask is not installed; install the extra: pip install 'mixfit[dask]' (from a clone: pip install '.[dask]')"
        ) from None
    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler!r}: {_first_line(exc)}") from None
    else:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ClusterError(f"the number of Dask workers must be an int >= 1; got {n_workers!r}")
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def read_dask(path: str | os.PathLike[str], columns: list[str] | None, sep: str, chunk_rows: int) -> Any:
    """A data file as a Dask collection whose partitions the workers read themselves from ``path``
    (so the workers must see the same file system)."""
    import dask
    import dask.array as da
    import dask.dataframe as dd

    from mixfit.sources.files import FileTable

    table = FileTable(path, columns=columns, chunk_rows=chunk_rows, sep=sep)  # checks the file and columns
    if table.kind == "parquet":
        return dd.read_parquet(str(table.path), columns=table.columns)
    if table.kind == "csv":
        return dd.read_csv(str(table.path), sep=sep, usecols=table.columns, assume_missing=True, encoding="utf-8-sig")[
            table.columns
        ]
    picks = [table.all_columns.index(c) for c in table.columns]
    blocks = [
        da.from_delayed(
            dask.delayed(_npy_rows)(str(table.path), start, min(start + chunk_rows, table.n_rows), picks),
            shape=(min(chunk_rows, table.n_rows - start), len(picks)),
            dtype=float,
        )
        for start in range(0, table.n_rows, chunk_rows)
    ]
    return da.concatenate(blocks)


def _npy_rows(path: str, start: int, stop: int, picks: list[int]) -> np.ndarray:
    array = np.load(Path(path), mmap_mode="r")
    return np.asarray(array.reshape(len(array), -1)[start:stop][:, picks], dtype=float)


def check_workers() -> None:
    """With a distributed client, make sure every worker can import mixfit (else ``ClusterError``)."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return  # no cluster: Dask's local scheduler runs in this process
    try:
        client.run(exec, "import mixfit")
    except Exception as exc:  # noqa: BLE001 (whatever the worker raised, the remedy is the same)
        raise ClusterError(
            f"the Dask workers cannot import mixfit ({type(exc).__name__}: {_first_line(exc)}); install mixfit "
            "on every worker"
        ) from None


def _compute(*tasks: Any) -> tuple[Any, ...]:
    import dask

    try:
        return dask.compute(*tasks)
    except ValueError as exc:
        if "Mismatched dtypes" not in str(exc):
            raise
        columns = re.findall(r"^- (.+)$", str(exc), flags=re.MULTILINE)
        reasons = re.findall(r"Error\(['\"](.+)['\"]\)$", str(exc), flags=re.MULTILINE)
        raise DataError(
            f"column(s) {columns} change type after the first rows, from which Dask infers each column's "
            f"type ({'; '.join(reasons[:1]) or 'mismatched dtypes'}); give every value of a column one type"
        ) from None


def _first_line(exc: BaseException) -> str:
    """An exception's first line: Dask's messages can carry a remote traceback, which a one-line
    error must not repeat."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _part_rows(part: Any) -> int:
    return len(part)


def _on_part(fn: Callable[..., Any], columns: list[str], part: Any, *shared: Any) -> Any:
    return fn(*shared, _rows_of(part, columns), columns)


def _rows_of(part: Any, columns: list[str]) -> np.ndarray:
    """A partition as a 2-D array, after checking it has the collection's columns."""
    if hasattr(part, "columns"):
        names = [str(c) for c in part.columns]
        if names != columns:
            raise DataError(f"a partition has columns {names}, but the data's columns are {columns}")
        return as_table(part)[0]
    array = np.asarray(part)
    return array.reshape(len(array), -1)


def _every(first: int, step: int, rows: np.ndarray, columns: list[str]) -> np.ndarray:
    return rows[first::step]


def _distinct(rows: np.ndarray, columns: list[str]) -> list[np.ndarray]:
    return distinct_per_column(rows, columns)


def _design(family: Schema, dtype: np.dtype, n_covariates: int, rows: np.ndarray, columns: list[str]) -> Chunk:
    """A partition's design rows (and its last ``n_covariates`` columns as covariates)."""
    if not n_covariates:
        return Chunk(np.asarray(family.design(family.validate(rows, columns)), dtype=dtype), None)
    split = rows.shape[1] - n_covariates
    design = family.design(family.validate(rows[:, :split], columns[:split]))
    return Chunk(np.asarray(design, dtype=dtype), None, None, covariate_rows(rows[:, split:], columns[split:]))


def _apply_designed(
    family: Schema, dtype: np.dtype, n_covariates: int, fn: Callable[[Chunk], Any], rows: np.ndarray, columns: list[str]
) -> Any:
    return fn(_design(family, dtype, n_covariates, rows, columns))


def _sum_parts(*parts: Any) -> Any:
    return sum_in_order(parts)

"""Turning what users pass (lists, arrays, DataFrames) into a 2-D array with column names."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixfit._validation import check_unique_columns
from mixfit.errors import DataError


def as_table(X: Any) -> tuple[np.ndarray, list[str], bool]:
    """``(array of shape (n, D), column names, came from a DataFrame)``.

    A 1-D input is one column named ``x``; unnamed columns are ``x0, x1, ...``.
    """
    # A DataFrame is recognised first: a frame looks an attribute it lacks up among its column
    # names, which is slow and finds a column named "toarray".
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = [str(c) for c in X.columns]
        check_unique_columns(columns)
        array, is_frame = X.to_numpy(), True
        if array.dtype.kind in "OMm":  # only a table of dates or of mixed kinds may hold date columns
            check_column_kinds(X)
    elif hasattr(X, "toarray") or hasattr(X, "todense"):
        raise DataError("X must be dense: sparse input is not supported; convert it with X.toarray()")
    else:
        try:
            array = np.asarray(X)
        except ValueError as exc:
            raise DataError(f"X must be a rectangular table; {exc}") from None
        columns, is_frame = [], False
    if array.ndim == 1:
        array = array[:, None]
        columns = columns or ["x"]
    if array.ndim != 2:
        raise DataError(f"X must be 1-D or 2-D; got {array.ndim} dimensions")
    if array.shape[0] == 0 or array.shape[1] == 0:  # worded as scikit-learn words it
        what = "sample(s)" if array.shape[0] == 0 else "feature(s)"
        raise DataError(
            f"found 0 {what} (shape={array.shape}) while a minimum of 1 is required: "
            "X must have at least one row and one column"
        )
    if array.dtype.kind == "c":
        raise DataError("X must hold real numbers: Complex data not supported")
    if array.dtype.kind not in "biufOU":
        what = "bytes; decode them to text first" if array.dtype.kind == "S" else f"dtype {array.dtype}"
        raise DataError(f"X must hold numbers, booleans or strings; got {what}")
    columns = columns or [f"x{j}" for j in range(array.shape[1])]
    if array.dtype.kind == "O":
        check_cells(array, columns)
    return array, columns, is_frame


DATES = "holds dates or times; convert them to numbers first (e.g. days since a start date)"


def check_column_kinds(frame: Any) -> None:
    """A DataFrame's columns of dates, times or durations are refused by name (as numbers they
    would be nanoseconds since 1970), whether the frame is the data or a chunk of a file."""
    for name, dtype in frame.dtypes.items():
        if getattr(dtype, "kind", "") in "Mm":
            raise DataError(f"column {str(name)!r} {DATES}")


#: What one cell of a table may hold (None and NaN are missing values).
CELL_TYPES = (str, int, float, bool, np.number, np.bool_, np.str_, type(None))


def check_cells(array: np.ndarray, columns: list[str]) -> None:
    """Every cell of an object table holds one number, boolean or string: a list, a dict (Parquet
    list and struct columns) or bytes cannot be a level or a value, ``DataError`` naming the column.
    The types present are collected first (one pass in C), so a large table of strings costs
    little; only a column with another type is looked at value by value."""
    for j in range(array.shape[1]):
        if all(issubclass(kind, CELL_TYPES) for kind in set(map(type, array[:, j]))):
            continue
        for value in array[:, j]:
            if isinstance(value, (np.datetime64, np.timedelta64)) or hasattr(value, "to_pydatetime"):
                raise DataError(f"column {columns[j]!r} {DATES}")
            if not isinstance(value, CELL_TYPES):
                raise DataError(f"column {columns[j]!r} holds {_kind(value)} values; {_hint(value)}")


def _kind(value: Any) -> str:
    return "list" if isinstance(value, (list, tuple, np.ndarray)) else type(value).__name__


def _hint(value: Any) -> str:
    if isinstance(value, bytes):
        return "decode them to text first"
    if type(value).__name__ in ("NAType", "NaTType"):
        return "pandas' NA marks a missing value: convert the column to float (NaN) or object (None) first"
    return "use one number or string per cell"

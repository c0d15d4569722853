"""Checks at the boundary. Messages read ``"<what> must be <rule>; got <value>"``."""

from __future__ import annotations

import difflib
import numbers
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from mixfit._math import FloatArray
from mixfit.errors import DataError, ModelError


def check_int(name: str, value: Any, minimum: int) -> int:
    """An ``int >= minimum`` (bools are refused), else ``ModelError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def check_positive_float(name: str, value: Any) -> float:
    """A finite ``float > 0``, else ``ModelError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < np.inf:
        raise ModelError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def check_option(name: str, value: Any, options: Sequence[Any]) -> Any:
    """One of ``options``, else ``ModelError``."""
    if not any(value is o or (isinstance(value, str) and value == o) for o in options):
        raise ModelError(f"{name} must be one of {list(options)}; got {value!r}")
    return value


def check_weights(weights: Any, n_components: int, name: str = "weights_init") -> FloatArray:
    """Mixture weights: shape (K,), each in [0, 1], summing to 1 (to 1e-6); returned as given."""
    w = as_float_array(name, weights)
    if w.shape != (n_components,):
        raise ModelError(f"{name} must have shape ({n_components},); got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ModelError(f"{name} must be finite; got {w.tolist()}")
    if np.any(w < 0) or np.any(w > 1):
        raise ModelError(f"{name} must lie in [0, 1]; got {w.tolist()}")
    if abs(w.sum() - 1.0) > 1e-6:
        raise ModelError(f"{name} must sum to 1; got sum {w.sum():.6g}")
    return w


def as_float_array(name: str, value: Any) -> FloatArray:
    """A finite float array from user parameters, else ``ModelError``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name} must be numeric; got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} must be finite; got {arr.tolist()}")
    return arr


def check_probability_table(name: str, p: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """An array of the given shape with every entry in [0, 1], else ``ModelError``."""
    if p.shape != shape:
        raise ModelError(f"{name} must have shape {shape}; got {p.shape}")
    if np.any(p < 0) or np.any(p > 1):
        raise ModelError(f"{name} must lie in [0, 1]; got min {p.min():.6g}, max {p.max():.6g}")
    return p


def check_sample_weight(sample_weight: Any, n_rows: int) -> FloatArray | None:
    """Per-row weights: shape (n,), finite, >= 0, not all zero; ``None`` stays ``None``."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"sample_weight must be numeric; got {sample_weight!r}") from exc
    if w.shape != (n_rows,):
        raise DataError(f"sample_weight must have shape ({n_rows},); got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("sample_weight must be finite and >= 0")
    with np.errstate(over="ignore"):
        total = w.sum()
    if total <= 0:
        raise DataError("sample_weight must not be all zero")
    if not np.isfinite(total):
        raise DataError("sample_weight sums to more than the largest float (1.8e308); rescale the weights")
    tiny = np.finfo(float).tiny
    if np.any((w > 0) & (w < tiny)):
        raise DataError(f"sample_weight has positive values below {tiny:.3g} (subnormal floats); rescale the weights")
    return w


def column_label(columns: Sequence[str], j: int) -> str:
    """How an error names column ``j``."""
    return f"column {columns[j]!r}" if columns else f"column {j}"


def check_finite_numeric(X: np.ndarray, columns: Sequence[str], allow_nan: bool = False) -> FloatArray:
    """A float matrix without NaN (unless ``allow_nan``: missing values; None becomes NaN) or
    inf, else ``DataError`` naming the first bad column."""
    try:
        data = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        for j in range(X.shape[1]):
            for i, value in enumerate(X[:, j]):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise DataError(f"{column_label(columns, j)} must be numeric; got {value!r} in row {i}") from None
        raise
    bad = np.isinf(data) if allow_nan else ~np.isfinite(data)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        what = "NaN (missing values)" if np.isnan(data[:, j]).any() else "inf"
        raise DataError(f"{column_label(columns, j)} must be finite; got {what}")
    return data


def get_param(params: Any, key: str) -> Any:
    """``params[key]`` of user-given initial parameters, else ``ModelError``."""
    try:
        return params[key]
    except (KeyError, TypeError, IndexError):
        raise ModelError(f"params_init must be a dict with key {key!r}; got {params!r}") from None


def check_column(name: str, columns: Sequence[str], where: str) -> None:
    """``DataError`` naming the closest column when ``name`` is not one of ``columns``."""
    if name in columns:
        return
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {list(columns)}"
    raise DataError(f"column {name!r} not in {where}{hint}")


def check_header(columns: Sequence[Any], path: Any) -> None:
    """A file's header: every column named (an empty name is usually a trailing delimiter, which
    would add a column of missing values), and the names distinct."""
    for j, name in enumerate(columns):
        if not str(name).strip():
            raise DataError(
                f"{str(path)!r}: column {j + 1} of the header has no name (a trailing delimiter?); name it or remove it"
            )
    check_unique_columns(columns, path)


def check_unique_columns(columns: Sequence[Any], path: Any = None) -> None:
    """Column names must differ: ``DataError`` naming the duplicates (and the file, if any)."""
    duplicated = sorted(name for name, count in Counter(str(c) for c in columns).items() if count > 1)
    if duplicated and path is not None:
        raise DataError(f"{str(path)!r} has duplicated column names {duplicated}")
    if duplicated:
        raise DataError(f"column names must be unique; got duplicates {duplicated}")

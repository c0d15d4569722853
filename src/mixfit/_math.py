"""Small numerical helpers shared by the families and the EM engine."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from mixfit import kernels

FloatArray = NDArray[np.float64]

#: Probabilities are kept inside [PROB_EPS, 1 - PROB_EPS] so that no log(0) is ever taken.
PROB_EPS = 1e-12


def clamp_probs(p: FloatArray) -> FloatArray:
    """Return ``p`` clipped to ``[PROB_EPS, 1 - PROB_EPS]``."""
    out = np.maximum(p, PROB_EPS)  # (np.clip's wrapper costs more on small tables)
    return np.minimum(out, 1.0 - PROB_EPS, out=out)


@cache
def upper_triangle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n)``, built once per size (read-only): the E-step's hot path asks for it."""
    rows, cols = np.triu_indices(n)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


def log_binom_coef(n: FloatArray, x: FloatArray) -> FloatArray:
    """``log C(n, x)`` elementwise, via ``gammaln``."""
    return gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)


def normalize_log_joint(log_joint: FloatArray, row_weight: FloatArray | None = None) -> FloatArray:
    """Turn log p(x_n, z=k), laid out (K, n), into responsibilities in place; return log p(x_n).

    ``log_joint`` is overwritten with ``p(z=k | x_n)`` times ``row_weight[n]`` when given (a
    log-sum-exp over the K rows), and the returned vector of shape (n,) is
    ``log sum_k p(x_n, z=k)``. Large blocks go to the compiled kernel when numba is installed
    (``mixfit.kernels``); this NumPy code is the reference.
    """
    compiled = kernels.normalize_log_joint(log_joint, row_weight)
    if compiled is not None:
        return compiled
    shift = log_joint.max(axis=0)
    log_joint -= shift
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=0)
    scale = 1.0 / total if row_weight is None else row_weight / total
    log_joint *= scale
    return shift + np.log(total)


def whole_numbers(data: np.ndarray) -> bool:
    """Whether every entry is a whole number, checked about 1M entries at a time (no temporary of
    the data's size)."""
    if data.dtype.kind in "biu":
        return True
    rows = max(1, (1 << 20) // max(1, data[:1].size))
    return all(np.array_equal(data[i : i + rows], np.floor(data[i : i + rows])) for i in range(0, len(data), rows))


def safe_divide(num: FloatArray, den: FloatArray, fill: float) -> FloatArray:
    """``num / den`` where ``den > 0``, ``fill`` elsewhere (an empty component)."""
    if den.size and den.min() > 0:  # the usual case, without the masked division's temporaries
        return num / den
    num, den = np.broadcast_arrays(num, den)
    return np.divide(num, den, out=np.full(num.shape, fill), where=den > 0)


def has_full_column_rank(design: FloatArray) -> bool:
    """Whether no column of ``design`` is a combination of the others, judged on the columns
    scaled to a largest entry of 1: collinearity does not depend on the units (a predictor in
    units of 1e200 beside the intercept is not a multiple of it)."""
    scale = np.abs(design).max(axis=0, initial=0.0)
    return bool(np.linalg.matrix_rank(design / np.where(scale > 0, scale, 1.0)) == design.shape[1])


#: Predictor and covariate columns of a largest magnitude outside these bounds are refused: the
#: information of their coefficients holds their squares, beyond what float64 holds past 1e+-300.
MAGNITUDE_BOUNDS = (1e-100, 1e100)


def out_of_range_column(values: FloatArray) -> int | None:
    """The first column of ``values`` (n, q) whose largest magnitude lies outside
    ``MAGNITUDE_BOUNDS`` (an all-zero column aside), or None."""
    low, high = MAGNITUDE_BOUNDS
    largest = np.abs(values).max(axis=0, initial=0.0)
    bad = (largest > high) | ((largest > 0) & (largest < low))
    return int(np.argmax(bad)) if bad.any() else None


def scaled_rank(info: np.ndarray, rtol: float = 1e-9) -> int:
    """Rank of an information matrix scaled to unit diagonal (parameters on very different
    scales, such as a small variance beside a probability, do not hide each other)."""
    eigen, _ = _scaled_eigen(info)
    return int((eigen > rtol * max(eigen.max(initial=0.0), 1e-300)).sum())


def null_space_share(info: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Per parameter, its share in the null space of the information scaled to unit diagonal
    (eigenvalues below ``rtol`` of the largest; the directions ``scaled_rank`` does not count):
    0 for a parameter the data determine, up to 1 for one a flat direction moves. A parameter
    with no information at all counts as wholly in the null space."""
    diag = np.sqrt(np.maximum(np.diag(info), 0.0))
    eigen, vectors = _scaled_eigen(info)
    share = np.ones(len(diag))
    null = vectors[:, eigen <= rtol * max(eigen.max(initial=0.0), 1e-300)]
    share[diag > 0] = (null**2).sum(axis=1)
    return share


def _scaled_eigen(info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and vectors of the information scaled to unit diagonal, over the parameters
    with some information."""
    diag = np.sqrt(np.maximum(np.diag(info), 0.0))
    used = diag > 0
    if not used.any():
        return np.zeros(0), np.zeros((0, 0))
    return np.linalg.eigh(info[np.ix_(used, used)] / np.outer(diag[used], diag[used]))

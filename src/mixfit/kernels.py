"""Which implementation computes the E-step's log-sum-exp: the compiled kernel or NumPy.

With numba installed (``pip install "mixfit[numba]"``), large blocks go through
``mixfit._numba_kernel`` (one compiled pass with a vectorised ``exp``); NumPy stays the
reference and the fallback: without numba, for small blocks (where compiling would cost more
than it saves), for other dtypes or layouts, and when switched off. The two agree to 1e-10 in
float64 (tested), so the choice is a setting of the run, like the choice of BLAS, not a model
option: ``mixfit.config`` holds it (``with kernels.use("numpy"):`` is
``config_context(kernel="numpy")``; the environment variable ``MIXFIT_KERNEL`` sets the default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

import numpy as np

from mixfit.config import config_context, get_config

#: Blocks with fewer cells than this (K x rows) stay on NumPy: the first compiled call costs about a second.
MIN_CELLS = 1 << 16


@cache
def compiled() -> ModuleType | None:
    """The compiled kernels, or None without numba."""
    try:
        from mixfit import _numba_kernel
    except ImportError:
        return None
    return _numba_kernel


def active() -> str:
    """The kernel in use for large blocks: "numba" when chosen and installed, else "numpy"."""
    return "numba" if get_config().kernel == "numba" and compiled() is not None else "numpy"


@contextmanager
def use(kernel: str) -> Iterator[None]:
    """Compute log-sum-exps with ``kernel`` ("numba" or "numpy") inside the block."""
    with config_context(kernel=kernel):
        yield


def normalize_log_joint(log_joint: np.ndarray, row_weight: np.ndarray | None) -> np.ndarray | None:
    """The compiled ``_math.normalize_log_joint`` when it applies to this block, else None."""
    if log_joint.size < MIN_CELLS or log_joint.ndim != 2 or log_joint.dtype not in (np.float32, np.float64):
        return None
    if not log_joint.flags.c_contiguous or not log_joint.flags.writeable or active() != "numba":
        return None
    kernel = compiled()
    if kernel is None:
        return None
    weight = np.empty(0) if row_weight is None else np.ascontiguousarray(row_weight, dtype=np.float64)
    log_marginal = np.empty(log_joint.shape[1])
    kernel.normalize_log_joint(log_joint, weight, log_marginal)
    return log_marginal

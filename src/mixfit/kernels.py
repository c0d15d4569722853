"""Which implementation computes the E-step's log-sum-exp: the compiled kernel or NumPy.

With numba installed (``pip install "mixfit[numba]"``), large blocks go through
``mixfit._numba_kernel`` (one compiled pass with a vectorised ``exp``); NumPy stays the
reference and the fallback: without numba, for small blocks (where compiling would cost more
than it saves), for other dtypes or layouts, and when switched off. The two agree to 1e-10 in
float64 (tested), so the choice is process-wide, like the choice of BLAS, not a model option:
set the environment variable ``MIXFIT_KERNEL=numpy`` or use ``with kernels.use("numpy"):``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

import numpy as np

from mixfit.errors import ModelError

KERNELS = ("numba", "numpy")
#: Blocks with fewer cells than this (K x rows) stay on NumPy: the first compiled call costs about a second.
MIN_CELLS = 1 << 16
_choice = {"kernel": os.environ.get("MIXFIT_KERNEL", "numba")}


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
    if _choice["kernel"] not in KERNELS:
        raise ModelError(f"MIXFIT_KERNEL must be one of {list(KERNELS)}; got {_choice['kernel']!r}")
    return "numba" if _choice["kernel"] == "numba" and compiled() is not None else "numpy"


@contextmanager
def use(kernel: str) -> Iterator[None]:
    """Compute log-sum-exps with ``kernel`` ("numba" or "numpy") inside the block."""
    if kernel not in KERNELS:
        raise ModelError(f"kernel must be one of {list(KERNELS)}; got {kernel!r}")
    previous, _choice["kernel"] = _choice["kernel"], kernel
    try:
        yield
    finally:
        _choice["kernel"] = previous


def normalize_log_joint(log_joint: np.ndarray, row_weight: np.ndarray | None) -> np.ndarray | None:
    """The compiled ``_math.normalize_log_joint`` when it applies to this block, else None."""
    if log_joint.size < MIN_CELLS or log_joint.ndim != 2 or log_joint.dtype not in (np.float32, np.float64):
        return None
    if not log_joint.flags.c_contiguous or not log_joint.flags.writeable or active() != "numba":
        return None
    weight = np.empty(0) if row_weight is None else np.ascontiguousarray(row_weight, dtype=np.float64)
    log_marginal = np.empty(log_joint.shape[1])
    compiled().normalize_log_joint(log_joint, weight, log_marginal)
    return log_marginal

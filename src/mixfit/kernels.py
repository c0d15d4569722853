"""Which implementation computes the E-step: compiled kernels or NumPy.

With numba installed (``pip install "mixfit[numba]"``), ``mixfit._numba_kernel`` takes two
kinds of block. Large blocks keep NumPy's (BLAS's) design products and take their log-sum-exp
from one compiled pass with a vectorised ``exp`` (``normalize_log_joint``). Small blocks of a
family whose log-density is linear in its design (``linear_pass``: up to a few hundred distinct
rows, as latent class tables compress to) take the whole pass compiled, row by row: log-joint,
log-sum-exp and the statistics, which NumPy spreads over a dozen calls whose fixed cost is most
of the pass (one E-step on 34 x 7 binary rows, K = 3: 19 µs against 42 µs, of which the
compiled call is 3 µs). The first compiled call in a process imports numba and loads the
kernels from its disk cache, about 0.7 s once (the first run on a machine compiles them, a few
seconds); ``MIXFIT_KERNEL=numpy`` avoids it for one-off runs.

NumPy stays the reference and the fallback: without numba, for other dtypes or layouts, and
when switched off. The two agree to 1e-10 in float64 (tested), so the choice is a setting of
the run, like the choice of BLAS, not a model option: ``mixfit.config`` holds it (``with
kernels.use("numpy"):`` is ``config_context(kernel="numpy")``; the environment variable
``MIXFIT_KERNEL`` sets the default).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from mixfit.config import config_context, get_config

#: Blocks with fewer cells than this (K x rows) keep NumPy's log-sum-exp, whose call costs little
#: there (small blocks of a linear family take ``linear_pass`` instead, see below).
MIN_CELLS = 1 << 16


@cache
def compiled() -> ModuleType | None:
    """The compiled kernels, or None without numba, or when numba cannot set them up here (it
    refuses ``cache=True`` functions with a RuntimeError when neither the package's folder nor
    a user cache folder is writable): a fit then runs on NumPy, never fails for it."""
    try:
        return importlib.import_module("mixfit._numba_kernel")
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - any failure of the optional compiler means NumPy
        warnings.warn(f"the compiled kernels are not available ({exc}); computing with NumPy", stacklevel=2)
        return None


#: Why the compiled kernels stopped being used in this process (a cache numba cannot read), or None.
_failure: list[str] = []


def active() -> str:
    """The kernel in use: "numba" when chosen, installed and working, else "numpy"."""
    return "numba" if get_config().kernel == "numba" and not _failure and compiled() is not None else "numpy"


def _run(kernel: Any, *args: Any) -> bool:
    """Call a compiled kernel; False (and NumPy from then on, with one warning naming numba's
    cache folder) when numba fails to load it: a damaged cache (an index emptied by a full disk
    makes numba raise ``EOFError`` at the first call) must not make every fit fail. A kernel
    that fails to load has not run, so its output arrays are untouched."""
    try:
        kernel(*args)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure to load the optional compiled code means NumPy
        folder = getattr(getattr(kernel, "_cache", None), "_cache_path", "numba's cache folder")
        _failure.append(f"{type(exc).__name__}: {exc}")
        warnings.warn(
            f"the compiled kernels could not be loaded from their cache ({_failure[0]}); computing with NumPy. "
            f"Remove the damaged cache in {folder} (mixfit's _numba_kernel.* files) to use them again",
            stacklevel=3,
        )
        return False


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
    return log_marginal if _run(kernel.normalize_log_joint, log_joint, weight, log_marginal) else None


#: Blocks of at most this many rows x components take ``linear_pass``, and at most
#: ``MAX_LINEAR_PASS_WORK`` rows x components x design columns. Beyond, NumPy's vectorised
#: ``exp`` and BLAS products win over a row-by-row loop, whose scalar ``exp`` and ``log`` cost
#: ~100 ns a row (measured on the 2-core machine, 0/1 designs: the loop takes 300 x 7 rows,
#: K = 3, in 30 µs against NumPy's 42 µs; 600 x 7 rows are even; 300 x 40 rows take 150 µs
#: against 55 µs).
MAX_LINEAR_PASS_CELLS = 1 << 10
MAX_LINEAR_PASS_WORK = 1 << 14
#: Design dtypes ``linear_pass`` reads (Bernoulli keeps 0/1 data as uint8).
LINEAR_PASS_DTYPES = (np.dtype(np.float64), np.dtype(np.uint8))


def linear_pass(
    design: np.ndarray,
    row_weight: np.ndarray | None,
    coef: np.ndarray,
    bias: np.ndarray,
    weights: np.ndarray,
    n_groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(ll, n, product)`` of one E-step pass of a small block from the compiled
    ``linear_pass`` (``n_groups`` mixtures side by side, ``weights`` their M = S x K mixture
    weights), or None when it does not apply (a large block, another dtype or layout, numba
    absent or off)."""
    if design.ndim != 2 or design.dtype not in LINEAR_PASS_DTYPES or not design.flags.c_contiguous:
        return None
    cells = design.shape[0] * coef.shape[0]
    if cells > MAX_LINEAR_PASS_CELLS or cells * design.shape[1] > MAX_LINEAR_PASS_WORK or active() != "numba":
        return None
    kernel = compiled()
    if kernel is None:
        return None
    weight = np.empty(0) if row_weight is None else np.ascontiguousarray(row_weight, dtype=np.float64)
    ll = np.empty(n_groups)
    n = np.empty(coef.shape[0])
    product_t = np.empty(coef.shape[::-1])
    coef_t = np.ascontiguousarray(coef.T, dtype=np.float64)
    bias, weights = np.ascontiguousarray(bias, dtype=np.float64), np.ascontiguousarray(weights, dtype=np.float64)
    if not _run(kernel.linear_pass, design, weight, coef_t, bias, weights.reshape(-1), ll, n, product_t):
        return None
    return ll, n, product_t.T

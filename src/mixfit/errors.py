"""Typed errors and warnings of mixfit.

Every message names the problem in one line: ``"<what> must be <rule>; got <value>"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class MixfitError(Exception):
    """Base class of every error mixfit raises on purpose."""


class DataError(MixfitError, ValueError):
    """The data cannot be used as given (wrong values, shapes, columns)."""


class ModelError(MixfitError, ValueError):
    """The model or its parameters are impossible (bad options, bad initial values)."""


class MonotonicityError(MixfitError, RuntimeError):
    """The log-likelihood decreased during EM beyond round-off: a bug, raised in debug runs."""


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class IdentifiabilityWarning(UserWarning):
    """The model cannot be identified from data of this shape."""


class MonotonicityWarning(UserWarning):
    """The log-likelihood decreased during EM beyond round-off (raised instead in debug runs)."""


class EmptyComponentWarning(UserWarning):
    """A component's responsibilities summed to zero; its weight is now 0 and it stays frozen."""


class ClusterError(MixfitError, RuntimeError):
    """A Dask cluster cannot run the fit (workers missing mixfit, cluster unreachable)."""


class MissingDependencyError(MixfitError, ImportError):
    """An optional dependency that this feature needs is not installed; the message names the extra."""


class RangeWarning(UserWarning):
    """``select`` chose the largest (or smallest) K it searched: the best K may lie outside."""


class ReplicationWarning(ConvergenceWarning):
    """Only one of several starts run to convergence reached the best log-likelihood: it may be a
    local maximum; more starts (``n_init``) would tell."""


#: What a fit warns about its own result (convergence, restarts, identifiability, emptied
#: components); a caller that reports these in its own way (a table row, a bootstrap replicate)
#: silences these categories, never ``MonotonicityWarning`` (a bug) and never everything.
FIT_RESULT_WARNINGS: tuple[type[Warning], ...] = (ConvergenceWarning, IdentifiabilityWarning, EmptyComponentWarning)


@contextmanager
def fit_result_warnings_silenced() -> Iterator[None]:
    """Inside the block, ``FIT_RESULT_WARNINGS`` are not shown (see above)."""
    with warnings.catch_warnings():
        for category in FIT_RESULT_WARNINGS:
            warnings.simplefilter("ignore", category)
        yield

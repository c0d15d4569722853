"""Conjugate priors for MAP EM: Beta, Dirichlet (symmetric) and Gamma, off by default.

With a prior, EM maximises the log posterior ``log p(x | theta) + log p(theta)``: the E-step is
unchanged and the M-step is the posterior mode given the expected statistics, so the log
posterior never decreases. Hyperparameters must be >= 1 for the mode to exist in closed form
(a Beta(1, 1), Dirichlet(1) or Gamma(1, 0) prior is flat and gives the maximum-likelihood
estimate); ``a - 1`` and ``b - 1`` act as pseudo-counts of successes and failures.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.special import betaln, gammaln, xlogy

from mixfit._math import FloatArray, clamp_probs, safe_divide
from mixfit.errors import ModelError


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ModelError(f"{name} must be a finite number; got {value!r}")
    if value <= 0:
        raise ModelError(f"{name} must be positive; got {value!r}")
    return float(value)


def check_at_least_one(name: str, value: Any) -> float:
    """A hyperparameter that must be >= 1 (shape of a Beta, Dirichlet or Gamma prior)."""
    number = _number(name, value)
    if number < 1:
        raise ModelError(f"{name} must be >= 1 for a MAP estimate to exist in closed form; got {value!r}")
    return number


def _pair(value: Any, names: str, prior: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ModelError(f"prior must be a pair ({names}) of {prior} hyperparameters; got {value!r}")
    return value[0], value[1]


def check_beta(value: Any) -> tuple[float, float] | None:
    """``(a, b)`` of a Beta prior, both >= 1, or None."""
    if value is None:
        return None
    a, b = _pair(value, "a, b", "Beta")
    return check_at_least_one("prior a", a), check_at_least_one("prior b", b)


def check_dirichlet(value: Any, what: str = "prior") -> float | None:
    """The concentration of a symmetric Dirichlet prior (>= 1), or None."""
    return None if value is None else check_at_least_one(f"{what} (Dirichlet concentration)", value)


def check_gamma(value: Any) -> tuple[float, float] | None:
    """``(shape, rate)`` of a Gamma prior: shape >= 1, rate > 0; or None."""
    if value is None:
        return None
    shape, rate = _pair(value, "shape, rate", "Gamma")
    return check_at_least_one("prior shape", shape), _number("prior rate", rate)


def beta_log_density(p: FloatArray, prior: tuple[float, float] | None) -> float:
    if prior is None:
        return 0.0
    a, b = prior
    return float((xlogy(a - 1, p) + xlogy(b - 1, 1 - p)).sum() - p.size * betaln(a, b))


def dirichlet_log_density(p: FloatArray, alpha: float | None, mask: np.ndarray | None = None) -> float:
    """Sum over the simplexes along the last axis of ``p`` (``mask`` marks the real entries)."""
    if alpha is None:
        return 0.0
    mask = np.ones(p.shape, dtype=bool) if mask is None else np.broadcast_to(mask, p.shape)
    sizes = mask.sum(axis=-1)
    norm = gammaln(alpha * sizes) - sizes * gammaln(alpha)
    return float(np.where(mask, xlogy(alpha - 1, p), 0.0).sum() + norm.sum())


def gamma_log_density(rate: FloatArray, prior: tuple[float, float] | None) -> float:
    if prior is None:
        return 0.0
    a, b = prior
    return float((xlogy(a - 1, rate) - b * rate).sum() + rate.size * (a * np.log(b) - gammaln(a)))


def beta_mode(successes: FloatArray, trials: FloatArray, prior: tuple[float, float] | None) -> FloatArray:
    """Probabilities from expected successes and trials: the posterior mode with a Beta(a, b)
    prior, else the MLE (no pseudo-counts added, so no round-off from adding and removing
    them); 0.5 where nothing was observed; clamped to [PROB_EPS, 1 - PROB_EPS]."""
    if prior is not None:
        a, b = prior
        successes, trials = successes + a - 1, trials + a + b - 2
    return clamp_probs(safe_divide(successes, trials, 0.5))


def dirichlet_mode(counts: FloatArray, alpha: float | None, mask: np.ndarray | None = None) -> FloatArray:
    """Posterior mode of simplexes (last axis) from expected counts; NaN rows where all are 0."""
    extra = 0.0 if alpha is None else alpha - 1.0
    counts = counts + (extra if mask is None else np.where(mask, extra, 0.0))
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / total

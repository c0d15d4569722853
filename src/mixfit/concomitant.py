"""Covariates on class membership (latent class regression; flexmix's concomitant variables).

The prior of class k for row n is a multinomial logit in the row's covariates ``z_n`` (with an
intercept first), class 0 the reference (its coefficients fixed at 0)::

    pi_nk = softmax(coef @ z_n)_k

The complete-data log-likelihood gains ``sum_n w_n sum_k r_nk log pi_nk`` in place of
``sum_k n_k log w_k``; its maximiser in ``coef`` is a multinomial logistic regression of the
responsibilities on the covariates, which has no closed form. The M-step takes one Newton step
from the current coefficients (as poLCA does): the gradient and the information (minus the
Hessian) at the current coefficients are sums over rows (``PriorStats``), gathered in the
E-step's pass and added across chunks, so chunked fits are exact. The EM loop halves the step
while the log-likelihood would fall (``mixfit.em``), which keeps EM monotone (a generalised EM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from mixfit._math import FloatArray
from mixfit.families import Stats

#: A Newton step is halved at most this many times; the last, tiny, step leaves the prior as it
#: was, where the component M-step alone never lowers the log-likelihood.
MAX_HALVINGS = 30
#: Coefficients beyond this size mean fitted priors of exactly 0 or 1: classes separated by a
#: covariate, where the maximum-likelihood coefficients run away to infinity.
SEPARATION_COEF = 30.0


@dataclass(frozen=True, slots=True)
class PriorStats(Stats):
    """What one pass gives the prior's M-step, summed over rows: ``gradient`` (K, P), the
    gradient of Q in the coefficients ``sum_n (r_nk - w_n pi_nk) z_n``; ``information``
    (K, P, K, P), minus its Hessian ``sum_n w_n (pi_nk [k = l] - pi_nk pi_nl) z_n z_n'``; and
    ``q``, the prior's part of Q at the current coefficients ``sum_n sum_k r_nk log pi_nk``."""

    gradient: FloatArray
    information: FloatArray
    q: FloatArray


def with_intercept(covariates: FloatArray) -> FloatArray:
    """The covariates (n, q) with a column of ones first (n, 1 + q)."""
    return np.hstack([np.ones((covariates.shape[0], 1)), covariates])


def log_prior(coef: FloatArray, design: FloatArray) -> FloatArray:
    """``log pi_nk``, laid out (K, n), for coefficients (K, P) and covariate rows (n, P).

    A row whose linear predictors overflow (covariates near 1e307 under a separated model:
    inf - inf would be NaN) gets the limit instead: its predictors are computed on the row scaled
    by ``s`` = its largest entry, ``u = coef @ (z / s)``, and ``log pi = s (u - max u)`` minus
    their log-sum-exp, so the classes whose predictors grow fastest share the prior and the others
    get log 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        eta = coef @ design.T
    overflow = ~np.isfinite(eta).all(axis=0)
    if overflow.any():
        rows = design[overflow]
        scale = np.abs(rows).max(axis=1)
        u = coef @ (rows / scale[:, None]).T
        with np.errstate(over="ignore"):
            eta[:, overflow] = scale * (u - u.max(axis=0))
    return eta - logsumexp(eta, axis=0, keepdims=True)


def prior_stats(coef: FloatArray, design: FloatArray, resp: FloatArray, weight: FloatArray | None) -> PriorStats:
    """``PriorStats`` of one chunk: ``resp`` (K, n) already times the row weights ``weight``."""
    log_pi = log_prior(coef, design)
    pi = np.exp(log_pi)
    weighted = pi if weight is None else pi * weight
    gradient = (resp - weighted) @ design
    q = np.where(resp > 0, resp * log_pi, 0.0).sum()
    return PriorStats(gradient, _information(design, pi, weighted), np.asarray(q))


def _information(design: FloatArray, pi: FloatArray, weighted: FloatArray) -> FloatArray:
    """``sum_n w_n (pi_nk [k = l] - pi_nk pi_nl) z_n z_n'`` laid out (K, P, K, P): K products of
    (P, n) by (n, K P), the rows of every class's ``pi_nl z_n`` side by side."""
    n_components, width = pi.shape[0], design.shape[1]
    by_class = (pi.T[:, :, None] * design[:, None, :]).reshape(len(design), n_components * width)
    information = np.empty((n_components, width, n_components, width))
    for k in range(n_components):
        scaled = design.T * weighted[k]  # (P, n)
        information[k] = -(scaled @ by_class).reshape(width, n_components, width)
        information[k, :, k, :] += scaled @ design
    return information


def newton_step(coef: FloatArray, stats: PriorStats) -> FloatArray:
    """The Newton step of the coefficients of classes 1..K-1 (class 0 stays 0): solve
    ``information @ step = gradient`` (least squares where the information is singular, e.g. a
    class with no rows left)."""
    n_components, width = coef.shape
    free = (n_components - 1) * width
    information = stats.information[1:, :, 1:, :].reshape(free, free)
    gradient = stats.gradient[1:].reshape(free)
    try:
        step = np.linalg.solve(information, gradient)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(information, gradient, rcond=None)[0]
    out = coef.copy()
    out[1:] += step.reshape(n_components - 1, width)
    return out


def intercepts_for(weights: FloatArray, width: int) -> FloatArray:
    """Coefficients (K, width) whose prior is ``weights`` for every row: intercepts
    ``log(w_k / w_0)``, slopes 0 (the start of a fit with covariates)."""
    coef = np.zeros((len(weights), width))
    log_w = np.log(np.maximum(weights, np.finfo(float).tiny))
    coef[:, 0] = log_w - log_w[0]
    return coef


def separation(coef: FloatArray, names: list[str], information: FloatArray) -> str | None:
    """Why the coefficients are not meaningful when classes are separated by the covariates, or
    None: a coefficient beyond ``SEPARATION_COEF`` along which the prior's likelihood is flat
    (its standard error from ``information``, the prior's information, exceeds the coefficient):
    the maximum-likelihood coefficient runs away to infinity. A large coefficient with a
    standard error well below it (a covariate on a small scale) is an ordinary estimate."""
    n_components, width = coef.shape
    free = (n_components - 1) * width
    values, vectors = np.linalg.eigh(information[1:, :, 1:, :].reshape(free, free))
    variance = (vectors**2) @ (1.0 / np.maximum(values, np.finfo(float).tiny))  # flat directions: huge
    se = np.sqrt(variance).reshape(n_components - 1, width)
    flat = (np.abs(coef[1:]) > SEPARATION_COEF) & ~(se < np.abs(coef[1:]))
    if not flat.any():
        return None
    k, j = (int(v) for v in np.unravel_index(np.argmax(np.where(flat, np.abs(coef[1:]), 0.0)), flat.shape))
    k += 1
    return (
        f"covariate coefficient {names[j] if j < len(names) else j!r} of class {k} is {coef[k, j]:.3g}: the "
        "classes are (nearly) separated by the covariates, where the maximum-likelihood coefficients run "
        "to infinity; their values and standard errors are not meaningful (drop that covariate, or use "
        "fewer classes)"
    )


def prior_summary(coef: FloatArray, chunk: Any) -> FloatArray:
    """One vector over a chunk's rows, additive across chunks (one pass after a fit):
    ``[sum_n w_n pi_nk for each k, sum_n w_n]`` (divided, the average prior: the model's class
    proportions) then the prior's information in its coefficients (K, P, K, P), raveled (it
    depends on the priors alone); ``split_prior_summary`` takes it apart."""
    pi = np.exp(log_prior(coef, chunk.covariates))
    weight = np.ones(pi.shape[1]) if chunk.weight is None else chunk.weight
    weighted = pi * weight
    totals = np.append(weighted.sum(axis=1), weight.sum())
    return np.concatenate([totals, _information(chunk.covariates, pi, weighted).ravel()])


def split_prior_summary(summary: FloatArray, coef: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(average prior (K,), information (K, P, K, P))`` of a summed ``prior_summary``."""
    n_components, width = coef.shape
    return summary[:n_components] / summary[n_components], summary[n_components + 1 :].reshape(
        n_components, width, n_components, width
    )

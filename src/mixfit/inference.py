"""Standard errors: the observed information matrix of the observed-data log-likelihood, and
the bootstrap (nonparametric or parametric, seeded, parallel).

Scores are analytic per row: every family's log-density is linear in its natural parameters,
``log f_k(x) = design(x) @ coef_k + bias_k``, so

    d log p(x_n) / d theta = sum_k r_nk (d log w_k / d theta + design_n @ d coef_k / d theta + d bias_k / d theta)

with the Jacobian of ``(coef, bias)`` with respect to the free parameters taken by central
differences of the family's ``natural`` map (a few evaluations on K x P numbers, no data).
The observed information ``-H`` is the Jacobian of the total score (``method="observed"``, the
default); ``method="opg"`` uses the outer product of the per-row scores (the empirical
information). Free parameters: weights 1..K-1 (the last is 1 minus the others); every
probability, rate, mean and variance; simplexes without their last entry; covariance matrices'
lower triangles (once for "tied"). Entries that are 0 or 1 to within 1e-9 (on the boundary)
are held fixed: their standard error is undefined and reported as NaN with a warning.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixfit._data import as_table
from mixfit._math import scaled_rank, upper_triangle
from mixfit._validation import check_sample_weight
from mixfit.concomitant import log_prior
from mixfit.em import EMState, draw, flatten_state, posterior
from mixfit.errors import IdentifiabilityWarning, ModelError, fit_result_warnings_silenced
from mixfit.families import (
    CONSTRAINED_COVARIANCE,
    CONSTRAINED_VARIANCE,
    COVARIANCE,
    PROBABILITY,
    SIMPLEX,
    TIED_COVARIANCE,
    Family,
)
from mixfit.parallel import map_jobs
from mixfit.prepare import fitted, fitted_source
from mixfit.sources import ArraySource

#: Probabilities and weights within this of 0 or 1 are on the boundary: held fixed, no standard
#: error. It is above the observed information's difference step for small values (1e-6), so a
#: step never crosses the boundary; EM approaches a boundary maximum only slowly (1e-8 after
#: hundreds of iterations), and such estimates are not interior.
BOUNDARY = 1e-6
Z95 = 1.959963984540054


# ----------------------------------------------------------------------------- free parameters
CONSTRAINED_PROBLEM = (
    "standard errors are not available for a covariance model whose volume, shape or orientation is shared "
    "by components while another part varies (VEI, EVI, VEE, EVE, VVE, EEV, VEV, EVV): its entries are not "
    "free parameters; use mixfit.bootstrap"
)


def has_free_entries(family: Family) -> bool:
    """Whether every parameter's entries map to free parameters (not a constrained covariance)."""
    return all(spec.domain not in (CONSTRAINED_COVARIANCE, CONSTRAINED_VARIANCE) for spec in family.param_specs())


def _masks(family: Family, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Which entries of each parameter are free, from its declared domain."""
    masks = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=float)
        domain = family.param_spec(name).domain
        if domain in (CONSTRAINED_COVARIANCE, CONSTRAINED_VARIANCE):
            raise ModelError(CONSTRAINED_PROBLEM)
        if domain == SIMPLEX:
            mask = value > BOUNDARY
            last = mask.shape[-1] - 1 - np.argmax(mask[..., ::-1], axis=-1)  # last free entry per simplex
            np.put_along_axis(mask, last[..., None], False, axis=-1)
        elif domain == PROBABILITY:
            mask = (value > BOUNDARY) & (value < 1 - BOUNDARY)
        elif domain in (COVARIANCE, TIED_COVARIANCE):  # the lower triangle (of the first, when tied)
            mask = np.zeros(value.shape, dtype=bool)
            cols, rows = upper_triangle(value.shape[1])  # (the lower triangle's entries, in another order)
            mask[: 1 if domain == TIED_COVARIANCE else None, rows, cols] = True
        else:
            mask = np.ones(value.shape, dtype=bool)
        shared = family.shared_entries(name, value.shape)
        mask[1:] &= ~shared[1:]  # a shared entry is free in the first component only
        masks[name] = mask
    return masks


def _complete(family: Family, params: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Dependent entries from the free ones: simplexes' last entries, mirrored and tied covariances.
    The parameters may carry leading batch axes before the component axis (the masks broadcast)."""
    out = {}
    for name, value in params.items():
        value = np.array(value, dtype=float)
        domain = family.param_spec(name).domain
        if domain == SIMPLEX:
            held = ~masks[name] & (value > BOUNDARY)  # the dependent entry of each simplex
            others = np.where(held, 0.0, value).sum(axis=-1, keepdims=True)
            value = np.where(held, 1.0 - others, value)
        elif domain in (COVARIANCE, TIED_COVARIANCE):
            rows, cols = upper_triangle(value.shape[-1])  # (rows <= cols)
            value[..., rows, cols] = value[..., cols, rows]  # the upper triangle mirrors the lower
            if domain == TIED_COVARIANCE:
                value = np.repeat(value[..., :1, :, :], value.shape[-3], axis=-3)
        shared = family.shared_entries(name, masks[name].shape)
        if shared.any():  # every component takes the first one's shared entries
            value = np.where(shared, np.take(value, [0], axis=-shared.ndim), value)
        out[name] = value
    return out


class FreeParameters:
    """The map between a state and its vector of free parameters."""

    def __init__(self, family: Family, state: EMState, masks: dict[str, np.ndarray] | None = None) -> None:
        """``masks``: which entries are free, when they must be those of another state (a
        perturbed state keeps the free parameters of the estimate it was moved from)."""
        self.family, self.state = family, state
        self.masks = _masks(family, state.params) if masks is None else masks
        #: the leading free parameters: weights 1..K-1, or with covariates the coefficients of
        #: classes 1..K-1 (class 0 is the reference; the weights are then not parameters)
        self.n_weights = len(state.weights) - 1 if state.coef is None else state.coef[1:].size

    def vector(self) -> np.ndarray:
        lead = self.state.weights[:-1] if self.state.coef is None else self.state.coef[1:].ravel()
        return np.concatenate([lead, *(np.asarray(v)[self.masks[k]] for k, v in self.state.params.items())])

    def state_at(self, theta: np.ndarray) -> EMState:
        coef, weights = self.state.coef, self.state.weights
        if coef is None:
            weights = np.append(theta[: self.n_weights], 1.0 - theta[: self.n_weights].sum())
        else:
            coef = np.vstack([np.zeros((1, coef.shape[1])), theta[: self.n_weights].reshape(-1, coef.shape[1])])
        params, offset = {}, self.n_weights
        for name, value in self.state.params.items():
            value = np.array(value, dtype=float)
            size = int(self.masks[name].sum())
            value[self.masks[name]] = theta[offset : offset + size]
            offset += size
            params[name] = value
        return EMState(weights, _complete(self.family, params, self.masks), coef=coef)

    def params_at(self, thetas: np.ndarray) -> dict[str, np.ndarray]:
        """The parameters at each row of ``thetas`` (B, Q), stacked: arrays of shape (B, K, ...)."""
        params, offset = {}, self.n_weights
        for name, value in self.state.params.items():
            batch = np.repeat(np.asarray(value, dtype=float)[None], len(thetas), axis=0)
            mask = self.masks[name]
            size = int(mask.sum())
            batch[:, mask] = thetas[:, offset : offset + size]
            offset += size
            params[name] = batch
        return _complete(self.family, params, self.masks)

    def names(self) -> list[str]:
        """The free parameters' names, in the order of ``vector``."""
        flat = list(flatten_state(EMState(self.state.weights, self.state.params)))
        keep = np.concatenate([np.zeros(len(self.state.weights), bool), *(m.ravel() for m in self.masks.values())])
        if self.state.coef is None:
            lead = flat[: self.n_weights]
        else:
            k, width = self.state.coef.shape
            lead = [f"covariate_coef[{i},{j}]" for i in range(1, k) for j in range(width)]
        return lead + [n for n, kept in zip(flat, keep, strict=True) if kept]


def _steps(theta: np.ndarray, relative: float = 1e-6) -> np.ndarray:
    """Central-difference steps. The Hessian differentiates scores that are themselves built
    from differences, so it uses wider steps (``HESSIAN_STEP``): error ~ step^2 + noise / step."""
    return relative * np.maximum(np.abs(theta), 1e-2)


HESSIAN_STEP = 1e-4


def _natural_jacobian(free: FreeParameters, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d coef / d theta (K, P, Q) and d bias / d theta (K, Q), by central differences.

    Every component's coefficients depend on its own parameters only, so the 2Q perturbed
    states are stacked along the component axis and go through ``natural`` in one call."""
    steps = _steps(theta)
    q, k = theta.size, len(free.state.weights)
    moves = np.concatenate([np.diag(steps), -np.diag(steps)])
    stacked = free.params_at(theta[None] + moves)
    coef, bias = free.family.natural({name: v.reshape(2 * q * k, *v.shape[2:]) for name, v in stacked.items()})
    coef, bias = coef.reshape(2 * q, k, -1), bias.reshape(2 * q, k)
    d_coef = (coef[:q] - coef[q:]) / (2 * steps)[:, None, None]
    d_bias = (bias[:q] - bias[q:]) / (2 * steps)[:, None]
    return d_coef.transpose(1, 2, 0), d_bias.T


def row_scores(family: Family, state: EMState, source: ArraySource, free: FreeParameters | None = None) -> np.ndarray:
    """Per-row scores d log p(x_n) / d theta, shape (design rows, Q), at ``state``."""
    free = free or FreeParameters(family, state)
    theta = free.vector()
    design = np.asarray(source.design, dtype=float)
    resp = posterior(family, state, design, covariates=source.covariates)[0].T
    n_components = len(state.weights)
    scores = np.zeros((design.shape[0], theta.size))
    if state.coef is None or source.covariates is None:
        w = state.weights
        last = resp[:, -1] / w[-1]
        scores[:, : free.n_weights] = resp[:, :-1] / w[:-1] - last[:, None]
    else:  # d log p(x_n) / d coef_k = (r_nk - pi_nk) z_n
        z = source.covariates
        prior = np.exp(log_prior(state.coef, z)).T
        scores[:, : free.n_weights] = ((resp - prior)[:, 1:, None] * z[:, None, :]).reshape(len(z), -1)
    if not family.linear_in_design or family.has_log_density_gradient:
        _add_gradient_scores(scores, family, state, free, design, resp)
        return scores
    d_coef, d_bias = _natural_jacobian(free, theta)
    if resp.size * theta.size <= DENSE_SCORES:  # every component's columns at once: few NumPy calls
        per_component = np.matmul(design, d_coef) + d_bias[:, None, :]  # (K, n, Q)
        scores += np.einsum("nk,knq->nq", resp, per_component)
        return scores
    used = (d_coef != 0).any(axis=1) | (d_bias != 0)  # (K, Q): component k's own parameters
    for k in range(n_components):
        columns = np.flatnonzero(used[k])
        if columns.size:
            scores[:, columns] += resp[:, k : k + 1] * (design @ d_coef[k][:, columns] + d_bias[k, columns])
    return scores


#: ``row_scores`` takes the design part of every component at once, as one (K, n, Q) array, while
#: it holds at most this many cells; beyond, component by component over its own parameters.
DENSE_SCORES = 1 << 18


def _add_gradient_scores(
    scores: np.ndarray, family: Family, state: EMState, free: FreeParameters, design: np.ndarray, resp: np.ndarray
) -> None:
    """The parameters' part of the scores of a family that is not linear in a fixed design, from
    its analytic ``log_density_gradient``: ``r_nk d log f_k(x_n) / d theta_k``."""
    gradients = family.log_density_gradient(design, state.params)
    if gradients is None:
        raise ModelError(
            "standard errors are not available yet for this model: it has no analytic scores (a "
            "categorical or full/tied Gaussian part beside a Poisson or binomial regression)"
        )
    offset = free.n_weights
    for name in state.params:
        gradient = gradients[name]  # (K, n, ...)
        weighted = gradient * resp.T.reshape(resp.shape[1], resp.shape[0], *([1] * (gradient.ndim - 2)))
        shared = family.shared_entries(name, np.shape(state.params[name]))
        if shared.any():  # a shared entry's score sums every component's
            shared_rows = shared[:, None]
            weighted[0] = np.where(shared_rows[0], (weighted * shared_rows).sum(axis=0), weighted[0])
        flat = np.moveaxis(weighted, 1, 0).reshape(len(design), -1)[:, free.masks[name].ravel()]
        scores[:, offset : offset + flat.shape[1]] = flat
        offset += flat.shape[1]


#: The information matrix is computed for at most this many free parameters: its size grows
#: with their square and its factorisation with their cube (2,000: 32 MB; 20,001 for 10^4 binary
#: columns and K = 2 would be 3.2 GB), and the observed information takes two passes a parameter.
MAX_INFORMATION_PARAMETERS = 2000


def information(family: Family, state: EMState, source: ArraySource, method: str = "observed") -> np.ndarray:
    """The information matrix on the free parameters (see the module's text); ``ModelError``
    beyond ``MAX_INFORMATION_PARAMETERS``."""
    free = FreeParameters(family, state)
    n_free = free.vector().size
    if n_free > MAX_INFORMATION_PARAMETERS:
        raise ModelError(
            f"the model has {n_free} free parameters: its information matrix ({n_free} x {n_free}, "
            f"{n_free * n_free * 8 / 2**30:.1f} GiB) is beyond the {MAX_INFORMATION_PARAMETERS} parameters for "
            "which standard errors and identifiability are computed; use fewer columns or components, or bootstrap()"
        )
    weight = np.ones(source.design.shape[0]) if source.weight is None else source.weight
    if method == "opg":
        scores = row_scores(family, state, source, free)
        return (scores * weight[:, None]).T @ scores
    if method != "observed":
        raise ModelError(f"method must be 'observed' or 'opg'; got {method!r}")
    theta = free.vector()
    columns = []
    for j, h in enumerate(_steps(theta, HESSIAN_STEP)):
        totals = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[j] += sign * h
            moved = free.state_at(shifted)
            totals.append(weight @ row_scores(family, moved, source, FreeParameters(family, moved, free.masks)))
        columns.append((totals[0] - totals[1]) / (2 * h))
    hessian = np.array(columns)
    return -(hessian + hessian.T) / 2


@dataclass
class StandardErrors:
    """Standard errors of every weight and parameter entry, and the free parameters' covariance."""

    table: pd.DataFrame
    weights: np.ndarray
    params: dict[str, np.ndarray]
    covariance: np.ndarray
    information: np.ndarray
    free_names: list[str]
    rank: int
    #: standard errors of ``covariate_coef_`` (K, 1 + q), for a model with covariates
    covariate_coef: np.ndarray | None = None


def standard_errors(
    model: Any, X: Any, method: str = "observed", sample_weight: Any = None, covariates: Any = None
) -> StandardErrors:
    """Standard errors of a fitted model's weights and parameters on its training data X (with
    its frequency weights, if it was fitted with them; with its covariates, if it has them: the
    covariate coefficients then get standard errors and the weights, which are averages of the
    rows' priors, do not).

    ``method="opg"`` (the outer product of the row scores) is what poLCA reports (agreement to
    about 5e-5 was measured side by side); ``"observed"`` (the observed information, the default)
    is what flexmix's ``refit()`` reports (about 4e-4)."""
    family, state, source = _in_memory(model, X, sample_weight, covariates)
    free = FreeParameters(family, state)
    info = information(family, state, source, method)
    rank = scaled_rank(info)
    if rank < info.shape[0]:
        warnings.warn(
            f"the information matrix is singular (rank {rank} < {info.shape[0]} free parameters): the "
            "model is not locally identified at the estimate; standard errors of the unidentified "
            "directions are not meaningful",
            IdentifiabilityWarning,
            stacklevel=3,
        )
    cov_free = np.linalg.pinv(info, hermitian=True)
    theta = free.vector()
    jac = np.stack(
        [
            (_flat(free.state_at(theta + h * e)) - _flat(free.state_at(theta - h * e))) / (2 * h)
            for h, e in zip(_steps(theta), np.eye(theta.size), strict=True)
        ],
        axis=1,
    )
    se_flat = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, cov_free, jac), 0.0))
    structural = _structural(family, state)  # the weight of K = 1, categorical padding: exact, SE 0
    derived = _derived(state)  # with covariates, the weights
    on_boundary = np.all(jac == 0, axis=1) & ~structural & ~derived
    se_flat[derived] = np.nan
    se_flat[on_boundary] = np.nan
    held = [name for name, h in zip(flatten_state(state), on_boundary, strict=True) if h]
    if held:
        warnings.warn(
            f"{len(held)} estimate(s) on the boundary of the parameter space (e.g. {held[0]}): held "
            "fixed, standard error undefined (NaN); a bootstrap or a prior gives them intervals",
            IdentifiabilityWarning,
            stacklevel=3,
        )
    names = list(flatten_state(state))
    estimate = _flat(state)
    table = pd.DataFrame(
        {
            "estimate": estimate,
            "se": se_flat,
            "lower95": estimate - Z95 * se_flat,
            "upper95": estimate + Z95 * se_flat,
            "note": np.select(
                [on_boundary, structural, derived],
                [
                    "on the boundary: held fixed, no standard error",
                    "fixed by the model",
                    "the average prior over the rows: see covariate_coef",
                ],
                "",
            ),
        },
        index=pd.Index(names, name="parameter"),
    )
    k = len(state.weights)
    params, offset = {}, k
    for name, value in state.params.items():
        size = np.size(value)
        params[name] = se_flat[offset : offset + size].reshape(np.shape(value))
        offset += size
    coef_se = None if state.coef is None else se_flat[offset:].reshape(state.coef.shape)
    return StandardErrors(table, se_flat[:k], params, cov_free, info, free.names(), rank, coef_se)


def _structural(family: Family, state: EMState) -> np.ndarray:
    """Entries fixed by the model's structure rather than the data, flattened like ``_flat``
    (with covariates, the reference class's coefficients)."""
    parts = [np.full(len(state.weights), len(state.weights) == 1 and state.coef is None)]
    for name, value in state.params.items():
        parts.append(family.structural_zeros(name, np.shape(value)).ravel())
    if state.coef is not None:
        parts.append(np.arange(state.coef.size) < state.coef.shape[1])
    return np.concatenate(parts)


def _derived(state: EMState) -> np.ndarray:
    """Entries that are functions of the data rather than parameters, flattened like ``_flat``:
    with covariates, the weights (each row has its own prior)."""
    size = _flat(state).size
    return np.arange(size) < (0 if state.coef is None else len(state.weights))


def _flat(state: EMState) -> np.ndarray:
    extra = [] if state.coef is None else [np.ravel(state.coef)]
    return np.concatenate([state.weights, *(np.ravel(v) for v in state.params.values()), *extra])


def _in_memory(
    model: Any, X: Any, sample_weight: Any = None, covariates: Any = None
) -> tuple[Family, EMState, ArraySource]:
    family, state, source = fitted_source(model, X, sample_weight, covariates)
    if not isinstance(source, ArraySource):
        raise ModelError("standard errors need the data in memory (not a FileTable or Dask collection)")
    if np.any(state.weights <= BOUNDARY):
        raise ModelError("a component has weight 0; standard errors need every component in use (fit fewer)")
    return family, state, source


# ----------------------------------------------------------------------------- bootstrap
@dataclass
class Bootstrap:
    """Bootstrap replicates (one row each, components aligned to the fitted model) and their spread."""

    replicates: pd.DataFrame
    table: pd.DataFrame
    kind: str


def _refit(model: Any, X: Any, seed: np.random.SeedSequence, kind: str, sample_weight: Any = None) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    from mixfit._data import as_table
    from mixfit.labels import align

    array, columns, is_frame = as_table(X)
    n = array.shape[0]
    counts = None
    if sample_weight is not None:  # frequency weights: resample the expanded rows, as counts
        weight = np.asarray(sample_weight, dtype=float)
        n = int(round(weight.sum()))
        counts = rng.multinomial(n, weight / weight.sum()).astype(float) if kind == "nonparametric" else None
    if kind == "nonparametric":
        sample = array if counts is not None else array[rng.integers(0, n, n)]
    else:
        family, state = fitted(model)
        sample = np.asarray(draw(family, state, n, rng)[0]).reshape(n, -1)
    data = pd.DataFrame(sample, columns=columns) if is_frame else sample
    refit = copy.deepcopy(model)
    base = model.family if not hasattr(model, "family_") else model.family_
    refit.set_params(
        family=base, weights_init=model.weights_, params_init=dict(model.params_), n_init=1, n_jobs=None, order=None
    )
    with fit_result_warnings_silenced():  # a replicate's warnings are not the user's fit's
        refit.fit(data, sample_weight=counts)
    aligned = align(refit, model)
    return flatten_state(EMState(aligned.weights_, dict(aligned.params_)))


def bootstrap(
    model: Any,
    X: Any,
    n_boot: int = 200,
    kind: str = "nonparametric",
    random_state: Any = None,
    n_jobs: int | None = None,
    sample_weight: Any = None,
) -> Bootstrap:
    """Refit on ``n_boot`` resampled data sets (rows drawn with replacement, or new data drawn
    from the fitted model) from the fitted parameters, align components to the fit, and report
    each entry's standard deviation and 2.5%/97.5% percentiles. Replicate b uses the b-th child
    of ``SeedSequence(random_state)``, so results do not depend on ``n_jobs``. With
    ``sample_weight`` (frequency weights) rows are drawn with probability proportional to their
    weight, sum-of-weights many, and refitted as counts."""
    if kind not in ("nonparametric", "parametric"):
        raise ModelError(f"kind must be 'nonparametric' or 'parametric'; got {kind!r}")
    if getattr(model, "covariate_coef_", None) is not None:  # its refits would drop the covariates
        raise ModelError("bootstrap is not available for a model with covariates yet; use standard_errors")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise ModelError(f"n_boot must be an int >= 2; got {n_boot!r}")
    if sample_weight is not None:  # checked once here, not as a failure inside every replicate
        check_sample_weight(sample_weight, as_table(X)[0].shape[0])
    seeds = np.random.SeedSequence(random_state if isinstance(random_state, int) else None).spawn(n_boot)
    rows = map_jobs(_refit, [(model, X, seed, kind, sample_weight) for seed in seeds], n_jobs)
    replicates = pd.DataFrame(rows).rename_axis("replicate")
    fitted = pd.Series(flatten_state(EMState(np.asarray(model.weights_), dict(model.params_))))
    table = pd.DataFrame(
        {
            "estimate": fitted,
            "se": replicates.std(ddof=1),
            "lower95": replicates.quantile(0.025),
            "upper95": replicates.quantile(0.975),
        }
    ).rename_axis("parameter")
    return Bootstrap(replicates, table, kind)

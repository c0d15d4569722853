"""The EM loop: E via a data source (statistics and log-likelihood in one pass), M via the family.

Ch6 (Definition 6.2): the E-step computes expected sufficient statistics, the M-step is the
maximum-likelihood estimate on them. Sciarra: at the E-step the evidence lower bound equals the
log-likelihood (KL = 0); after the M-step the log-likelihood rises by at least as much as the
expected complete-data log-likelihood Q.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np

from mixfit import concomitant, kernels
from mixfit._math import FloatArray, normalize_log_joint
from mixfit.errors import DataError, EmptyComponentWarning, ModelError, MonotonicityError, MonotonicityWarning
from mixfit.families import Family, Stats
from mixfit.priors import dirichlet_log_density
from mixfit.sources.base import Chunk, DataSource

#: The engine's columns of ``history_`` (the parameters follow as ``weight[k]``, ``p[k,d]``...).
HISTORY_COLUMNS = (
    "log_likelihood",
    "expected_complete_ll",
    "entropy",
    "elbo",
    "kl",
    "expected_complete_ll_after_m",
    "elbo_after_m",
    "kl_after_m",
    "ll_roundoff",
    "e_steps",
    "log_prior",
    "log_posterior",
)
#: A decrease of the log-likelihood larger than ``MONOTONE_RTOL |LL|`` plus the family's
#: ``log_likelihood_roundoff`` is a bug, not round-off (recorded as ``history_["ll_roundoff"]``).
MONOTONE_RTOL = 1e-10


@dataclass(frozen=True, slots=True)
class EMState:
    """Mixture weights (K,) and component parameters (leading axis K); with covariates on class
    membership, ``coef`` (K, 1 + q) gives each row its own prior (``mixfit.concomitant``) and
    ``weights`` are the classes' shares of the rows.

    ``natural`` holds the family's ``(coef, bias)`` of these parameters and ``log_weights``
    ``log w`` once computed (``natural_of``, ``log_weights_of``): an iteration's E-step, Q and
    round-off bound at one state share them.
    """

    weights: FloatArray
    params: dict[str, FloatArray]
    natural: tuple[FloatArray, FloatArray] | None = field(default=None, compare=False, repr=False)
    log_weights: FloatArray | None = field(default=None, compare=False, repr=False)
    coef: FloatArray | None = None


def log_weights_of(state: EMState) -> FloatArray:
    """``log w`` of the state, computed once (``log 0 = -inf``)."""
    if state.log_weights is None:
        object.__setattr__(state, "log_weights", log_weights(state.weights))
    return state.log_weights  # type: ignore[return-value]


def natural_of(family: Family, state: EMState) -> tuple[FloatArray, FloatArray] | None:
    """``family.natural(state.params)``, computed once per state (states are never mutated);
    None for a family whose log-density is not linear in a fixed design."""
    if not family.linear_in_design:
        return None
    if state.natural is None:
        object.__setattr__(state, "natural", family.natural(state.params))
    return state.natural


@dataclass(frozen=True, slots=True)
class Summary(Stats):
    """What one pass over the data gives: the family's statistics, sum_n w_n log p(x_n), and with
    covariates the prior's statistics (``concomitant.PriorStats``)."""

    stats: Any
    log_likelihood: float
    prior: Any = None


@dataclass(frozen=True)
class FitResult:
    """The state whose log-likelihood is reported, and how the fit got there."""

    state: EMState
    log_likelihood: float
    n_iter: int
    converged: bool
    history: list[dict[str, float]] = field(repr=False)
    #: The history rows built when asked for, for runs that keep none along the way (starts
    #: screened side by side, ``mixfit.screen``: only the kept ones are ever asked).
    rows: Callable[[], list[dict[str, Any]]] | None = field(default=None, repr=False, compare=False)

    @property
    def objective(self) -> float:
        """What EM maximised: the log posterior with a prior, else the log-likelihood."""
        return self.history[-1].get("log_posterior", self.log_likelihood) if self.history else self.log_likelihood


def log_weights(weights: FloatArray) -> FloatArray:
    """``log w`` with ``log 0 = -inf`` (an emptied component never takes rows back); without
    ``np.errstate``, whose context switch costs more than the logarithm of a few weights."""
    weights = np.asarray(weights, dtype=float)
    if weights.all():  # the usual case (weights are never negative): no masked logarithm
        return np.log(weights)
    return np.log(weights, out=np.full(weights.shape, -np.inf), where=weights > 0)


def log_joint(family: Family, state: EMState, X: FloatArray, covariates: FloatArray | None = None) -> FloatArray:
    """log p(x_n, z=k) = log w_k + log p(x_n | theta_k), laid out (K, n); with covariates
    (rows with the intercept first), log pi_nk in place of log w_k."""
    out = family.log_prob_by_component(X, state.params, natural_of(family, state))
    if state.coef is None:
        out += log_weights_of(state)[:, None]
    else:
        if covariates is None:
            raise ModelError("these parameters have covariates on class membership; the rows need them too")
        out += concomitant.log_prior(state.coef, covariates).astype(out.dtype, copy=False)
    return out


def posterior(
    family: Family,
    state: EMState,
    X: FloatArray,
    row_weight: FloatArray | None = None,
    covariates: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Responsibilities p(z=k | x_n) (K, n), times ``row_weight`` when given, and log p(x_n) (n,),
    by log-sum-exp: the one posterior routine of fit, predict, explain and inference."""
    resp = log_joint(family, state, X, covariates)
    return resp, normalize_log_joint(resp, row_weight)


def draw(
    family: Family, state: EMState, n_rows: int, rng: Any, covariates: FloatArray | None = None
) -> tuple[Any, np.ndarray]:
    """``(rows, labels)`` from the mixture's generative story (CV21): a component per row
    drawn by the weights (by each row's prior, with covariates), then the row from that
    component."""
    if state.coef is None:
        labels = np.asarray(rng.choice(len(state.weights), size=n_rows, p=state.weights))
    else:
        if covariates is None:
            raise ModelError("drawing from a model with covariates needs the covariates of the rows")
        prior = np.exp(concomitant.log_prior(state.coef, covariates))  # (K, n)
        labels = (rng.random(prior.shape[1]) > prior.cumsum(axis=0)).sum(axis=0)
        labels = np.minimum(labels, len(state.weights) - 1)
    return family.sample(state.params, labels, rng), labels


def e_step(family: Family, state: EMState, chunk: Chunk) -> Summary:
    """Responsibilities of one chunk folded into statistics, plus the chunk's log-likelihood."""
    compiled = compiled_e_step(family, state, chunk)
    if compiled is not None:
        return compiled
    if chunk.fixed is None:
        resp, log_marginal = posterior(family, state, chunk.X, chunk.weight, chunk.covariates)
    else:
        resp = log_joint(family, state, chunk.X, chunk.covariates)
        known = np.flatnonzero(~np.isnan(chunk.fixed[:, 0]))
        known_joint = resp[:, known].copy()
        log_marginal = normalize_log_joint(resp, chunk.weight)
        if known.size:
            hold_fixed(resp, log_marginal, known, known_joint, chunk)
    ll = log_marginal.sum(dtype=np.float64) if chunk.weight is None else chunk.weight @ log_marginal
    prior = None
    if state.coef is not None and chunk.covariates is not None:  # (log_joint refused it without)
        prior = concomitant.prior_stats(state.coef, chunk.covariates, resp, chunk.weight)
    return Summary(family.stats_by_component(chunk.X, resp, state.params), float(ll), prior)


def compiled_e_step(family: Family, state: EMState, chunk: Chunk) -> Summary | None:
    """``e_step`` from the compiled pass (``kernels.linear_pass``) where it applies: a small
    block of a family whose log-density and statistics are the generic linear ones, without
    covariates or known labels; else None."""
    if chunk.fixed is not None or state.coef is not None or not family.linear_pass:
        return None
    coef, bias = natural_of(family, state)  # type: ignore[misc]
    result = kernels.linear_pass(chunk.X, chunk.weight, coef, bias, state.weights)
    if result is None:
        return None
    ll, n, product = result
    return Summary(family.named_stats(n, product), float(ll[0]))


def hold_fixed(
    resp: FloatArray, log_marginal: FloatArray, known: np.ndarray, known_joint: FloatArray, chunk: Chunk
) -> None:
    """Rows whose class is known (or given as a distribution r): responsibilities r, and the
    expected complete-data term ``sum_k r_k log p(x, z=k)`` in place of log p(x). EM then
    maximises the semi-supervised likelihood and still never decreases it."""
    fixed = np.asarray(chunk.fixed)[known].T  # (K, known)
    log_marginal[known] = np.where(fixed > 0, fixed * known_joint, 0.0).sum(axis=0)
    resp[:, known] = fixed if chunk.weight is None else fixed * chunk.weight[known]


def m_step(
    family: Family, stats: Any, weights_prior: float | None = None, *, prior: Any = None, coef: Any = None
) -> EMState:
    """New weights (CV21, eq. (9); with a symmetric Dirichlet(alpha) prior, the posterior
    mode ``(n_k + alpha - 1) / (n + K (alpha - 1))``) and the family's M-step; with covariates,
    one Newton step of their coefficients ``coef`` from the pass's ``prior`` statistics."""
    counts = stats.n if weights_prior is None else stats.n + (weights_prior - 1.0)
    new_coef = None if prior is None else concomitant.newton_step(coef, prior)
    return EMState(counts / counts.sum(), family.m_step(stats), coef=new_coef)


def takes_newton_steps(family: Family, state: EMState) -> bool:
    """Whether an M-step from ``state`` has Newton steps (covariate coefficients, or the
    family's ``newton_params``), whose length ``halve_newton_steps`` may shorten."""
    return state.coef is not None or bool(family.newton_params)


def e_step_or_none(family: Family, source: DataSource, state: EMState) -> Summary | None:
    """``run_e_step``, or None where a Newton step went so far that the log-likelihood is not
    finite there (the step is then halved)."""
    try:
        return run_e_step(family, source, state)
    except ModelError:
        return None


def halve_newton_steps(
    family: Family, source: DataSource, state: EMState, theta1: EMState, summary1: Summary | None, floor: float
) -> tuple[EMState, Summary, int]:
    """While the log-likelihood at ``theta1`` is below ``floor`` (the entering one less
    round-off), halve the Newton steps (covariate coefficients, the family's ``newton_params``),
    keeping the rest of the M-step; returns the state, its E-step and the extra passes made. As
    the steps shrink to 0 the update is the closed-form M-step alone (or no move), which never
    lowers the log-likelihood."""
    passes = 0
    while (summary1 is None or summary1.log_likelihood < floor) and passes < concomitant.MAX_HALVINGS:
        coef = None if state.coef is None else 0.5 * (state.coef + theta1.coef)  # type: ignore[operator]
        params = dict(theta1.params)
        for name in family.newton_params:
            params[name] = 0.5 * (state.params[name] + theta1.params[name])
        theta1 = EMState(theta1.weights, params, coef=coef)
        summary1 = e_step_or_none(family, source, theta1)
        passes += 1
    if summary1 is None:
        summary1 = run_e_step(family, source, theta1)  # says why
    return theta1, summary1, passes


def log_prior(family: Family, state: EMState, weights_prior: float | None = None) -> float:
    """log p(theta): the family's prior plus the Dirichlet prior on the weights (0 without)."""
    return family.log_prior(state.params) + dirichlet_log_density(state.weights, weights_prior)


def expected_complete_ll(family: Family, stats: Any, state: EMState, prior: Any = None) -> float:
    """Q(state | responsibilities behind ``stats``): CV21's ACDLF, eq. (1), from statistics
    (with covariates, ``prior`` holds the prior's part, at the state that made the pass)."""
    if state.coef is not None:
        weights_term = float(prior.q)
    else:
        log_w = log_weights_of(state)
        weights_term = stats.n @ np.where(stats.n > 0, log_w, 0.0)  # 0 log 0 = 0: an emptied component
    return float(weights_term + family.expected_log_prob(stats, state.params, natural_of(family, state)).sum())


def run_e_step(family: Family, source: DataSource, state: EMState) -> Summary:
    """One pass over the source; a log-likelihood that is not finite is an error naming why
    (NaN never flows into the parameters)."""
    summary = source.reduce(lambda chunk: e_step(family, state, chunk))
    check_log_likelihood(summary.log_likelihood)
    return summary


def check_log_likelihood(ll: float) -> None:
    """A log-likelihood that is not finite is an error naming why."""
    if ll == -math.inf:
        raise ModelError(
            "the log-likelihood is -inf: some rows have probability 0 under every component at these "
            "parameters (a value the model gives probability 0)"
        )
    if not math.isfinite(ll):
        raise ModelError(
            f"the log-likelihood is {ll} at these parameters: the data or the parameters are beyond "
            "what floating point holds here (huge or tiny values, or float32); rescale the data "
            "(e.g. divide by a power of 10) or compute in float64"
        )


def check_row_values(log_marginal: FloatArray, responsibilities: bool) -> None:
    """Per-row answers are numbers or an error naming why, never NaN: a NaN log-likelihood of a
    row (its values beyond what floating point holds, e.g. a predictor near 1e160 whose square
    overflows), or, for responsibilities, a row of probability 0 under every component."""
    bad = np.isnan(log_marginal)
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} row(s) (the first: {int(np.argmax(bad))}) have a log-likelihood of nan: their values "
            "are beyond what floating point holds under this model (huge or tiny values); rescale the data"
        )
    if responsibilities and np.any(log_marginal == -math.inf):
        first = int(np.argmax(log_marginal == -math.inf))
        raise DataError(
            f"row {first} has probability 0 under every component (a value the model cannot produce, or "
            "beyond what floating point holds): its responsibilities are undefined"
        )


@dataclass(frozen=True)
class EMSettings:
    """How long EM runs and what it checks: at most ``max_iter`` iterations, until the mean
    log-likelihood (log posterior with a prior) per row gains at most ``tol``; ``debug`` turns
    a decrease into ``MonotonicityError`` instead of a warning."""

    max_iter: int
    tol: float
    weights_prior: float | None = None
    debug: bool = False


@dataclass(frozen=True)
class Resume:
    """Where an interrupted fit stands: ``iteration`` iterations done, their ``history`` rows, and
    what the step kept (``progress``; SQUAREM's pass count and step bound)."""

    iteration: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    progress: dict[str, float] = field(default_factory=dict)


class Step(Protocol):
    """What one EM iteration does after the plain EM update theta_0 -> theta_1."""

    def advance(
        self, ctx: StepContext, theta1: EMState, summary1: Summary, passes: int
    ) -> tuple[EMState, Summary, int]:
        """The state that ends the iteration, its E-step, and the E-step passes made so far."""
        ...

    def progress(self, passes: int) -> dict[str, float]:
        """What a checkpoint keeps to resume this step exactly."""
        ...


@dataclass(frozen=True)
class StepContext:
    """What a step needs to take more E- or M-steps: the model, the data and the settings."""

    family: Family
    source: DataSource
    settings: EMSettings
    theta0: EMState

    def objective(self, state: EMState, summary: Summary) -> float:
        return summary.log_likelihood + log_prior(self.family, state, self.settings.weights_prior)


class PlainStep:
    """Textbook EM: the iteration ends at theta_1 (one E-step pass per iteration)."""

    def advance(
        self, ctx: StepContext, theta1: EMState, summary1: Summary, passes: int
    ) -> tuple[EMState, Summary, int]:
        return theta1, summary1, passes

    def progress(self, passes: int) -> dict[str, float]:
        return {}


def fit_em(
    family: Family,
    source: DataSource,
    state: EMState,
    settings: EMSettings,
    *,
    step: Step | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    on_state: Callable[[int, EMState, list[dict[str, float]], dict[str, float]], None] | None = None,
    resume: Resume | None = None,
) -> FitResult:
    """Iterate EM from ``state`` until the mean log-likelihood per row improves by <= ``tol``.

    Every iteration makes the plain EM update theta_0 -> theta_1 (M-step, then the E-step pass
    at theta_1, which gives its log-likelihood); the convergence test is that update's gain;
    ``step`` (default: plain EM) may then move further, as SQUAREM does (``mixfit.accel``).
    Every returned quantity belongs to the returned state: the loop ends on an E-step, so the
    log-likelihood, ``history[-1]`` and the responsibilities all describe the final parameters.
    ``history[i]`` describes the parameters that entered iteration ``i`` (row 0: the start);
    its ``e_steps`` column counts the E-step passes made up to and including the one at them.

    A fit resumed from a checkpoint passes the state after ``resume.iteration`` iterations and
    the ``history`` rows before it; ``on_state(iteration, state, history, progress)`` is where
    checkpoints are taken. EM is deterministic, so a resumed fit ends exactly where an
    uninterrupted one does.
    """
    step = step or PlainStep()
    resume = resume or Resume()
    summary = run_e_step(family, source, state)
    history = list(resume.history)
    passes = int(resume.progress.get("e_steps", resume.iteration + 1))
    converged, n_iter, scale, names = False, resume.iteration, roundoff_scale(source), flat_names(state)
    defer = len(names) <= DEFER_SIZE
    for n_iter in range(resume.iteration + 1, settings.max_iter + 1):
        theta1 = m_step(family, summary.stats, settings.weights_prior, prior=summary.prior, coef=state.coef)
        warn_if_emptied(state, theta1, n_iter)
        row = record(family, state, summary, theta1, passes, scale, settings.weights_prior, names, defer=True)
        if takes_newton_steps(family, state):
            floor = row["log_posterior"] - ll_roundoff(row)
            first = e_step_or_none(family, source, theta1)
            theta1, summary1, extra = halve_newton_steps(family, source, state, theta1, first, floor)
            passes += extra
        else:
            summary1 = run_e_step(family, source, theta1)
        row[PENDING].ll_after_m = summary1.log_likelihood
        history.append(row if defer else complete_row(row))
        objective1 = summary1.log_likelihood + log_prior(family, theta1, settings.weights_prior)
        if objective1 < row["log_posterior"]:  # the round-off bound is computed only to judge a decrease
            check_monotone(row["log_posterior"], objective1, ll_roundoff(row), n_iter, settings.debug)
        converged = abs(objective1 - row["log_posterior"]) / source.total_weight <= settings.tol
        if not converged and not isinstance(step, PlainStep):  # (plain EM ends the iteration at theta_1)
            ctx = StepContext(family, source, settings, state)
            state, summary, passes = step.advance(ctx, theta1, summary1, passes + 1)
            if state is not theta1 and (objective := ctx.objective(state, summary)) < objective1:
                check_monotone(objective1, objective, ll_roundoff(row), n_iter, settings.debug)
        else:
            state, summary, passes = theta1, summary1, passes + 1
        if on_iteration is not None:
            on_iteration(n_iter, summary.log_likelihood)
        if on_state is not None:
            on_state(n_iter, state, history, step.progress(passes))
        if converged:
            break
    history.append(record(family, state, summary, None, passes, scale, settings.weights_prior, names, defer))
    return FitResult(state, summary.log_likelihood, n_iter, converged, history)


def roundoff_scale(source: DataSource) -> float:
    """How much coarser than float64 the source's arithmetic is: 1, or 1e6 for float32 (whose
    relative precision is ~6e-8 against float64's ~1e-16, with a margin for sums of many rows)."""
    return 1e6 if source.dtype == np.float32 else 1.0


#: A history row's key holding what is left to compute of it (``Pending``).
PENDING = "_pending"
#: Fits whose parameters hold at most this many numbers leave each history row's Q, entropy,
#: ELBO and parameter columns to be computed when the history is read (``complete_history``):
#: a multi-start fit reads one start's history, and on small tables those columns cost as much
#: as the EM iteration itself. Larger fits compute them at once (keeping every iteration's
#: statistics until then would cost memory).
DEFER_SIZE = 4096


@dataclass(slots=True)
class Pending:
    """What a history row still needs: the state, its E-step's statistics, the state after its
    M-step and, once known, the log-likelihood there (for ``kl_after_m``)."""

    family: Family
    state: EMState
    stats: Any
    prior: Any
    new_state: EMState | None
    names: Sequence[str] | None
    scale: float = 1.0
    ll_after_m: float = float("nan")


def record(
    family: Family,
    state: EMState,
    summary: Summary,
    new_state: EMState | None,
    e_steps: int,
    scale: float = 1.0,
    weights_prior: float | None = None,
    names: Sequence[str] | None = None,
    defer: bool = False,
) -> dict[str, Any]:
    """One history row: Sciarra's quantities at ``state`` and, after its M-step, at ``new_state``;
    ``e_steps`` is the number of E-step passes made up to and including the one at ``state``.
    The log-likelihood, its round-off bound and the log posterior (what the loop checks) are
    computed at once (the round-off bound when first asked for, ``ll_roundoff``); with
    ``defer`` the rest waits for ``complete_history``."""
    ll = summary.log_likelihood
    prior_term = log_prior(family, state, weights_prior)
    row: dict[str, Any] = {
        "log_likelihood": ll,
        "e_steps": float(e_steps),
        "log_prior": prior_term,
        "log_posterior": ll + prior_term,
    }
    row[PENDING] = Pending(family, state, summary.stats, summary.prior, new_state, names, scale)
    return row if defer else complete_row(row)


def ll_roundoff(row: dict[str, Any]) -> float:
    """How far the row's log-likelihood may move for reasons other than EM (``MONOTONE_RTOL``
    of it and the family's ``log_likelihood_roundoff``, times the source's ``roundoff_scale``):
    computed when first needed, a decrease to judge or the history read, and kept in the row."""
    value = row.get("ll_roundoff")
    if value is None:
        pending = row[PENDING]
        family, state = pending.family, pending.state
        bound = family.log_likelihood_roundoff(pending.stats, state.params, natural_of(family, state))
        value = row["ll_roundoff"] = pending.scale * (MONOTONE_RTOL * max(1.0, abs(row["log_likelihood"])) + bound)
    return float(value)


def complete_row(row: dict[str, Any]) -> dict[str, float]:
    """A history row with every column, always in this order (``history_frame`` relies on it),
    then the parameters."""
    pending = row.get(PENDING)
    if pending is None:
        return row
    family, state, ll = pending.family, pending.state, row["log_likelihood"]
    q = expected_complete_ll(family, pending.stats, state, pending.prior)
    entropy = ll - q  # H(r) = log p(x) - E_r[log p(x, z)] when r is the exact posterior
    nan = float("nan")
    q_new = nan
    if pending.new_state is not None and pending.new_state.coef is None:  # (with covariates: needs a pass)
        q_new = expected_complete_ll(family, pending.stats, pending.new_state)
    out = {
        "log_likelihood": ll,
        "expected_complete_ll": q,
        "entropy": entropy,
        "elbo": q + entropy,
        "kl": ll - (q + entropy),
        "ll_roundoff": ll_roundoff(row),
        "e_steps": row["e_steps"],
        "log_prior": row["log_prior"],
        "log_posterior": row["log_posterior"],
        "expected_complete_ll_after_m": q_new,
        "elbo_after_m": q_new + entropy,
        "kl_after_m": pending.ll_after_m - (q_new + entropy),
    }
    if state_size(state) <= HISTORY_PARAMETERS:
        out.update(flatten_state(state, pending.names))
    else:
        out.update({f"weight[{k}]": w for k, w in enumerate(state.weights.tolist())})
    return out


def complete_history(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """A fit's history with every row complete: pending rows are computed now and replaced in
    ``rows`` itself, so a checkpoint taken every iteration computes each row once."""
    for i, row in enumerate(rows):
        if PENDING in row:
            rows[i] = complete_row(row)
    return rows


def flat_names(state: EMState) -> tuple[str, ...]:
    """The names of ``flatten_state``'s entries: ``weight[k]``, then ``p[k,d]``..., then
    ``covariate_coef[k,j]`` with covariates."""
    shapes = tuple((name, np.shape(values)) for name, values in state.params.items())
    if state.coef is not None:
        shapes += (("covariate_coef", np.shape(state.coef)),)
    return _flat_names(len(state.weights), shapes)


#: History rows hold every parameter of fits with at most this many numbers; larger fits (a full
#: covariance on hundreds of columns: 361,802 numbers at 600 columns and K = 2, about 50 MB of
#: Python objects a row) keep the weights only, and the fit says so in ``fit_notes_``.
HISTORY_PARAMETERS = 10_000


def state_size(state: EMState) -> int:
    """How many numbers a state holds (weights, parameters, covariate coefficients)."""
    coef = 0 if state.coef is None else np.size(state.coef)
    return state.weights.size + sum(np.size(v) for v in state.params.values()) + coef


def flatten_state(state: EMState, names: Sequence[str] | None = None) -> dict[str, float]:
    """``{"weight[k]": .., "p[k,d]": ..}``: parameters as named scalars (``names``: the state's
    ``flat_names`` when the caller has them)."""
    extra = [] if state.coef is None else [np.ravel(state.coef)]
    values = np.concatenate([state.weights, *(np.ravel(v) for v in state.params.values()), *extra])
    return dict(zip(names or flat_names(state), values.tolist(), strict=True))


@cache
def _flat_names(n_components: int, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[str, ...]:
    names = [f"weight[{k}]" for k in range(n_components)]
    for name, shape in shapes:
        names += [f"{name}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]
    return tuple(names)


def check_monotone(previous: float, current: float, roundoff: float, n_iter: int, debug: bool) -> None:
    if current >= previous - roundoff:
        return
    message = (
        f"log-likelihood (log posterior with a prior) decreased at iteration {n_iter}: "
        f"{previous:.12g} -> {current:.12g}; "
        "EM never decreases it, so this is a bug in mixfit; please report it"
    )
    if debug:
        raise MonotonicityError(message)
    warnings.warn(message, MonotonicityWarning, stacklevel=3)


def warn_if_emptied(old: EMState, new: EMState, n_iter: int) -> None:
    if min(new.weights.tolist()) > 0:  # (a few weights: cheaper as Python floats than a reduction)
        return
    emptied = np.flatnonzero((new.weights == 0) & (old.weights > 0))
    if emptied.size:
        warnings.warn(
            f"component(s) {emptied.tolist()} received no responsibility at iteration {n_iter}; "
            "their weight is now 0 and they stay frozen; try fewer components",
            EmptyComponentWarning,
            stacklevel=3,
        )

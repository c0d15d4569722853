"""Screening starts side by side: the first EM iterations of every start at once.

The screening stage (``mixfit.search``) runs ``screen_iter`` plain EM iterations from each of
``n_init`` starts. On a small table such an iteration costs mostly the Python overhead of a
dozen small NumPy calls, paid once per start and iteration. For a family whose log-density is
linear in a fixed design and whose M-step treats each component alone
(``Family.componentwise``), the S starts' K components are stacked into one mixture of S x K
components: one ``natural``, one design product and one M-step per iteration serve every start,
and only the log-sum-exp and the weights are taken per start. Each start follows its own EM
iterates (stacking changes round-off only) and stops when it converges, as it would alone.

It applies to in-memory tables of one block in float64 without covariates, known labels or
priors; ``screen_together`` returns None otherwise and the starts are screened one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from mixfit import kernels
from mixfit._math import FloatArray, normalize_log_joint
from mixfit.em import (
    MONOTONE_RTOL,
    PENDING,
    EMSettings,
    EMState,
    FitResult,
    Summary,
    check_log_likelihood,
    check_monotone,
    flat_names,
    log_weights,
    record,
    roundoff_scale,
)
from mixfit.errors import ModelError
from mixfit.families import Family
from mixfit.sources import ArraySource, DataSource

#: Side by side only while design rows x starts x components stay below this (the stacked
#: responsibilities are one array of that many cells).
MAX_CELLS = 1 << 22


def screen_together(
    family: Family,
    source: DataSource,
    states: list[EMState],
    settings: EMSettings,
    progress: Sequence[Callable[[int, float], None] | None] = (),
) -> list[FitResult | str] | None:
    """Each start's run of at most ``settings.max_iter`` plain EM iterations (its result, whose
    history rows ``FitResult.rows`` builds when asked, or why it failed), or None when the starts
    cannot run side by side here. ``progress[i]``, when
    given, is called with ``(iteration, log-likelihood)`` for every iteration of start ``i``,
    start by start once all have run (the calls ``em.fit_em`` would make, in the same order as
    screening the starts one by one)."""
    if not _applies(family, source, states, settings):
        return None
    assert isinstance(source, ArraySource)  # (checked by _applies)
    chunk = source.chunk(0)
    design, row_weight = np.asarray(chunk.X), chunk.weight
    n_starts, k = len(states), len(states[0].weights)
    params = {name: np.concatenate([s.params[name] for s in states]) for name in states[0].params}
    weights = np.stack([s.weights for s in states])
    ll, stats = _e_step(family, design, row_weight, params, weights)
    running = np.isfinite(ll)
    n_iter = np.zeros(n_starts, dtype=np.int64)
    trajectory = [ll.copy()]
    trace = Trace(family, k, roundoff_scale(source), [(dict(params), weights, stats)], trajectory)
    converged = np.zeros(n_starts, dtype=bool)
    for iteration in range(1, settings.max_iter + 1):
        if not running.any():
            break
        new_params = family.m_step(stats)
        counts = stats.n.reshape(n_starts, k)
        new_weights = counts / counts.sum(axis=1, keepdims=True)
        new_ll, new_stats = _e_step(family, design, row_weight, new_params, new_weights)
        moved = running.copy()
        fell_finite = running & (new_ll < ll) & np.isfinite(new_ll)  # (not finite: refused below)
        for fell in np.flatnonzero(fell_finite).tolist():  # a fall beyond round-off is a bug
            bound = MONOTONE_RTOL * max(1.0, abs(ll[fell])) + _roundoff(family, stats, params, fell, k)
            check_monotone(ll[fell], new_ll[fell], bound, iteration, settings.debug)
        gain = np.abs(new_ll - ll) / source.total_weight
        rows = np.repeat(moved, k)
        for name, value in new_params.items():
            params[name] = np.where(rows.reshape(-1, *([1] * (value.ndim - 1))), value, params[name])
        weights = np.where(moved[:, None], new_weights, weights)
        stats = _select(family, moved, k, new_stats, stats)
        ll = np.where(moved, new_ll, ll)
        trajectory.append(ll)
        trace.states.append((dict(params), weights, stats))
        n_iter[moved] = iteration
        finished = moved & (gain <= settings.tol)
        converged |= finished
        running &= ~finished & np.isfinite(ll)
    for start, report in enumerate(progress):
        for iteration in range(1, int(n_iter[start]) + 1):
            if report is not None and np.isfinite(trajectory[iteration][start]):
                report(iteration, float(trajectory[iteration][start]))
    results: list[FitResult | str] = []
    for start in range(n_starts):
        try:
            check_log_likelihood(float(ll[start]))
        except ModelError as exc:
            results.append(str(exc))
            continue
        block = slice(start * k, (start + 1) * k)
        state = EMState(weights[start].copy(), {name: v[block].copy() for name, v in params.items()})
        build = partial(trace.rows, start, int(n_iter[start]))
        results.append(FitResult(state, float(ll[start]), int(n_iter[start]), bool(converged[start]), [], build))
    return results


@dataclass
class Trace:
    """The stacked states, statistics and log-likelihoods of every screening iteration (each an
    array the loop made anew, kept by reference), from which a start's history rows are built
    when asked: only the starts kept for the final stage ever are."""

    family: Family
    n_components: int
    scale: float
    states: list[tuple[dict[str, FloatArray], FloatArray, Any]]
    log_likelihoods: list[FloatArray]

    def rows(self, start: int, n_iter: int) -> list[dict[str, Any]]:
        """Start ``start``'s history rows 0..``n_iter``, as ``em.fit_em`` records them."""
        block = slice(start * self.n_components, (start + 1) * self.n_components)
        states = [
            EMState(weights[start], {name: value[block] for name, value in params.items()})
            for params, weights, _ in self.states[: n_iter + 1]
        ]
        names = flat_names(states[0])
        rows = []
        for i, state in enumerate(states):
            stacked = self.states[i][2]
            stats = self.family.named_stats(stacked.n[block], stacked.t_sum[block])
            summary = Summary(stats, float(self.log_likelihoods[i][start]))
            after = states[i + 1] if i < n_iter else None
            row = record(self.family, state, summary, after, i + 1, self.scale, None, names, defer=True)
            if after is not None:
                row[PENDING].ll_after_m = float(self.log_likelihoods[i + 1][start])
            rows.append(row)
        return rows


def _applies(family: Family, source: DataSource, states: list[EMState], settings: EMSettings) -> bool:
    if len(states) < 2 or not family.componentwise or settings.weights_prior is not None:
        return False
    if getattr(family, "prior", None) is not None or family.newton_params:
        return False
    if not isinstance(source, ArraySource) or source.n_blocks != 1 or source.dtype != np.float64:
        return False
    if source.fixed is not None or source.covariates is not None:
        return False
    if any(s.coef is not None for s in states):
        return False
    return source.design.shape[0] * len(states) * len(states[0].weights) <= MAX_CELLS


def _e_step(
    family: Family, design: FloatArray, row_weight: FloatArray | None, params: dict, weights: FloatArray
) -> tuple[FloatArray, Any]:
    """Every start's log-likelihood (S,) and the stacked statistics: the compiled pass over S
    groups of K components (``kernels.linear_pass``) where it applies, else ``em.posterior``'s
    log-sum-exp (``_math.normalize_log_joint``) over each start's K components, the starts laid
    side by side as K rows of S x n columns."""
    n_starts, k = weights.shape
    coef, bias = family.natural(params)
    if family.linear_pass:
        compiled = kernels.linear_pass(design, row_weight, coef, bias, weights, n_groups=n_starts)
        if compiled is not None:
            ll, n, product = compiled
            return ll, family.named_stats(n, product)
    joint = family.log_prob_by_component(design, params, (coef, bias))
    joint += log_weights(weights).reshape(-1)[:, None]
    n_rows = joint.shape[1]
    side_by_side = np.ascontiguousarray(joint.reshape(n_starts, k, n_rows).transpose(1, 0, 2)).reshape(k, -1)
    weight = None if row_weight is None else np.tile(row_weight, n_starts)
    with np.errstate(invalid="ignore"):  # a start whose rows are all -inf: NaN, refused by the caller
        log_marginal = normalize_log_joint(side_by_side, weight).reshape(n_starts, n_rows)
    ll = log_marginal.sum(axis=1) if row_weight is None else log_marginal @ row_weight
    resp = side_by_side.reshape(k, n_starts, n_rows).transpose(1, 0, 2).reshape(n_starts * k, n_rows)
    return np.asarray(ll, dtype=float), family.stats_by_component(design, resp)


def _select(family: Family, moved: np.ndarray, k: int, new: Any, old: Any) -> Any:
    """The stacked statistics (``DesignStats``): ``new`` for the starts that moved, ``old`` for
    the others."""
    keep = np.repeat(moved, k)
    return family.named_stats(np.where(keep, new.n, old.n), np.where(keep[:, None], new.t_sum, old.t_sum))


def _roundoff(family: Family, stats: Any, params: dict, start: int, k: int) -> float:
    """Start ``start``'s ``log_likelihood_roundoff``, from its block of the stacked statistics."""
    block = slice(start * k, (start + 1) * k)
    own = family.named_stats(stats.n[block], stats.t_sum[block])
    return float(family.log_likelihood_roundoff(own, {name: v[block] for name, v in params.items()}))

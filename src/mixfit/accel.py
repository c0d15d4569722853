"""SQUAREM: squared iterative extrapolation over the EM map (Varadhan and Roland, 2008).

EM is a fixed-point iteration theta <- F(theta) that crawls when components overlap (its rate is
the fraction of missing information). One SQUAREM iteration takes two EM steps from theta_0,

    theta_1 = F(theta_0),  theta_2 = F(theta_1),  r = theta_1 - theta_0,  v = theta_2 - 2 theta_1 + theta_0,

and jumps along them with the step length of their scheme S3, alpha = max(1, ||r|| / ||v||)
capped at ``step_max``:

    theta' = theta_0 + 2 alpha r + alpha^2 v      (alpha = 1 gives theta_2 exactly).

The jump is a linear combination with coefficients summing to 1, so weights still sum to 1 and
categorical rows still sum to 1; it is kept only when its parameters are valid (``Family.
valid_params``) and its log-likelihood, from the E-step pass that the next iteration needs
anyway, is at least that of theta_1. Otherwise the iteration falls back to theta_2, the plain EM
step, whose log-likelihood is never below theta_1's. So the log-likelihood never decreases, and
an accepted jump costs two E-step passes for what plain EM needs many for. As in the SQUAREM
R package, ``step_max`` starts at 1, grows fourfold whenever a jump used it all and is accepted,
and shrinks fourfold (not below 1) when a jump at ``step_max`` is refused. The first ``WARMUP``
iterations are plain EM steps.

The stopping rule is plain EM's: the fit stops when one EM step (theta_0 to theta_1) gains no
more than ``tol`` per row, and returns theta_1 with its E-step (one pass, no jump).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import expit

from mixfit._math import PROB_EPS, clamp_probs
from mixfit.em import (
    MONOTONE_RTOL,
    EMState,
    PlainStep,
    Step,
    StepContext,
    Summary,
    e_step_or_none,
    halve_newton_steps,
    m_step,
    natural_of,
    run_e_step,
    takes_newton_steps,
)
from mixfit.errors import ModelError
from mixfit.families import CONSTRAINED_COVARIANCE, Family

ACCELERATIONS = ("auto", None, "squarem")
#: How much ``step_max`` grows after an accepted full-length jump and shrinks after a refused one.
STEP_FACTOR = 4.0
#: Plain EM iterations before the first jump. EM's first iterations make its largest moves, and
#: a jump along them can carry a fit into another basin of attraction than the one its start lies
#: in (measured: a 4-class categorical fit of `benchmarks/bench_small.py`'s slow set, seed 2,
#: ended 0.94 lower after 45,024 passes; after 10 plain iterations it ends at plain EM's maximum
#: in 5,808 passes).
WARMUP = 10
#: Probabilities within this of 0 or 1 are held at theta_2's value, not extrapolated (``_interior``).
BOUNDARY = 1e-8


class FreeScale:
    """Weights and parameters of three EM states on an unconstrained scale, where jumps stay valid.

    Each parameter goes to the scale its family names (``Family.param_scale``): weights and
    simplexes to the log scale, coming back renormalised; probabilities to the logit scale;
    rates and variances to the log scale; means and covariance matrices stay as they are (a jump
    to a covariance that is not positive definite is refused like any invalid jump). Entries
    on or next to the boundary in any of the three states (emptied components, categorical
    padding, levels a class never shows, probabilities within ``BOUNDARY`` of 0 or 1) are not
    extrapolated: they keep theta_2's value.
    """

    def __init__(self, family: Family, states: tuple[EMState, EMState, EMState]) -> None:
        self.family, self.like = family, states[2]
        tables = [self._tables(state) for state in states]
        self.scales = ["simplex", *(family.param_scale(name) for name in self.like.params)]
        if self.like.coef is not None:  # covariate coefficients: unconstrained
            self.scales.append("real")
        self.free: list[np.ndarray | None] = []  # None: every entry is free
        parts = []
        for i, scale in enumerate(self.scales):  # each table's three versions at once
            stacked = np.array([t[i] for t in tables])
            free = None if scale == "real" else _interior(stacked, scale)
            values = stacked.reshape(len(tables), -1) if free is None else stacked[:, free]
            if scale == "probability":
                values = np.log(values) - np.log1p(-values)
            elif scale != "real":
                values = np.log(values)
            self.free.append(free)
            parts.append(values)
        self.sizes = [part.shape[1] for part in parts]
        self.like_tables = tables[2]
        self.points = np.concatenate(parts, axis=1)  # one row per state

    def _tables(self, state: EMState) -> list[np.ndarray]:
        coef = [] if state.coef is None else [np.asarray(state.coef, dtype=float)]
        return [state.weights, *(np.asarray(v, dtype=float) for v in state.params.values()), *coef]

    def state(self, vector: np.ndarray) -> EMState:
        """The state at a point of the free scale (probabilities kept in [PROB_EPS, 1 - PROB_EPS])."""
        tables, offset = [], 0
        for table, free, scale, size in zip(self.like_tables, self.free, self.scales, self.sizes, strict=True):
            values = vector[offset : offset + size]
            offset += size
            if scale == "simplex":
                tables.append(_simplex(table, free, values))
                continue
            if scale == "positive":
                values = np.exp(values)
            elif scale != "real":
                values = clamp_probs(expit(values))
            if free is None:
                tables.append(values.reshape(table.shape))
            else:
                out = table.copy()
                out[free] = values
                tables.append(out)
        n_params = len(self.like.params)
        coef = tables[1 + n_params] if self.like.coef is not None else None
        return EMState(tables[0], dict(zip(self.like.params, tables[1 : 1 + n_params], strict=True)), coef=coef)


def _interior(stacked: np.ndarray, scale: str) -> np.ndarray | None:
    """The entries inside the parameter space in every version of a table (``stacked`` on the
    first axis), or None when all are. For probabilities and simplexes "inside" means more
    than ``BOUNDARY`` from 0 (and from 1): an entry EM is driving to the boundary reaches the
    clamp, where it stops moving, and such entries would set the step length (their last move
    undone, ``v = -r``, pins ``alpha`` near 1: measured on a 4-class categorical fit, 5,778
    passes against plain EM's 6,553)."""
    floor = BOUNDARY if scale in ("simplex", "probability") else 0.0
    free = stacked.min(axis=0) > floor
    if scale == "probability":
        free &= stacked.max(axis=0) < 1.0 - floor
    return None if free.all() else free


def _simplex(like: np.ndarray, free: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """Simplexes (last axis) from log-scale ``values`` of their free entries: the free entries
    share what the held ones (``like``'s values elsewhere) leave of 1."""
    grown = np.maximum(np.exp(values - values.max(initial=0.0)), PROB_EPS)
    if free is None:
        grown = grown.reshape(like.shape)
        return grown * (1.0 / np.maximum(grown.sum(axis=-1, keepdims=True), 1e-300))
    out = np.zeros_like(like)
    out[free] = grown
    held = np.where(free, 0.0, like)
    share = (1.0 - held.sum(axis=-1, keepdims=True)) / np.maximum(out.sum(axis=-1, keepdims=True), 1e-300)
    out *= share
    return np.where(free, out, held)


def extrapolate(
    family: Family, theta0: EMState, theta1: EMState, theta2: EMState, step_max: float
) -> tuple[Callable[[float], EMState], float]:
    """The jump as a function of alpha, and alpha of scheme S3 capped at ``step_max``."""
    scale = FreeScale(family, (theta0, theta1, theta2))
    x0, x1, x2 = scale.points
    r, v = x1 - x0, x2 - 2 * x1 + x0
    squared_v = float(v @ v)
    alpha = 1.0 if squared_v == 0 else min(max(math.sqrt(float(r @ r) / squared_v), 1.0), step_max)
    return (lambda a: scale.state(x0 + 2 * a * r + a**2 * v)), alpha


class Squarem:
    """The SQUAREM step of ``em.fit_em``: after theta_1, theta_2 and the jump (see above).
    ``progress`` (``e_steps``, ``step_max``) of a checkpoint resumes it exactly."""

    def __init__(self, progress: dict[str, float] | None = None) -> None:
        self.step_max = float((progress or {}).get("step_max", 1.0))
        self.iterations = int((progress or {}).get("iterations", 0))

    def advance(
        self, ctx: StepContext, theta1: EMState, summary1: Summary, passes: int
    ) -> tuple[EMState, Summary, int]:
        """theta' with its E-step when it is no worse than theta_1 (log-likelihood, or log
        posterior with a prior), else theta_2 with its own."""
        self.iterations += 1
        if self.iterations <= WARMUP:  # plain EM steps first (see WARMUP)
            return theta1, summary1, passes
        family, source = ctx.family, ctx.source
        theta2 = m_step(family, summary1.stats, ctx.settings.weights_prior, prior=summary1.prior, coef=theta1.coef)
        objective1 = ctx.objective(theta1, summary1)
        jump_to, alpha = extrapolate(family, ctx.theta0, theta1, theta2, self.step_max)
        at_bound = alpha == self.step_max
        candidate = jump_to(alpha)
        if alpha > 1.0 and _valid(family, candidate):
            jumped = e_step_or_none(family, source, candidate)  # None: not finite there, refused
            passes += 1
            if jumped is not None and ctx.objective(candidate, jumped) >= objective1:
                if at_bound:
                    self.step_max *= STEP_FACTOR
                return candidate, jumped, passes
        if at_bound and alpha == 1.0:  # theta_2 itself was the longest step allowed
            self.step_max *= STEP_FACTOR
        elif at_bound:  # the longest step was refused
            self.step_max = max(1.0, self.step_max / STEP_FACTOR)
        if takes_newton_steps(family, theta1):  # theta_2's Newton steps, halved while they lose
            floor = objective1 - MONOTONE_RTOL * max(1.0, abs(objective1))
            first = e_step_or_none(family, source, theta2)
            theta2, summary2, extra = halve_newton_steps(family, source, theta1, theta2, first, floor)
            return theta2, summary2, passes + 1 + extra
        return theta2, run_e_step(family, source, theta2), passes + 1

    def progress(self, passes: int) -> dict[str, float]:
        return {"e_steps": float(passes), "step_max": self.step_max, "iterations": float(self.iterations)}


def resolved(accelerate: str | None, params_init: object, family: Family) -> str | None:
    """The ``accelerate`` setting with "auto" decided: SQUAREM for fits from data, plain EM for
    fits from given parameters (``params_init``: the textbook iterates, one EM update per
    iteration, as the worked examples (docs/references.md) and ``max_iter=1`` promise). Plain EM
    always for covariance models with a shared orientation, shape or volume beside varying ones:
    a jump mixes the covariances of three iterates, which leaves the model (a point of higher
    likelihood than the model allows, from which EM's next step falls)."""
    if _constrained_matrices(family):
        return None
    if accelerate == "auto":
        return "squarem" if params_init is None else None
    return accelerate


def _constrained_matrices(family: Family) -> bool:
    return any(spec.domain == CONSTRAINED_COVARIANCE for spec in family.param_specs())


def step_for(accelerate: str | None, progress: dict[str, float] | None = None) -> Step:
    """The step of a resolved ``accelerate`` setting: plain EM (None) or SQUAREM."""
    return Squarem(progress) if accelerate == "squarem" else PlainStep()


def _valid(family: Family, state: EMState) -> bool:
    """Finite parameters the family accepts (an extrapolated covariance may not be positive definite)."""
    if not (np.isfinite(state.weights).all() and all(np.isfinite(v).all() for v in state.params.values())):
        return False
    if state.coef is not None and not np.isfinite(state.coef).all():
        return False
    try:
        natural_of(family, state)
    except ModelError:
        return False
    return True

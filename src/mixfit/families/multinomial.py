"""Multinomial components: D count columns whose per-row totals may differ; ``p`` (K, D)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from mixfit._math import PROB_EPS, FloatArray
from mixfit._validation import as_float_array, check_finite_numeric, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import SIMPLEX, DesignStats, Family, Params, ParamSpec
from mixfit.families.poisson import check_counts
from mixfit.priors import check_dirichlet, dirichlet_log_density, dirichlet_mode


@dataclass(frozen=True, slots=True)
class MultinomialStats(DesignStats):
    """``counts``: ``sum_n r_nk x_nd`` (K, D); ``log_coef``: ``sum_n r_nk log multinomial
    coefficient of row n`` (K, 1)."""

    counts: FloatArray
    log_coef: FloatArray


class Multinomial(Family):
    """Counts over D categories per row (bag-of-words, allele counts), one simplex per component.

    ``log p(x | p_k) = log(n! / prod_d x_d!) + sum_d x_d log p_kd`` with ``n = sum_d x_d``: the
    design matrix is ``[x_1..x_D, log multinomial coefficient]``. M-step: ``p_k`` is the
    component's expected counts normalised (with a Dirichlet(alpha) prior: plus alpha - 1 each).

    Parameters
    ----------
    n_trials : int, optional
        Total per row used by ``sample`` (fitting reads each row's own total).
    prior : float, optional
        Concentration (>= 1) of a symmetric Dirichlet prior on each ``p_k``.

    Examples
    --------
    >>> import mixfit as mf
    >>> X = [[5, 1, 0], [4, 2, 0], [0, 1, 6], [1, 0, 9]]
    >>> m = mf.Mixture(mf.Multinomial(), 2, random_state=0).fit(X)
    >>> sorted(m.params_["p"][:, 0].round(3).tolist())
    [0.059, 0.75]
    """

    name = "multinomial"
    componentwise = True

    def __init__(self, n_trials: int | None = None, *, prior: float | None = None) -> None:
        self.n_trials = n_trials
        self.prior = check_dirichlet(prior)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        data = check_finite_numeric(X, columns)
        if data.shape[1] < 2:
            raise DataError(f"Multinomial data need at least 2 count columns; got {data.shape[1]}")
        check_counts(data, columns, "Multinomial")
        totals = data.sum(axis=1)
        if np.any(totals == 0):
            raise DataError(f"row {int(np.argmax(totals == 0))} has a total count of 0; Multinomial rows need >= 1")
        return data

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return list(columns)

    def complete_design(self, data: FloatArray) -> FloatArray:
        log_coef = gammaln(data.sum(axis=1) + 1.0) - gammaln(data + 1.0).sum(axis=1)
        return np.hstack([data, log_coef[:, None]])

    def design_names(self, names: Sequence[str]) -> list[str]:
        return [*names, "log_multinomial_coef"]

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        p = params["p"]
        coef = np.hstack([np.log(np.maximum(p, PROB_EPS)), np.ones((p.shape[0], 1))])
        return coef, np.zeros(p.shape)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("p", SIMPLEX, "probability"),)

    def named_stats(self, n: FloatArray, product: FloatArray) -> MultinomialStats:
        return MultinomialStats(n, product, product[:, :-1], product[:, -1:])

    def m_step(self, stats: MultinomialStats) -> dict[str, FloatArray]:
        counts = stats.counts
        p = dirichlet_mode(counts, self.prior)
        empty = counts.sum(axis=1) == 0
        p[empty] = 1.0 / counts.shape[1]
        return {"p": p}

    def log_prior(self, params: Params) -> float:
        return dirichlet_log_density(params["p"], self.prior)

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        p = as_float_array("params_init['p']", get_param(params, "p"))
        if p.shape != (n_components, n_features):
            raise ModelError(f"params_init['p'] must have shape {(n_components, n_features)}; got {p.shape}")
        if np.any(p < 0) or np.any(np.abs(p.sum(axis=1) - 1) > 1e-6):
            raise ModelError("params_init['p'] rows must be >= 0 and sum to 1")
        return {"p": p / p.sum(axis=1, keepdims=True)}

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.n_trials is None:
            raise ModelError("sampling a Multinomial needs its total per row: give Multinomial(n_trials=...)")
        return np.array([rng.multinomial(self.n_trials, params["p"][k]) for k in labels]).reshape(len(labels), -1)

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        return {name: data[:, j].astype(np.int64) for j, name in enumerate(names)}

    def init_features(self, design: FloatArray) -> FloatArray:
        counts = design[:, :-1]
        return counts / counts.sum(axis=1, keepdims=True)

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        largest = int(data.sum(axis=1).max())
        if n_components > 1 and largest < 2 * n_components - 1:
            return (
                f"a Multinomial mixture of {n_components} components whose rows total at most {largest} "
                f"is not identifiable: totals must reach 2K - 1 = {2 * n_components - 1}; use fewer components"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.name, "n_trials": self.n_trials, "prior": self.prior}

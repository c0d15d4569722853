"""Binomial components: D count columns out of n trials, ``p`` of shape (K, D) (Ch6)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import PROB_EPS, FloatArray, clamp_probs, log_binom_coef, whole_numbers
from mixfit._validation import (
    as_float_array,
    check_column,
    check_finite_numeric,
    check_probability_table,
    column_label,
    get_param,
)
from mixfit.errors import DataError, ModelError
from mixfit.families._base import DesignStats, Family, Params
from mixfit.priors import beta_log_density, beta_mode, check_beta


@dataclass(frozen=True, slots=True)
class BinomialStats(DesignStats):
    """``successes``: ``sum_n r_nk x_nd`` (K, D), Ch6's Table 6.3; ``trials``:
    ``sum_n r_nk n_n`` (K, 1), or with missing data ``sum_n r_nk n_n o_nd`` (K, D), the trials of
    the rows observing each column; ``log_binom_coef``: ``sum_n r_nk sum_d log C(n_n, x_nd)``
    (K, 1); ``observed``: expected rows observing each column (K, D), with missing data only."""

    successes: FloatArray
    trials: FloatArray
    log_binom_coef: FloatArray
    observed: FloatArray | None = None


class Binomial(Family):
    """Counts of successes out of ``n_trials`` per column, independent given the component.

    ``log p(x | p_k) = sum_d log C(n, x_d) + x_d log p_kd + (n - x_d) log(1 - p_kd)``, all
    constants included. The design matrix is ``[x_1..x_D, n, sum_d log C(n, x_d)]``, so the
    statistics ``resp.T @ design`` hold Ch6's Table 6.3 (expected successes), the expected
    number of trials, and the expected base measure. M-step (Ch6, eq. (6.15)):
    ``p_kd = sum_n r_nk x_nd / sum_n r_nk n_n``.

    With missing counts (NaN, missing at random) a row's log-density sums over its observed
    columns only, so the design becomes ``[x_1..x_D, n o_1..n o_D, sum_d o_d log C(n, x_d)]``
    (``o_d`` = 1 where column d is observed) and ``p_kd`` divides by the trials of the rows that
    observe column d.

    Parameters
    ----------
    n_trials : int, str or array of shape (n_samples,)
        Trials per row: one number for all rows, the name of a DataFrame column holding it, or
        a per-row array (training data only).
    missing : bool, default=False
        Model NaN counts as missing at random (set automatically for data in memory).

    Examples
    --------
    >>> import mixfit as mf
    >>> x = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2, 5, 2, 4, 4, 6, 4, 5, 6, 3, 3]
    >>> m = mf.Mixture(mf.Binomial(n_trials=10), n_components=3, max_iter=1,
    ...                weights_init=[0.25, 0.5, 0.25], params_init={"p": [0.4, 0.5, 0.65]})
    >>> m.fit(x).weights_.round(7).tolist()
    [0.3337246, 0.5261878, 0.1400877]
    """

    name = "binomial"
    componentwise = True
    supports_missing = True

    def __init__(
        self, n_trials: int | str | Any = 1, *, prior: tuple[float, float] | None = None, missing: bool = False
    ) -> None:
        self.prior = check_beta(prior)
        self.missing = bool(missing)
        if isinstance(n_trials, str):
            self.n_trials: int | str | np.ndarray = n_trials
        elif isinstance(n_trials, numbers.Integral) and not isinstance(n_trials, bool):
            if not 1 <= int(n_trials) <= MAX_TRIALS:
                raise ModelError(f"n_trials must be an int between 1 and {MAX_TRIALS:.0e}; got {n_trials}{TRIALS_WHY}")
            self.n_trials = int(n_trials)
        else:
            self.n_trials = _check_trials(np.asarray(n_trials), "n_trials")

    def _split(self, X: np.ndarray, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray | float, list[str]]:
        if isinstance(self.n_trials, str):
            check_column(self.n_trials, columns, "the data (n_trials column)")
            j = list(columns).index(self.n_trials)
            n = _check_trials(X[:, j], f"n_trials column {self.n_trials!r}")
            keep = [i for i in range(X.shape[1]) if i != j]
            if not keep:
                raise DataError(f"Binomial needs a count column besides n_trials column {self.n_trials!r}")
            return X[:, keep], n, [columns[i] for i in keep]
        if isinstance(self.n_trials, np.ndarray):
            if self.n_trials.shape != (X.shape[0],):
                raise DataError(f"n_trials must have one entry per row ({X.shape[0]}); got shape {self.n_trials.shape}")
            return X, self.n_trials, list(columns)
        return X, float(self.n_trials), list(columns)

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        return self.for_data(X)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        counts, n, names = self._split(X, columns)
        data = check_finite_numeric(counts, names, allow_nan=True)
        for j in range(data.shape[1]):
            col = data[:, j]
            if np.isscalar(n) and col.min(initial=0.0) >= 0 and col.max(initial=0.0) <= n and whole_numbers(col):
                continue  # valid, checked without a temporary of the column's size
            bad = ((col < 0) | (col != np.floor(col)) | (col > n)) & ~np.isnan(col)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"{column_label(names, j)} must hold whole counts between 0 and n_trials; "
                    f"got {col[i]:g} with n_trials {np.broadcast_to(n, col.shape)[i]:g} in row {i}"
                )
        out = np.empty((data.shape[0], data.shape[1] + 1))
        out[:, :-1], out[:, -1] = data, n
        return out

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return [c for c in columns if c != self.n_trials] if isinstance(self.n_trials, str) else list(columns)

    def complete_design(self, data: FloatArray) -> FloatArray:
        x, n = data[:, :-1], data[:, -1:]
        if not self.missing:
            base = log_binom_coef(n, x).sum(axis=1, keepdims=True)
            return np.hstack([data, base])
        observed = ~np.isnan(x)
        empty = ~observed.any(axis=1)
        if empty.any():
            raise DataError(f"row {int(np.argmax(empty))} is entirely missing; drop rows with no observed value")
        filled = np.where(observed, x, 0.0)
        base = np.where(observed, log_binom_coef(n, filled), 0.0).sum(axis=1, keepdims=True)
        return np.hstack([filled, n * observed, base])

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        """Coefficients of ``[x, n, log C]`` (with missing data ``[x, n o, log C]``); the
        constant is carried by the trials column(s)."""
        p = clamp_probs(params["p"])
        log1m = np.log1p(-p)
        ones = np.ones((p.shape[0], 1))
        if self.missing:  # (the observed indicators include the trials column's, always 1)
            return np.hstack([np.log(p) - log1m, log1m, ones]), np.zeros((p.shape[0], p.shape[1] + 1))
        coef = np.hstack([np.log(p) - log1m, log1m.sum(axis=1, keepdims=True), ones])
        return coef, np.zeros((p.shape[0], p.shape[1] + 1))

    def validated_width(self, n_columns: int) -> int:
        return n_columns if isinstance(self.n_trials, str) else n_columns + 1

    def named_stats(self, n: FloatArray, product: FloatArray) -> BinomialStats:
        if self.missing:  # [x (D), n o (D), log C, observed (D, then the trials column's)]
            d = (product.shape[1] - 2) // 3
            parts = product[:, :d], product[:, d : 2 * d], product[:, 2 * d : 2 * d + 1], product[:, -d - 1 : -1]
            return BinomialStats(n, product, *parts)
        return BinomialStats(n, product, product[:, :-2], product[:, -2:-1], product[:, -1:])

    def m_step(self, stats: BinomialStats) -> dict[str, FloatArray]:
        return {"p": beta_mode(stats.successes, stats.trials, self.prior)}

    def log_prior(self, params: Params) -> float:
        return beta_log_density(params["p"], self.prior)

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        p = as_float_array("params_init['p']", get_param(params, "p"))
        if p.ndim == 1 and n_features == 1:
            p = p[:, None]
        return {"p": check_probability_table("params_init['p']", p, (n_components, n_features))}

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not isinstance(self.n_trials, int):
            raise ModelError(f"sampling needs an int n_trials; this model has n_trials={self.n_trials!r}")
        return rng.binomial(self.n_trials, params["p"][labels])

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        whole = not np.isnan(data).any()  # with missing counts, floats (NaN where missing)
        rows = {name: data[:, j].astype(np.int64) if whole else data[:, j] for j, name in enumerate(names)}
        if not isinstance(self.n_trials, int):
            rows["n_trials"] = data[:, -1].astype(np.int64)
        return rows

    def design_names(self, names: Sequence[str]) -> list[str]:
        return [*names, "trials", "log_binom_coef"]

    def init_features(self, design: FloatArray) -> FloatArray:
        """Each row's share of successes per column (0 where a column is missing)."""
        if self.missing:
            d = (design.shape[1] - 2) // 3  # [x, n o, log C, observed (D + 1)]
            trials = design[:, d : 2 * d]
            return design[:, :d] / np.where(trials > 0, trials, 1.0)
        return design[:, :-2] / design[:, -2:-1]

    def count_support(self, observed: np.ndarray) -> np.ndarray | None:
        """0..n_trials for a fixed n_trials."""
        return np.arange(self.n_trials + 1) if isinstance(self.n_trials, int) else None

    def n_patterns(self, data: FloatArray) -> int | None:
        """(n_trials + 1) ** D for a fixed n_trials (the last column of ``data`` holds it)."""
        if not isinstance(self.n_trials, int) or self.missing:
            return None
        return (self.n_trials + 1) ** (data.shape[1] - 1)

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        max_trials = int(data[:, -1].max())
        if data.shape[1] == 2 and n_components > 1 and max_trials < 2 * n_components - 1:
            return (
                f"a Binomial mixture of {n_components} components with n_trials={max_trials} is not "
                f"identifiable: n_trials must be at least 2K - 1 = {2 * n_components - 1} "
                f"(Teicher, 1963); the data determine only the first {max_trials} moments of the "
                "mixing distribution; use fewer components or more trials per row"
            )
        return None

    def __repr__(self) -> str:
        if isinstance(self.n_trials, np.ndarray):
            return f"Binomial(n_trials=<per-row array of {self.n_trials.size}>)"
        return super().__repr__()

    def to_dict(self) -> dict[str, Any]:
        if isinstance(self.n_trials, np.ndarray):
            raise ModelError("a Binomial with a per-row n_trials array cannot be saved; use a column name")
        return {"family": self.name, "n_trials": self.n_trials, "prior": self.prior, "missing": self.missing}


def _check_trials(n: np.ndarray, what: str) -> FloatArray:
    try:
        n = np.asarray(n, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric") from None
    bad = ~np.isfinite(n) | (n < 1) | (n != np.round(n))
    if n.ndim != 1 or bad.any():
        value = n[bad][0] if n.ndim == 1 else n.shape
        raise DataError(f"{what} must hold whole numbers >= 1; got {value}")
    if n.max() > MAX_TRIALS:
        raise DataError(f"{what} must hold whole numbers up to {MAX_TRIALS:.0e}; got {n.max():.3g}{TRIALS_WHY}")
    return n


#: Probabilities are held at least PROB_EPS from 0 and 1, so more trials than 1 / PROB_EPS
#: would give fitted probabilities at the clamp rather than at the count's share.
MAX_TRIALS = int(round(1 / PROB_EPS))
TRIALS_WHY = " (success probabilities below 1e-12 are held at the boundary; model such counts as Poisson)"

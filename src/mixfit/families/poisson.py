"""Poisson components: D count columns, ``rate`` of shape (K, D)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from mixfit._math import FloatArray, safe_divide
from mixfit._validation import as_float_array, check_finite_numeric, column_label, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import POSITIVE, DesignStats, Family, Params, ParamSpec, observed_or_all, observed_split
from mixfit.priors import check_gamma, gamma_log_density

#: Rates are kept at or above this, so that log(rate) is finite for a column a component never counts.
RATE_FLOOR = 1e-12


def check_counts(data: FloatArray, columns: Sequence[str], family: str) -> None:
    """Whole numbers >= 0 (NaN allowed: missing), else ``DataError`` naming the column."""
    bad = ((data < 0) | (data != np.floor(data))) & ~np.isnan(data)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        value = data[:, j][bad[:, j]][0]
        raise DataError(f"{column_label(columns, j)} must hold whole counts >= 0 for {family}; got {value:g}")


@dataclass(frozen=True, slots=True)
class PoissonStats(DesignStats):
    """``counts``: ``sum_n r_nk x_nd`` (K, D); ``log_factorial``: ``-sum_n r_nk sum_d log x_nd!``
    (K, 1); ``observed``: expected rows observing each column (K, D), with missing data only."""

    counts: FloatArray
    log_factorial: FloatArray
    observed: FloatArray | None = None


class Poisson(Family):
    """Independent Poisson counts per component (count data, as flexmix's ``FLXMCmvpois``).

    ``log p(x | rate_k) = sum_d x_d log rate_kd - rate_kd - log x_d!``: the design matrix is
    ``[x_1..x_D, -sum_d log x_d!]`` with coefficients ``[log rate_k, 1]`` and the constant
    ``-sum_d rate_kd``. M-step: ``rate_kd = sum_n r_nk x_nd / sum_n r_nk`` (with a
    Gamma(shape, rate) prior: ``(sum r x + shape - 1) / (sum r + rate)``).

    Parameters
    ----------
    missing : bool, default=False
        Model NaN entries as missing at random (set automatically for data in memory).
    prior : (shape, rate), optional
        Gamma prior on every rate (shape >= 1, rate > 0) for MAP EM.

    Examples
    --------
    >>> import mixfit as mf
    >>> x = [0, 1, 0, 2, 1, 9, 11, 10, 12, 8]
    >>> m = mf.Mixture(mf.Poisson(), 2, params_init={"rate": [[1.0], [5.0]]}).fit(x)
    >>> m.weights_.round(3).tolist(), m.params_["rate"][:, 0].round(3).tolist()
    ([0.498, 0.502], [0.796, 9.969])
    """

    name = "poisson"
    componentwise = True
    supports_missing = True

    def __init__(self, *, missing: bool = False, prior: tuple[float, float] | None = None) -> None:
        self.missing = bool(missing)
        self.prior = check_gamma(prior)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("rate", POSITIVE, "rate"),)

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        return self.for_data(X)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        data = check_finite_numeric(X, columns, allow_nan=True)
        check_counts(data, columns, "Poisson")
        return data

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return list(columns)

    def complete_design(self, data: FloatArray) -> FloatArray:
        x = np.nan_to_num(data, nan=0.0)
        return np.hstack([x, -gammaln(x + 1.0).sum(axis=1, keepdims=True)])

    def design_names(self, names: Sequence[str]) -> list[str]:
        return [*names, "-log_factorial"]

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        rate = np.maximum(params["rate"], RATE_FLOOR)
        return np.hstack([np.log(rate), np.ones((rate.shape[0], 1))]), -rate

    def named_stats(self, n: FloatArray, product: FloatArray) -> PoissonStats:
        n_columns = (product.shape[1] - 1) // 2 if self.missing else product.shape[1] - 1
        complete, observed = observed_split(product, n_columns, self.missing)
        return PoissonStats(n, product, complete[:, :n_columns], complete[:, n_columns:], observed)

    def m_step(self, stats: PoissonStats) -> dict[str, FloatArray]:
        counts, observed = stats.counts, observed_or_all(stats.n, stats.observed)
        if self.prior is not None:  # the posterior mode (no pseudo-counts without a prior: no round-off)
            shape, rate = self.prior
            counts, observed = counts + shape - 1, observed + rate
        return {"rate": np.maximum(safe_divide(counts, observed, 1.0), RATE_FLOOR)}

    def log_prior(self, params: Params) -> float:
        return gamma_log_density(params["rate"], self.prior)

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        rate = as_float_array("params_init['rate']", get_param(params, "rate"))
        if rate.ndim == 1 and n_features == 1:
            rate = rate[:, None]
        if rate.shape != (n_components, n_features):
            raise ModelError(f"params_init['rate'] must have shape {(n_components, n_features)}; got {rate.shape}")
        if np.any(rate <= 0):
            raise ModelError(f"params_init['rate'] must be > 0; got min {rate.min():.6g}")
        return {"rate": rate}

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rate = params["rate"][labels]
        if rate.size and rate.max() > MAX_SAMPLED_RATE:
            top = rate.max()
            raise ModelError(f"cannot draw Poisson counts at a rate of {top:.3g}: at most {MAX_SAMPLED_RATE:.0e}")
        return rng.poisson(rate)

    def count_support(self, observed: np.ndarray) -> np.ndarray | None:
        """0..the largest observed count."""
        return np.arange(int(np.max(observed)) + 1)

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Counts as integers (floats only where a value is missing)."""
        if np.isnan(data).any():
            return {name: data[:, j] for j, name in enumerate(names)}
        return {name: data[:, j].astype(np.int64) for j, name in enumerate(names)}

    def init_features(self, design: FloatArray) -> FloatArray:
        n_columns = (design.shape[1] - 1) // 2 if self.missing else design.shape[1] - 1
        return design[:, :n_columns]

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.name, "missing": self.missing, "prior": self.prior}


#: NumPy's Poisson sampler refuses rates beyond about 9.2e18.
MAX_SAMPLED_RATE = 1e18

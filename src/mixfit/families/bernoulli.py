"""Bernoulli components: D binary columns, ``p`` of shape (K, D) (CV21, Sciarra)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import FloatArray, clamp_probs
from mixfit._validation import (
    as_float_array,
    check_finite_numeric,
    check_probability_table,
    column_label,
    get_param,
)
from mixfit.errors import DataError
from mixfit.families._base import DesignStats, Family, Params, observed_or_all, observed_split
from mixfit.priors import beta_log_density, beta_mode, check_beta


@dataclass(frozen=True, slots=True)
class BernoulliStats(DesignStats):
    """``ones``: expected ones per column, ``sum_n r_nk x_nd`` (K, D); ``observed``: expected
    rows observing each column (K, D), with missing data only."""

    ones: FloatArray
    observed: FloatArray | None = None


class Bernoulli(Family):
    """Independent Bernoulli items per component (latent class analysis of yes/no answers).

    ``log p(x | p_k) = sum_d x_d log p_kd + (1 - x_d) log(1 - p_kd)``, computed as
    ``x @ logit(p_k) + sum_d log(1 - p_kd)``. The M-step is CV21's eqs. (10)-(11):
    ``p_k = sum_n r_nk x_n / sum_n r_nk``.

    Examples
    --------
    >>> import mixfit as mf
    >>> m = mf.Mixture(mf.Bernoulli(), n_components=2, weights_init=[0.3, 0.7],
    ...                params_init={"p": [[0.6], [0.8]]}, max_iter=1)
    >>> round(float(m.fit([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]).history_["log_likelihood"][0]), 5)
    -9.28686
    """

    name = "bernoulli"
    componentwise = True
    supports_missing = True

    def __init__(self, *, missing: bool = False, prior: tuple[float, float] | None = None) -> None:
        self.missing = bool(missing)
        self.prior = check_beta(prior)

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        return self.for_data(X)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        """0/1 data (NaN: missing); booleans and integers stay ``uint8`` (8x smaller than float64)."""
        data = X if X.dtype.kind in "biu" else check_finite_numeric(X, columns, allow_nan=True)
        bad = (data != 0) & (data != 1) & ~np.isnan(data) if data.dtype.kind == "f" else (data != 0) & (data != 1)
        if bad.any():
            j = int(np.argmax(bad.any(axis=0)))
            value = data[:, j][bad[:, j]][0]
            raise DataError(f"{column_label(columns, j)} must be binary (0/1 or bool) for Bernoulli; got {value:g}")
        return data.astype(np.uint8, copy=False) if data.dtype.kind in "biu" else data

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return list(columns)

    def complete_design(self, data: FloatArray) -> FloatArray:
        return np.nan_to_num(data, nan=0.0) if self.missing else data

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        p = clamp_probs(params["p"])
        log1m = np.log1p(-p)
        return np.log(p) - log1m, log1m

    def named_stats(self, n: FloatArray, product: FloatArray) -> BernoulliStats:
        n_columns = product.shape[1] // 2 if self.missing else product.shape[1]
        return BernoulliStats(n, product, *observed_split(product, n_columns, self.missing))

    def m_step(self, stats: BernoulliStats) -> dict[str, FloatArray]:
        return {"p": beta_mode(stats.ones, observed_or_all(stats.n, stats.observed), self.prior)}

    def log_prior(self, params: Params) -> float:
        return beta_log_density(params["p"], self.prior)

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        p = as_float_array("params_init['p']", get_param(params, "p"))
        if p.ndim == 1 and n_features == 1:
            p = p[:, None]
        return {"p": check_probability_table("params_init['p']", p, (n_components, n_features))}

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = params["p"][labels]
        return (rng.random(p.shape) < p).astype(np.int64)

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        if data.dtype.kind == "f" and np.isnan(data).any():
            return {name: data[:, j] for j, name in enumerate(names)}
        return {name: data[:, j].astype(np.int64) for j, name in enumerate(names)}

    def init_features(self, design: FloatArray) -> FloatArray:
        return design[:, : design.shape[1] // 2] if self.missing else design

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.name, "missing": self.missing, "prior": self.prior}

    def n_patterns(self, data: FloatArray) -> int | None:
        return int(2 ** data.shape[1])

    def item_levels(self, params: Params) -> list[FloatArray] | None:
        p = np.asarray(params["p"], dtype=float)
        return [np.column_stack([1 - p[:, d], p[:, d]]) for d in range(p.shape[1])]

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        n_features = data.shape[1]
        if n_components < 2:
            return None
        if n_features == 1:
            return (
                f"a Bernoulli mixture of {n_components} components on a single binary column is not "
                "identifiable: the data determine only P(x=1) = sum_k w_k p_k, not the weights and "
                f"the {n_components} coin biases separately; observe several flips per draw "
                f"(at least {2 * n_components - 1} binary columns, or Binomial with "
                f"n_trials >= {2 * n_components - 1})"
            )
        n_free = n_components * (n_features + 1) - 1
        n_cells = 2**n_features - 1
        if n_free > n_cells:
            return (
                f"a Bernoulli mixture of {n_components} components on {n_features} binary columns is "
                f"not identifiable: it has {n_free} free parameters but the data have only "
                f"{n_cells} free pattern frequencies; use fewer components or more columns"
            )
        return None

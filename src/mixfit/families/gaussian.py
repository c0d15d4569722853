"""Gaussian components with full, tied, diagonal or spherical covariance (as scikit-learn's
``GaussianMixture``): ``mean`` (K, D) and ``covariance`` of shape (K, D, D) for "full" and
"tied" (a tied covariance is stored once per component, all equal), (K, D) for "diag" and (K,)
for "spherical"."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import FloatArray, safe_divide
from mixfit._validation import as_float_array, check_finite_numeric, check_option, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import REAL, DesignStats, Family, Natural, Params, ParamSpec, observed_or_all, observed_split
from mixfit.families._covariance import COVARIANCES, Covariance

COVARIANCE_TYPES = tuple(COVARIANCES)


@dataclass(frozen=True, slots=True)
class GaussianStats(DesignStats):
    """Moments about the data's centre: ``sum_z``: ``sum_n r_nk z_n`` (K, D); ``sum_zz``: the
    second-moment design columns, ``sum_n r_nk z_ni z_nj`` for i <= j (full, tied) or
    ``sum_n r_nk z_ni^2`` (diag, spherical); ``observed``: expected rows observing each column
    (K, D), with missing data only."""

    sum_z: FloatArray
    sum_zz: FloatArray
    observed: FloatArray | None = None


class Gaussian(Family):
    """Multivariate normal components.

    The log-density is linear in the design ``[z, z_i z_j (i <= j)]`` (``z = x - centre``;
    ``[z, z**2]`` for diagonal and spherical covariances), so the E-step is one matrix product
    and the statistics ``resp.T @ design`` are each component's first and second moments; the
    M-step turns them into means and covariances exactly as scikit-learn's GaussianMixture does
    (same log-likelihood and parameters from the same start). Data in memory are centred on
    their column means before the squares are taken, which keeps the moments accurate.

    Parameters
    ----------
    covariance : {"full", "tied", "diag", "spherical"}, default="full"
    reg_covar : float, default=0.0
        Added to every variance (the diagonal of every covariance) at each M-step: a floor that
        keeps components from collapsing onto a point. Without it a collapsed component is an
        error naming it (scikit-learn's default is 1e-6).
    missing : bool, default=False
        Model NaN entries as missing at random ("diag" and "spherical" only; set automatically
        for data in memory).

    Examples
    --------
    >>> import mixfit as mf
    >>> x = [-2.1, -1.9, -2.0, -2.2, 3.0, 3.2, 2.8, 3.1]
    >>> m = mf.Mixture(mf.Gaussian("diag"), 2, random_state=0).fit(x)
    >>> sorted(m.params_["mean"][:, 0].round(3).tolist())
    [-2.05, 3.025]
    """

    name = "gaussian"

    def __init__(
        self,
        covariance: str = "full",
        *,
        reg_covar: float = 0.0,
        missing: bool = False,
        centre: Sequence[float] | None = None,
    ) -> None:
        self.covariance = check_option("covariance", covariance, COVARIANCE_TYPES)
        if isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float)) or not 0 <= reg_covar < np.inf:
            raise ModelError(f"reg_covar must be a finite number >= 0; got {reg_covar!r}")
        self.reg_covar = float(reg_covar)
        self.missing = bool(missing)
        if self.missing and not self.supports_missing:
            raise ModelError(f"missing values need covariance 'diag' or 'spherical'; got {covariance!r}")
        self.centre = None if centre is None else np.asarray(centre, dtype=float)

    @property
    def structure(self) -> Covariance:
        """The covariance structure: its design columns, M-step, checks and free parameters."""
        return COVARIANCES[self.covariance]

    @property
    def supports_missing(self) -> bool:  # type: ignore[override]
        return self.structure.diagonal

    def param_specs(self) -> tuple[ParamSpec, ...]:
        structure = self.structure
        quantity = "variance" if structure.diagonal else "covariance"
        return (ParamSpec("mean", REAL, "mean"), ParamSpec("covariance", structure.domain, quantity))

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        family = self
        if self.centre is None:
            try:
                values = np.asarray(X, dtype=float)
            except (TypeError, ValueError):
                return self  # validate names the bad column
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-NaN column
                centre = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=0)
            family = Gaussian(
                self.covariance, reg_covar=self.reg_covar, missing=self.missing, centre=np.nan_to_num(centre)
            )
        return family.for_data(X) if self.supports_missing else family

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        data = check_finite_numeric(X, columns, allow_nan=self.supports_missing)
        if self.centre is not None and self.centre.shape != (data.shape[1],):
            raise DataError(f"Gaussian data must have {self.centre.size} columns; got {data.shape[1]}")
        return data

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return list(columns)

    def _centred(self, data: FloatArray) -> FloatArray:
        return data if self.centre is None else data - self.centre

    def complete_design(self, data: FloatArray) -> FloatArray:
        z = np.nan_to_num(self._centred(data), nan=0.0)
        return np.hstack([z, self.structure.second_design(z)])

    def design_names(self, names: Sequence[str]) -> list[str]:
        return [*names, *self.structure.second_names(names)]

    def _centre_of(self, n_columns: int) -> FloatArray:
        return np.zeros(n_columns) if self.centre is None else self.centre

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        mean = params["mean"]
        return self.structure.natural(mean - self._centre_of(mean.shape[1]), params["covariance"])

    def named_stats(self, n: FloatArray, product: FloatArray) -> GaussianStats:
        n_columns = self._n_columns(product.shape[1])
        complete, observed = observed_split(product, n_columns, self.missing)
        return GaussianStats(n, product, complete[:, :n_columns], complete[:, n_columns:], observed)

    def m_step(self, stats: GaussianStats) -> dict[str, FloatArray]:
        """Means and covariances from first and second moments, as scikit-learn computes them."""
        observed = np.broadcast_to(observed_or_all(stats.n, stats.observed), stats.sum_z.shape)
        m = safe_divide(stats.sum_z, observed, 0.0)
        cov = self.structure.m_step(stats.n, stats.sum_z, stats.sum_zz, observed, self.reg_covar)
        return {"mean": m + self._centre_of(m.shape[1]), "covariance": cov}

    def log_likelihood_roundoff(self, stats: DesignStats, params: Params, natural: Natural | None = None) -> float:
        """Round-off, plus what the ``reg_covar`` floor may cost: the M-step's covariance is
        S + reg I, not the maximiser S of Q, so one EM step may lose up to
        Q(S) - Q(S + reg I) = sum_k n_k / 2 sum_i [log(mu_i / (mu_i - reg)) - reg / mu_i] (mu_i the
        eigenvalues of S + reg I); twice that, since the bound is taken at the entering state."""
        base = super().log_likelihood_roundoff(stats, params, natural)
        if self.reg_covar == 0:
            return base
        reg = self.reg_covar
        mu = self._eigenvalues(params)
        mu = np.maximum(mu, reg * (1 + 1e-6))
        loss = np.log(mu / (mu - reg)) - reg / mu
        return float(base + 2 * (0.5 * stats.n * loss.sum(axis=1)).sum())

    def _eigenvalues(self, params: Params) -> FloatArray:
        """Eigenvalues of every component's covariance, shape (K, D)."""
        n_components, n_columns = np.shape(params["mean"])
        return self.structure.eigenvalues(params["covariance"], n_components, n_columns)

    def degenerate(self, params: Params) -> str | None:
        """A component whose scatter is singular, held up only by the ``reg_covar`` floor (it lies
        on a hyperplane through a few rows): a spurious maximum whose likelihood grows without
        bound as the floor shrinks (McLachlan and Peel, 2000, section 3.10)."""
        if self.reg_covar == 0:
            return None
        mu = self._eigenvalues(params)
        scatter = mu - self.reg_covar
        collapsed = np.flatnonzero(scatter.min(axis=1) <= 1e-8 * np.abs(mu).max(axis=1))
        if collapsed.size == 0:
            return None
        return f"degenerate: the covariance of component(s) {collapsed.tolist()} is singular but for reg_covar"

    def _n_columns(self, width: int) -> int:
        """D from the width of the design, D + second_width(D) (+ D observed columns)."""
        n_columns = 1
        while n_columns + self.structure.second_width(n_columns) + (n_columns if self.missing else 0) < width:
            n_columns += 1
        return n_columns

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        mean = as_float_array("params_init['mean']", get_param(params, "mean"))
        if mean.ndim == 1 and n_features == 1:
            mean = mean[:, None]
        if mean.shape != (n_components, n_features):
            raise ModelError(f"params_init['mean'] must have shape {(n_components, n_features)}; got {mean.shape}")
        cov = as_float_array("params_init['covariance']", get_param(params, "covariance"))
        cov = self.structure.check(cov, n_components, n_features)
        return {"mean": mean, "covariance": cov}

    def param_shape(self, name: str, n_components: int, n_features: int) -> tuple[int, ...]:
        if name == "covariance":
            return self.structure.shape(n_components, n_features)
        return (n_components, n_features)

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = params["mean"]
        noise = rng.standard_normal((len(labels), mean.shape[1]))
        return mean[labels] + self.structure.draw(params["covariance"], mean.shape, labels, noise)

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        return {name: data[:, j] for j, name in enumerate(names)}

    def init_features(self, design: FloatArray) -> FloatArray:
        return design[:, : self._n_columns(design.shape[1])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "covariance": self.covariance,
            "reg_covar": self.reg_covar,
            "missing": self.missing,
            "centre": None if self.centre is None else self.centre.tolist(),
        }

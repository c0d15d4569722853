"""Gaussian components with full, tied, diagonal or spherical covariance (as scikit-learn's
``GaussianMixture``): ``mean`` (K, D) and ``covariance`` of shape (K, D, D) for "full" and
"tied" (a tied covariance is stored once per component, all equal), (K, D) for "diag" and (K,)
for "spherical"."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mixfit._math import FloatArray, safe_divide
from mixfit._validation import as_float_array, check_finite_numeric, check_option, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import Family, LinearStats, Params

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: A variance below this fraction of the component's second moment about the data's centre is
#: taken as a collapse onto one value (the likelihood is then unbounded).
SINGULAR_RTOL = 1e-12
LOG_2PI = float(np.log(2 * np.pi))


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
    def supports_missing(self) -> bool:  # type: ignore[override]
        return self.covariance in ("diag", "spherical")

    @property
    def _diagonal(self) -> bool:
        return self.covariance in ("diag", "spherical")

    def param_scale(self, name: str) -> str:
        return "positive" if name == "covariance" and self._diagonal else "real"

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
        if self._diagonal:
            return np.hstack([z, z * z])
        upper = np.triu_indices(z.shape[1])
        return np.hstack([z, z[:, upper[0]] * z[:, upper[1]]])

    def design_names(self, names: Sequence[str]) -> list[str]:
        if self._diagonal:
            return [*names, *(f"{c}^2" for c in names)]
        upper = np.triu_indices(len(names))
        return [*names, *(f"{names[int(i)]}*{names[int(j)]}" for i, j in zip(*upper, strict=True))]

    def _centre_of(self, n_columns: int) -> FloatArray:
        return np.zeros(n_columns) if self.centre is None else self.centre

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        mean = params["mean"]
        n_components, n_columns = mean.shape
        m = mean - self._centre_of(n_columns)
        if self._diagonal:
            var = _diagonal_variances(params["covariance"], mean.shape)
            _check_variances(var)
            coef = np.hstack([m / var, -0.5 / var])
            return coef, -0.5 * (m * m / var + LOG_2PI + np.log(var))
        precision, log_det = _precisions(params["covariance"])
        upper = np.triu_indices(n_columns)
        quad = -precision[:, upper[0], upper[1]] * np.where(upper[0] == upper[1], 0.5, 1.0)
        linear = np.einsum("kij,kj->ki", precision, m)
        column_bias = np.zeros((n_components, n_columns))
        column_bias[:, 0] = -0.5 * (np.einsum("ki,ki->k", linear, m) + n_columns * LOG_2PI + log_det)
        return np.hstack([linear, quad]), column_bias

    def m_step(self, stats: LinearStats) -> dict[str, FloatArray]:
        """Means and covariances from first and second moments, as scikit-learn computes them."""
        width = stats.t_sum.shape[1]
        n_columns = self._n_columns(width)
        moments, observed = self.split_stats(stats, n_columns)
        first = moments[:, :n_columns]
        m = safe_divide(first, observed, 0.0)
        centre = self._centre_of(n_columns)
        if self._diagonal:
            second = moments[:, n_columns:]
            var = safe_divide(second, observed, 1.0) - m * m
            if self.covariance == "spherical":
                scatter = second - m * first
                var = safe_divide(scatter.sum(axis=1), observed.sum(axis=1), 1.0)
            var = var + self.reg_covar
            _check_collapse(var, safe_divide(second, observed, 1.0), self.covariance)
            return {"mean": m + centre, "covariance": var}
        second = _symmetric(moments[:, n_columns:], n_columns)
        resp = stats.resp_sum
        outer = m[:, :, None] * m[:, None, :]
        if self.covariance == "tied":
            scatter = (second - resp[:, None, None] * outer).sum(axis=0) / resp.sum()
            cov = np.repeat(scatter[None], len(resp), axis=0)
        else:
            cov = safe_divide(second, resp[:, None, None], 0.0) - outer
            cov[resp == 0] = np.eye(n_columns)
        cov = cov + self.reg_covar * np.eye(n_columns)
        _precisions(cov)  # a singular covariance is an error naming its component
        return {"mean": m + centre, "covariance": cov}

    def log_likelihood_roundoff(self, stats: LinearStats, params: Params) -> float:
        """Round-off, plus what the ``reg_covar`` floor may cost: the M-step's covariance is
        S + reg I, not the maximiser S of Q, so one EM step may lose up to
        Q(S) - Q(S + reg I) = sum_k n_k / 2 sum_i [log(mu_i / (mu_i - reg)) - reg / mu_i] (mu_i the
        eigenvalues of S + reg I); twice that, since the bound is taken at the entering state."""
        base = super().log_likelihood_roundoff(stats, params)
        if self.reg_covar == 0:
            return base
        reg = self.reg_covar
        mu = self._eigenvalues(params)
        mu = np.maximum(mu, reg * (1 + 1e-6))
        loss = np.log(mu / (mu - reg)) - reg / mu
        return float(base + 2 * (0.5 * stats.resp_sum * loss.sum(axis=1)).sum())

    def _eigenvalues(self, params: Params) -> FloatArray:
        """Eigenvalues of every component's covariance, shape (K, D)."""
        cov = np.asarray(params["covariance"], dtype=float)
        n_components, n_columns = np.shape(params["mean"])
        if cov.ndim == 3:
            return np.linalg.eigvalsh(cov)
        if self.covariance == "tied":
            return np.broadcast_to(np.linalg.eigvalsh(cov), (n_components, n_columns))
        return _diagonal_variances(cov, (n_components, n_columns))

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
        if self._diagonal:
            return width // 3 if self.missing else width // 2
        return int(round((-3 + np.sqrt(9 + 8 * width)) / 2))  # width = D + D (D + 1) / 2

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        mean = as_float_array("params_init['mean']", get_param(params, "mean"))
        if mean.ndim == 1 and n_features == 1:
            mean = mean[:, None]
        if mean.shape != (n_components, n_features):
            raise ModelError(f"params_init['mean'] must have shape {(n_components, n_features)}; got {mean.shape}")
        cov = as_float_array("params_init['covariance']", get_param(params, "covariance"))
        shapes = {
            "full": (n_components, n_features, n_features),
            "tied": (n_components, n_features, n_features),
            "diag": (n_components, n_features),
            "spherical": (n_components,),
        }
        if self.covariance == "tied" and cov.shape == (n_features, n_features):
            cov = np.repeat(cov[None], n_components, axis=0)
        if self.covariance == "diag" and n_features == 1 and cov.shape == (n_components,):
            cov = cov[:, None]
        if cov.shape != shapes[self.covariance]:
            raise ModelError(
                f"params_init['covariance'] must have shape {shapes[self.covariance]} for covariance="
                f"{self.covariance!r}; got {cov.shape}"
            )
        if self._diagonal:
            _check_variances(cov)
        else:
            if not np.allclose(cov, np.swapaxes(cov, 1, 2)):
                raise ModelError("params_init['covariance'] must be symmetric")
            if self.covariance == "tied" and not np.allclose(cov, cov[:1]):
                raise ModelError("params_init['covariance'] must be the same for every component (tied)")
            _precisions(cov)
        return {"mean": mean, "covariance": cov}

    def n_free_params(self, n_components: int, n_features: int) -> int:
        per_matrix = n_features * (n_features + 1) // 2
        covariance = {
            "full": n_components * per_matrix,
            "tied": per_matrix,
            "diag": n_components * n_features,
            "spherical": n_components,
        }[self.covariance]
        return n_components * n_features + covariance

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = params["mean"]
        cov = params["covariance"]
        noise = rng.standard_normal((len(labels), mean.shape[1]))
        if self._diagonal:
            sd = np.sqrt(_diagonal_variances(cov, mean.shape))
            return mean[labels] + noise * sd[labels]
        chol = np.linalg.cholesky(cov)
        return mean[labels] + np.einsum("nij,nj->ni", chol[labels], noise)

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        return {name: data[:, j] for j, name in enumerate(names)}

    def init_features(self, design: FloatArray) -> FloatArray:
        return design[:, : self._n_columns(design.shape[1])]

    def param_columns(self, params: Params, names: Sequence[str]) -> dict[str, tuple[list[str], FloatArray]]:
        mean, cov = params["mean"], np.asarray(params["covariance"])
        n_components = mean.shape[0]
        if self.covariance == "spherical":
            labels = ["variance"]
        elif self.covariance == "diag":
            labels = [f"var({c})" for c in names]
        else:
            labels = [f"cov({a},{b})" for a in names for b in names]
        return {"mean": (list(names), mean), "covariance": (labels, cov.reshape(n_components, -1))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "covariance": self.covariance,
            "reg_covar": self.reg_covar,
            "missing": self.missing,
            "centre": None if self.centre is None else self.centre.tolist(),
        }


def _diagonal_variances(cov: FloatArray, shape: tuple[int, int]) -> FloatArray:
    cov = np.asarray(cov, dtype=float)
    return np.broadcast_to(cov[:, None] if cov.ndim == 1 else cov, shape)


def _check_variances(var: FloatArray) -> None:
    bad = ~(np.asarray(var) > 0)
    if bad.any():
        k = int(np.argmax(bad.reshape(len(bad), -1).any(axis=1)))
        raise ModelError(f"covariance of component {k} must have positive variances; got {np.asarray(var)[k]}")


def _check_collapse(var: FloatArray, second: FloatArray, covariance: str) -> None:
    """``ModelError`` naming the first component whose variance collapsed to (nearly) 0."""
    reference = second if covariance == "diag" else second.mean(axis=1)
    collapsed = var <= SINGULAR_RTOL * reference
    if collapsed.any():
        k = int(np.argmax(collapsed.reshape(len(var), -1).any(axis=1)))
        raise ModelError(
            f"covariance of component {k} is singular: the component collapsed onto a single value; "
            "set a floor, e.g. Gaussian(reg_covar=1e-6), or use fewer components"
        )


def _symmetric(packed: FloatArray, n_columns: int) -> FloatArray:
    """(K, D (D + 1) / 2) upper triangles to full symmetric (K, D, D) matrices."""
    upper = np.triu_indices(n_columns)
    out = np.zeros((packed.shape[0], n_columns, n_columns))
    out[:, upper[0], upper[1]] = packed
    out[:, upper[1], upper[0]] = packed
    return out


def _precisions(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Precision matrices and log-determinants of covariances; ``ModelError`` naming the first
    component whose covariance is not (numerically) positive definite."""
    cov = np.asarray(cov, dtype=float)
    precisions = np.empty_like(cov)
    log_det = np.empty(cov.shape[0])
    eye = np.eye(cov.shape[1])
    for k, matrix in enumerate(cov):
        try:
            chol = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            chol = None
        if chol is None or np.any(np.diag(chol) ** 2 <= SINGULAR_RTOL * np.maximum(np.diag(matrix), 1e-300)):
            raise ModelError(
                f"covariance of component {k} is singular (not positive definite): the component "
                "collapsed onto fewer dimensions than the data have; set a floor, e.g. "
                "Gaussian(reg_covar=1e-6), or use fewer components"
            )
        inv_chol = np.linalg.solve(chol, eye)
        precisions[k] = inv_chol.T @ inv_chol
        log_det[k] = 2 * np.log(np.diag(chol)).sum()
    return precisions, log_det

"""Gaussian components with full, tied, diagonal or spherical covariance (as scikit-learn's
``GaussianMixture``): ``mean`` (K, D) and ``covariance`` of shape (K, D, D) for "full" and
"tied" (a tied covariance is stored once per component, all equal), (K, D) for "diag" and (K,)
for "spherical"."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import FloatArray, safe_divide, upper_triangle
from mixfit._validation import as_float_array, check_finite_numeric, check_option, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import (
    REAL,
    Family,
    Natural,
    Params,
    ParamSpec,
    Stats,
    as_float_design,
    observed_or_all,
    observed_split,
)
from mixfit.families._covariance import LOG_2PI, Covariance, cholesky_factors, symmetric
from mixfit.families._parsimonious import ALIASES, MODELS

#: Every accepted name: mclust's 14 codes, then scikit-learn's four and mclust's univariate E, V.
COVARIANCE_TYPES = (*MODELS, *ALIASES)
#: The models that differ for one column: one variance (E) or one per component (V).
UNIVARIATE_MODELS = ("E", "V")


@dataclass(frozen=True, slots=True)
class GaussianStats(Stats):
    """Each component's moments about its own mean: ``n`` (K,) expected rows; ``count`` (K, D)
    expected rows observing each column (``n`` in every column for complete data); ``mean``
    (K, D) the weighted mean of each column about the data's centre; ``scatter`` the weighted
    squared deviations from that mean, (K, D, D) for full and tied covariances, (K, D) for diag
    and spherical; ``missing``: whether the design has observed-indicator columns.

    Deviations about a component's own mean keep their precision wherever the data sit (raw
    second moments ``sum z z'`` minus ``n m m'`` cancel catastrophically when the clusters lie
    far from the centre). Statistics still add exactly: the moments of two chunks are pooled
    with the parallel-variance formula (Chan, Golub and LeVeque, 1979), so chunked, streamed and
    distributed fits equal fits in memory.
    """

    n: FloatArray
    count: FloatArray
    mean: FloatArray
    scatter: FloatArray
    missing: bool = False
    #: The covariance of the pass's parameters (None at a start): where an iterative M-step
    #: (EVE's and VVE's orientation) starts, so that each EM step can only raise Q.
    at: FloatArray | None = None

    def __add__(self, other: Any) -> Any:
        if type(other) is not type(self):
            return NotImplemented
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * safe_divide(other.count, count, 0.0)
        if self.scatter.ndim == 3:  # complete data: every column has count n
            pooled = safe_divide(self.n * other.n, self.n + other.n, 0.0)
            cross = pooled[:, None, None] * delta[:, :, None] * delta[:, None, :]
        else:
            cross = delta * delta * safe_divide(self.count * other.count, count, 0.0)
        return GaussianStats(self.n + other.n, count, mean, self.scatter + other.scatter + cross, self.missing, self.at)

    def __mul__(self, factor: float) -> Any:
        """Every row's weight times ``factor``: sums scale, means stay."""
        return GaussianStats(
            self.n * factor, self.count * factor, self.mean, self.scatter * factor, self.missing, self.at
        )

    __rmul__ = __mul__

    @property
    def t_sum(self) -> FloatArray:
        """The design product ``sum_n r_nk design[n]`` (raw moments about the data's centre, and
        the observed counts with missing data), for tables of expected statistics."""
        first = self.count * self.mean
        if self.scatter.ndim == 3:
            upper = upper_triangle(self.mean.shape[1])
            raw = self.scatter + self.n[:, None, None] * self.mean[:, :, None] * self.mean[:, None, :]
            second = raw[:, upper[0], upper[1]]
        else:
            second = self.scatter + self.count * self.mean * self.mean
        return np.hstack([first, second, self.count] if self.missing else [first, second])


class Gaussian(Family):
    """Multivariate normal components.

    The log-density is linear in the design ``[z, z_i z_j (i <= j)]`` (``z = x - centre``;
    ``[z, z**2]`` for diagonal and spherical covariances), the form standard errors
    differentiate. The EM engine computes the log-densities and statistics about each
    component's own mean instead (``GaussianStats``), as scikit-learn's GaussianMixture does, so
    covariances stay exact to float64 round-off wherever the clusters lie (two clusters at 0 and
    1e7 get their variances to 1e-7 relative; raw moments about one centre lost all but three
    digits); the M-step gives the same log-likelihood and parameters as scikit-learn from the
    same start.

    Parameters
    ----------
    covariance : str, default None (fits "VVV", i.e. "full")
        One of mclust's 14 models, ``lambda_k D_k A_k D_k'`` with volume, shape and orientation
        each Equal across components, Varying, or the Identity: "EII", "VII", "EEI", "VEI",
        "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"
        (``docs/statistics.md`` has the table); scikit-learn's names are aliases ("full" =
        VVV, "tied" = EEE, "diag" = VVI, "spherical" = VII), and one column takes "E" or "V".
        Not given, ``mixfit.select`` searches every model (as ``Mclust(X)``) and a single fit
        uses VVV.
    reg_covar : float, default=0.0
        Added to every variance (the diagonal of every covariance) at each M-step: a floor that
        keeps components from collapsing onto a point. Without it a collapsed component is an
        error naming it (scikit-learn's default is 1e-6).
    missing : bool, default=False
        Model NaN entries as missing at random (set automatically for data in memory). A row's
        density is then the marginal density of its observed entries (full-information maximum
        likelihood); for "full" and "tied" covariances the E-step fills each missing entry with
        its conditional expectation given the row's observed entries under each component and
        adds the conditional covariance to the scatter (Ghahramani and Jordan, 1994), so the
        statistics depend on the parameters of the pass and standard errors are not available.

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
        covariance: str | Sequence[str] | None = None,
        *,
        reg_covar: float = 0.0,
        missing: bool = False,
        centre: Sequence[float] | None = None,
    ) -> None:
        self.covariance = _covariance_setting(covariance)
        if isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float)) or not 0 <= reg_covar < np.inf:
            raise ModelError(f"reg_covar must be a finite number >= 0; got {reg_covar!r}")
        self.reg_covar = float(reg_covar)
        self.missing = bool(missing)
        self.centre = None if centre is None else np.asarray(centre, dtype=float)

    @property
    def model_name(self) -> str:
        """The covariance model this family fits: the one given, else VVV ("full")."""
        if isinstance(self.covariance, tuple):
            if len(self.covariance) > 1:
                raise ModelError(
                    f"Gaussian(covariance={list(self.covariance)}) lists several covariance models: mixfit.select "
                    "chooses among them; a single fit takes one"
                )
            return self.covariance[0]
        return "full" if self.covariance is None else self.covariance

    @property
    def structure(self) -> Covariance:
        """The covariance structure: its design columns, M-step, checks and free parameters."""
        name = self.model_name
        return MODELS[ALIASES.get(name, name)]

    def variants(self, n_columns: int) -> list[tuple[dict[str, str], Family]]:
        """The covariance models a search compares: those given, else all 14 (E and V for one
        column), as mclust's ``Mclust(X)`` does."""
        if self.covariance is None:
            names: tuple[str, ...] = UNIVARIATE_MODELS if n_columns == 1 else tuple(MODELS)
        else:
            names = self.covariance if isinstance(self.covariance, tuple) else (self.covariance,)
        out: list[tuple[dict[str, str], Family]] = []
        for name in names:
            family = copy.copy(self)
            family.covariance = name
            out.append(({"covariance": name}, family))
        return out

    supports_missing = True

    @property
    def linear_in_design(self) -> bool:  # type: ignore[override]
        """False for full and tied covariances with missing entries (marginal densities of each
        row's observed entries)."""
        return self.structure.diagonal or not self.missing

    @property
    def _conditional(self) -> bool:
        """Whether missing entries are filled by their conditional expectations (full, tied)."""
        return self.missing and not self.structure.diagonal

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
                finite = np.where(np.isfinite(values), values, np.nan)
                centre = np.nanmean(finite, axis=0)
                spread = np.nanmax(finite, axis=0) - np.nanmin(finite, axis=0)  # no squares: no overflow
            check_spread(spread, columns)
            family = copy.copy(self)
            family.centre = np.nan_to_num(centre)
        return family.for_data(X)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        data = check_finite_numeric(X, columns, allow_nan=self.supports_missing)
        if self.centre is not None and self.centre.shape != (data.shape[1],):
            raise DataError(f"Gaussian data must have {self.centre.size} columns; got {data.shape[1]}")
        if self.model_name in UNIVARIATE_MODELS and data.shape[1] > 1:
            raise DataError(
                f"covariance={self.model_name!r} is mclust's name of a model of one column; the data have "
                f"{data.shape[1]} columns: use one of {', '.join(MODELS)}"
            )
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
        """Statistics from a raw design product (round-off as raw moments have it; the EM
        engine computes them about each component's mean instead, ``stats_by_component``)."""
        n_columns = self._n_columns(product.shape[1])
        complete, observed = observed_split(product, n_columns, self.missing)
        count = np.broadcast_to(observed_or_all(n, observed), (len(n), n_columns)).astype(np.float64)
        mean = safe_divide(complete[:, :n_columns], count, 0.0)
        second = complete[:, n_columns:]
        if self.structure.diagonal:
            scatter = second - count * mean * mean
        else:
            scatter = symmetric(second, n_columns) - n[:, None, None] * mean[:, :, None] * mean[:, None, :]
        return GaussianStats(n, count, mean, scatter, self.missing)

    def _split_design(self, design: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """``(z, observed indicators or None)`` from design rows."""
        n_columns = self._n_columns(design.shape[1])
        design = as_float_design(design)
        return design[:, :n_columns], design[:, -n_columns:] if self.missing else None

    def stats_by_component(self, design: FloatArray, resp: FloatArray, params: Params | None = None) -> GaussianStats:
        """Each component's moments about its own weighted mean (``GaussianStats``), in float64."""
        z, observed = self._split_design(design)
        z = z.astype(np.float64, copy=False)
        resp = resp.astype(np.float64, copy=False)
        if self._conditional and observed is not None:
            return self._conditional_stats(z, observed, resp, params)
        n = resp.sum(axis=1)
        count = np.repeat(n[:, None], z.shape[1], axis=1) if observed is None else resp @ observed
        mean = safe_divide(resp @ z, count, 0.0)
        at = None if params is None else np.asarray(params["covariance"])
        return GaussianStats(n, count, mean, self.structure.scatter(z, resp, mean, observed), self.missing, at)

    def log_prob_by_component(self, design: FloatArray, params: Params, natural: Natural | None = None) -> FloatArray:
        """Log-densities (K, n) from each row's deviation from each component's mean (with
        missing entries under a full covariance, the marginal density of the observed ones)."""
        z, observed = self._split_design(design)
        m = params["mean"] - self._centre_of(params["mean"].shape[1])
        if self._conditional and observed is not None:
            out = np.empty((len(m), len(z)))
            for rows, seen in _patterns(observed):
                chol, log_det = cholesky_factors(params["covariance"][:, seen][:, :, seen])
                for k in range(len(m)):
                    y = np.linalg.solve(chol[k], (z[np.ix_(rows, seen)] - m[k, seen]).T)
                    out[k, rows] = -0.5 * (np.einsum("ij,ij->j", y, y) + seen.sum() * LOG_2PI + log_det[k])
            return out
        return self.structure.log_density(z, m, params["covariance"], observed)

    def _conditional_stats(
        self, z: FloatArray, observed: FloatArray, resp: FloatArray, params: Params | None
    ) -> GaussianStats:
        """Moments of the rows completed by each component: missing entries replaced by their
        conditional expectation given the row's observed entries, the conditional covariance
        added to the scatter. At a start (no parameters) missing entries count as the centre."""
        n_components, n_columns = len(resp), z.shape[1]
        n = resp.sum(axis=1)
        count = np.repeat(n[:, None], n_columns, axis=1)
        if params is None:
            mean = safe_divide(resp @ z, count, 0.0)
            return GaussianStats(n, count, mean, self.structure.scatter(z, resp, mean, None), self.missing)
        m = params["mean"] - self._centre_of(n_columns)
        cov = np.asarray(params["covariance"], dtype=float)
        filled = np.repeat(z[None], n_components, axis=0)  # (K, n, D)
        extra = np.zeros((n_components, n_columns, n_columns))
        for rows, seen in _patterns(observed):
            hidden = ~seen
            if not hidden.any():
                continue
            for k in range(n_components):
                gain = np.linalg.solve(cov[k][np.ix_(seen, seen)], cov[k][np.ix_(seen, hidden)])  # (O, M)
                shift = z[np.ix_(rows, seen)] - m[k, seen]
                filled[k][np.ix_(rows, hidden)] = m[k, hidden] + shift @ gain
                conditional = cov[k][np.ix_(hidden, hidden)] - cov[k][np.ix_(hidden, seen)] @ gain
                extra[k][np.ix_(hidden, hidden)] += resp[k, rows].sum() * conditional
        mean = safe_divide(np.einsum("kn,knd->kd", resp, filled), count, 0.0)
        scatter = np.empty((n_components, n_columns, n_columns))
        for k in range(n_components):
            d = filled[k] - mean[k]
            scatter[k] = (d * resp[k][:, None]).T @ d + extra[k]
        return GaussianStats(n, count, mean, scatter, self.missing)

    def expected_log_prob(self, stats: GaussianStats, params: Params, natural: Natural | None = None) -> FloatArray:
        m = params["mean"] - self._centre_of(params["mean"].shape[1])
        return self.structure.expected_log_density(stats, m, params["covariance"])[0]

    def m_step(self, stats: GaussianStats) -> dict[str, FloatArray]:
        """Means and covariances from the moments about each component's mean, as scikit-learn
        computes them."""
        centre = self._centre_of(stats.mean.shape[1])
        mean = stats.mean + centre
        location = np.abs(stats.mean) + np.abs(centre)
        return {"mean": mean, "covariance": self.structure.m_step(stats, self.reg_covar, location)}

    def log_likelihood_roundoff(self, stats: GaussianStats, params: Params, natural: Natural | None = None) -> float:
        """Round-off (1e-12 of the summed size of Q's terms, the rows' distance from the centre
        included), plus what the ``reg_covar`` floor may cost: the M-step's covariance is
        S + reg I, not the maximiser S of Q, so one EM step may lose up to
        Q(S) - Q(S + reg I) = sum_k n_k / 2 sum_i [log(mu_i / (mu_i - reg)) - reg / mu_i] (mu_i the
        eigenvalues of S + reg I); twice that, since the bound is taken at the entering state; and
        what an ill-conditioned covariance's round-off may cost (``ill_conditioning_loss``)."""
        m = params["mean"] - self._centre_of(params["mean"].shape[1])
        base = 1e-12 * float(self.structure.expected_log_density(stats, m, params["covariance"])[1].sum())
        if not self.structure.diagonal:
            base += ill_conditioning_loss(stats.n, self._eigenvalues(params))
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

    def n_free_params(self, n_components: int, n_features: int) -> int:
        """Means, and the covariance model's free parameters (as mclust counts them)."""
        return n_components * n_features + self.structure.n_free(n_components, n_features)

    def shared_entries(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Every entry of a covariance that all components share (EII, EEI), else none."""
        return np.full(shape, name == "covariance" and self.structure.shared)

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
            "covariance": list(self.covariance) if isinstance(self.covariance, tuple) else self.covariance,
            "reg_covar": self.reg_covar,
            "missing": self.missing,
            "centre": None if self.centre is None else self.centre.tolist(),
        }


def _covariance_setting(covariance: Any) -> str | tuple[str, ...] | None:
    """A covariance model's name, a tuple of distinct names (a search's candidates), or None."""
    if covariance is None or isinstance(covariance, str):
        return covariance if covariance is None else check_option("covariance", covariance, COVARIANCE_TYPES)
    if not isinstance(covariance, (list, tuple)) or not covariance:
        raise ModelError(f"covariance must be a model's name or a non-empty list of names; got {covariance!r}")
    names = tuple(check_option("covariance", name, COVARIANCE_TYPES) for name in covariance)
    if len(set(names)) < len(names):
        raise ModelError(f"covariance lists a model twice: {list(names)}")
    return names


def _patterns(observed: FloatArray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(rows, observed columns)`` of every pattern of observed entries."""
    seen = observed.astype(bool)
    patterns, inverse = np.unique(seen, axis=0, return_inverse=True)
    return [(np.flatnonzero(inverse.reshape(-1) == i), pattern) for i, pattern in enumerate(patterns)]


def ill_conditioning_loss(n: FloatArray, eigenvalues: FloatArray) -> float:
    """How much Q may lose because a covariance of condition number c is computed with relative
    error about 2.2e-16 c in its smallest eigenvalues (entries of size of the largest one cancel):
    a relative error d in a variance costs about n d^2 / 4 per direction; d = 1e-15 c, a margin of
    4.5 over float64's precision. Negligible unless c exceeds about 1e10."""
    condition = eigenvalues.max(axis=1) / np.maximum(eigenvalues.min(axis=1), np.finfo(float).tiny)
    error = 1e-15 * condition
    return float((n * eigenvalues.shape[1] * error * error / 4).sum())


#: Gaussian columns whose spread (their range) lies outside these bounds have variances, about its
#: square, beyond what float64 holds with room for the density's arithmetic (1e+-300).
SPREAD_BOUNDS = (1e-150, 1e150)


def check_spread(spread: FloatArray, columns: Sequence[str]) -> None:
    """``ModelError`` (the model cannot represent such a variance) naming a column whose spread
    puts its variance beyond floating point."""
    low, high = SPREAD_BOUNDS
    for name, value in zip(columns, np.atleast_1d(spread), strict=False):
        if np.isfinite(value) and (value > high or 0 < value < low):
            raise ModelError(
                f"column {name!r} spreads over {value:.3g} (its range): a Gaussian variance there, about its "
                "square, is beyond what floating point holds here; rescale the data (e.g. divide the column by a "
                "power of 10)"
            )

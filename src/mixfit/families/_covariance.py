"""The four covariance structures of ``Gaussian`` as small strategy objects (scikit-learn's
"full", "tied", "diag" and "spherical"), so that ``Gaussian`` itself never branches on the type.

Each knows the second-moment columns of the design (``[z_i z_j, i <= j]`` for full and tied,
``[z_i^2]`` for diag and spherical) and the natural coefficients of a density from a mean and a
covariance (the linear form that standard errors differentiate), and, computed about each
component's own centre so that data far from the origin keep their precision: the
log-densities, the scatter of the rows about a component's mean, Q from those moments and the
M-step; also the shape and checks of a covariance given by the user, and its eigenvalues. Its
free parameters follow from its shape and domain (``Family.n_free_params``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mixfit._math import FloatArray, safe_divide, upper_triangle
from mixfit.errors import ModelError
from mixfit.families._base import COVARIANCE, POSITIVE, TIED_COVARIANCE

#: A squared Cholesky pivot below this fraction of its variance: a covariance that is not
#: (numerically) positive definite. Its condition number is then about 1e14 or more, where float64
#: round-off (2.2e-16 times the condition) reaches a few percent of the smallest variance.
SINGULAR_RTOL = 1e-14
#: A variance below this fraction of the squared location of the component's rows is a collapse
#: onto one value (the likelihood is then unbounded). Deviations about a component's own mean
#: are exact to float64 round-off of the location, (2.2e-16)^2 = 5e-32 of its square; the bound,
#: about (14 x 2.2e-16)^2, leaves room for that round-off and no more, so a real spread is never
#: taken for a collapse: two clusters 10 apart at 1e13 (a variance 1e-26 of the squared location)
#: fit, as scikit-learn fits them, and so does float32 data (its spread is at least 1e-14 of it).
COLLAPSE_RTOL = 1e-29
LOG_2PI = float(np.log(2 * np.pi))
#: Blocks of at most this many cells (components x rows x columns) are computed in one
#: vectorised step; larger ones component by component (bounded memory).
BLOCK_CELLS = 1 << 18


class Covariance:
    """What differs between covariance structures (see the module docstring)."""

    name: str
    #: mclust's code of the model: volume, shape and orientation, each Equal across
    #: components, Varying or the Identity (``families._parsimonious``).
    code: str
    #: Whether every component's entries are the same (estimated once).
    shared: bool = False
    #: Whether the covariance is diagonal (then NaN entries can be modelled as missing).
    diagonal: bool = False
    #: The domain of the ``covariance`` parameter (``families._base.ParamSpec``).
    domain: str = COVARIANCE

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components, n_columns, n_columns)

    def n_free(self, n_components: int, n_columns: int) -> int:
        """Free covariance parameters (mclust's ``nVarParams``), from the code: a volume once
        or per component, ``d - 1`` shape entries once or per component (none for I), and
        ``d (d - 1) / 2`` orientation angles once or per component (none for I)."""
        d, k = n_columns, n_components
        volume, shape, orientation = self.code[0], self.code[1], self.code[2]
        count = {"E": 1, "V": k}[volume]
        count += {"I": 0, "E": d - 1, "V": k * (d - 1)}[shape]
        count += {"I": 0, "E": d * (d - 1) // 2, "V": k * d * (d - 1) // 2}[orientation]
        return count

    def second_design(self, z: FloatArray) -> FloatArray:
        upper = upper_triangle(z.shape[1])
        return z[:, upper[0]] * z[:, upper[1]]

    def second_width(self, n_columns: int) -> int:
        return n_columns * (n_columns + 1) // 2

    def second_names(self, names: Sequence[str]) -> list[str]:
        upper = upper_triangle(len(names))
        return [f"{names[int(i)]}*{names[int(j)]}" for i, j in zip(*upper, strict=True)]

    def natural(self, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(coef, column_bias)`` of ``[z, second design]`` for centred means ``m`` (K, D)."""
        n_components, n_columns = m.shape
        precision, log_det = precisions(cov)
        upper = upper_triangle(n_columns)
        quad = -precision[:, upper[0], upper[1]] * np.where(upper[0] == upper[1], 0.5, 1.0)
        linear = np.einsum("kij,kj->ki", precision, m)
        column_bias = np.zeros((n_components, n_columns))
        column_bias[:, 0] = -0.5 * (np.einsum("ki,ki->k", linear, m) + n_columns * LOG_2PI + log_det)
        return np.hstack([linear, quad]), column_bias

    def scatter(self, z: FloatArray, resp: FloatArray, mean: FloatArray, observed: FloatArray | None) -> FloatArray:
        """``sum_n r_nk (z_n - mean_k)(z_n - mean_k)'`` per component (K, D, D): the second
        moments about each component's own mean, free of the cancellation of raw moments."""
        out = np.empty((len(resp), z.shape[1], z.shape[1]))
        for k, (r, m) in enumerate(zip(resp, mean, strict=True)):
            d = z - m
            out[k] = (d * r[:, None]).T @ d
        return out

    def log_density(self, z: FloatArray, m: FloatArray, cov: FloatArray, observed: FloatArray | None) -> FloatArray:
        """log N(z_n | m_k, cov_k) with every constant, laid out (K, n); ``m`` about the centre:
        the squared length of ``L_k^-1 (z_n - m_k)`` (``L_k`` the Cholesky factor)."""
        chol, log_det = cholesky_factors(cov)
        whiten = np.swapaxes(np.linalg.inv(chol), 1, 2).astype(z.dtype)
        out = np.empty((len(m), z.shape[0]), dtype=z.dtype)
        for k in range(len(m)):
            y = (z - m[k].astype(z.dtype)) @ whiten[k]
            out[k] = np.einsum("ij,ij->i", y, y)
        out += (z.shape[1] * LOG_2PI + log_det)[:, None]
        out *= -0.5
        return out

    def expected_log_density(self, stats: Any, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(Q_k, magnitude_k)``: ``sum_n r_nk log N(z_n | m_k, cov_k)`` from the moments about each
        component's mean, and the summed size of its terms (for the round-off bound)."""
        precision, log_det = precisions(cov)
        n, n_columns = stats.n, m.shape[1]
        shift = stats.mean - m
        spread = np.einsum("kij,kij->k", precision, stats.scatter)
        offset = n * np.einsum("ki,kij,kj->k", shift, precision, shift)
        constant = n * (n_columns * LOG_2PI + log_det)
        location = n * (np.abs(m) * np.sqrt(np.einsum("kii->ki", precision))).sum(axis=1)
        return -0.5 * (constant + spread + offset), np.abs(constant) + spread + offset + location

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        """Covariances from the scatter about each component's mean, as scikit-learn computes
        them; ``reg`` is added to every variance; ``location`` (K, D) is where the rows lie."""
        n_columns = stats.mean.shape[1]
        cov = safe_divide(stats.scatter, stats.n[:, None, None], 0.0)
        cov[stats.n == 0] = np.eye(n_columns)
        cov = cov + reg * np.eye(n_columns)
        check_collapse(np.einsum("kii->ki", cov), location)
        precisions(cov)  # a singular covariance is an error naming its component
        return cov

    def eigenvalues(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        return np.linalg.eigvalsh(np.asarray(cov, dtype=float))

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        """A user's covariance in the stored shape, else ``ModelError``."""
        self._check_shape(cov, n_components, n_columns)
        if not np.allclose(cov, np.swapaxes(cov, 1, 2)):
            raise ModelError("params_init['covariance'] must be symmetric")
        precisions(cov)
        return cov

    def _check_shape(self, cov: FloatArray, n_components: int, n_columns: int) -> None:
        expected = self.shape(n_components, n_columns)
        if cov.shape != expected:
            raise ModelError(
                f"params_init['covariance'] must have shape {expected} for covariance={self.name!r}; got {cov.shape}"
            )

    def draw(self, cov: FloatArray, shape: tuple[int, int], labels: np.ndarray, noise: FloatArray) -> FloatArray:
        """``noise`` (standard normal rows) scaled by the covariance of each row's component;
        ``shape`` is that of the means, (K, D)."""
        chol = np.linalg.cholesky(cov)
        return np.einsum("nij,nj->ni", chol[labels], noise)


class Full(Covariance):
    name, code = "full", "VVV"


class Tied(Covariance):
    """One covariance shared by every component (stored once per component, all equal)."""

    name, code = "tied", "EEE"
    domain = TIED_COVARIANCE

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        n_columns = stats.mean.shape[1]
        pooled = stats.scatter.sum(axis=0) / stats.n.sum()
        cov = np.repeat(pooled[None], len(stats.n), axis=0) + reg * np.eye(n_columns)
        check_collapse(np.einsum("kii->ki", cov), location)
        precisions(cov)
        return cov

    def eigenvalues(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        values = np.linalg.eigvalsh(np.asarray(cov, dtype=float))
        return np.broadcast_to(values, (n_components, n_columns)) if values.ndim == 1 else values

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        if cov.shape == (n_columns, n_columns):
            cov = np.repeat(cov[None], n_components, axis=0)
        cov = super().check(cov, n_components, n_columns)
        if not np.allclose(cov, cov[:1]):
            raise ModelError("params_init['covariance'] must be the same for every component (tied)")
        return cov


class Diag(Covariance):
    """Independent columns: one variance per component and column, ``covariance`` (K, D)."""

    name, code = "diag", "VVI"
    diagonal = True
    domain = POSITIVE

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components, n_columns)

    def second_design(self, z: FloatArray) -> FloatArray:
        return z * z

    def second_width(self, n_columns: int) -> int:
        return n_columns

    def second_names(self, names: Sequence[str]) -> list[str]:
        return [f"{c}^2" for c in names]

    def variances(self, cov: FloatArray, shape: tuple[int, int]) -> FloatArray:
        """Variances per component and column, (K, D) or broadcastable to it."""
        return np.asarray(cov, dtype=float)

    def natural(self, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        var = np.broadcast_to(self.variances(cov, m.shape), m.shape)
        check_variances(var)
        coef = np.hstack([m / var, -0.5 / var])
        return coef, -0.5 * (m * m / var + LOG_2PI + np.log(var))

    def scatter(self, z: FloatArray, resp: FloatArray, mean: FloatArray, observed: FloatArray | None) -> FloatArray:
        """``sum_n r_nk o_nj (z_nj - mean_kj)^2`` per component and column (K, D)."""
        if resp.size * z.shape[1] <= BLOCK_CELLS:  # small blocks: one vectorised step
            d = z[None] - mean[:, None]
            if observed is not None:
                d *= observed
            return np.einsum("kn,knj->kj", resp, d * d)
        out = np.empty((len(resp), z.shape[1]))
        for k, (r, m) in enumerate(zip(resp, mean, strict=True)):
            d = z - m
            if observed is not None:
                d *= observed
            out[k] = r @ (d * d)
        return out

    def log_density(self, z: FloatArray, m: FloatArray, cov: FloatArray, observed: FloatArray | None) -> FloatArray:
        var = self.variances(cov, m.shape)
        inverse, constant = (1.0 / var).astype(z.dtype), (LOG_2PI + np.log(var)).astype(z.dtype)
        if len(m) * z.size <= BLOCK_CELLS:
            d = z[None] - m[:, None].astype(z.dtype)
            terms = d * d * inverse[:, None] + constant[:, None]
            if observed is not None:
                terms *= observed
            return -0.5 * terms.sum(axis=2)
        out = np.empty((len(m), z.shape[0]), dtype=z.dtype)
        for k in range(len(m)):
            d = z - m[k].astype(z.dtype)
            terms = d * d * inverse[k] + constant[k]
            out[k] = -0.5 * (terms.sum(axis=1) if observed is None else (terms * observed).sum(axis=1))
        return out

    def expected_log_density(self, stats: Any, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        var = self.variances(cov, m.shape)
        shift = stats.mean - m
        spread = (stats.scatter + stats.count * shift * shift) / var
        constant = stats.count * (LOG_2PI + np.log(var))
        location = stats.count * np.abs(m) / np.sqrt(var)
        return -0.5 * (constant + spread).sum(axis=1), (np.abs(constant) + spread + location).sum(axis=1)

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        var = self._variance(stats) + reg
        check_collapse(np.broadcast_to(var.T, location.T.shape).T, location)
        return var

    def _variance(self, stats: Any) -> FloatArray:
        return safe_divide(stats.scatter, stats.count, 1.0)

    def eigenvalues(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        return np.broadcast_to(self.variances(cov, (n_components, n_columns)), (n_components, n_columns))

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        if n_columns == 1 and cov.shape == (n_components,):
            cov = cov[:, None]
        self._check_shape(cov, n_components, n_columns)
        check_variances(cov)
        return cov

    def draw(self, cov: FloatArray, shape: tuple[int, int], labels: np.ndarray, noise: FloatArray) -> FloatArray:
        return noise * np.sqrt(self.variances(cov, shape))[labels]


class Spherical(Diag):
    """One variance per component for every column, ``covariance`` (K,)."""

    name, code = "spherical", "VII"

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components,)

    def variances(self, cov: FloatArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(cov, dtype=float)[:, None]

    def _variance(self, stats: Any) -> FloatArray:
        return safe_divide(stats.scatter.sum(axis=1), stats.count.sum(axis=1), 1.0)

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        self._check_shape(cov, n_components, n_columns)
        check_variances(cov)
        return cov


COVARIANCES: dict[str, Covariance] = {c.name: c for c in (Full(), Tied(), Diag(), Spherical())}


def check_variances(var: FloatArray) -> None:
    """Variances are positive normal floats: a subnormal one (1e-320) has no finite reciprocal."""
    bad = ~(np.asarray(var) >= np.finfo(float).tiny)
    if bad.any():
        k = int(np.argmax(bad.reshape(len(bad), -1).any(axis=1)))
        raise ModelError(
            f"covariance of component {k} must have positive variances of at least {np.finfo(float).tiny:.3g} "
            f"(the smallest whose reciprocal is finite); got {np.asarray(var)[k]}"
        )


def check_collapse(var: FloatArray, location: FloatArray) -> None:
    """``ModelError`` naming the first component whose variance (K, D) collapsed to 0 within the
    round-off of its rows' ``location`` (K, D): see ``COLLAPSE_RTOL``."""
    collapsed = var <= COLLAPSE_RTOL * location * location
    if collapsed.any():
        k = int(np.argmax(collapsed.reshape(len(var), -1).any(axis=1)))
        raise ModelError(
            f"covariance of component {k} is singular: the component collapsed onto a single value; "
            "set a floor, e.g. Gaussian(reg_covar=1e-6), or use fewer components"
        )


def symmetric(packed: FloatArray, n_columns: int) -> FloatArray:
    """(K, D (D + 1) / 2) upper triangles to full symmetric (K, D, D) matrices."""
    upper = upper_triangle(n_columns)
    out = np.zeros((packed.shape[0], n_columns, n_columns))
    out[:, upper[0], upper[1]] = packed
    out[:, upper[1], upper[0]] = packed
    return out


#: The factorisations of the last few covariances, by value: an EM iteration asks for those of
#: the same parameters several times (E-step, Q, round-off bound, M-step check). The key is the
#: array's bytes (a copy far cheaper than the factorisation), so an array changed in place is
#: factorised again.
_RECENT: list[tuple[str, tuple[int, ...], bytes, Any]] = []
RECENT_SIZE = 8


def _remembered(kind: str, cov: FloatArray, compute: Any) -> Any:
    key = np.ascontiguousarray(cov).tobytes()
    for cached_kind, shape, cached, result in list(_RECENT):
        if cached_kind == kind and shape == cov.shape and cached == key:
            return result
    result = compute(cov)
    _RECENT.insert(0, (kind, cov.shape, key, result))
    del _RECENT[RECENT_SIZE:]
    return result


def precisions(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Precision matrices and log-determinants of covariances; ``ModelError`` naming the first
    component whose covariance is not (numerically) positive definite."""
    cov = np.asarray(cov, dtype=float)
    return _remembered("precision", cov, _precisions)


def _precisions(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    chol, log_det = cholesky_factors(cov)
    inv_chol = np.linalg.inv(chol)
    return np.swapaxes(inv_chol, 1, 2) @ inv_chol, log_det


def cholesky_factors(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Lower Cholesky factors and log-determinants of covariances (K, D, D); ``ModelError``
    naming the first component whose covariance is not (numerically) positive definite."""
    cov = np.asarray(cov, dtype=float)
    return _remembered("cholesky", cov, _cholesky_factors)


def _cholesky_factors(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    try:
        chol = np.asarray(np.linalg.cholesky(cov), dtype=np.float64)
    except np.linalg.LinAlgError:
        chol = np.full_like(cov, np.nan)
        for k, matrix in enumerate(cov):
            try:
                chol[k] = np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                break
    pivots = np.einsum("kii->ki", chol)
    variances = np.maximum(np.einsum("kii->ki", cov), 1e-300)
    bad = ~(pivots**2 > SINGULAR_RTOL * variances).all(axis=1)
    if bad.any():
        raise ModelError(
            f"covariance of component {int(np.argmax(bad))} is singular (not positive definite): the "
            "component collapsed onto fewer dimensions than the data have; set a floor, e.g. "
            "Gaussian(reg_covar=1e-6), or use fewer components"
        )
    return chol, np.asarray(2 * np.log(pivots).sum(axis=1), dtype=np.float64)

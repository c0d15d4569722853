"""The four covariance structures of ``Gaussian`` as small strategy objects (scikit-learn's
"full", "tied", "diag" and "spherical"), so that ``Gaussian`` itself never branches on the type.

Each knows the second-moment columns of the design (``[z_i z_j, i <= j]`` for full and tied,
``[z_i^2]`` for diag and spherical), the natural coefficients of a density from a mean and a
covariance, the M-step from first and second moments, the shape and checks of a covariance
given by the user, and its eigenvalues; its free parameters follow from its shape and domain
(``Family.n_free_params``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mixfit._math import FloatArray, safe_divide
from mixfit.errors import ModelError
from mixfit.families._base import COVARIANCE, POSITIVE, TIED_COVARIANCE

#: A variance below this fraction of the component's second moment about the data's centre is
#: taken as a collapse onto one value (the likelihood is then unbounded).
SINGULAR_RTOL = 1e-12
LOG_2PI = float(np.log(2 * np.pi))


class Covariance:
    """What differs between covariance structures (see the module docstring)."""

    name: str
    #: Whether the covariance is diagonal (then NaN entries can be modelled as missing).
    diagonal: bool = False
    #: The domain of the ``covariance`` parameter (``families._base.ParamSpec``).
    domain: str = COVARIANCE

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components, n_columns, n_columns)

    def second_design(self, z: FloatArray) -> FloatArray:
        upper = np.triu_indices(z.shape[1])
        return z[:, upper[0]] * z[:, upper[1]]

    def second_width(self, n_columns: int) -> int:
        return n_columns * (n_columns + 1) // 2

    def second_names(self, names: Sequence[str]) -> list[str]:
        upper = np.triu_indices(len(names))
        return [f"{names[int(i)]}*{names[int(j)]}" for i, j in zip(*upper, strict=True)]

    def natural(self, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(coef, column_bias)`` of ``[z, second design]`` for centred means ``m`` (K, D)."""
        n_components, n_columns = m.shape
        precision, log_det = precisions(cov)
        upper = np.triu_indices(n_columns)
        quad = -precision[:, upper[0], upper[1]] * np.where(upper[0] == upper[1], 0.5, 1.0)
        linear = np.einsum("kij,kj->ki", precision, m)
        column_bias = np.zeros((n_components, n_columns))
        column_bias[:, 0] = -0.5 * (np.einsum("ki,ki->k", linear, m) + n_columns * LOG_2PI + log_det)
        return np.hstack([linear, quad]), column_bias

    def m_step(
        self, n: FloatArray, first: FloatArray, second: FloatArray, observed: FloatArray, reg: float
    ) -> FloatArray:
        """Covariances from moments about the centre (``first`` (K, D), ``second`` packed), as
        scikit-learn computes them; ``reg`` is added to every variance."""
        n_columns = first.shape[1]
        m = safe_divide(first, n[:, None], 0.0)
        cov = safe_divide(symmetric(second, n_columns), n[:, None, None], 0.0) - m[:, :, None] * m[:, None, :]
        cov[n == 0] = np.eye(n_columns)
        cov = cov + reg * np.eye(n_columns)
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
    name = "full"


class Tied(Covariance):
    """One covariance shared by every component (stored once per component, all equal)."""

    name = "tied"
    domain = TIED_COVARIANCE

    def m_step(
        self, n: FloatArray, first: FloatArray, second: FloatArray, observed: FloatArray, reg: float
    ) -> FloatArray:
        n_columns = first.shape[1]
        m = safe_divide(first, n[:, None], 0.0)
        scatter = (symmetric(second, n_columns) - n[:, None, None] * (m[:, :, None] * m[:, None, :])).sum(axis=0)
        cov = np.repeat((scatter / n.sum())[None], len(n), axis=0) + reg * np.eye(n_columns)
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

    name = "diag"
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
        """Variances per component and column, (K, D)."""
        return np.broadcast_to(np.asarray(cov, dtype=float), shape)

    def natural(self, m: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        var = self.variances(cov, m.shape)
        check_variances(var)
        coef = np.hstack([m / var, -0.5 / var])
        return coef, -0.5 * (m * m / var + LOG_2PI + np.log(var))

    def m_step(
        self, n: FloatArray, first: FloatArray, second: FloatArray, observed: FloatArray, reg: float
    ) -> FloatArray:
        m = safe_divide(first, observed, 0.0)
        raw = safe_divide(second, observed, 1.0)
        var = self._variance(first, second, observed, m) + reg
        check_collapse(var, raw if var.ndim == 2 else raw.mean(axis=1))
        return var

    def _variance(self, first: FloatArray, second: FloatArray, observed: FloatArray, m: FloatArray) -> FloatArray:
        return safe_divide(second, observed, 1.0) - m * m

    def eigenvalues(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        return self.variances(cov, (n_components, n_columns))

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

    name = "spherical"

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components,)

    def variances(self, cov: FloatArray, shape: tuple[int, int]) -> FloatArray:
        return np.broadcast_to(np.asarray(cov, dtype=float)[:, None], shape)

    def _variance(self, first: FloatArray, second: FloatArray, observed: FloatArray, m: FloatArray) -> FloatArray:
        scatter = second - m * first
        return safe_divide(scatter.sum(axis=1), observed.sum(axis=1), 1.0)

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        self._check_shape(cov, n_components, n_columns)
        check_variances(cov)
        return cov


COVARIANCES: dict[str, Covariance] = {c.name: c for c in (Full(), Tied(), Diag(), Spherical())}


def check_variances(var: FloatArray) -> None:
    bad = ~(np.asarray(var) > 0)
    if bad.any():
        k = int(np.argmax(bad.reshape(len(bad), -1).any(axis=1)))
        raise ModelError(f"covariance of component {k} must have positive variances; got {np.asarray(var)[k]}")


def check_collapse(var: FloatArray, reference: FloatArray) -> None:
    """``ModelError`` naming the first component whose variance collapsed to (nearly) 0."""
    collapsed = var <= SINGULAR_RTOL * reference
    if collapsed.any():
        k = int(np.argmax(collapsed.reshape(len(var), -1).any(axis=1)))
        raise ModelError(
            f"covariance of component {k} is singular: the component collapsed onto a single value; "
            "set a floor, e.g. Gaussian(reg_covar=1e-6), or use fewer components"
        )


def symmetric(packed: FloatArray, n_columns: int) -> FloatArray:
    """(K, D (D + 1) / 2) upper triangles to full symmetric (K, D, D) matrices."""
    upper = np.triu_indices(n_columns)
    out = np.zeros((packed.shape[0], n_columns, n_columns))
    out[:, upper[0], upper[1]] = packed
    out[:, upper[1], upper[0]] = packed
    return out


def precisions(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Precision matrices and log-determinants of covariances; ``ModelError`` naming the first
    component whose covariance is not (numerically) positive definite."""
    cov = np.asarray(cov, dtype=float)
    out = np.empty_like(cov)
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
        out[k] = inv_chol.T @ inv_chol
        log_det[k] = 2 * np.log(np.diag(chol)).sum()
    return out, log_det

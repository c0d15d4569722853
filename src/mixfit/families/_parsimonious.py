"""The ten covariance models of mclust that scikit-learn's four do not cover: Celeux and
Govaert's (1995) parsimonious Gaussian models, in which every covariance is written
``lambda_k D_k A_k D_k'`` (volume ``lambda_k = |Sigma_k|^(1/d)``, a diagonal shape ``A_k`` of
determinant 1, an orientation ``D_k``) and each of volume, shape and orientation is Equal across
components, Varying, or (shape and orientation) the Identity. The code names them in that order,
as mclust does: "VEV" has varying volumes, one shape and varying orientations.

Each model's M-step maximises ``-1/2 sum_k [n_k log|Sigma_k| + tr(W_k Sigma_k^-1)]`` over its
constrained covariances (``W_k`` the scatter of component k about its mean, ``n_k`` its expected
rows): in closed form where one exists (EEI, EVI, EEV, EVV: Celeux and Govaert, 1995, section 3;
EII by the same argument), by their alternating iterations otherwise (VEI, VEE, VEV), and for the
models with one orientation and varying shapes (EVE, VVE, added by Browne and McNicholas, 2014)
by alternating the shapes in closed form with sweeps of exact plane rotations for the
orientation (the coordinate descent of Flury and Gautschi's common principal components). Every inner
iteration lowers that objective, and it runs until the objective stops changing at float64
precision, so the M-step is the maximiser (to round-off) that EM needs.

Diagonal models (EII, EEI, VEI, EVI) keep diagonal storage and so missing entries: their
variances solve the same problem with per-column counts of observed entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixfit._math import FloatArray, safe_divide
from mixfit.errors import ModelError
from mixfit.families._base import CONSTRAINED_COVARIANCE, CONSTRAINED_VARIANCE, POSITIVE
from mixfit.families._covariance import (
    Covariance,
    Diag,
    Full,
    Spherical,
    Tied,
    check_collapse,
    check_variances,
    precisions,
)

#: Inner iterations stop when the objective changes by less than this fraction of its size
#: (float64 round-off of a sum of a few hundred terms), or after ``INNER_MAX`` iterations.
INNER_RTOL = 1e-13
INNER_MAX = 1000
#: Alternations of EVE's and VVE's M-step when it starts from the pass's orientation (a
#: generalised EM step: ``one_orientation``).
WARM_SWEEPS = 2


def conformity_problem(code: str, cov: FloatArray, rtol: float = 1e-6) -> str | None:
    """Why covariances (K, D, D) are not of model ``code`` (None: they are): unequal volumes,
    shapes or orientations where the model makes them equal, or a non-diagonal matrix where
    the orientation is the identity."""
    cov = np.asarray(cov, dtype=float)
    d = cov.shape[-1]
    volume = np.exp(np.linalg.slogdet(cov)[1] / d)
    if code[0] == "E" and not np.allclose(volume, volume[0], rtol=rtol, atol=0):
        return "its components' volumes (determinants) differ"
    off_diagonal = cov - np.einsum("kii->ki", cov)[:, :, None] * np.eye(d)
    if code[2] == "I":
        if np.abs(off_diagonal).max() > rtol * np.abs(cov).max():
            return "its covariances are not diagonal"
        shape = np.einsum("kii->ki", cov) / volume[:, None]
    else:
        shape = np.linalg.eigvalsh(cov)[:, ::-1] / volume[:, None]
    if code[1] == "I" and not np.allclose(shape, 1.0, rtol=rtol, atol=0):
        return "its covariances are not spherical"
    if code[1] == "E" and not np.allclose(shape, shape[0], rtol=rtol, atol=0):
        return "its components' shapes (eigenvalues over volume) differ"
    if code[2] == "E" and len(cov) > 1:
        mix = np.tensordot(np.random.default_rng(0).uniform(1, 2, len(cov)), cov, axes=1)
        axes = np.linalg.eigh(mix)[1]
        rotated = np.swapaxes(axes, 0, 1) @ cov @ axes  # (K, D, D): diagonal if the axes are shared
        spill = rotated - np.einsum("kii->ki", rotated)[:, :, None] * np.eye(d)
        if np.abs(spill).max() > rtol * np.abs(cov).max():
            return "its components do not share their orientation (eigenvectors)"
    return None


# --------------------------------------------------------------------- diagonal models
def _geometric_mean(x: FloatArray, axis: int = -1) -> FloatArray:
    return np.exp(np.log(x).mean(axis=axis))


def _diagonal_objective(scatter: FloatArray, count: FloatArray, var: FloatArray) -> float:
    return float((count * np.log(var) + scatter / var).sum())


def _converged(previous: float, current: float) -> bool:
    return abs(previous - current) <= INNER_RTOL * max(abs(current), 1.0)


def equal_variances(scatter: FloatArray, count: FloatArray) -> FloatArray:
    """EII: one variance, ``sum s / sum c``, for every component and column (K, D)."""
    return np.full(scatter.shape, safe_divide(scatter.sum(), count.sum(), 1.0))


def equal_diagonal(scatter: FloatArray, count: FloatArray) -> FloatArray:
    """EEI: one variance per column, pooled over components (K, D)."""
    return np.broadcast_to(safe_divide(scatter.sum(axis=0), count.sum(axis=0), 1.0), scatter.shape).copy()


def volume_times_shape(scatter: FloatArray, count: FloatArray) -> FloatArray:
    """VEI: ``var_kj = lambda_k b_j``: alternately each component's volume given the shape and
    the shape given the volumes, each in closed form (a product model of the variances)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = safe_divide(scatter.sum(axis=0), count.sum(axis=0), 1.0)
        previous = np.inf
        for _ in range(INNER_MAX):
            volume = safe_divide((scatter / shape).sum(axis=1), count.sum(axis=1), 1.0)
            shape = safe_divide((scatter / volume[:, None]).sum(axis=0), count.sum(axis=0), 1.0)
            var = volume[:, None] * shape
            current = _diagonal_objective(scatter, count, var)
            if not np.isfinite(current) or _converged(previous, current):
                break
            previous = current
    return var


def volume_and_shapes(scatter: FloatArray, count: FloatArray) -> FloatArray:
    """EVI: ``var_kj = lambda a_kj`` with ``prod_j a_kj = 1``. With every column observed as
    often as the others (complete data) the closed form: ``a_k`` proportional to the diagonal
    of ``W_k``, ``lambda = sum_k |diag W_k|^(1/d) / n``. With missing entries, alternately the
    volume and each component's shape, whose stationary point ``a_j = t_j / (c_j - mu)`` has
    the multiplier ``mu`` found by bisection so that the shape's determinant is 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.allclose(count, count[:, :1]):
            spread = _geometric_mean(scatter)
            return safe_divide(spread.sum(), count[:, 0].sum(), 1.0) * scatter / spread[:, None]
        volume = float(safe_divide(scatter.sum(), count.sum(), 1.0))
        previous = np.inf
        for _ in range(INNER_MAX):
            shape = np.stack([_unit_shape(s / volume, c) for s, c in zip(scatter, count, strict=True)])
            volume = float((scatter / shape).sum() / count.sum())
            current = _diagonal_objective(scatter, count, volume * shape)
            if not np.isfinite(current) or _converged(previous, current):
                break
            previous = current
    return volume * shape


def _unit_shape(target: FloatArray, count: FloatArray) -> FloatArray:
    """The shape ``a`` (product 1) minimising ``sum_j c_j log a_j + t_j / a_j``: ``a_j = t_j /
    (c_j - mu)`` with ``sum_j log(c_j - mu) = sum_j log t_j`` (decreasing in ``mu < min c``)."""
    if not (target > 0).all() or not (count > 0).all():
        return np.ones_like(target)
    goal = np.log(target).sum()
    low, high = count.min() - 2 * target.max() - 1.0, count.min()  # the sum exceeds, then falls below, goal
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        low, high = (mid, high) if np.log(count - mid).sum() > goal else (low, mid)
    shape = target / (count - low)
    return shape / _geometric_mean(shape)


class DiagonalModel(Diag):
    """A diagonal model whose variances (K, D) follow a structure across components."""

    code = "VVI"
    domain = CONSTRAINED_VARIANCE

    def estimate(self, scatter: FloatArray, count: FloatArray) -> FloatArray:
        raise NotImplementedError

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        """The model's variances from the scatter with ``reg`` added to every column's variance
        (``reg`` times the count), so the floor keeps the structure."""
        var = self.estimate(stats.scatter + reg * stats.count, stats.count)
        check_variances(var)
        check_collapse(var, location)
        return var

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        cov = super().check(cov, n_components, n_columns)
        _check_conforms(self.code, np.einsum("ki,ij->kij", np.asarray(cov, dtype=float), np.eye(n_columns)))
        return cov


class EII(DiagonalModel):
    """One variance for every component and column; stored once per component, (K,), all equal."""

    name = code = "EII"
    domain = POSITIVE
    shared = True

    def shape(self, n_components: int, n_columns: int) -> tuple[int, ...]:
        return (n_components,)

    def variances(self, cov: FloatArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(cov, dtype=float)[:, None]

    def estimate(self, scatter: FloatArray, count: FloatArray) -> FloatArray:
        return equal_variances(scatter, count)

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        return super().m_step(stats, reg, location)[:, 0].copy()

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        self._check_shape(cov, n_components, n_columns)
        check_variances(cov)
        _check_conforms(self.code, np.einsum("k,ij->kij", np.asarray(cov, dtype=float), np.eye(n_columns)))
        return cov


class EEI(DiagonalModel):
    """One variance per column shared by every component (stored per component, all equal)."""

    name = code = "EEI"
    domain = POSITIVE
    shared = True

    def estimate(self, scatter: FloatArray, count: FloatArray) -> FloatArray:
        return equal_diagonal(scatter, count)


class VEI(DiagonalModel):
    name = code = "VEI"

    def estimate(self, scatter: FloatArray, count: FloatArray) -> FloatArray:
        return volume_times_shape(scatter, count)


class EVI(DiagonalModel):
    name = code = "EVI"

    def estimate(self, scatter: FloatArray, count: FloatArray) -> FloatArray:
        return volume_and_shapes(scatter, count)


# --------------------------------------------------------------------- full-matrix models
def _unit_determinant(matrices: FloatArray) -> FloatArray:
    """Matrices (..., D, D) divided by the D-th root of their determinants."""
    return matrices / np.exp(np.linalg.slogdet(matrices)[1] / matrices.shape[-1])[..., None, None]


def _matrix_objective(scatter: FloatArray, n: FloatArray, cov: FloatArray) -> float:
    sign, log_det = np.linalg.slogdet(cov)
    if not (sign > 0).all():
        return np.inf
    return float((n * log_det).sum() + np.einsum("kij,kji->", scatter, np.linalg.inv(cov)))


def _descending_eigen(scatter: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Eigenvalues (K, D), largest first, and their eigenvectors (K, D, D) as columns."""
    values, vectors = np.linalg.eigh(scatter)
    return values[:, ::-1], vectors[:, :, ::-1]


def _compose(axes: FloatArray, diagonal: FloatArray) -> FloatArray:
    """``D diag(a) D'`` for orientations (K, D, D) or (D, D) and diagonals (K, D)."""
    axes = np.broadcast_to(axes, (len(diagonal), *axes.shape[-2:]))
    return np.einsum("kij,kj,klj->kil", axes, diagonal, axes)


def volume_times_matrix(scatter: FloatArray, n: FloatArray) -> FloatArray:
    """VEE: ``Sigma_k = lambda_k C`` (``|C| = 1``): alternately ``C`` proportional to
    ``sum_k W_k / lambda_k`` and ``lambda_k = tr(W_k C^-1) / (n_k d)``."""
    d = scatter.shape[-1]
    common = _unit_determinant(scatter.sum(axis=0))
    previous = np.inf
    for _ in range(INNER_MAX):
        volume = safe_divide(np.einsum("kij,ji->k", scatter, np.linalg.inv(common)), n * d, 1.0)
        common = _unit_determinant(np.einsum("kij,k->ij", scatter, safe_divide(np.ones_like(volume), volume, 0.0)))
        cov = volume[:, None, None] * common
        current = _matrix_objective(scatter, n, cov)
        if not np.isfinite(current) or _converged(previous, current):
            break
        previous = current
    return cov


def equal_shape_rotated(scatter: FloatArray, n: FloatArray) -> FloatArray:
    """EEV, in closed form: each component's own eigenvectors of ``W_k`` (eigenvalues
    ``Omega_k``, largest first), the eigenvalues ``sum_k Omega_k / n`` shared."""
    values, vectors = _descending_eigen(scatter)
    shared = np.broadcast_to(values.sum(axis=0) / n.sum(), values.shape)
    return _compose(vectors, shared)


def volume_shape_rotated(scatter: FloatArray, n: FloatArray) -> FloatArray:
    """VEV: each component's own eigenvectors, one shape ``A``, volumes per component:
    alternately ``lambda_k = tr(Omega_k A^-1) / (n_k d)`` and ``A`` proportional to
    ``sum_k Omega_k / lambda_k``."""
    d = scatter.shape[-1]
    values, vectors = _descending_eigen(scatter)
    shape = _unit_shape_vector(values.sum(axis=0))
    previous = np.inf
    for _ in range(INNER_MAX):
        volume = safe_divide((values / shape).sum(axis=1), n * d, 1.0)
        shape = _unit_shape_vector((values * safe_divide(np.ones_like(volume), volume, 0.0)[:, None]).sum(axis=0))
        diagonal = volume[:, None] * shape
        current = _diagonal_objective(values, n[:, None], diagonal)
        if not np.isfinite(current) or _converged(previous, current):
            break
        previous = current
    return _compose(vectors, diagonal)


def _unit_shape_vector(diagonal: FloatArray) -> FloatArray:
    return diagonal / _geometric_mean(diagonal)


def equal_volume_rotated(scatter: FloatArray, n: FloatArray) -> FloatArray:
    """EVV, in closed form: ``Sigma_k = lambda W_k / |W_k|^(1/d)``, ``lambda = sum_k |W_k|^(1/d) / n``."""
    d = scatter.shape[-1]
    root = np.exp(np.linalg.slogdet(scatter)[1] / d)
    return (root.sum() / n.sum()) * scatter / root[:, None, None]


def _rotation_sweep(axes: FloatArray, scatter: FloatArray, inverse: FloatArray) -> FloatArray:
    """One sweep of plane rotations that lowers ``sum_k tr(W_k D diag(inverse_k) D')`` over
    orthogonal ``D``: for each pair of axes (i, j) the rotation by ``theta`` in their plane
    changes the sum by ``A cos 2 theta + B sin 2 theta`` (a constant aside) with
    ``A = sum_k (m_ki - m_kj) (a_kii - a_kjj) / 2`` and ``B = sum_k (m_ki - m_kj) a_kij``
    (``a_k = D' W_k D``, ``m = inverse``), least at ``2 theta = atan2(-B, -A)``: exact coordinate
    descent over the angles, as Jacobi's eigenvalue method and Flury and Gautschi's (1986)
    common principal components take them."""
    rotated = np.swapaxes(axes, 0, 1) @ scatter @ axes  # (K, D, D)
    axes = axes.T.copy()  # rows: the axes, so that a pair is two views
    d = axes.shape[0]
    for i in range(d - 1):
        for j in range(i + 1, d):
            gap = inverse[:, i] - inverse[:, j]
            a = float(gap @ (rotated[:, i, i] - rotated[:, j, j])) / 2
            b = float(gap @ rotated[:, i, j])
            if a * a + b * b == 0.0:
                continue
            angle = 0.5 * np.arctan2(-b, -a)
            c, s = np.cos(angle), np.sin(angle)
            _rotate(axes[i], axes[j], c, s)
            _rotate(rotated[:, i, :], rotated[:, j, :], c, s)
            _rotate(rotated[:, :, i], rotated[:, :, j], c, s)
    return axes.T


def _rotate(first: FloatArray, second: FloatArray, c: float, s: float) -> None:
    """``(first, second) <- (c first + s second, c second - s first)``, in place (views)."""
    kept = first.copy()
    first *= c
    first += s * second
    second *= c
    second -= s * kept


def _rotated_diagonals(axes: FloatArray, scatter: FloatArray) -> FloatArray:
    """The diagonals of ``D' W_k D``, (K, D)."""
    return np.einsum("ji,kjl,li->ki", axes, scatter, axes)


def one_orientation(
    scatter: FloatArray, n: FloatArray, shared_volume: bool, start: FloatArray | None = None
) -> FloatArray:
    """EVE (``shared_volume``) and VVE: one orientation ``D``, shapes per component, the volume
    once (EVE) or per component (VVE). Alternately the diagonals given ``D`` in closed form
    (EVE: ``A_k`` proportional to ``diag(D' W_k D)``, ``lambda = sum_k |diag(D' W_k D)|^(1/d) / n``;
    VVE: ``diag(D' W_k D) / n_k``) and ``D`` by a sweep of plane rotations, from the orientation
    of ``start`` (the covariances of the pass, when they share one) or else from the eigenvectors
    of the pooled scatter. From the pass's orientation every alternation raises Q above the pass's
    own, so ``WARM_SWEEPS`` of them make a generalised EM step (Dempster, Laird and Rubin, 1977;
    the ECM of Meng and Rubin, 1993), whose log-likelihood never falls and whose fixed points
    are EM's; EM's own iterations finish the orientation's convergence."""
    axes = _shared_axes(start) if start is not None else None
    limit = WARM_SWEEPS if axes is not None else INNER_MAX
    if axes is None:
        axes = np.linalg.eigh(scatter.sum(axis=0))[1]
    previous = np.inf
    for _ in range(limit):
        rotated = _rotated_diagonals(axes, scatter)
        if shared_volume:
            spread = _geometric_mean(rotated)
            diagonal = (spread.sum() / n.sum()) * rotated / spread[:, None]
        else:
            diagonal = safe_divide(rotated, n[:, None], 1.0)
        current = _diagonal_objective(rotated, n[:, None], diagonal)
        if not np.isfinite(current) or _converged(previous, current):
            break
        previous = current
        axes = _rotation_sweep(axes, scatter, 1.0 / diagonal)
    return _compose(axes, diagonal)


def _shared_axes(cov: FloatArray) -> FloatArray | None:
    """The orientation that covariances (K, D, D) share, or None when they do not share one."""
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 3:
        return None
    weights = np.random.default_rng(0).uniform(1, 2, len(cov)) / np.einsum("kii->k", cov)
    axes = np.linalg.eigh(np.tensordot(weights, cov, axes=1))[1]
    rotated = np.swapaxes(axes, 0, 1) @ cov @ axes
    spill = rotated - np.einsum("kii->ki", rotated)[:, :, None] * np.eye(cov.shape[-1])
    return axes if np.abs(spill).max() <= 1e-10 * np.abs(cov).max() else None


class MatrixModel(Full):
    """A model whose covariances are full matrices (K, D, D) with a structure across components."""

    code = "VVV"
    domain = CONSTRAINED_COVARIANCE

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        raise NotImplementedError

    def m_step(self, stats: Any, reg: float, location: FloatArray) -> FloatArray:
        """The model's covariances from the scatter with ``reg`` added to every variance (``reg``
        times the expected rows), so the floor keeps the structure; ``stats.at`` (the pass's
        covariances) is where an iterative M-step starts."""
        n_columns = stats.mean.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            scatter = stats.scatter + reg * stats.n[:, None, None] * np.eye(n_columns)
            cov = self.estimate(scatter, stats.n, getattr(stats, "at", None))
        check_collapse(np.einsum("kii->ki", cov), location)
        precisions(cov)
        return cov

    def check(self, cov: FloatArray, n_components: int, n_columns: int) -> FloatArray:
        cov = super().check(cov, n_components, n_columns)
        _check_conforms(self.code, cov)
        return cov


def _check_conforms(code: str, cov: FloatArray) -> None:
    problem = conformity_problem(code, cov)
    if problem is not None:
        raise ModelError(f"params_init['covariance'] is not of covariance model {code!r}: {problem}")


class VEE(MatrixModel):
    name = code = "VEE"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return volume_times_matrix(scatter, n)


class EVE(MatrixModel):
    name = code = "EVE"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return one_orientation(scatter, n, shared_volume=True, start=start)


class VVE(MatrixModel):
    name = code = "VVE"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return one_orientation(scatter, n, shared_volume=False, start=start)


class EEV(MatrixModel):
    name = code = "EEV"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return equal_shape_rotated(scatter, n)


class VEV(MatrixModel):
    name = code = "VEV"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return volume_shape_rotated(scatter, n)


class EVV(MatrixModel):
    name = code = "EVV"

    def estimate(self, scatter: FloatArray, n: FloatArray, start: FloatArray | None = None) -> FloatArray:
        return equal_volume_rotated(scatter, n)


#: The 14 models by mclust's code, in mclust's order.
MODELS: dict[str, Covariance] = {
    c.code: c
    for c in (EII(), Spherical(), EEI(), VEI(), EVI(), Diag(), Tied(), VEE(), EVE(), VVE(), EEV(), VEV(), EVV(), Full())
}
#: scikit-learn's names of four of them, and mclust's names of the two univariate models.
ALIASES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII", "E": "EII", "V": "VII"}

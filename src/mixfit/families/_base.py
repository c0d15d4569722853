"""What every component family provides, and the shared linear exponential-family machinery.

Every family in this package writes its component log-density as a linear function of a
*design matrix* built once from the data::

    log p(x_n | theta_k) = design[n] @ coef(theta)[k] + bias(theta)[k]

with all constants included (Ch6's binomial keeps log C(n, x) as a design column with
coefficient 1). The E-step statistics are then one product, ``resp.T @ design`` (Ch6,
eq. (6.4): the expected sufficient statistics), and they add across chunks of rows, which is
what makes compressed, chunked and distributed fits exact.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from mixfit._math import PROB_EPS, FloatArray
from mixfit.errors import DataError, ModelError

Params = Mapping[str, FloatArray]
#: ``(coef, bias)`` of a family's density for given parameters (``Family.natural``).
Natural = tuple[FloatArray, FloatArray]

#: Parameter domains: each entry a probability in (0, 1); rows (last axis) on the simplex; each
#: entry > 0; unconstrained; a symmetric positive-definite matrix per component; one such
#: matrix shared by every component (stored once per component).
PROBABILITY, SIMPLEX, POSITIVE, REAL = "probability", "simplex", "positive", "real"
COVARIANCE, TIED_COVARIANCE = "covariance", "tied covariance"
#: Covariances and variances constrained across components (volume, shape or orientation
#: shared: ``families._parsimonious``): their entries are not each free.
CONSTRAINED_COVARIANCE, CONSTRAINED_VARIANCE = "constrained covariance", "constrained variance"
#: Domains of parameters stored as one covariance matrix per component.
MATRIX_DOMAINS = (COVARIANCE, TIED_COVARIANCE, CONSTRAINED_COVARIANCE)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a family, declared once: ``name`` (its key in ``params_``), its
    ``domain`` and the ``quantity`` its values measure (axis labels of plots). SQUAREM's
    scales, the free parameters of standard errors, and plots are derived from it."""

    name: str
    domain: str
    quantity: str

    @property
    def scale(self) -> str:
        """Where SQUAREM extrapolates it (``mixfit.accel``): "probability" (logit), "simplex"
        (log, renormalised), "positive" (log) or "real" (as is; a matrix jump that is not
        positive definite is refused)."""
        if self.domain == CONSTRAINED_VARIANCE:  # log-linear constraints: kept on the log scale
            return POSITIVE
        return self.domain if self.domain in (PROBABILITY, SIMPLEX, POSITIVE) else REAL

    def prefixed(self, prefix: str) -> ParamSpec:
        return ParamSpec(f"{prefix}.{self.name}", self.domain, self.quantity)


def as_float_design(design: np.ndarray) -> FloatArray:
    """Design rows as floats for BLAS: float32/float64 as they are, compact integers as float64."""
    return design if design.dtype.kind == "f" else design.astype(np.float64)


def has_missing(X: np.ndarray) -> bool:
    """Whether a raw or validated array holds NaN or None."""
    if X.dtype.kind == "f":
        return bool(np.isnan(X).any())
    if X.dtype.kind == "O":
        return any(v is None or (isinstance(v, float) and v != v) for v in X.ravel())
    return False


@dataclass(frozen=True, slots=True)
class Stats:
    """Expected sufficient statistics; subclasses declare array fields only (None: a block the
    data do not have). Adds field-wise, so statistics of chunks add up to those of the whole."""

    def __add__(self, other: Any) -> Any:
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(*(_add(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))

    def __radd__(self, other: Any) -> Any:  # sum(chunk_stats) starts from 0
        return self if isinstance(other, int) and other == 0 else NotImplemented

    def __mul__(self, factor: float) -> Any:
        """Every field times a number (online EM averages statistics with step sizes)."""
        return type(self)(
            *(None if getattr(self, f.name) is None else getattr(self, f.name) * factor for f in fields(self))
        )

    __rmul__ = __mul__


def _add(a: Any, b: Any) -> Any:
    return None if a is None and b is None else a + b


@dataclass(frozen=True, slots=True)
class DesignStats(Stats):
    """Statistics of a linear family, by name: ``n`` (``sum_n w_n r_nk``, the expected rows per
    component, Ch6 eq. (6.10)), ``t_sum`` (the design product ``sum_n w_n r_nk design[n]``,
    (K, design columns), which Q and the round-off bound use with the natural coefficients), and
    then one field per block of design columns, in design order, each of shape (K, block width).

    A family's ``named_stats`` cuts the product into its fields once; its M-step reads them by
    name. Every field adds (the named ones are sums of the same rows as ``t_sum``'s blocks).
    """

    n: FloatArray
    t_sum: FloatArray


def observed_split(product: FloatArray, n_columns: int, missing: bool) -> tuple[FloatArray, FloatArray | None]:
    """``(complete-design part, observed counts or None)`` of a design product: with missing
    data the last ``n_columns`` design columns are the "observed" indicators."""
    return (product[:, :-n_columns], product[:, -n_columns:]) if missing else (product, None)


def observed_or_all(n: FloatArray, observed: FloatArray | None) -> FloatArray:
    """Expected observed rows per data column, broadcastable to (K, n_columns): ``observed``, or
    ``n`` (K, 1) for every column when the data are complete."""
    return n[:, None] if observed is None else observed


def free_entries(domain: str, shape: tuple[int, ...], fixed: np.ndarray) -> int:
    """Free entries of a parameter of ``shape`` in ``domain`` with entries ``fixed`` by structure."""
    if domain in (COVARIANCE, TIED_COVARIANCE):
        per_matrix = shape[-1] * (shape[-1] + 1) // 2
        return per_matrix if domain == TIED_COVARIANCE else int(np.prod(shape[:-2])) * per_matrix
    free = int(np.prod(shape)) - int(np.count_nonzero(fixed))
    return free - int(np.prod(shape[:-1])) if domain == SIMPLEX else free


@dataclass(frozen=True)
class FittedLines:
    """What a regression's fit figure draws: ``points`` (n, 2), the rows' first predictor and
    response; ``grid`` along that predictor and each component's fitted mean on it ``means``
    (K, len(grid)); each row's fitted mean ``row_means`` (K, n) and Pearson residual
    ``residuals`` (K, n) under each component."""

    points: FloatArray
    grid: FloatArray
    means: FloatArray
    row_means: FloatArray
    residuals: FloatArray


class Family(ABC):
    """One component distribution: densities, statistics and the M-step; no loops, no files."""

    name: ClassVar[str]
    #: Whether NaN entries may be modelled as missing at random (full-information likelihood).
    supports_missing: ClassVar[bool] = False
    #: Whether the design carries one "observed" indicator column per data column (set when the
    #: training data have gaps, or by ``missing=True`` for data read pass by pass).
    missing: bool = False
    #: Whether the log-density is linear in a fixed design (``natural``); a family that is not
    #: overrides ``log_prob_by_component``, ``stats_by_component``, ``expected_log_prob`` and
    #: ``log_likelihood_roundoff``, and gives its standard errors' scores by
    #: ``log_density_gradient``.
    linear_in_design: bool = True
    #: Whether standard errors take the scores from ``log_density_gradient`` even for a linear
    #: family (analytic, where differences of ``natural`` lose digits).
    has_log_density_gradient: bool = False
    #: Whether each component's M-step reads that component's statistics alone (no pooling
    #: across components): the E- and M-steps of several starts may then run as one mixture of
    #: their components stacked (``mixfit.screen``).
    componentwise: ClassVar[bool] = False

    @property
    def linear_pass(self) -> bool:
        """Whether an E-step pass is the generic linear one (``log_prob_by_component`` and
        ``stats_by_component`` of this class), which a compiled kernel may take whole
        (``mixfit.kernels.linear_pass``)."""
        cls = type(self)
        return (
            self.linear_in_design
            and cls.log_prob_by_component is Family.log_prob_by_component
            and cls.stats_by_component is Family.stats_by_component
        )

    @property
    def newton_params(self) -> tuple[str, ...]:
        """Parameters whose M-step is one Newton step from the pass's parameters (a generalised
        EM): the EM loop halves their step while the log-likelihood would fall. None here."""
        return ()

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """The family's parameters (default: probabilities ``p`` of shape (K, D))."""
        return (ParamSpec("p", PROBABILITY, "probability"),)

    def param_spec(self, name: str) -> ParamSpec:
        """The declaration of parameter ``name``."""
        for spec in self.param_specs():
            if spec.name == name:
                return spec
        raise ModelError(f"{type(self).__name__} has no parameter {name!r}")

    def param_scale(self, name: str) -> str:
        """How SQUAREM extrapolates parameter ``name`` (see ``ParamSpec.scale``)."""
        return self.param_spec(name).scale

    def structural_zeros(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Entries of parameter ``name`` fixed at 0 by the model's structure, not estimated
        (categorical padding of columns with fewer levels); none by default."""
        return np.zeros(shape, dtype=bool)

    def shared_entries(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Entries of parameter ``name`` (leading axis K) that every component shares: estimated
        once, stored in every component (a regression's fixed effects); none by default."""
        return np.zeros(shape, dtype=bool)

    def with_missing(self, missing: bool = True) -> Family:
        """This family with the missing-value design switched on (parameters unchanged)."""
        if missing and not self.supports_missing:
            raise DataError(f"{type(self).__name__} data must be complete (no NaN/None)")
        clone = copy.copy(self)
        clone.missing = missing
        return clone

    def for_data(self, data: FloatArray) -> Family:
        """This family, with the missing-value design when validated ``data`` have gaps."""
        if not self.missing and self.supports_missing and has_missing(data):
            return self.with_missing()
        return self

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        """This family with whatever it learns from the training data (category levels)."""
        return self

    def learns_from_data(self) -> bool:
        """Whether ``fitted_to`` learns anything (streamed data then need a first pass for it)."""
        return False

    @abstractmethod
    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        """Check the user's 2-D data and return it as a numeric matrix (``DataError`` if bad)."""

    @abstractmethod
    def feature_names(self, columns: Sequence[str]) -> list[str]:
        """Names of the modelled columns (one per column of ``p``)."""

    def validated_width(self, n_columns: int) -> int:
        """Columns of ``validate``'s output for ``n_columns`` columns of user data."""
        return n_columns

    def columns_read(self) -> list[str] | None:
        """The columns this family reads by name, when it reads those alone (a table then needs
        only them, in any order, beside any others); ``None``: it reads every column by position."""
        return None

    def complete_design(self, data: FloatArray) -> FloatArray:
        """Design columns of validated data in which a missing (NaN) entry contributes 0."""
        raise NotImplementedError

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        """``(coef, column_bias)``: coefficients of ``complete_design`` (K, P) and each data
        column's constant term (K, D), which a missing entry leaves out of its row."""
        raise NotImplementedError

    def design(self, data: FloatArray) -> FloatArray:
        """The design matrix of validated data, of shape (n, n_design_columns).

        With ``missing``, one 0/1 "observed" column per data column follows the complete design,
        with the column's constant term as its coefficient: a row's log-density then sums over
        its observed entries only (missing at random, full-information likelihood).
        """
        if not self.missing:
            if data.dtype.kind == "f" and np.isnan(data).any():
                raise DataError(
                    f"the data have missing values (NaN); give {type(self).__name__}(missing=True) "
                    "to model them when data are read pass by pass"
                )
            return self.complete_design(data)
        observed = ~np.isnan(data)
        empty = ~observed.any(axis=1)
        if empty.any():
            raise DataError(f"row {int(np.argmax(empty))} is entirely missing; drop rows with no observed value")
        return np.hstack([self.complete_design(data), observed.astype(np.float64)])

    def natural(self, params: Params) -> tuple[FloatArray, FloatArray]:
        """``(coef, bias)`` of shapes (K, n_design_columns) and (K,) for ``params``."""
        coef, column_bias = self.natural_columns(params)
        if self.missing:
            return np.hstack([coef, column_bias]), np.zeros(coef.shape[0])
        return coef, column_bias.sum(axis=1)

    def log_prior(self, params: Params) -> float:
        """log density of the family's prior at ``params`` (0 without a prior: plain EM)."""
        return 0.0

    def log_density_gradient(self, design: FloatArray, params: Params) -> dict[str, FloatArray] | None:
        """``d log f_k(x_n) / d params[name][k]`` per parameter, shapes (K, n, *entry shape), for a
        family that is not ``linear_in_design`` or ``has_log_density_gradient`` (standard errors
        use it); None: not available."""
        return None

    def entrywise_log_density_gradient(self, design: FloatArray, params: Params) -> dict[str, FloatArray] | None:
        """``log_density_gradient`` of a linear family whose parameters' entries are each free
        (probabilities, positive and real entries: no simplex, no covariance matrix), from
        central differences of ``natural`` (``log f_k = coef_k . design + bias_k``, component k's
        coefficients depending on its own entries only); None for other families."""
        if not self.linear_in_design:
            return None
        if any(self.param_spec(name).domain not in (PROBABILITY, POSITIVE, REAL) for name in params):
            return None
        out = {}
        for name, value in params.items():
            value = np.asarray(value, dtype=float)
            gradient = np.zeros((value.shape[0], design.shape[0], *value.shape[1:]))
            for entry in np.ndindex(*value.shape[1:]):
                at = (slice(None), *entry)
                step = 1e-6 * np.maximum(np.abs(value[at]), 1e-2)
                ends = []
                for sign in (1.0, -1.0):
                    moved = dict(params)
                    moved[name] = value.copy()
                    moved[name][at] = value[at] + sign * step
                    ends.append(self.natural(moved))
                d_coef = (ends[0][0] - ends[1][0]) / (2 * step[:, None])
                d_bias = (ends[0][1] - ends[1][1]) / (2 * step)
                gradient[(slice(None), slice(None), *entry)] = d_coef @ design.T + d_bias[:, None]
            out[name] = gradient
        return out

    @abstractmethod
    def named_stats(self, n: FloatArray, product: FloatArray) -> Any:
        """The family's statistics from ``n`` (K,) and the design product ``resp.T @ design``."""

    @abstractmethod
    def m_step(self, stats: Any) -> dict[str, FloatArray]:
        """The maximum-likelihood parameters given expected statistics (Ch6, eq. (6.5))."""

    @abstractmethod
    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        """User-given parameters as arrays with leading axis K, else ``ModelError``."""

    def param_shape(self, name: str, n_components: int, n_features: int) -> tuple[int, ...]:
        """The shape of parameter ``name`` for K components and D features (default (K, D))."""
        return (n_components, n_features)

    def n_free_params(self, n_components: int, n_features: int) -> int:
        """Free parameters of the component distributions (weights not included), counted from
        the declarations: each parameter's entries less those fixed by the structure, less one
        per simplex row; a covariance matrix counts D (D + 1) / 2 (once when tied)."""
        total = 0
        for spec in self.param_specs():
            shape = self.param_shape(spec.name, n_components, n_features)
            total += free_entries(spec.domain, shape, self.structural_zeros(spec.name, shape))
            total -= int(self.shared_entries(spec.name, shape)[1:].sum())  # counted once, not K times
        return total

    @abstractmethod
    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One row of data, in the user's representation, per entry of ``labels``."""

    @abstractmethod
    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Readable columns for rows of validated data (the outcomes of explain tables)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Settings as plain JSON values (the inverse is ``families.from_dict``)."""

    def design_names(self, names: Sequence[str]) -> list[str]:
        """One label per design column (rows of the expected-statistics table)."""
        return list(names)

    def param_columns(self, params: Params, names: Sequence[str]) -> dict[str, tuple[list[str], FloatArray]]:
        """Each parameter as ``(labels, values of shape (K, len(labels)))`` for tables and plots,
        from its declaration: a (K,) parameter is one column named by its quantity; (K, D) one
        column per data column (``var(c)`` for variances); a covariance matrix ``cov(a,b)``;
        (K, D, L) level probabilities one column per ``column=level`` (``design_names``), the
        entries fixed by the structure left out."""
        out = {}
        for spec in self.param_specs():
            value = np.asarray(params[spec.name])
            k = len(value)
            kept = ~self.structural_zeros(spec.name, value.shape).reshape(k, -1)[0]
            if value.ndim == 1:
                labels = [spec.quantity]
            elif spec.domain in MATRIX_DOMAINS:
                labels = [f"cov({a},{b})" for a in names for b in names]
            elif value.ndim == 3:
                labels = self.design_names(names)
            else:
                labels = [f"var({c})" for c in names] if spec.quantity == "variance" else list(names)
            out[spec.name] = (labels, value.reshape(k, -1)[:, kept])
        return out

    def variants(self, n_columns: int) -> list[tuple[dict[str, str], Family]]:
        """The models a search over K compares for this family (``mixfit.select``), each with
        the table columns that name it (a Gaussian: its covariance models); by default this
        family alone."""
        return [({}, self)]

    def init_features(self, design: FloatArray) -> FloatArray:
        """Row features for k-means++ seeding: the design matrix unless a family says otherwise."""
        return design

    def fitted_lines(self, data: FloatArray, params: Params) -> FittedLines | None:
        """For a family that models a response given predictors (plots): the rows' first
        predictor and response, each component's fitted mean response along that predictor (the
        other predictors at their means), and each row's Pearson residual under each component;
        None for other families."""
        return None

    def count_support(self, observed: np.ndarray) -> np.ndarray | None:
        """Every value one count column can take, for plots of counts per value, given its
        observed values (None: not a count column)."""
        return None

    def n_patterns(self, data: FloatArray) -> int | None:
        """How many distinct rows validated data like ``data`` can take (None: unbounded or
        continuous): the cells of the goodness-of-fit table."""
        return None

    def item_levels(self, params: Params) -> list[FloatArray] | None:
        """For items of a few levels coded 0..L-1 in validated data (binary, categorical): per
        column, each component's level probabilities (K, L); None for other families. Bivariate
        residuals read them."""
        return None

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        """Why this model cannot be identified from such data, or ``None``."""
        return None

    def degenerate(self, params: Params) -> str | None:
        """Why these parameters are a degenerate (spurious) maximum, or ``None``: restarts prefer
        any other maximum to it."""
        return None

    def log_prob(self, design: FloatArray, params: Params) -> FloatArray:
        """Component log-densities with all constants, of shape (n, K)."""
        return self.log_prob_by_component(design, params).T

    def stats(self, design: FloatArray, resp: FloatArray, params: Params | None = None) -> Any:
        """Expected sufficient statistics; ``resp`` (n, K) already multiplied by row weights."""
        return self.stats_by_component(design, resp.T, params)

    def log_prob_by_component(self, design: FloatArray, params: Params, natural: Natural | None = None) -> FloatArray:
        """``log_prob`` laid out component-major, shape (K, n): the EM engine's hot path.

        With K short rows of length n, the log-sum-exp over components is K - 1 vectorised
        operations over n instead of n reductions over K. ``natural`` may pass
        ``self.natural(params)`` when the caller has it (the engine computes it once per state).
        """
        coef, bias = natural or self.natural(params)
        design = as_float_design(design)
        out = coef.astype(design.dtype, copy=False) @ design.T  # float32 designs stay float32
        out += bias[:, None]
        return out

    def stats_by_component(self, design: FloatArray, resp: FloatArray, params: Params | None = None) -> Any:
        """``stats`` from responsibilities of shape (K, n), accumulated in float64: one product
        ``resp @ design`` (the fast path), cut into the family's named fields. ``params``: the
        parameters of the pass, for families whose M-step is a Newton step from them
        (``newton_params``); None at a start."""
        product = (resp @ as_float_design(design)).astype(np.float64, copy=False)
        return self.named_stats(resp.sum(axis=1, dtype=np.float64), product)

    def expected_log_prob(self, stats: Any, params: Params, natural: Natural | None = None) -> FloatArray:
        """``sum_n w_n r_nk log p(x_n | theta_k)`` per component, from the statistics alone.

        This is Sciarra's expected complete-data log-likelihood without the weights term, so
        Q(theta_new | theta_old) needs no second pass over the data.
        """
        coef, bias = natural or self.natural(params)
        return (stats.t_sum * coef).sum(axis=1) + stats.n * bias

    def log_likelihood_roundoff(self, stats: Any, params: Params, natural: Natural | None = None) -> float:
        """How far the log-likelihood may move for reasons other than EM: floating-point round-off
        of the terms it adds up (1e-12 of their summed magnitudes; with a million trials per row,
        terms of 1e6 cancel to a few hundred) and the clamping of probabilities to
        [PROB_EPS, 1 - PROB_EPS] after an M-step (PROB_EPS per row and design column)."""
        coef, bias = natural or self.natural(params)
        t_sum = stats.t_sum
        magnitude = np.vdot(np.abs(t_sum), np.abs(coef)) + np.abs(stats.n * bias).sum()
        return float(1e-12 * magnitude + PROB_EPS * stats.n.sum() * t_sum.shape[1])

    # scikit-learn's parameter protocol: a family is a parameter of the estimator, so a grid
    # search can set ``family__covariance`` and ``clone`` copies it.
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's settings by name."""
        names = [name for name in inspect.signature(type(self).__init__).parameters if name != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Family:
        """Change constructor settings; they are validated as the constructor validates them."""
        current = self.get_params()
        for name in params:
            if name not in current:
                raise ModelError(f"{type(self).__name__} has no setting {name!r}; it has {sorted(current)}")
        self.__init__(**{**current, **params})  # type: ignore[misc]
        return self

    def __sklearn_clone__(self) -> Family:
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.to_dict().items() if k != "family" and v is not None and v is not False}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({args})"

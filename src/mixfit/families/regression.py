"""Regression components (mixtures of regressions; flexmix's ``FLXMRglm``, mixtools' ``regmixEM``,
``poisregmixEM``, ``logisregmixEM``): each component is a generalised linear model of one
response column on predictor columns, with an intercept.

- ``"gaussian"``: ``y = x' coef_k + e``, ``e ~ N(0, variance_k)``. The log-density is linear in
  the design ``[y^2, y x, x_i x_j (i <= j)]``, so the statistics are one matrix product and the
  M-step is weighted least squares in closed form.
- ``"poisson"``: ``y ~ Poisson(exp(x' coef_k + offset))``; ``"binomial"``: ``y ~ Binomial(n,
  expit(x' coef_k + offset))``. The M-step is one Newton (IRLS) step from the pass's
  coefficients: the gradient ``sum_n r_nk (y_n - mu_nk) x_n`` and the information
  ``sum_n r_nk v_nk x_n x_n'`` (``v`` the variance function) are sums over rows, so chunked fits
  are exact; the EM loop halves the step while the log-likelihood would fall (a generalised
  EM, ``mixfit.em.halve_newton_steps``). A start (no coefficients yet) is the weighted least
  squares fit of the link of the response, as R's ``glm`` starts.

Every log-likelihood includes its constants (the Gaussian normaliser, ``-log y!``,
``log C(n, y)``), as the other families' do.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, gammaln

from mixfit._math import (
    FloatArray,
    has_full_column_rank,
    log_binom_coef,
    out_of_range_column,
    upper_triangle,
    whole_numbers,
)
from mixfit._validation import as_float_array, check_column, check_finite_numeric, check_option, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import POSITIVE, REAL, DesignStats, Family, FittedLines, Natural, Params, ParamSpec, Stats
from mixfit.families._covariance import LOG_2PI, symmetric

KINDS = ("gaussian", "poisson", "binomial")
Column = str | int
#: Linear predictors are clipped to this size (exp(700) is near float64's limit).
ETA_LIMIT = 700.0
#: At most this many turns of the Gaussian M-step with fixed effects (coefficients, variances).
SHARED_LS_ITER = 200


@dataclass(frozen=True, slots=True)
class LinearRegressionStats(DesignStats):
    """Gaussian regression: ``yy`` (K, 1) ``sum_n r_nk y_n^2``, ``xy`` (K, P) ``sum_n r_nk y_n x_n``
    and ``xx`` (K, P (P + 1) / 2) the upper triangle of ``sum_n r_nk x_n x_n'`` (y less the
    family's centre and the offset)."""

    yy: FloatArray
    xy: FloatArray
    xx: FloatArray


@dataclass(frozen=True, slots=True)
class NewtonStats(Stats):
    """Poisson and binomial regression, at the pass's coefficients ``at`` (K, P; None at a
    start): ``gradient`` (K, P) and ``information`` (K, P, P) of Q in the coefficients; ``q`` (K,)
    Q itself and ``size`` (K,) the summed size of its terms. At a start, ``information`` and
    ``gradient`` are the normal equations of the weighted least squares start."""

    n: FloatArray
    gradient: FloatArray
    information: FloatArray
    q: FloatArray
    size: FloatArray
    at: FloatArray | None = None

    def __add__(self, other: Any) -> Any:
        if type(other) is not type(self):
            return NotImplemented
        return NewtonStats(
            self.n + other.n,
            self.gradient + other.gradient,
            self.information + other.information,
            self.q + other.q,
            self.size + other.size,
            self.at,
        )

    def __mul__(self, factor: float) -> Any:
        return NewtonStats(
            self.n * factor,
            self.gradient * factor,
            self.information * factor,
            self.q * factor,
            self.size * factor,
            self.at,
        )

    __rmul__ = __mul__

    @property
    def t_sum(self) -> FloatArray:
        """The gradient, for tables of expected statistics."""
        return self.gradient


class Regression(Family):
    """A generalised linear model of ``response`` on ``predictors`` per component.

    Parameters
    ----------
    kind : {"gaussian", "poisson", "binomial"}, default="gaussian"
    response : str or int, default=0
        The response column (name, or position in the data).
    predictors : sequence of str or int, optional
        The predictor columns (default: every other column but ``n_trials`` and ``offset``);
        an intercept is added.
    n_trials : int or str, optional
        For ``"binomial"``: trials per row, one number or a column.
    offset : str or int, optional
        A column added to the linear predictor with coefficient 1 (log exposure for Poisson).
    fixed : sequence of str or int, optional
        Predictors (of ``predictors``) whose coefficients every component shares: flexmix's
        fixed effects (``FLXMRglmfix``). Each counts as one parameter, stored in every
        component's row of ``coef``.

    ``params_["coef"]`` has shape (K, 1 + p), the intercept first; ``params_["variance"]``
    (K,) for ``"gaussian"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, mixfit as mf
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, 400)
    >>> y = np.where(np.arange(400) < 200, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 400)
    >>> family = mf.Regression("gaussian", response="y", predictors=["x"])
    >>> m = mf.Mixture(family, 2, random_state=0, order="coef").fit(pd.DataFrame({"y": y, "x": x}))
    >>> m.params_["coef"].round(1).tolist()
    [[1.0, 2.0], [20.0, -1.0]]
    """

    name = "regression"
    has_log_density_gradient = True

    def __init__(
        self,
        kind: str = "gaussian",
        response: Column = 0,
        predictors: Sequence[Column] | None = None,
        *,
        n_trials: int | str | None = None,
        offset: Column | None = None,
        fixed: Sequence[Column] | None = None,
        centre: float | None = None,
    ) -> None:
        self.kind = check_option("kind", kind, KINDS)
        self.response = _column("response", response)
        if isinstance(predictors, str):
            raise ModelError(f"predictors must be a list of columns; got the string {predictors!r}")
        self.predictors = None if predictors is None else [_column("predictors", c) for c in predictors]
        if n_trials is not None and self.kind != "binomial":
            raise ModelError(f"n_trials is for kind='binomial'; got kind={kind!r}")
        if self.kind == "binomial" and n_trials is None:
            raise ModelError("kind='binomial' needs n_trials (a number, or the column holding it)")
        if isinstance(n_trials, numbers.Integral) and not isinstance(n_trials, bool) and n_trials < 1:
            raise ModelError(f"n_trials must be >= 1; got {n_trials}")
        if n_trials is not None and not isinstance(n_trials, (str, numbers.Integral)):
            raise ModelError(f"n_trials must be an int or a column name; got {n_trials!r}")
        self.n_trials = n_trials
        self.offset = None if offset is None else _column("offset", offset)
        self.fixed = _fixed(fixed, self.predictors, self.kind)
        self.centre = None if centre is None else float(centre)
        self.linear_in_design = self.kind == "gaussian"

    # ---------------------------------------------------------------- columns
    def _extras(self) -> list[Column]:
        return [c for c in (self.n_trials if isinstance(self.n_trials, str) else None, self.offset) if c is not None]

    def _positions(self, columns: Sequence[str]) -> tuple[int, list[int], int | None, int | None]:
        """Positions of the response, the predictors, the trials and the offset columns."""

        def find(column: Column, what: str) -> int:
            if isinstance(column, int):
                if not 0 <= column < len(columns):
                    raise DataError(f"Regression {what} position {column} is out of range for {len(columns)} columns")
                return column
            check_column(column, columns, f"the data (Regression {what})")
            return list(columns).index(column)

        y = find(self.response, "response")
        trials = find(self.n_trials, "n_trials") if isinstance(self.n_trials, str) else None
        offset = None if self.offset is None else find(self.offset, "offset")
        if self.predictors is None:
            x = [j for j in range(len(columns)) if j not in (y, trials, offset)]
        else:
            x = [find(c, "predictor") for c in self.predictors]
        if y in x:
            raise DataError(f"the response {columns[y]!r} cannot also be a predictor")
        return y, x, trials, offset

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        """The coefficients' names: the intercept, then the predictors."""
        return ["(intercept)", *(columns[j] for j in self._positions(columns)[1])]

    def columns_read(self) -> list[str] | None:
        """The response, predictors, trials and offset columns, when all are given by name."""
        if self.predictors is None:
            return None
        named = [self.response, *self.predictors, *self._extras()]
        return [str(c) for c in named] if all(isinstance(c, str) for c in named) else None

    def validated_width(self, n_columns: int) -> int:
        n_predictors = len(self.predictors) if self.predictors is not None else n_columns - 1 - len(self._extras())
        return n_predictors + 4  # y, 1, x, trials, offset

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        """``[y, 1, x_1..x_p, trials, offset]`` as floats, checked."""
        y, x, trials, offset = self._positions(columns)
        picked = [y, *x, *(j for j in (trials, offset) if j is not None)]
        values = check_finite_numeric(X[:, picked], [columns[j] for j in picked])
        response, predictors = values[:, 0], values[:, 1 : 1 + len(x)]
        n = values[:, 1 + len(x)] if trials is not None else np.full(len(values), float(self.n_trials or 1))
        off = values[:, -1] if offset is not None else np.zeros(len(values))
        self._check_response(response, n, columns[y])
        return np.column_stack([response, np.ones(len(values)), predictors, n, off])

    def _check_response(self, y: FloatArray, n: FloatArray, name: str) -> None:
        if self.kind == "gaussian":
            return
        if self.kind == "binomial" and (np.any(n < 1) or not whole_numbers(n)):
            raise DataError(f"n_trials must hold whole numbers >= 1; got {n[(n < 1) | (n != np.floor(n))][0]:g}")
        upper = n if self.kind == "binomial" else np.inf
        bad = (y < 0) | (y != np.floor(y)) | (y > upper)
        if bad.any():
            i = int(np.argmax(bad))
            rule = "whole counts >= 0" if self.kind == "poisson" else "whole counts between 0 and n_trials"
            raise DataError(
                f"Regression response {name!r} must hold {rule} for kind={self.kind!r}; got {y[i]:g} in row {i}"
            )

    @staticmethod
    def _split(data: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(y, x with the intercept, trials, offset)`` of validated data."""
        return data[:, 0], data[:, 1:-2], data[:, -2], data[:, -1]

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        """This family with the training response's mean as the centre of the Gaussian design;
        predictors that are constant or collinear are refused (their coefficients would not be
        identified)."""
        y, x, _, _ = self._positions(columns)
        try:
            predictors = np.asarray(X[:, x], dtype=float)
            response = np.asarray(X[:, y], dtype=float)
        except (TypeError, ValueError):
            return self  # validate names the bad column
        if np.isfinite(predictors).all() and len(predictors):
            constant = [columns[j] for j, v in zip(x, predictors.T, strict=True) if np.ptp(v) == 0]
            if constant:
                raise DataError(f"predictor {constant[0]!r} is constant: the intercept already models it; drop it")
            extreme = out_of_range_column(predictors)
            if extreme is not None:
                raise DataError(
                    f"predictor {columns[x[extreme]]!r} holds values of magnitude "
                    f"{np.abs(predictors[:, extreme]).max():.3g}: its coefficient's information (their squares) "
                    "would be beyond what floating point holds; rescale it (e.g. divide by a power of 10: the "
                    "fitted values stay, the coefficient takes the factor)"
                )
            design = np.column_stack([np.ones(len(predictors)), predictors])
            if not has_full_column_rank(design):
                raise DataError(
                    f"the predictors {[columns[j] for j in x]} are collinear (one is a combination of the "
                    "others and the intercept): their coefficients are not identified; drop one"
                )
        if self.kind != "gaussian" or self.centre is not None:
            return self
        finite = response[np.isfinite(response)]
        centre = float(finite.mean()) if finite.size else 0.0
        return Regression(
            self.kind, self.response, self.predictors, offset=self.offset, fixed=self.fixed, centre=centre
        )

    # ---------------------------------------------------------------- parameters
    def param_specs(self) -> tuple[ParamSpec, ...]:
        coef = ParamSpec("coef", REAL, "coefficient")
        return (coef, ParamSpec("variance", POSITIVE, "variance")) if self.kind == "gaussian" else (coef,)

    def param_shape(self, name: str, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,) if name == "variance" else (n_components, n_features)

    def _fixed_columns(self) -> list[int]:
        """Positions in ``coef`` of the fixed effects (after the intercept)."""
        return [1 + (self.predictors or []).index(c) for c in self.fixed]

    def shared_entries(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The fixed effects' column of ``coef``, in every component."""
        shared = np.zeros(shape, dtype=bool)
        if name == "coef" and self.fixed:
            shared[:, self._fixed_columns()] = True
        return shared

    @property
    def newton_params(self) -> tuple[str, ...]:
        return () if self.kind == "gaussian" else ("coef",)

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        coef = as_float_array("params_init['coef']", get_param(params, "coef"))
        if coef.shape != (n_components, n_features) or not np.isfinite(coef).all():
            raise ModelError(f"params_init['coef'] must be finite numbers of shape {(n_components, n_features)}")
        fixed = coef[:, self._fixed_columns()]
        if not np.allclose(fixed, fixed[:1], rtol=1e-12, atol=0.0):
            raise ModelError(f"params_init['coef'] must be equal in every component for the fixed effects {self.fixed}")
        out = {"coef": coef}
        if self.kind == "gaussian":
            variance = as_float_array("params_init['variance']", get_param(params, "variance")).reshape(-1)
            tiny = np.finfo(float).tiny  # a subnormal variance has no finite reciprocal
            if variance.shape != (n_components,) or not np.all(variance >= tiny) or not np.isfinite(variance).all():
                raise ModelError(f"params_init['variance'] must be {n_components} finite numbers >= {tiny:.3g}")
            out["variance"] = variance
        return out

    # ---------------------------------------------------------------- gaussian: a linear design
    def complete_design(self, data: FloatArray) -> FloatArray:
        if self.kind != "gaussian":
            return data  # Newton kinds read the validated rows themselves
        y, x, _, offset = self._split(data)
        y = y - offset - (self.centre or 0.0)
        upper = upper_triangle(x.shape[1])
        return np.column_stack([y * y, y[:, None] * x, x[:, upper[0]] * x[:, upper[1]]])

    def _width(self, design_width: int) -> int:
        """P from a Gaussian design's width 1 + P + P (P + 1) / 2."""
        width = 1
        while 1 + width + width * (width + 1) // 2 < design_width:
            width += 1
        return width

    def _centred_coef(self, coef: FloatArray) -> FloatArray:
        """Coefficients of the centred response (the intercept less the centre)."""
        out = np.array(coef, dtype=float)
        out[:, 0] -= self.centre or 0.0
        return out

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        if self.kind != "gaussian":
            raise ModelError(f"a {self.kind} regression's log-density is not linear in a fixed design")
        coef, variance = self._centred_coef(params["coef"]), np.asarray(params["variance"], dtype=float)
        if not np.all(variance > 0):
            raise ModelError(f"regression variances must be > 0; got {variance}")
        upper = upper_triangle(coef.shape[1])
        quad = -(coef[:, upper[0]] * coef[:, upper[1]]) * np.where(upper[0] == upper[1], 0.5, 1.0)
        natural = np.column_stack([-0.5 * np.ones(len(coef)), coef, quad]) / variance[:, None]
        return natural, (-0.5 * (LOG_2PI + np.log(variance)))[:, None]

    def named_stats(self, n: FloatArray, product: FloatArray) -> LinearRegressionStats:
        width = self._width(product.shape[1])
        return LinearRegressionStats(n, product, product[:, :1], product[:, 1 : 1 + width], product[:, 1 + width :])

    def design_names(self, names: Sequence[str]) -> list[str]:
        upper = upper_triangle(len(names))
        products = [f"{names[int(i)]}*{names[int(j)]}" for i, j in zip(*upper, strict=True)]
        return ["y^2", *(f"y*{c}" for c in names), *products]

    # ---------------------------------------------------------------- poisson, binomial: Newton
    def _log_density(self, data: FloatArray, coef: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(log p (K, n), mean (K, n), variance function (K, n))`` of the Newton kinds."""
        y, x, n, offset = self._split(np.asarray(data, dtype=float))
        eta = np.clip(coef @ x.T + offset, -ETA_LIMIT, ETA_LIMIT)
        if self.kind == "poisson":
            mu = np.exp(eta)
            return y * eta - mu - gammaln(y + 1), mu, mu
        prob = expit(eta)
        log_p = -np.logaddexp(0.0, -eta)
        log_1mp = -np.logaddexp(0.0, eta)
        return log_binom_coef(n, y) + y * log_p + (n - y) * log_1mp, n * prob, n * prob * (1 - prob)

    def log_prob_by_component(self, design: FloatArray, params: Params, natural: Natural | None = None) -> FloatArray:
        if self.kind == "gaussian":
            return super().log_prob_by_component(design, params, natural)
        return self._log_density(design, np.asarray(params["coef"], dtype=float))[0]

    def stats_by_component(self, design: FloatArray, resp: FloatArray, params: Params | None = None) -> Any:
        if self.kind == "gaussian":
            return super().stats_by_component(design, resp, params)
        resp = np.asarray(resp, dtype=np.float64)
        data = np.asarray(design, dtype=float)
        y, x, n, offset = self._split(data)
        if params is None:  # a start: weighted least squares of the link of the response
            if self.kind == "poisson":
                work, weight = np.log(y + 0.5) - offset, y + 0.5
            else:
                prob = (y + 0.5) / (n + 1)
                work, weight = np.log(prob / (1 - prob)) - offset, n * prob * (1 - prob)
            rw = resp * weight
            information = np.einsum("kn,ni,nj->kij", rw, x, x)
            zeros = np.zeros(len(resp))
            return NewtonStats(resp.sum(axis=1), rw @ (x * work[:, None]), information, zeros, zeros, None)
        coef = np.asarray(params["coef"], dtype=float)
        log_p, mean, variance = self._log_density(data, coef)
        gradient = (resp * (y - mean)) @ x
        information = np.einsum("kn,ni,nj->kij", resp * variance, x, x)
        q = (resp * log_p).sum(axis=1)
        y_eta = np.abs(y * np.clip(coef @ x.T + offset, -ETA_LIMIT, ETA_LIMIT))
        size = (resp * (y_eta + mean + np.abs(log_p))).sum(axis=1)
        return NewtonStats(resp.sum(axis=1), gradient, information, q, size, coef)

    def log_density_gradient(self, design: FloatArray, params: Params) -> dict[str, FloatArray] | None:
        """``d log f_k / d coef_k = (y - mean_k) x`` (Poisson and binomial, canonical links);
        Gaussian: ``r x / variance_k`` and ``(r^2 - variance_k) / (2 variance_k^2)`` for the
        residual r, with y and x read back from the design of products (``y * 1`` and ``1 * x``)."""
        if self.kind == "gaussian":
            design = np.asarray(design, dtype=float)
            width = self._width(design.shape[1])
            y, x = design[:, 1], design[:, 1 + width : 1 + 2 * width]  # centred y; the first row of x x'
            variance = np.asarray(params["variance"], dtype=float)[:, None]
            residual = y[None] - self._centred_coef(params["coef"]) @ x.T
            return {
                "coef": (residual / variance)[:, :, None] * x[None],
                "variance": (residual**2 - variance) / (2 * variance**2),
            }
        y, x, _, _ = self._split(np.asarray(design, dtype=float))
        mean = self._log_density(design, np.asarray(params["coef"], dtype=float))[1]
        return {"coef": (y - mean)[:, :, None] * x[None]}

    def expected_log_prob(self, stats: Any, params: Params, natural: Natural | None = None) -> FloatArray:
        if self.kind == "gaussian":
            return super().expected_log_prob(stats, params, natural)
        if stats.at is None or not np.array_equal(stats.at, params["coef"]):
            return np.full(len(stats.n), np.nan)  # Q elsewhere needs another pass over the data
        return np.asarray(stats.q, dtype=float)

    def log_likelihood_roundoff(self, stats: Any, params: Params, natural: Natural | None = None) -> float:
        if self.kind == "gaussian":
            return super().log_likelihood_roundoff(stats, params, natural)
        return float(1e-12 * np.sum(stats.size))

    # ---------------------------------------------------------------- M-step
    def m_step(self, stats: Any) -> dict[str, FloatArray]:
        if self.kind == "gaussian":
            return self._least_squares(stats)
        if self.fixed:
            step = _solve_shared(stats.information, stats.gradient, self._fixed_columns())
        else:
            step = _solve(stats.information, stats.gradient)
        return {"coef": step if stats.at is None else stats.at + step}

    def _least_squares(self, stats: LinearRegressionStats) -> dict[str, FloatArray]:
        """Weighted least squares per component from the normal equations; the variance is the
        weighted mean squared residual."""
        width = stats.xy.shape[1]
        xx = symmetric(stats.xx, width)
        n = np.maximum(stats.n, np.finfo(float).tiny)
        if self.fixed:
            coef, variance = self._shared_least_squares(stats.yy[:, 0], stats.xy, xx, n)
        else:
            coef = _solve(xx, stats.xy)
            variance = (stats.yy[:, 0] - np.einsum("ki,ki->k", coef, stats.xy)) / n
        collapsed = variance <= 1e-12 * stats.yy[:, 0] / n
        if collapsed.any():
            k = int(np.argmax(collapsed))
            raise ModelError(
                f"the residual variance of component {k} collapsed to 0: the component fits its rows "
                "exactly (too few rows for its coefficients); use fewer components"
            )
        coef[:, 0] += self.centre or 0.0
        return {"coef": coef, "variance": variance}

    def _shared_least_squares(
        self, yy: FloatArray, xy: FloatArray, xx: FloatArray, n: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """The Gaussian M-step with fixed effects, from the sufficient statistics alone: the
        shared coefficients weigh each component by 1 / variance_k, which depends on them, so
        the two are maximised in turn (each turn raises Q; the residual sums of squares of any
        coefficients are ``yy - 2 b.xy + b' xx b``) until the variances settle to 1e-12. The
        first turn weighs the components equally."""
        coef = np.zeros_like(xy)
        variance = np.ones(len(n))
        for _ in range(SHARED_LS_ITER):
            weight = 1.0 / variance
            coef = _solve_shared(xx * weight[:, None, None], xy * weight[:, None], self._fixed_columns())
            updated = _rss(yy, xy, xx, coef) / n
            settled = np.all(np.abs(updated - variance) <= 1e-12 * variance)
            variance = updated
            if settled:
                break
        return coef, variance

    # ---------------------------------------------------------------- the rest of the contract
    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        """Mixtures of regressions are not identified when the predictors take too few distinct
        values (Hennig, 2000): with at most K distinct predictor rows, different mixtures of
        lines through them give the same distribution."""
        x = self._split(data)[1]
        if n_components < 2 or x.shape[1] == 1:
            return None
        distinct = np.unique(x, axis=0).shape[0]
        if distinct <= n_components:
            return (
                f"the predictors take only {distinct} distinct value(s): a mixture of {n_components} "
                "regressions is not identified from them (Hennig, 2000); use fewer components or "
                "predictors with more distinct values"
            )
        return None

    def init_features(self, design: FloatArray) -> FloatArray:
        if self.kind == "gaussian":
            width = self._width(design.shape[1])
            return design[:, 1 : 1 + width]  # y * x: the response scaled by each predictor
        y, x, n, _ = self._split(design)
        return np.column_stack([y / n, x[:, 1:]])

    def fitted_lines(self, data: FloatArray, params: Params) -> FittedLines | None:
        y, x, n, offset = self._split(np.asarray(data, dtype=float))
        if x.shape[1] < 2:  # intercept only: nothing to draw against
            return None
        coef = np.asarray(params["coef"], dtype=float)
        grid = np.linspace(x[:, 1].min(), x[:, 1].max(), 200)
        rows = np.repeat(x.mean(axis=0)[None], len(grid), axis=0)
        rows[:, 1] = grid
        means = self._mean(coef @ rows.T + offset.mean(), n.mean())
        row_means = self._mean(coef @ x.T + offset, n)
        if self.kind == "gaussian":
            variance = np.asarray(params["variance"], dtype=float)[:, None] * np.ones_like(row_means)
        elif self.kind == "poisson":
            variance = row_means
        else:
            variance = row_means * (1 - row_means / n)
        residuals = (y - row_means) / np.sqrt(np.maximum(variance, np.finfo(float).tiny))
        return FittedLines(np.column_stack([x[:, 1], y]), grid, means, row_means, residuals)

    def _mean(self, eta: FloatArray, n_trials: Any) -> FloatArray:
        """The mean response at linear predictors ``eta`` (K, m) (``n_trials`` per row for binomial)."""
        if self.kind == "gaussian":
            return eta
        if self.kind == "poisson":
            return np.exp(np.clip(eta, -ETA_LIMIT, ETA_LIMIT))
        return n_trials * expit(eta)

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise ModelError("Regression components model a response given predictors; drawing rows needs the predictors")

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        rows = {"response": data[:, 0]}
        rows.update({name: data[:, 1 + j] for j, name in enumerate(names) if j > 0})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "kind": self.kind,
            "response": self.response,
            "predictors": self.predictors,
            "n_trials": self.n_trials,
            "offset": self.offset,
            "fixed": self.fixed or None,
            "centre": self.centre,
        }


def _column(what: str, column: Any) -> Column:
    if isinstance(column, bool) or not isinstance(column, (str, numbers.Integral)):
        raise ModelError(
            f"Regression {what} must name a column (a string) or give its position (an int); got {column!r}"
        )
    return column if isinstance(column, str) else int(column)


def _fixed(fixed: Sequence[Column] | None, predictors: list[Column] | None, kind: str) -> list[Column]:
    """The fixed effects, checked: named among the predictors, for the Newton kinds."""
    if fixed is None:
        return []
    if isinstance(fixed, str):
        raise ModelError(f"fixed must be a list of predictors; got the string {fixed!r}")
    columns = [_column("fixed", c) for c in fixed]
    if columns and predictors is None:
        raise ModelError("fixed effects must be among the predictors: give predictors= listing them")
    outside = [c for c in columns if c not in (predictors or [])]
    if outside or len(set(columns)) != len(columns):
        raise ModelError(f"fixed effects must be distinct predictors of {predictors}; got {columns}")
    return columns


def _rss(yy: FloatArray, xy: FloatArray, xx: FloatArray, coef: FloatArray) -> FloatArray:
    """Each component's weighted residual sum of squares at ``coef``: ``yy - 2 b.xy + b' xx b``."""
    return yy - 2 * np.einsum("ki,ki->k", coef, xy) + np.einsum("ki,kij,kj->k", coef, xx, coef)


def _solve_shared(information: FloatArray, gradient: FloatArray, shared: list[int]) -> FloatArray:
    """The Newton step (or, at a start, the weighted least squares solution) when the columns
    ``shared`` of every component's coefficients are one parameter: the joint system of the
    components' own coefficients and the shared ones (its shared block summed over components),
    solved at once; the step is returned per component, the shared part repeated."""
    n_components, width = gradient.shape
    own = [j for j in range(width) if j not in shared]
    n_own, n_shared = len(own), len(shared)
    size = n_components * n_own + n_shared
    matrix, vector = np.zeros((size, size)), np.zeros(size)
    tail = slice(n_components * n_own, size)
    for k in range(n_components):
        block = slice(k * n_own, (k + 1) * n_own)
        matrix[block, block] = information[k][np.ix_(own, own)]
        matrix[block, tail] = information[k][np.ix_(own, shared)]
        matrix[tail, block] = information[k][np.ix_(shared, own)]
        matrix[tail, tail] += information[k][np.ix_(shared, shared)]
        vector[block] = gradient[k, own]
        vector[tail] += gradient[k, shared]
    try:
        solution = np.linalg.solve(matrix, vector)
    except np.linalg.LinAlgError:
        solution = np.full(size, np.nan)
    if not np.isfinite(solution).all() or _scaled_condition(matrix) > 1e14:
        raise ModelError(
            "the predictors are collinear within the components' rows (singular X'WX of the model "
            "with fixed effects): use fewer components or fewer predictors"
        )
    out = np.empty_like(gradient)
    out[:, own] = solution[: n_components * n_own].reshape(n_components, n_own)
    out[:, shared] = solution[tail]
    return out


def _scaled_condition(matrix: FloatArray) -> float:
    """The condition number of ``matrix`` scaled to unit diagonal: collinearity, not the units of
    the predictors (a predictor in units of 1e8 squares its entries of X'WX to 1e16)."""
    diagonal = np.abs(np.diag(matrix))
    scale = 1 / np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    return float(np.linalg.cond(matrix * scale[:, None] * scale[None, :]))


def _solve(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """``matrix[k]^-1 vector[k]`` per component; a singular system is an error naming it."""
    out = np.empty_like(vector)
    for k, (a, b) in enumerate(zip(matrix, vector, strict=True)):
        try:
            out[k] = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            out[k] = np.nan
        if not np.isfinite(out[k]).all() or _scaled_condition(a) > 1e14:
            raise ModelError(
                f"the predictors of component {k} are collinear within its rows (singular X'WX): "
                "use fewer components or fewer predictors"
            )
    return out

"""Categorical components: D columns of levels (ints or strings), one probability table each.

Parameters are stored padded: ``p`` has shape (K, D, L_max) and ``p[k, d, l]`` is the
probability of the l-th level of column d (levels in ``family_.levels[d]``, sorted); entries
beyond a column's number of levels are 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import PROB_EPS, FloatArray
from mixfit._validation import as_float_array, column_label, get_param
from mixfit.errors import DataError, ModelError
from mixfit.families._base import SIMPLEX, DesignStats, Family, Params, ParamSpec, observed_split
from mixfit.priors import check_dirichlet, dirichlet_log_density, dirichlet_mode


@dataclass(frozen=True, slots=True)
class CategoricalStats(DesignStats):
    """``level_counts``: ``sum_n r_nk [x_nd = level]`` for every (column, level) in design order
    (K, total levels), Ch6's expected counts; ``observed``: expected rows observing each
    column (K, D), with missing data only."""

    level_counts: FloatArray
    observed: FloatArray | None = None


class Categorical(Family):
    """Independent categorical items per component (polytomous latent class analysis).

    ``log p(x | p_k) = sum_d log p_kd[x_d]``: a one-hot design matrix times ``log p``. The
    M-step divides each column's expected level counts by the expected rows of the component.
    Levels are learned at fit (sorted) and kept, so new data map the same way.

    Parameters
    ----------
    levels : sequence of sequences, optional
        Levels of each column; learned from the training data when omitted.

    Examples
    --------
    >>> import mixfit as mf
    >>> X = [["yes", "a"], ["no", "b"], ["yes", "a"], ["no", "b"], ["yes", "b"]]
    >>> m = mf.Mixture(mf.Categorical(), n_components=1).fit(X)
    >>> m.family_.levels[0].tolist(), m.params_["p"][0, 0].round(2).tolist()
    (['no', 'yes'], [0.4, 0.6])
    """

    name = "categorical"
    componentwise = True
    supports_missing = True

    def __init__(
        self, levels: Sequence[Any] | None = None, *, missing: bool = False, prior: float | None = None
    ) -> None:
        self.levels = None if levels is None else [_checked_levels(lv, j) for j, lv in enumerate(levels)]
        self.missing = bool(missing)
        self.prior = check_dirichlet(prior)

    @property
    def _sizes(self) -> np.ndarray:
        return self._shape()[0]

    def _shape(self) -> tuple[np.ndarray, np.ndarray]:
        """``(levels per column, the mask of p's real entries)``, built once per set of levels
        (the EM loop asks for them several times an iteration)."""
        levels = self._known_levels()
        cached = self.__dict__.get("_shape_cache")
        if cached is None or cached[0] is not levels:
            sizes = np.array([len(lv) for lv in levels])
            mask = np.arange(sizes.max())[None, :] < sizes[:, None]
            sizes.flags.writeable = mask.flags.writeable = False
            cached = self.__dict__["_shape_cache"] = (levels, sizes, mask)
        return cached[1], cached[2]

    def _known_levels(self) -> list[np.ndarray]:
        if self.levels is None:
            raise ModelError("Categorical levels are unknown: fit the model first or give levels=")
        return self.levels

    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        if self.levels is not None:
            return self.for_data(X)
        levels = [_column_levels(X[:, j], column_label(columns, j)) for j in range(X.shape[1])]
        return Categorical(levels, missing=self.missing, prior=self.prior).for_data(X)

    def learns_from_data(self) -> bool:
        return self.levels is None

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        levels = self._known_levels()
        if X.shape[1] != len(levels):
            raise DataError(f"Categorical data must have {len(levels)} columns; got {X.shape[1]}")
        codes = np.full(X.shape, np.nan)
        for j, known in enumerate(levels):
            present = ~_missing_mask(X[:, j])
            if _numeric_codes(X[:, j], known, present, codes[:, j]):
                continue
            seen, inverse = np.unique(np.asarray(X[present, j]), return_inverse=True)
            lookup = {_key(v): i for i, v in enumerate(known)}
            unseen = [v for v in seen if _key(v) not in lookup]
            if unseen:
                raise DataError(
                    f"{column_label(columns, j)} has level {_key(unseen[0])!r} not seen at fit; "
                    f"known levels are {known.tolist()}"
                )
            codes[present, j] = np.array([lookup[_key(v)] for v in seen], dtype=float)[inverse]
        return codes

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return list(columns)

    def design_names(self, names: Sequence[str]) -> list[str]:
        """One name ``column=level`` per design column."""
        return [f"{c}={v}" for c, known in zip(names, self._known_levels(), strict=True) for v in known]

    def complete_design(self, data: FloatArray) -> FloatArray:
        """One-hot columns per level; a missing entry has no 1 in its column's block."""
        sizes = self._sizes
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        onehot = np.zeros((data.shape[0], sizes.sum()))
        for j, offset in enumerate(offsets):
            rows = np.flatnonzero(~np.isnan(data[:, j]))
            onehot[rows, offset + data[rows, j].astype(np.intp)] = 1.0
        return onehot

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("p", SIMPLEX, "probability"),)

    def n_patterns(self, data: FloatArray) -> int | None:
        return int(np.prod(self._sizes.astype(float)))

    def item_levels(self, params: Params) -> list[FloatArray] | None:
        p = np.asarray(params["p"], dtype=float)
        return [p[:, d, :size] for d, size in enumerate(self._sizes.tolist())]

    def param_shape(self, name: str, n_components: int, n_features: int) -> tuple[int, ...]:
        """(K, columns, most levels): one row of level probabilities per column, padded."""
        return (n_components, len(self._sizes), int(self._sizes.max()))

    def structural_zeros(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The padding of ``p`` (K, D, max levels) beyond each column's levels."""
        return np.broadcast_to(~self._mask(), shape)

    def _mask(self) -> np.ndarray:
        return self._shape()[1]

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        p = params["p"][:, self._mask()]
        return np.log(np.maximum(p, PROB_EPS)), np.zeros((p.shape[0], len(self._sizes)))

    def named_stats(self, n: FloatArray, product: FloatArray) -> CategoricalStats:
        return CategoricalStats(n, product, *observed_split(product, len(self._sizes), self.missing))

    def m_step(self, stats: CategoricalStats) -> dict[str, FloatArray]:
        """Each column's expected level counts over its observed rows, normalised (the posterior
        mode with a Dirichlet prior); a column no row of the component observed is uniform."""
        mask = self._mask()
        counts = np.zeros((len(stats.n), *mask.shape))
        counts[:, mask] = stats.level_counts
        if self.prior is None:
            total = counts.sum(axis=2, keepdims=True)
            if total.all():  # the usual case: every column observed in every component
                return {"p": counts / total}
        p = dirichlet_mode(counts, self.prior, mask)
        fill = 1.0 / mask.sum(axis=1)[None, :, None]
        empty = counts.sum(axis=2, keepdims=True) == 0
        return {"p": np.where(mask, np.where(empty, fill, np.nan_to_num(p)), 0.0)}

    def log_prior(self, params: Params) -> float:
        return dirichlet_log_density(params["p"], self.prior, self._mask())

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        raw = get_param(params, "p")
        mask = self._mask()
        shape = (n_components, *mask.shape)
        if isinstance(raw, (list, tuple)) and len(raw) == len(mask) and np.ndim(raw[0]) == 2:
            p = np.zeros(shape)
            for j, table in enumerate(raw):
                t = as_float_array(f"params_init['p'][{j}]", table)
                if t.shape != (n_components, mask[j].sum()):
                    raise ModelError(
                        f"params_init['p'][{j}] must have shape {(n_components, mask[j].sum())}; got {t.shape}"
                    )
                p[:, j, : t.shape[1]] = t
        else:
            p = as_float_array("params_init['p']", raw)
            if p.shape != shape:
                raise ModelError(f"params_init['p'] must have shape {shape} (padded); got {p.shape}")
        if np.any(p < 0) or np.any(p > 1) or np.any(p[:, ~mask] != 0):
            raise ModelError("params_init['p'] must lie in [0, 1] (and be 0 beyond a column's levels)")
        sums = p.sum(axis=2)
        if np.any(np.abs(sums - 1) > 1e-6):
            raise ModelError(
                f"params_init['p'] must sum to 1 over each column's levels; got sums {sums.round(6).tolist()}"
            )
        return {"p": p / sums[:, :, None]}

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        levels = self._known_levels()
        cdf = np.cumsum(params["p"][labels], axis=2)
        codes = (rng.random((len(labels), len(levels), 1)) > cdf).sum(axis=2)
        out = np.empty((len(labels), len(levels)), dtype=object)
        for j, known in enumerate(levels):
            out[:, j] = known[np.minimum(codes[:, j], len(known) - 1)]
        kinds = {known.dtype.kind for known in levels}
        return out.astype(levels[0].dtype) if len(kinds) == 1 and kinds != {"O"} else out

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        levels = self._known_levels()
        rows = {}
        for j, name in enumerate(names):
            gaps = np.isnan(data[:, j])
            values = levels[j][np.where(gaps, 0, data[:, j]).astype(np.intp)]
            rows[name] = np.where(gaps, np.array(None, dtype=object), values.astype(object)) if gaps.any() else values
        return rows

    def init_features(self, design: FloatArray) -> FloatArray:
        return design[:, : -len(self._sizes)] if self.missing else design

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        sizes = self._sizes
        n_free = n_components * (int((sizes - 1).sum()) + 1) - 1
        n_cells = int(np.prod(sizes.astype(float))) - 1
        if n_components > 1 and n_free > n_cells:
            return (
                f"a Categorical mixture of {n_components} components on {len(sizes)} column(s) with "
                f"{sizes.tolist()} levels is not identifiable: it has {n_free} free parameters but "
                f"the data have only {n_cells} free pattern frequencies; use fewer components or more columns"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        levels = None if self.levels is None else [lv.tolist() for lv in self.levels]
        return {"family": self.name, "levels": levels, "missing": self.missing, "prior": self.prior}


def _numeric_codes(column: np.ndarray, known: np.ndarray, present: np.ndarray, out: np.ndarray) -> bool:
    """Level codes of a numeric column with numeric levels, written into ``out`` at the present
    entries, by a search in the sorted levels (one vectorised pass; the general path sorts the
    column and looks every distinct value up in a dictionary). False: not numeric, or a value
    that is not a known level (the general path then names it)."""
    if column.dtype.kind not in "biuf" or known.dtype.kind not in "biuf":
        return False
    values = column[present]
    order = np.argsort(known, kind="stable")
    ordered = known[order]
    position = np.minimum(np.searchsorted(ordered, values), len(known) - 1)
    if not np.array_equal(ordered[position], values):
        return False
    out[present] = order[position]
    return True


def _missing_mask(column: np.ndarray) -> np.ndarray:
    """True where an entry is missing (NaN or None)."""
    values = np.asarray(column)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def _checked_levels(levels: Any, j: int) -> np.ndarray:
    """One column's given levels: distinct numbers, booleans or strings."""
    nested = [v for v in levels if isinstance(v, (list, tuple, dict, set))] if isinstance(levels, (list, tuple)) else []
    if nested:  # before NumPy, which refuses ragged nesting with a traceback of its own
        raise ModelError(f"Categorical levels of column {j} must be numbers or strings; got {type(nested[0]).__name__}")
    values = np.asarray(levels)
    if values.ndim != 1 or values.size == 0:
        raise ModelError(f"Categorical levels of column {j} must be a non-empty list; got {levels!r:.80}")
    bad = [v for v in values.tolist() if not isinstance(v, (str, int, float, bool))]
    if bad:
        raise ModelError(f"Categorical levels of column {j} must be numbers or strings; got {type(bad[0]).__name__}")
    if len(set(values.tolist())) != len(values):
        raise ModelError(f"Categorical levels of column {j} repeat a value: {values.tolist()!r:.80}")
    return values


def _column_levels(column: np.ndarray, label: str) -> np.ndarray:
    values = np.asarray(column)[~_missing_mask(column)]
    if values.size == 0:
        raise DataError(f"{label} has no observed values")
    try:
        levels = np.unique(values)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values})
        raise DataError(f"{label} mixes value types {kinds}; use one type per column") from None
    if levels.dtype.kind == "O" and all(isinstance(v, str) for v in levels):
        levels = levels.astype(str)
    if levels.dtype.kind == "f" and np.array_equal(levels, np.floor(levels)):
        levels = levels.astype(np.int64)  # whole numbers read as floats because a column has gaps
    return levels


def _key(value: Any) -> Any:
    """Dictionary key that makes 1, 1.0 and numpy scalars of them the same level."""
    return value.item() if isinstance(value, np.generic) else value

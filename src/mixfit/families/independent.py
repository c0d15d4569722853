"""Mixed column types: one family per group of columns, independent given the component.

``Independent({("q1", "q2", "q3"): Bernoulli(), "visits": Poisson(), "age": Gaussian("diag")})``
is a latent class model whose classes differ in yes/no answers, a count and a continuous
column at once. Its design matrix is the parts' design matrices side by side; each part
computes its own log-densities (summed: the parts are independent given the component) and its
own statistics from its columns of the design, so a part keeps whatever its family does for
precision (Gaussian moments about each component's mean). The statistics are the tuple of the
parts' statistics, which add part by part and so keep chunked and distributed fits exact. Parameters are
named ``"<part>.<name>"``, e.g. ``"visits.rate"``; a part is named by its column, or by its
first and last column joined with ".." for a group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixfit._math import FloatArray
from mixfit._validation import check_column
from mixfit.errors import DataError, ModelError
from mixfit.families._base import Family, Natural, Params, ParamSpec, Stats

Key = str | int | tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class IndependentStats(Stats):
    """``n`` (K,) and each part's own statistics, in the order of the parts; ``observed_widths``:
    each part's observed-indicator columns (with missing data; empty without)."""

    n: FloatArray
    parts: tuple[Any, ...]
    observed_widths: tuple[int, ...] = ()

    def __add__(self, other: Any) -> Any:
        if type(other) is not type(self):
            return NotImplemented
        parts = tuple(a + b for a, b in zip(self.parts, other.parts, strict=True))
        return IndependentStats(self.n + other.n, parts, self.observed_widths)

    def __mul__(self, factor: float) -> Any:
        return IndependentStats(self.n * factor, tuple(p * factor for p in self.parts), self.observed_widths)

    __rmul__ = __mul__

    @property
    def t_sum(self) -> FloatArray:
        """The design product (each part's design columns, then, with missing data, each part's
        observed-indicator columns), for tables of expected statistics."""
        sums = [p.t_sum for p in self.parts]
        if not self.observed_widths:
            return np.hstack(sums)
        cut = [t.shape[1] - w for t, w in zip(sums, self.observed_widths, strict=True)]
        return np.hstack(
            [*(t[:, :c] for t, c in zip(sums, cut, strict=True)), *(t[:, c:] for t, c in zip(sums, cut, strict=True))]
        )


class Independent(Family):
    """Families on disjoint groups of columns (every column in exactly one group).

    Parameters
    ----------
    parts : mapping of column name (or tuple of names, or positions) to Family
    missing : bool, default=False
        Model NaN entries as missing at random (needs every part to support it; set
        automatically for data in memory).

    Examples
    --------
    >>> import numpy as np, mixfit as mf
    >>> X = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 7], [0, 1, 9], [1, 1, 1], [0, 0, 8]])
    >>> fam = mf.Independent({("x0", "x1"): mf.Bernoulli(), "x2": mf.Poisson()})
    >>> m = mf.Mixture(fam, 2, random_state=0).fit(X)
    >>> sorted(m.params_["x2.rate"][:, 0].round(3).tolist())
    [0.667, 8.0]
    """

    name = "independent"

    def __init__(
        self, parts: Mapping[Key, Family | Mapping[str, Any]] | Sequence[Any], *, missing: bool = False
    ) -> None:
        from mixfit.families import from_dict

        items = list(parts.items()) if isinstance(parts, Mapping) else [tuple(pair) for pair in parts]
        if not items:
            raise ModelError("Independent needs at least one (columns, family) part")
        self.parts: list[tuple[tuple[str | int, ...], Family]] = []
        for key, family in items:
            group = tuple(key) if isinstance(key, (tuple, list)) else (key,)
            if not group:
                raise ModelError("an Independent part must name at least one column")
            if isinstance(family, Mapping):
                family = from_dict(dict(family))
            if not isinstance(family, Family) or isinstance(family, Independent):
                raise ModelError(f"Independent parts must be mixfit families (not Independent); got {family!r}")
            self.parts.append((group, family))
        flat = [c for group, _ in self.parts for c in group]
        if len(set(flat)) != len(flat):
            raise ModelError(f"Independent parts must not share columns; got {flat}")
        labels = self.part_labels
        if len(set(labels)) != len(labels):
            raise ModelError(f"Independent part names must differ; got {labels}")
        self.missing = bool(missing)
        #: the parts' design layout, computed once (it depends only on the parts): the E-step
        #: cuts every chunk's design by it
        self._layout: dict[Any, Any] = {}
        if self.missing:
            self.parts = [(group, family.with_missing()) for group, family in self.parts]

    @property
    def part_labels(self) -> list[str]:
        return [str(g[0]) if len(g) == 1 else f"{g[0]}..{g[-1]}" for g, _ in self.parts]

    @property
    def supports_missing(self) -> bool:  # type: ignore[override]
        return all(family.supports_missing for _, family in self.parts)

    @property
    def linear_in_design(self) -> bool:  # type: ignore[override]
        return all(family.linear_in_design for _, family in self.parts)

    @property
    def newton_params(self) -> tuple[str, ...]:
        return tuple(
            f"{label}.{name}"
            for label, (_, family) in zip(self.part_labels, self.parts, strict=True)
            for name in family.newton_params
        )

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """Every part's parameters, named ``"<part>.<name>"``."""
        return tuple(
            spec.prefixed(label)
            for label, (_, family) in zip(self.part_labels, self.parts, strict=True)
            for spec in family.param_specs()
        )

    def n_patterns(self, data: FloatArray) -> int | None:
        total = 1
        for (_, family), part in zip(self.parts, self._slices(self._widths()), strict=True):
            count = family.n_patterns(data[:, part])
            if count is None:
                return None
            total *= count
        return total

    def structural_zeros(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        label, _, inner = name.rpartition(".")
        return self.parts[self.part_labels.index(label)][1].structural_zeros(inner, shape)

    def shared_entries(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        label, _, inner = name.rpartition(".")
        return self.parts[self.part_labels.index(label)][1].shared_entries(inner, shape)

    def with_missing(self, missing: bool = True) -> Independent:
        if missing and not self.supports_missing:
            raise DataError("every part of Independent must support missing values to model NaN")
        return Independent([(g, f.with_missing(missing)) for g, f in self.parts], missing=missing)

    # -------------------------------------------------------------- columns
    def _positions(self, columns: Sequence[str]) -> list[list[int]]:
        positions = []
        where = {str(c): i for i, c in enumerate(columns)}  # one look-up a column: 10^4 columns are many
        for group, _ in self.parts:
            idx = []
            for c in group:
                if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                    if not 0 <= c < len(columns):
                        raise DataError(f"Independent column position {c} is out of range for {len(columns)} columns")
                    idx.append(int(c))
                else:
                    if str(c) not in where:
                        check_column(str(c), columns, "the data (Independent part)")
                    idx.append(where[str(c)])
            positions.append(idx)
        unused = sorted(set(range(len(columns))) - {i for idx in positions for i in idx})
        if unused:
            raise DataError(
                f"columns {[columns[i] for i in unused]} are in no part of Independent; select them out or add a part"
            )
        return positions

    def _widths(self) -> list[int]:
        """Validated columns of each part."""
        return [family.validated_width(len(group)) for group, family in self.parts]

    def _slices(self, sizes: Sequence[int]) -> list[slice]:
        ends = np.cumsum([0, *sizes])
        return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:], strict=True)]

    def _design_widths(self) -> list[int]:
        if "design_widths" not in self._layout:
            self._layout["design_widths"] = [
                family.complete_design(np.zeros((1, width))).shape[1]
                for (_, family), width in zip(self.parts, self._widths(), strict=True)
            ]
        return list(self._layout["design_widths"])

    def _n_features(self) -> list[int]:
        """Modelled columns of each part (a Binomial's trials column is not one)."""
        return [len(family.feature_names([str(c) for c in group])) for group, family in self.parts]

    def _feature_slices(self) -> list[slice]:
        return self._slices(self._n_features())

    def part_names(self, columns: Sequence[str]) -> list[list[str]]:
        """The data columns of each part, by name."""
        return [[columns[i] for i in idx] for idx in self._positions(columns)]

    # -------------------------------------------------------------- the Family contract
    def fitted_to(self, X: np.ndarray, columns: Sequence[str]) -> Family:
        positions = self._positions(columns)
        parts = [
            (group, family.fitted_to(X[:, idx], [columns[i] for i in idx]).with_missing(False))
            for (group, family), idx in zip(self.parts, positions, strict=True)
        ]
        fitted = Independent(parts, missing=self.missing)
        return fitted.for_data(X)

    def learns_from_data(self) -> bool:
        return any(family.learns_from_data() for _, family in self.parts)

    def validate(self, X: np.ndarray, columns: Sequence[str]) -> FloatArray:
        pieces = []
        for (_, family), idx in zip(self.parts, self._positions(columns), strict=True):
            values = family.validate(X[:, idx], [columns[i] for i in idx])
            pieces.append(np.asarray(values, dtype=float))
        return np.hstack(pieces)

    def feature_names(self, columns: Sequence[str]) -> list[str]:
        return [
            name
            for (_, family), names in zip(self.parts, self.part_names(columns), strict=True)
            for name in family.feature_names(names)
        ]

    def complete_design(self, data: FloatArray) -> FloatArray:
        return np.hstack(
            [
                family.complete_design(data[:, part])
                for (_, family), part in zip(self.parts, self._slices(self._widths()), strict=True)
            ]
        )

    def design_names(self, names: Sequence[str]) -> list[str]:
        return [
            name
            for (_, family), part in zip(self.parts, self._feature_slices(), strict=True)
            for name in family.with_missing(False).design_names(list(names[part]))
        ]

    def natural_columns(self, params: Params) -> tuple[FloatArray, FloatArray]:
        pieces = [
            family.natural_columns(sub) for (_, family), sub in zip(self.parts, self.split_params(params), strict=True)
        ]
        return np.hstack([c for c, _ in pieces]), np.hstack([b for _, b in pieces])

    def split_params(self, params: Params) -> list[dict[str, FloatArray]]:
        """Each part's parameters, without the part prefix."""
        out: list[dict[str, FloatArray]] = [{} for _ in self.parts]
        labels = self.part_labels
        for key, value in params.items():
            label, _, inner = key.rpartition(".")
            if label not in labels:
                raise ModelError(f"parameter {key!r} names no part of Independent (parts: {labels})")
            out[labels.index(label)][inner] = value
        return out

    def named_stats(self, n: FloatArray, product: FloatArray) -> IndependentStats:
        """Each part's statistics from its columns of a design product."""
        parts = tuple(
            family.named_stats(n, product[:, columns])
            for (_, family), columns in zip(self.parts, self._part_columns(product.shape[1]), strict=True)
        )
        return IndependentStats(n, parts, tuple(self._widths()) if self.missing else ())

    def part_stats(self, stats: IndependentStats) -> list[Any]:
        """The statistics of each part."""
        return list(stats.parts)

    def _part_columns(self, width: int) -> list[np.ndarray]:
        """Each part's columns of the design: its design columns, then its observed indicators."""
        if ("columns", width) not in self._layout:
            self._layout["columns", width] = self._cut_columns(width)
        return list(self._layout["columns", width])

    def _cut_columns(self, width: int) -> list[np.ndarray]:
        design_parts = self._slices(self._design_widths())
        if not self.missing:
            return [np.arange(width)[part] for part in design_parts]
        total = sum(self._design_widths())
        return [
            np.r_[np.arange(width)[design], total + np.arange(width - total)[observed]]
            for design, observed in zip(design_parts, self._slices(self._widths()), strict=True)
        ]

    def _part_designs(self, design: FloatArray) -> list[FloatArray]:
        if not self.missing:  # column slices: views, no copy
            if "slices" not in self._layout:
                self._layout["slices"] = self._slices(self._design_widths())
            return [design[:, part] for part in self._layout["slices"]]
        return [design[:, columns] for columns in self._part_columns(design.shape[1])]

    def stats_by_component(
        self, design: FloatArray, resp: FloatArray, params: Params | None = None
    ) -> IndependentStats:
        """Each part's statistics from its own columns, by its own family."""
        subs = self.split_params(params) if params is not None else [None] * len(self.parts)
        parts = tuple(
            family.stats_by_component(part, resp, sub)
            for (_, family), part, sub in zip(self.parts, self._part_designs(design), subs, strict=True)
        )
        return IndependentStats(
            resp.sum(axis=1, dtype=np.float64), parts, tuple(self._widths()) if self.missing else ()
        )

    def log_prob_by_component(self, design: FloatArray, params: Params, natural: Natural | None = None) -> FloatArray:
        """The parts' log-densities summed (independent given the component), (K, n)."""
        pieces = zip(self.parts, self._part_designs(design), self.split_params(params), strict=True)
        out = None
        for (_, family), part, sub in pieces:
            log_prob = family.log_prob_by_component(part, sub)
            out = log_prob if out is None else out.__iadd__(log_prob)
        return out  # type: ignore[return-value]

    def log_density_gradient(self, design: FloatArray, params: Params) -> dict[str, FloatArray] | None:
        """Each part's gradient: its own analytic one (a Poisson or binomial regression), or from
        ``natural`` for a linear part of entrywise parameters (Bernoulli, Binomial, Poisson,
        Gaussian diagonal); None when a part has neither (a simplex or a covariance matrix)."""
        out: dict[str, FloatArray] = {}
        pieces = zip(self.part_labels, self.parts, self._part_designs(design), self.split_params(params), strict=True)
        for label, (_, family), part, sub in pieces:
            gradient = family.log_density_gradient(part, sub) or family.entrywise_log_density_gradient(part, sub)
            if gradient is None:
                return None
            out.update({f"{label}.{name}": value for name, value in gradient.items()})
        return out

    def expected_log_prob(self, stats: IndependentStats, params: Params, natural: Natural | None = None) -> FloatArray:
        pieces = zip(self.parts, stats.parts, self.split_params(params), strict=True)
        return sum(family.expected_log_prob(part, sub) for (_, family), part, sub in pieces)  # type: ignore[return-value]

    def log_likelihood_roundoff(self, stats: IndependentStats, params: Params, natural: Natural | None = None) -> float:
        pieces = zip(self.parts, stats.parts, self.split_params(params), strict=True)
        return float(sum(family.log_likelihood_roundoff(part, sub) for (_, family), part, sub in pieces))

    def m_step(self, stats: IndependentStats) -> dict[str, FloatArray]:
        params: dict[str, FloatArray] = {}
        for label, (_, family), part in zip(self.part_labels, self.parts, self.part_stats(stats), strict=True):
            params.update({f"{label}.{name}": value for name, value in family.m_step(part).items()})
        return params

    def log_prior(self, params: Params) -> float:
        return sum(
            family.log_prior(sub) for (_, family), sub in zip(self.parts, self.split_params(params), strict=True)
        )

    def check_params(self, params: Any, n_components: int, n_features: int) -> dict[str, FloatArray]:
        if not isinstance(params, Mapping):
            raise ModelError(f"params_init must be a dict with keys '<part>.<name>'; got {params!r}")
        out: dict[str, FloatArray] = {}
        parts = zip(self.part_labels, self.parts, self.split_params(params), self._n_features(), strict=True)
        for label, (_, family), sub, n_part in parts:
            out.update({f"{label}.{k}": v for k, v in family.check_params(sub, n_components, n_part).items()})
        return out

    def n_free_params(self, n_components: int, n_features: int) -> int:
        return sum(
            family.n_free_params(n_components, n_part)
            for (_, family), n_part in zip(self.parts, self._n_features(), strict=True)
        )

    def sample(self, params: Params, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rows with the parts' columns in the order of the parts (object dtype when mixed)."""
        pieces = [
            np.asarray(family.sample(sub, labels, rng)).reshape(len(labels), -1)
            for (_, family), sub in zip(self.parts, self.split_params(params), strict=True)
        ]
        kinds = {p.dtype.kind for p in pieces}
        return (
            np.hstack(pieces)
            if len(kinds) == 1 or kinds <= {"i", "u", "f"}
            else np.hstack([p.astype(object) for p in pieces])
        )

    def describe_rows(self, data: FloatArray, names: Sequence[str]) -> dict[str, np.ndarray]:
        rows: dict[str, np.ndarray] = {}
        parts = zip(self.parts, self._slices(self._widths()), self._feature_slices(), strict=True)
        for (_, family), part, named in parts:
            rows.update(family.describe_rows(data[:, part], list(names[named])))
        return rows

    def param_columns(self, params: Params, names: Sequence[str]) -> dict[str, tuple[list[str], FloatArray]]:
        out: dict[str, tuple[list[str], FloatArray]] = {}
        parts = zip(self.part_labels, self.parts, self.split_params(params), self._feature_slices(), strict=True)
        for label, (_, family), sub, named in parts:
            for key, table in family.param_columns(sub, list(names[named])).items():
                out[f"{label}.{key}"] = table
        return out

    def init_features(self, design: FloatArray) -> FloatArray:
        """The parts' seeding features side by side, each column scaled to unit spread."""
        pieces = [
            family.with_missing(False).init_features(design[:, part])
            for (_, family), part in zip(self.parts, self._slices(self._design_widths()), strict=True)
        ]
        features = np.hstack(pieces)
        spread = features.std(axis=0)
        return features / np.where(spread > 0, spread, 1.0)

    def identifiability_problem(self, n_components: int, data: FloatArray) -> str | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "parts": [[list(group), family.to_dict()] for group, family in self.parts],
            "missing": self.missing,
        }

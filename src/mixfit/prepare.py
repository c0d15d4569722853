"""Data as the estimator sees it: the family fitted to the columns, validated rows, the source.

Every function here reads only an estimator's public settings (``family``, ``compress``,
``dtype``, ``n_components``) and fitted attributes (``family_``, ``weights_``, ``params_``,
``n_features_in_``, ``feature_names_in_``), so the modules that evaluate a fitted model
(``inference``, ``diagnostics``, ``explain``, ``plots``, ``report``) use them without reaching
into ``Mixture``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from mixfit._data import as_table
from mixfit._math import FloatArray, has_full_column_rank, out_of_range_column
from mixfit._validation import check_column, check_sample_weight, check_weights
from mixfit.concomitant import with_intercept
from mixfit.em import EMState
from mixfit.errors import DataError, ModelError
from mixfit.families import Family, as_family
from mixfit.sources import (
    SAMPLE_ROWS,
    ArraySource,
    DataSource,
    as_source,
    open_table,
    table_source,
    unique_rows,
)

#: Above this many rows, "K larger than the number of distinct rows" is not checked up front.
DISTINCT_CHECK_ROWS = 200_000


@dataclass(frozen=True)
class TrainingData:
    """Training data as a fit sees it.

    ``rows`` are every validated row when X is in memory (and ``init_source`` is ``source``);
    for a table read pass by pass (``FileTable``, Dask) they are up to ``SAMPLE_ROWS`` rows
    spread over the table, and ``init_source`` holds them for the initialisation.
    """

    family: Family
    columns: list[str]
    is_frame: bool
    rows: FloatArray
    source: DataSource
    init_source: ArraySource
    #: the user's frequency weights of ``rows`` (None: every row counts once)
    row_weight: FloatArray | None = None
    #: covariates on class membership of ``rows``, the intercept first (None: no covariates)
    covariates: FloatArray | None = None
    covariate_names: list[str] | None = None

    @property
    def n_features(self) -> int:
        """Features the family sees (one-hot levels count one each)."""
        return len(self.family.feature_names(self.columns))


def compute_dtype(dtype: Any) -> np.dtype:
    """The ``dtype`` setting, checked: float64 or float32."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if checked not in (np.float64, np.float32):
        raise ModelError(f"dtype must be np.float64 or np.float32; got {dtype!r}")
    return checked


def known_responsibilities(known_labels: Any, n_rows: int, n_components: int) -> FloatArray:
    """``known_labels`` of ``fit`` as (n, K) fixed responsibilities with NaN rows where unknown."""
    try:
        values = np.asarray(known_labels, dtype=float)
    except (TypeError, ValueError):
        raise DataError("known_labels must hold component numbers (-1: unknown) or rows of probabilities") from None
    if values.ndim == 1:
        if values.shape != (n_rows,):
            raise DataError(f"known_labels must have one entry per row ({n_rows}); got shape {values.shape}")
        bad = (values != -1) & ~((values >= 0) & (values < n_components) & (values == np.floor(values)))
        if bad.any():
            raise DataError(
                f"known_labels must hold component numbers 0..{n_components - 1} or -1 (unknown); "
                f"got {values[bad][0]:g}"
            )
        fixed = np.full((n_rows, n_components), np.nan)
        known = values >= 0
        fixed[known] = np.eye(n_components)[values[known].astype(int)]
        return fixed
    if values.shape != (n_rows, n_components):
        raise DataError(f"known_labels as probabilities must have shape ({n_rows}, {n_components}); got {values.shape}")
    rows = ~np.isnan(values).all(axis=1)
    given = values[rows]
    if np.isnan(given).any() or np.any(given < 0) or np.any(np.abs(given.sum(axis=1) - 1) > 1e-6):
        raise DataError("known_labels rows must be probabilities (>= 0, summing to 1) or all NaN (unknown)")
    return values


def covariate_design(covariates: Any, n_rows: int, names: list[str] | None = None) -> tuple[FloatArray, list[str]]:
    """Covariates on class membership as ``(rows with an intercept first (n, 1 + q), names)``,
    checked: one row per row of X, numbers, no missing values (the rows are named), no constant
    or collinear columns; ``names``: the names at fit (evaluation needs the same columns)."""
    if hasattr(covariates, "shape") and len(np.shape(covariates)) == 2 and np.shape(covariates)[1] == 0:
        array, columns, is_frame = np.empty((np.shape(covariates)[0], 0)), list[str](), False
    else:
        array, columns, is_frame = as_table(covariates)
        name = None if is_frame else getattr(covariates, "name", None)  # a pandas Series
        if not is_frame:
            columns = [str(name)] if name is not None else unnamed_covariates(array.shape[1])
        is_frame = is_frame or name is not None
    if array.shape[0] != n_rows:
        raise DataError(f"covariates must have one row per row of X ({n_rows}); got {array.shape[0]}")
    check_covariate_names(columns, None if names is None else names[1:], is_frame)
    values = np.empty(array.shape)
    for j, name in enumerate(columns):
        try:
            values[:, j] = np.asarray(array[:, j], dtype=float)
        except (TypeError, ValueError):
            raise DataError(
                f"covariate column {name!r} is not numeric; code it as numbers (e.g. pandas.get_dummies(..., "
                "drop_first=True) for categories)"
            ) from None
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        shown = ", ".join(map(str, rows[:10])) + (", ..." if rows.size > 10 else "")
        raise DataError(
            f"covariate column {columns[int(np.argmax(bad.any(axis=0)))]!r} has missing or infinite values in "
            f"{rows.size} row(s) ({shown}); drop or impute those rows"
        )
    extreme = None if names is not None else out_of_range_column(values)  # at fit: predictions take any value
    if extreme is not None:
        raise DataError(
            f"covariate column {columns[extreme]!r} holds values of magnitude {np.abs(values[:, extreme]).max():.3g}: "
            "its coefficient's information (their squares) would be beyond what floating point holds; rescale the "
            "column (e.g. divide by a power of 10: the class probabilities stay, the coefficient takes the factor)"
        )
    design = with_intercept(values)
    if names is None:
        constant = [c for c, v in zip(columns, values.T, strict=True) if np.ptp(v) == 0]
        if constant:
            raise DataError(f"covariate column {constant[0]!r} is constant: the intercept already models it; drop it")
        if not has_full_column_rank(design):
            raise DataError(
                f"the covariate columns {columns} are collinear (one is a combination of the others and the "
                "intercept): their coefficients are not identified; drop one"
            )
    return design, ["(intercept)", *columns]


def unnamed_covariates(n_columns: int) -> list[str]:
    """The names of covariates given without names (an array): z0, z1, ..."""
    return [f"z{j}" for j in range(n_columns)]


def check_covariate_names(columns: list[str], expected: list[str] | None, named: bool) -> None:
    """Covariates are matched by name, as X is: unique names, and at evaluation the fit's
    columns in the fit's order (by their number only when the fit's or these have no names)."""
    repeated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if repeated:
        raise DataError(f"covariate column names must be unique; got duplicates {repeated}")
    if expected is None:
        return
    if len(columns) != len(expected):
        raise DataError(f"covariates must have the {len(expected)} columns of the fit {expected}; got {len(columns)}")
    if named and columns != expected and expected != unnamed_covariates(len(expected)):
        raise DataError(f"covariate columns must be {expected}, as at fit (matched by name, in order); got {columns}")


def training_data(
    model: Any, X: Any, sample_weight: Any, known_labels: Any = None, covariates: Any = None
) -> TrainingData:
    """X as a fit of ``model`` sees it (see ``TrainingData``)."""
    dtype = compute_dtype(model.dtype)
    table = open_table(X)
    if table is None:
        array, columns, is_frame = as_table(X)
        family = as_family(model.family).fitted_to(array, columns)
        data = family.validate(array, columns)
        weight = check_sample_weight(sample_weight, data.shape[0])
        n_rows, n_components = data.shape[0], model.n_components
        fixed = None if known_labels is None else known_responsibilities(known_labels, n_rows, n_components)
        z, z_names = (None, None) if covariates is None else covariate_design(covariates, n_rows)
        source = as_source(
            data, family, sample_weight=weight, compress=model.compress, dtype=dtype, fixed=fixed, covariates=z
        )
        return TrainingData(family, columns, is_frame, data, source, source, weight, z, z_names)
    if covariates is not None:
        if sample_weight is not None or known_labels is not None:
            raise DataError(f"sample_weight and known_labels are not supported for data read pass by pass ({table!r})")
        return streamed_training_data(model, table, covariates, dtype)
    if known_labels is not None:
        raise DataError(f"known_labels is supported for data in memory only, not {table!r}")
    if sample_weight is not None:
        raise DataError(
            f"sample_weight is not supported for data read pass by pass ({table!r}); add the "
            "weights as repeated rows or fit in memory"
        )
    family = table.learn_schema(as_family(model.family))
    data = family.validate(table.sample_rows(SAMPLE_ROWS), table.columns)
    streamed = table_source(table, family, dtype)
    init_source = as_source(data, family, compress=model.compress)  # as in memory when the sample is all rows
    return TrainingData(family, table.columns, table.is_frame, data, streamed, init_source)


def streamed_covariates(table: Any, covariates: Any) -> tuple[Any, list[str], list[str]]:
    """``(the table reading the modelled columns then the covariates, the modelled columns, the
    covariates)`` of a table read pass by pass (a file or a Dask DataFrame) whose covariates on
    class membership are columns named in ``covariates``."""
    if not isinstance(covariates, (list, tuple)) or not all(isinstance(c, str) for c in covariates):
        raise DataError("for data read pass by pass, covariates= names their columns, e.g. covariates=['age', 'party']")
    names = list(covariates)
    columns = [c for c in table.columns if c not in names]
    return table.select(columns + names), columns, names


def streamed_training_data(model: Any, table: Any, covariates: Any, dtype: np.dtype) -> TrainingData:
    """A file with covariate columns as a fit sees it: the family learns from the modelled
    columns, the starts use a sample of rows (with their covariates), every pass reads both."""
    import pandas as pd

    full, columns, names = streamed_covariates(table, covariates)
    family = table.select(columns).learn_schema(as_family(model.family))
    sample = full.sample_rows(SAMPLE_ROWS)
    data = family.validate(sample[:, : len(columns)], columns)
    z, z_names = covariate_design(pd.DataFrame(sample[:, len(columns) :], columns=names), len(sample))
    streamed = table_source(full, family, dtype, n_covariates=len(names))
    init_source = as_source(data, family, compress=model.compress, covariates=z)
    return TrainingData(family, columns, table.is_frame, data, streamed, init_source, None, z, z_names)


def check_enough_rows(train: TrainingData, n_components: int, params_init: Any) -> None:
    """K must not exceed the rows, nor (without ``params_init``) the distinct rows."""
    n_rows = train.source.n_rows
    if n_components > n_rows:
        raise ModelError(f"n_components must be <= the number of rows ({n_rows}); got {n_components}")
    if params_init is not None:
        return
    if train.init_source.compressed:
        n_distinct = train.init_source.design.shape[0]
    elif train.rows.shape[0] == n_rows <= DISTINCT_CHECK_ROWS:
        head = train.rows[: 20 * n_components]  # usually enough to see K distinct rows
        n_distinct = unique_rows(head)[0].shape[0]
        if n_distinct < n_components:
            n_distinct = unique_rows(train.rows)[0].shape[0]
    else:
        return
    if n_components > n_distinct:
        raise ModelError(f"n_components must be <= the number of distinct rows ({n_distinct}); got {n_components}")


def fitted(model: Any) -> tuple[Family, EMState]:
    """The family and the parameters of ``model`` as they are now (fitted or set by hand)."""
    check_is_fitted(model, ["weights_", "params_"])
    family = getattr(model, "family_", None) or as_family(model.family)
    weights = check_weights(model.weights_, len(np.atleast_1d(model.weights_)), "weights_")
    coef = getattr(model, "covariate_coef_", None)
    return family, EMState(weights, dict(model.params_), coef=None if coef is None else np.asarray(coef, dtype=float))


def fitted_marginal(model: Any) -> tuple[Family, EMState]:
    """``fitted(model)`` without covariate coefficients: for a model with covariates, the mixture
    whose weights are the classes' average prior over the training rows (``weights_``), so that
    its pattern probabilities, times the rows, are the expected pattern counts of those rows
    (``sum_n pi_k(z_n) p(x | k) = N wbar_k p(x | k)``)."""
    family, state = fitted(model)
    return family, EMState(state.weights, state.params)


def evaluation_covariates(model: Any, covariates: Any, n_rows: int) -> FloatArray | None:
    """The covariates of rows to evaluate: required exactly when the model was fitted with them."""
    names = getattr(model, "covariate_names_", None)
    if names is None:
        if covariates is not None:
            raise DataError("this model was fitted without covariates; do not pass covariates=")
        return None
    if covariates is None:
        raise DataError(
            f"this model was fitted with covariates {names[1:]} on class membership; pass covariates= with "
            "one row per row of X to predict, predict_proba, score_samples, score, bic, aic, sample or "
            "standard_errors (the other methods do not take models with covariates yet)"
        )
    return covariate_design(covariates, n_rows, names)[0]


def check_columns(model: Any, columns: list[str], is_frame: bool) -> None:
    """X's columns must be those the model was fitted on (their number; names for a frame); a
    frame needs only the columns a family reads by name (a regression's response, predictors)."""
    family = getattr(model, "family_", None)
    read = None if family is None else family.columns_read()
    if is_frame and read is not None:
        for name in read:
            check_column(name, columns, "the data")
        return
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and len(columns) != expected:
        one_d = not is_frame and columns == ["x"]  # as_table's name for the one column of a 1-D X
        hint = "; a 1-D X is read as one column (Reshape your data with X.reshape(1, -1) for a single row)"
        hint = hint if one_d else ""
        raise DataError(
            f"X has {len(columns)} features, but Mixture is expecting {expected} features as input "
            f"(the columns at fit){hint}"
        )
    names = getattr(model, "feature_names_in_", None)
    if names is not None and is_frame and list(names) != columns:
        raise DataError(f"X columns must be {list(names)}, as at fit; got {columns}")


def fitted_source(
    model: Any, X: Any, sample_weight: Any = None, covariates: Any = None
) -> tuple[Family, EMState, DataSource]:
    """The fitted family (seen through X's rows), the parameters and a source of X (with the
    rows' covariates when the model has them)."""
    family, state = fitted(model)
    dtype = compute_dtype(model.dtype)
    table = open_table(X)
    if table is None:
        array, columns, is_frame = as_table(X)
        check_columns(model, columns, is_frame)
        data = family.validate(array, columns)
        family = family.for_data(data)
        weight = check_sample_weight(sample_weight, data.shape[0])
        z = evaluation_covariates(model, covariates, data.shape[0])
        source: DataSource = as_source(
            data, family, sample_weight=weight, compress=model.compress, dtype=dtype, covariates=z
        )
    elif state.coef is not None or covariates is not None:
        if state.coef is None or covariates is None:
            evaluation_covariates(model, covariates, 0)  # says which is missing
        if sample_weight is not None:
            raise DataError(f"sample_weight is not supported for data read pass by pass ({table!r})")
        full, columns, names = streamed_covariates(table, covariates)
        if ["(intercept)", *names] != list(model.covariate_names_):
            expected = list(model.covariate_names_)[1:]
            raise DataError(f"covariates must be the columns {expected} of the fit; got {names}")
        check_columns(model, columns, table.is_frame)
        source = table_source(full, family, dtype, n_covariates=len(names))
    elif sample_weight is not None:
        raise DataError(f"sample_weight is not supported for data read pass by pass ({table!r})")
    else:
        columns = table.columns
        check_columns(model, columns, table.is_frame)
        source = table_source(table, family, dtype)
    n_features = len(family.feature_names(columns))
    params = family.check_params(state.params, len(state.weights), n_features)
    return family, EMState(state.weights, params, coef=state.coef), source

"""A fit as one table a researcher can read and publish (``Mixture.summary``).

One row per estimate, named by its component (``c_1`` .. ``c_K``, the labels of the CLI, the
report and the model file; ``predict``'s integer k is ``c_{k+1}``), its parameter and its
feature (a column, ``column=level`` for categories, ``var(column)`` or ``cov(a,b)`` for
Gaussian covariances, upper triangle only). With data, each estimate gets its standard error
(observed information, ``standard_errors``), ``z = estimate / se``, the two-sided normal ``p``
and a 95% interval; covariate coefficients also get odds ratios ``exp(coef)`` with the interval's
ends exponentiated. Entries fixed by the model (a category's padding, a reference class) are
left out; estimates on the boundary keep a note and no standard error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mixfit.families import MATRIX_DOMAINS
from mixfit.inference import Z95, StandardErrors, standard_errors
from mixfit.prepare import fitted

COLUMNS = ("component", "parameter", "feature", "estimate", "se", "z", "p", "lower", "upper", "note")
ODDS_COLUMNS = ("odds_ratio", "odds_ratio_lower", "odds_ratio_upper")


def summary_table(
    model: Any, X: Any = None, sample_weight: Any = None, covariates: Any = None, errors: StandardErrors | None = None
) -> pd.DataFrame:
    """The summary of ``model`` (see the module's text); without X (or ``errors``, its standard
    errors computed already), the estimates alone."""
    from scipy.stats import norm

    family, state = fitted(model)
    if errors is None and X is not None:
        errors = standard_errors(model, X, sample_weight=sample_weight, covariates=covariates)
    names = getattr(model, "feature_names_", None) or family.feature_names([f"x{j}" for j in range(_width(state))])
    notes = _notes(errors, state)
    rows = _weight_rows(state, errors, notes)
    rows += _param_rows(family, state, names, errors, notes)
    rows += _covariate_rows(model, errors, notes)
    frame = pd.DataFrame(rows, columns=["component", "parameter", "feature", "estimate", "se", "note"])
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["z"] = np.where(frame["se"] > 0, frame["estimate"] / frame["se"], np.nan)
    frame["p"] = 2 * norm.sf(np.abs(frame["z"]))
    frame["lower"] = frame["estimate"] - Z95 * frame["se"]
    frame["upper"] = frame["estimate"] + Z95 * frame["se"]
    frame = frame[list(COLUMNS)]
    odds = frame["parameter"] == "covariate_coef"
    if odds.any():
        for column, source in zip(ODDS_COLUMNS, ("estimate", "lower", "upper"), strict=True):
            frame[column] = np.where(odds, np.exp(frame[source].where(odds, 0.0)), np.nan)
    return frame


def _width(state: Any) -> int:
    first = np.asarray(next(iter(state.params.values())))
    return first.shape[1] if first.ndim > 1 else 1


def _notes(errors: StandardErrors | None, state: Any) -> dict[str, np.ndarray]:
    """The standard-error table's notes in the shapes of the weights, parameters and coefficients."""
    if errors is None:
        return {}
    flat = errors.table["note"].to_numpy(dtype=object)
    out, offset = {}, 0
    shapes = {"weights": np.shape(state.weights), **{k: np.shape(v) for k, v in state.params.items()}}
    if state.coef is not None:
        shapes["covariate_coef"] = np.shape(state.coef)
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = flat[offset : offset + size].reshape(shape)
        offset += size
    return out


def _row(component: str, parameter: str, feature: str, estimate: float, se: float, note: Any) -> dict[str, Any]:
    return {
        "component": component,
        "parameter": parameter,
        "feature": feature,
        "estimate": float(estimate),
        "se": float(se),
        "note": str(note or ""),
    }


def _weight_rows(state: Any, errors: StandardErrors | None, notes: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    k = len(state.weights)
    se = np.full(k, np.nan) if errors is None else np.asarray(errors.weights, dtype=float)
    note = notes.get("weights", [""] * k)
    return [_row(f"c_{j + 1}", "weight", "", state.weights[j], se[j], note[j]) for j in range(k)]


def _param_rows(
    family: Any, state: Any, names: list[str], errors: StandardErrors | None, notes: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    columns = family.param_columns(state.params, names)
    se_columns = None if errors is None else family.param_columns(errors.params, names)
    params_notes = {name: value for name, value in notes.items() if name in state.params}
    note_columns = family.param_columns(params_notes, names) if notes else None
    domains = {spec.name: spec.domain for spec in family.param_specs()}
    rows = []
    for key, (labels, values) in columns.items():
        keep = _upper_triangle(labels) if domains.get(key) in MATRIX_DOMAINS else None
        se = np.full(values.shape, np.nan) if se_columns is None else se_columns[key][1]
        note = np.full(values.shape, "", dtype=object) if note_columns is None else note_columns[key][1]
        for k in range(values.shape[0]):
            for j, label in enumerate(labels):
                if keep is None or keep[j]:
                    rows.append(_row(f"c_{k + 1}", key, label, values[k, j], se[k, j], note[k, j]))
    return rows


def _upper_triangle(labels: list[str]) -> np.ndarray | None:
    """Which ``cov(a,b)`` labels (row by row over a full matrix) lie on or above the diagonal."""
    d = int(round(np.sqrt(len(labels))))
    if d * d != len(labels):
        return None
    rows, cols = np.divmod(np.arange(len(labels)), d)
    return cols >= rows


def _covariate_rows(model: Any, errors: StandardErrors | None, notes: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    coef = getattr(model, "covariate_coef_", None)
    if coef is None:
        return []
    coef = np.asarray(coef, dtype=float)
    se = np.full(coef.shape, np.nan) if errors is None or errors.covariate_coef is None else errors.covariate_coef
    note = notes.get("covariate_coef", np.full(coef.shape, "", dtype=object))
    return [  # class 1 is the reference: its coefficients are 0 by definition, not estimates
        _row(f"c_{k + 1}", "covariate_coef", name, coef[k, j], se[k, j], note[k, j])
        for k in range(1, coef.shape[0])
        for j, name in enumerate(model.covariate_names_)
    ]

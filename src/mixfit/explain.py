"""Ch6's worked example as tables: what one EM iteration computes, step by step.

For each iteration, on the distinct rows of the data:

- Table 6.1, ``posteriors``: p(component | outcome) with the outcome's occurrences;
- Table 6.2, ``expected_counts``: occurrences x posterior, E[1(X = x, Y = c_j)];
- Table 6.3, ``sufficient_stats``: expected rows per component (eq. (6.10)) and the family's
  expected sufficient statistics (the binomial's expected successes);
- Table 6.4, ``new_params``, and eq. (6.14), ``new_weights``: the M-step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixfit._data import as_table
from mixfit._validation import check_int, check_option, check_sample_weight, check_weights
from mixfit.em import EMState, m_step, posterior
from mixfit.errors import ModelError
from mixfit.families import Family, as_family
from mixfit.prepare import fitted, fitted_marginal
from mixfit.sources import unique_rows


@dataclass(frozen=True)
class ExplainStep:
    """The tables of one EM iteration (Ch6, Tables 6.1-6.4)."""

    iteration: int
    log_likelihood: float
    posteriors: pd.DataFrame
    expected_counts: pd.DataFrame
    sufficient_stats: pd.DataFrame
    new_params: pd.DataFrame
    new_weights: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name, in the order of the seed."""
        return {
            "posteriors per outcome (Table 6.1)": self.posteriors,
            "expected counts (Table 6.2)": self.expected_counts,
            "expected sufficient statistics (Table 6.3)": self.sufficient_stats,
            "new parameters (Table 6.4)": self.new_params,
            "new weights (eq. 6.14)": self.new_weights,
        }


def explain_steps(model: Any, X: Any, *, iterations: int = 1, start: str | None = None) -> list[ExplainStep]:
    """Run ``iterations`` EM steps of ``model`` on ``X`` and return Ch6's tables for each."""
    iterations = check_int("iterations", iterations, 1)
    start = start or ("init" if model.params_init is not None else "fitted")
    check_option("start", start, ("init", "fitted"))
    array, columns, _ = as_table(X)
    family, state = _starting_point(model, array, columns, start)
    names = family.feature_names(columns)
    distinct, _, counts = unique_rows(family.validate(array, columns))
    design, occurrences = family.design(distinct), counts.astype(float)
    outcomes = pd.DataFrame(family.describe_rows(distinct, names))
    labels = [f"c_{k + 1}" for k in range(len(state.weights))]
    steps = []
    for iteration in range(iterations):
        resp_by_component, log_marginal = posterior(family, state, design)
        log_likelihood = float(occurrences @ log_marginal)
        resp = resp_by_component.T
        expected = resp * occurrences[:, None]
        stats = family.stats(design, expected)
        new_state = m_step(family, stats)
        steps.append(
            ExplainStep(
                iteration=iteration,
                log_likelihood=log_likelihood,
                posteriors=_with_outcomes(outcomes.assign(occurrences=counts), resp, labels),
                expected_counts=_with_outcomes(outcomes, expected, labels),
                sufficient_stats=_stats_table(family, stats, names, labels),
                new_params=_params_table(family, new_state, names, labels),
                new_weights=pd.DataFrame([new_state.weights], columns=labels, index=["weight"]),
            )
        )
        state = new_state
    return steps


def _starting_point(model: Any, array: np.ndarray, columns: list[str], start: str) -> tuple[Family, EMState]:
    if start == "fitted":
        return fitted(model)
    if model.params_init is None:
        raise ModelError("explain(start='init') needs params_init (and optionally weights_init)")
    family = getattr(model, "family_", None) or as_family(model.family).fitted_to(array, columns)
    n_features = len(family.feature_names(columns))
    params = family.check_params(model.params_init, model.n_components, n_features)
    k = model.n_components
    weights = np.full(k, 1.0 / k) if model.weights_init is None else check_weights(model.weights_init, k)
    weights = weights / weights.sum()
    return family, EMState(weights, params)


def _with_outcomes(outcomes: pd.DataFrame, values: np.ndarray, labels: list[str]) -> pd.DataFrame:
    return pd.concat([outcomes, pd.DataFrame(values, columns=labels)], axis=1)


def _stats_table(family: Family, stats: Any, names: list[str], labels: list[str]) -> pd.DataFrame:
    rows = np.vstack([stats.n[None, :], stats.t_sum.T])
    observed = [f"observed({c})" for c in names] if family.missing else []
    index = ["expected_rows", *family.design_names(names), *observed]
    return pd.DataFrame(rows, index=index, columns=labels)


def _params_table(family: Family, state: EMState, names: list[str], labels: list[str]) -> pd.DataFrame:
    frames = []
    for key, (row_labels, values) in family.param_columns(state.params, names).items():
        frames.append(pd.DataFrame(values.T, index=[f"{key}[{r}]" for r in row_labels], columns=labels))
    return pd.concat(frames)


@dataclass(frozen=True)
class Outcomes:
    """The distinct rows of a data set under a model (what the fit and responsibility plots show).

    table : DataFrame of readable outcome values, one row per distinct row
    counts : ndarray of shape (m,), occurrences of each distinct row
    resp : ndarray of shape (m, K), responsibilities p(component | outcome) (Table 6.1)
    log_marginal : ndarray of shape (m,), log p(outcome)
    """

    table: pd.DataFrame
    counts: np.ndarray
    resp: np.ndarray
    log_marginal: np.ndarray

    @property
    def joint(self) -> np.ndarray:
        """w_k p(outcome | component k), shape (m, K)."""
        return self.resp * np.exp(self.log_marginal)[:, None]

    def labels(self, max_values: int = 40) -> list[str]:
        """One short label per outcome: its values joined by spaces, the first ``max_values``
        of them and "..." when a row has more (10^4 columns make labels no figure can draw)."""
        width = self.table.shape[1]
        rows = self.table.iloc[:, :max_values].itertuples(index=False)
        more = " ..." if width > max_values else ""
        return [" ".join(map(str, row)) + more for row in rows]


def outcomes(model: Any, X: Any, sample_weight: Any = None) -> Outcomes:
    """The distinct rows of ``X``, their counts (the sums of their frequency weights, when given),
    and each component's share of their probability. For a model with covariates, X must be its
    training rows: the shares are those of the expected counts over the rows' own priors
    (``prepare.fitted_marginal``)."""
    family, state = fitted_marginal(model)
    array, columns, _ = as_table(X)
    distinct, inverse, counts = unique_rows(family.validate(array, columns))
    weight = check_sample_weight(sample_weight, array.shape[0])
    if weight is not None:
        counts = np.bincount(inverse, weights=weight, minlength=len(distinct))
    resp, log_marginal = posterior(family, state, family.design(distinct))
    table = pd.DataFrame(family.describe_rows(distinct, family.feature_names(columns)))
    return Outcomes(table, counts, resp.T, log_marginal)

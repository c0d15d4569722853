"""Mixture.summary: one row per estimate, named by component and feature, with standard errors,
z, p, intervals and odds ratios; and what Jupyter shows of a fitted model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import mixfit as mf

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def survey_fit():
    frame = pd.read_csv(EXAMPLES / "survey.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.Mixture(mf.Bernoulli(), 3, random_state=0).fit(frame), frame


def test_summary_standard_errors_are_standard_errors(survey_fit):
    model, frame = survey_fit
    table = model.summary(frame)
    errors = model.standard_errors(frame)
    p_rows = table[table["parameter"] == "p"]
    assert len(p_rows) == 3 * frame.shape[1] and list(p_rows["feature"][:3]) == list(frame.columns[:3])
    np.testing.assert_array_equal(p_rows["se"].to_numpy(), errors.params["p"].ravel())
    np.testing.assert_array_equal(p_rows["estimate"].to_numpy(), model.params_["p"].ravel())
    weights = table[table["parameter"] == "weight"]
    assert list(weights["component"]) == ["c_1", "c_2", "c_3"]
    np.testing.assert_array_equal(weights["se"].to_numpy(), errors.weights)
    row = p_rows.iloc[4]
    assert row["z"] == pytest.approx(row["estimate"] / row["se"], rel=1e-15)
    assert row["p"] == pytest.approx(2 * norm.sf(abs(row["z"])), rel=1e-12)
    assert row["upper"] - row["estimate"] == pytest.approx(norm.ppf(0.975) * row["se"], rel=1e-12)


def test_without_data_the_summary_holds_the_estimates(survey_fit):
    model, _ = survey_fit
    table = model.summary()
    assert table["se"].isna().all() and len(table) == 3 + 3 * len(model.feature_names_)


def test_categorical_items_of_unequal_levels_have_no_padding_rows(rng):
    frame = pd.DataFrame(
        {
            "PURPOSE": rng.choice(["good", "depends", "waste"], 600),
            "ACCURACY": rng.choice(["mostly true", "not true"], 600),
            "UNDERSTA": rng.choice(["good", "fair"], 600),
            "COOPERAT": rng.choice(["interested", "cooperative", "impatient"], 600),
        }
    )  # the GSS 1982 survey's items and their numbers of levels
    levels = [frame[c].nunique() for c in frame.columns]  # 3, 2, 2, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mf.Mixture(mf.Categorical(), 2, random_state=0).fit(frame)
    table = model.summary(frame)
    p_rows = table[table["parameter"] == "p"]
    assert len(p_rows) == 2 * sum(levels)
    assert p_rows["feature"].iloc[0] == f"PURPOSE={model.family_.levels[0][0]}"
    sums = p_rows.assign(item=p_rows["feature"].str.split("=").str[0]).groupby(["component", "item"])["estimate"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-12)


def test_a_gaussian_covariance_is_listed_once_per_pair():
    frame = pd.read_csv(EXAMPLES / "geyser.csv")
    model = mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(frame)
    cov = model.summary(frame).query("parameter == 'covariance'")
    assert list(cov["feature"][:3]) == ["cov(eruption,eruption)", "cov(eruption,waiting)", "cov(waiting,waiting)"]
    assert len(cov) == 2 * 3 and cov["estimate"].iloc[1] == model.params_["covariance"][0, 0, 1]


def test_covariate_coefficients_get_odds_ratios_with_their_intervals(rng):
    age = rng.normal(size=400)
    items = (rng.random((400, 4)) < np.where((age + rng.normal(size=400) > 0)[:, None], 0.85, 0.15)).astype(int)
    X, Z = pd.DataFrame(items, columns=["q1", "q2", "q3", "q4"]), pd.DataFrame({"age": age})
    model = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z)
    table = model.summary(X, covariates=Z)
    coef = table[table["parameter"] == "covariate_coef"]
    assert list(coef["feature"]) == ["(intercept)", "age"] and set(coef["component"]) == {"c_2"}
    se = model.standard_errors(X, covariates=Z).covariate_coef[1]
    beta = model.covariate_coef_[1]
    z = norm.ppf(0.975)
    np.testing.assert_allclose(coef["odds_ratio"], np.exp(beta), rtol=1e-12)
    np.testing.assert_allclose(coef["odds_ratio_lower"], np.exp(beta - z * se), rtol=1e-12)
    np.testing.assert_allclose(coef["odds_ratio_upper"], np.exp(beta + z * se), rtol=1e-12)
    assert table[table["parameter"] == "weight"]["note"].str.contains("average prior").all()
    assert table[table["parameter"] == "p"]["odds_ratio"].isna().all()


def test_jupyter_shows_a_fitted_model_by_its_estimates(survey_fit):
    model, _ = survey_fit
    page = model._repr_html_()
    assert "mixfit Mixture" in page and f"{model.log_likelihood_:.6f}" in page
    assert f"{model.params_['p'][0, 0]:.6f}" in page
    assert "mixfit Mixture" not in mf.Mixture(mf.Bernoulli(), 2)._repr_html_()  # scikit-learn's view


def test_jupyter_shows_a_selection_by_its_criteria_and_chosen_model(survey_fit):
    _, frame = survey_fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mf.select(frame, mf.Bernoulli(), range(1, 5), n_init=2, random_state=0)
    page = result._repr_html_()
    assert f"BIC chooses K = {result.best_n_components}" in page and page.count("<table") == 2
    assert f"{result.table.loc[2, 'bic']:.3f}" in page


def test_the_reports_modal_sizes_are_whole_rows(survey_fit, tmp_path):
    model, frame = survey_fit
    page = model.report(frame, tmp_path / "r.html").read_text()
    sizes = page.split('id="classification"')[1].split("</table>")[0]
    modal = mf.diagnostics.classification_quality(model, frame).sizes["modal size"]
    assert all(f"<td>{int(v)}</td>" in sizes for v in modal) and f"{modal.iloc[0]:.4f}" not in sizes


def test_a_mixed_model_summarises_each_part_by_its_own_names(rng):
    frame = pd.DataFrame({"flag": rng.integers(0, 2, 200), "h": np.r_[rng.normal(0, 1, 100), rng.normal(5, 1, 100)]})
    model = mf.Mixture(mf.Independent({("flag",): mf.Bernoulli(), ("h",): mf.Gaussian("diag")}), 2, random_state=0)
    model.fit(frame)
    table = model.summary(frame)
    assert set(table["parameter"]) == {"weight", "flag.p", "h.mean", "h.covariance"}
    se = model.standard_errors(frame).params
    rows = table[table["parameter"] == "h.mean"]
    np.testing.assert_array_equal(rows["se"].to_numpy(), se["h.mean"].ravel())

"""Bivariate residuals (Latent GOLD's BVR): Pearson X^2 of each pair of items' two-way table
against the fitted model's expected frequencies, over its degrees of freedom."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from mixfit.concomitant import log_prior
from mixfit.diagnostics import bivariate_residuals

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def by_hand(X, weights, p):
    """The BVR of items 0 and 1 of binary data under a model of class weights and p (K, D)."""
    observed = np.array([[np.sum((X[:, 0] == i) & (X[:, 1] == j)) for j in (0, 1)] for i in (0, 1)])
    expected = np.zeros((2, 2))
    for k, w in enumerate(weights):
        pa = np.array([1 - p[k, 0], p[k, 0]])
        pb = np.array([1 - p[k, 1], p[k, 1]])
        expected += len(X) * w * np.outer(pa, pb)
    return ((observed - expected) ** 2 / expected).sum()  # df = 1


def test_a_bivariate_residual_by_hand():
    rng = np.random.default_rng(0)
    X = (rng.random((200, 3)) < 0.5).astype(float)
    model = mf.Mixture(mf.Bernoulli(), 2)
    model.weights_ = np.array([0.3, 0.7])
    model.params_ = {"p": np.array([[0.2, 0.3, 0.6], [0.7, 0.6, 0.4]])}
    table = bivariate_residuals(model, X).set_index(["item_a", "item_b"])
    assert table.loc[("x0", "x1"), "bvr"] == pytest.approx(by_hand(X, model.weights_, model.params_["p"]), rel=1e-12)
    assert table.loc[("x0", "x1"), "df"] == 1 and len(table) == 3


def test_a_duplicated_item_stands_out_and_weights_are_repeated_rows():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    survey["q1_again"] = survey["q1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mf.Mixture(mf.Bernoulli(), 3, random_state=0).fit(survey)
    table = bivariate_residuals(model, survey)
    assert (table.loc[0, "item_a"], table.loc[0, "item_b"]) == ("q1", "q1_again") and table.loc[0, "bvr"] > 20
    patterns = survey.value_counts().reset_index(name="count")
    weighted = bivariate_residuals(model, patterns.drop(columns="count"), sample_weight=patterns["count"])
    merged = table.merge(weighted, on=["item_a", "item_b"])
    np.testing.assert_allclose(merged["bvr_x"], merged["bvr_y"], rtol=1e-9)


def test_categorical_items_missing_values_and_covariates():
    rng = np.random.default_rng(1)
    age = rng.normal(size=400)
    cls = rng.random(400) < 1 / (1 + np.exp(-2 * age))
    frame = pd.DataFrame(
        {
            "a": np.where(cls, rng.choice(["x", "y", "z"], 400, p=[0.7, 0.2, 0.1]), rng.choice(["x", "y", "z"], 400)),
            "b": np.where(cls, rng.choice(["u", "v"], 400, p=[0.8, 0.2]), rng.choice(["u", "v"], 400, p=[0.3, 0.7])),
            "c": np.where(cls, rng.choice(["p", "q"], 400, p=[0.9, 0.1]), rng.choice(["p", "q"], 400, p=[0.2, 0.8])),
        }
    )
    frame.loc[:9, "a"] = None
    z = pd.DataFrame({"age": age})
    model = mf.Mixture(mf.Categorical(), 2, random_state=0).fit(frame, covariates=z)
    table = bivariate_residuals(model, frame, covariates=z).set_index(["item_a", "item_b"])
    assert table.loc[("a", "b"), "df"] == 2 and table.loc[("a", "b"), "n"] == 390  # rows missing a left out
    assert table.loc[("b", "c"), "n"] == 400
    # expected frequencies from each row's own class probabilities
    prior = np.exp(log_prior(model.covariate_coef_, np.column_stack([np.ones(400), age]))).T
    p = model.params_["p"]
    codes_b = (frame["b"] == "v").to_numpy().astype(int)
    codes_c = (frame["c"] == "q").to_numpy().astype(int)
    expected = np.einsum("k,ki,kj->ij", prior.sum(axis=0), p[:, 1, :2], p[:, 2, :2])
    observed = np.array([[np.sum((codes_b == i) & (codes_c == j)) for j in (0, 1)] for i in (0, 1)])
    assert table.loc[("b", "c"), "bvr"] == pytest.approx(((observed - expected) ** 2 / expected).sum(), rel=1e-9)
    with pytest.raises(mf.ModelError, match="bivariate residuals need items"):
        bivariate_residuals(
            mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(rng.normal(size=(50, 2))), rng.normal(size=(50, 2))
        )


def test_the_cli_prints_the_largest_bivariate_residuals_with_gof(capsys):
    import json

    from mixfit.cli import main

    with pytest.raises(SystemExit) as done:
        main(["fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "-k", "2", "--seed", "0", "--gof", "--json"])
    assert done.value.code == 0
    rows = json.loads(capsys.readouterr().out)["bivariate_residuals"]
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    expected = bivariate_residuals(mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(survey), survey).head(5)
    assert [(r["item_a"], r["item_b"]) for r in rows] == list(zip(expected["item_a"], expected["item_b"], strict=True))
    np.testing.assert_allclose([r["bvr"] for r in rows], expected["bvr"], rtol=1e-9)
    assert rows[0]["bvr"] > 3.84  # two classes for three: the items share more than two classes explain

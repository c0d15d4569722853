"""Covariates on class membership (latent class regression): the prior of class k for row n is
softmax(coef @ [1, z_n])_k with class 0 the reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit, log_softmax, logsumexp

import mixfit as mf
from mixfit import sources
from tests.test_cli import run

TRUE_COEF = np.array([[0.0, 0.0, 0.0], [-0.5, 1.2, 1.0]])
TRUE_P = np.array([[0.85, 0.8, 0.2, 0.15, 0.7], [0.2, 0.25, 0.8, 0.9, 0.3]])


def simulated(n: int, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Five binary items of two classes whose prior follows TRUE_COEF in (age, party)."""
    rng = np.random.default_rng(seed)
    z = pd.DataFrame({"age": rng.normal(size=n), "party": rng.integers(0, 2, n).astype(float)})
    prior = np.exp(log_softmax(np.c_[np.ones(n), z.to_numpy()] @ TRUE_COEF.T, axis=1))
    labels = (rng.random(n) > prior[:, 0]).astype(int)
    X = (rng.random((n, 5)) < TRUE_P[labels]).astype(int)
    return X, z, labels


def fit(X, z, **settings):
    settings = {"random_state": 0, "order": "p", "tol": 1e-12, "max_iter": 5000, **settings}
    return mf.Mixture(mf.Bernoulli(), 2, **settings).fit(X, covariates=z)


def observed_log_likelihood(X, z, logit_p, coef_free):
    """The latent class regression log-likelihood, written out directly (K = 2)."""
    p = expit(logit_p)  # (2, D)
    log_px = X @ np.log(p).T + (1 - X) @ np.log1p(-p).T  # (n, 2)
    eta = np.c_[np.zeros(len(X)), np.c_[np.ones(len(X)), z] @ coef_free]
    return logsumexp(log_px + log_softmax(eta, axis=1), axis=1).sum()


def test_recovers_the_coefficients_of_simulated_data():
    X, z, _ = simulated(4000)
    m = fit(X, z)  # order="p": classes by increasing p[q0], so TRUE_P's class 1 comes first
    assert m.covariate_names_ == ["(intercept)", "age", "party"]
    assert m.covariate_coef_.shape == (2, 3)
    np.testing.assert_array_equal(m.covariate_coef_[0], 0.0)
    # with 4000 rows the coefficients' standard errors are about 0.05-0.1 (a parametric
    # bootstrap of this design): 0.3 is more than 3 of them
    order = np.argsort(TRUE_P[:, 0])
    expected = TRUE_COEF[order] - TRUE_COEF[order][0]
    np.testing.assert_allclose(m.covariate_coef_, expected, atol=0.3)
    np.testing.assert_allclose(m.params_["p"], TRUE_P[order], atol=0.05)
    assert m.n_parameters() == 2 * 5 + 3


def test_no_direct_optimisation_finds_a_higher_likelihood():
    X, z, _ = simulated(600, seed=1)
    m = fit(X, z)
    start = np.concatenate([np.log(m.params_["p"] / (1 - m.params_["p"])).ravel(), m.covariate_coef_[1]])

    def negative(theta):
        return -observed_log_likelihood(X, z.to_numpy(), theta[:10].reshape(2, 5), theta[10:, None])

    assert -negative(start) == pytest.approx(m.log_likelihood_, rel=1e-12)
    best = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-9})
    assert -best.fun <= m.log_likelihood_ + 1e-6  # EM's answer is the maximum
    np.testing.assert_allclose(best.x, start, atol=1e-3)


def test_standard_errors_equal_the_inverse_hessian_of_the_likelihood():
    X, z, _ = simulated(600, seed=1)
    m = fit(X, z)
    errors = m.standard_errors(X, covariates=z)
    theta = np.concatenate([np.log(m.params_["p"] / (1 - m.params_["p"])).ravel(), m.covariate_coef_[1]])

    def log_likelihood(t):
        return observed_log_likelihood(X, z.to_numpy(), t[:10].reshape(2, 5), t[10:, None])

    h, eye = 1e-4, np.eye(theta.size) * 1e-4
    hessian = np.array(
        [
            [
                log_likelihood(theta + a + b)
                - log_likelihood(theta + a - b)
                - log_likelihood(theta - a + b)
                + log_likelihood(theta - a - b)
                for b in eye
            ]
            for a in eye
        ]
    ) / (4 * h * h)
    # the coefficients' block of the inverse does not depend on how p is parametrised (logit
    # here); central differences of step 1e-4 are exact to about 1e-6 relative
    expected = np.sqrt(np.diag(np.linalg.inv(-hessian)))[10:]
    np.testing.assert_allclose(errors.covariate_coef[1], expected, rtol=1e-4)
    np.testing.assert_array_equal(errors.covariate_coef[0], 0.0)
    assert errors.table.loc["covariate_coef[0,1]", "note"] == "fixed by the model"
    assert np.isnan(errors.weights).all()
    assert errors.table.loc["weight[0]", "note"].startswith("the average prior")
    opg = m.standard_errors(X, covariates=z, method="opg").covariate_coef[1]
    np.testing.assert_allclose(opg, expected, rtol=0.1)  # another estimate of the same information


def test_frequency_weights_equal_the_expanded_rows():
    X, z, labels = simulated(300, seed=11)
    counts = np.random.default_rng(0).integers(1, 4, len(X))
    expanded_X, expanded_z = np.repeat(X, counts, axis=0), z.loc[z.index.repeat(counts)].reset_index(drop=True)
    weighted = mf.Mixture(mf.Bernoulli(), 2, random_state=0, order="p", tol=1e-12, n_init=1)
    weighted.fit(X, sample_weight=counts, covariates=z)
    expanded = fit(expanded_X, expanded_z, n_init=1)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(weighted.covariate_coef_, expanded.covariate_coef_, atol=1e-10)
    np.testing.assert_allclose(weighted.weights_, expanded.weights_, atol=1e-12)
    assert weighted.bic(X, sample_weight=counts, covariates=z) == pytest.approx(
        expanded.bic(expanded_X, covariates=expanded_z), rel=1e-12
    )
    # standard errors by finite differences of the scores: equal to about 1e-6 relative
    np.testing.assert_allclose(
        weighted.standard_errors(X, sample_weight=counts, covariates=z).covariate_coef,
        expanded.standard_errors(expanded_X, covariates=expanded_z).covariate_coef,
        rtol=1e-5,
    )
    known = np.where(np.arange(len(X)) < 30, labels, -1)  # semi-supervised: the first 30 rows known
    semi = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=z, known_labels=known)
    assert (semi.predict(X, covariates=z) == labels).mean() > 0.8  # the known rows name the classes


def test_intercept_only_covariates_give_the_plain_mixture():
    X, _, _ = simulated(500, seed=2)
    plain = mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-13, max_iter=5000, order="p").fit(X)
    m = fit(X, np.empty((len(X), 0)), tol=1e-13)
    assert m.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(m.weights_, plain.weights_, atol=1e-6)
    np.testing.assert_allclose(m.covariate_coef_[1, 0], np.log(plain.weights_[1] / plain.weights_[0]), atol=1e-5)


def test_chunked_fit_equals_the_fit_in_one_block(monkeypatch):
    X, z, _ = simulated(2000, seed=3)
    whole = fit(X, z, n_init=1)
    monkeypatch.setattr(sources.memory, "BLOCK_BYTES", 1)  # blocks of 256 rows
    chunked = fit(X, z, n_init=1)
    assert chunked.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(chunked.covariate_coef_, whole.covariate_coef_, atol=1e-8)
    np.testing.assert_allclose(chunked.params_["p"], whole.params_["p"], atol=1e-8)


def test_a_streamed_file_with_covariate_columns_equals_the_fit_in_memory(tmp_path, capsys):
    X, z, _ = simulated(1200, seed=3)
    items = [f"q{j}" for j in range(5)]
    frame = pd.DataFrame(X, columns=items).join(z)
    frame.to_csv(tmp_path / "d.csv", index=False)
    memory = fit(frame[items], z, n_init=1)
    table = mf.FileTable(tmp_path / "d.csv", chunk_rows=250)
    streamed = fit(table, ["age", "party"], n_init=1)  # every pass reads the covariates by name
    assert streamed.n_iter_ == memory.n_iter_
    assert streamed.log_likelihood_ == pytest.approx(memory.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(streamed.covariate_coef_, memory.covariate_coef_, atol=1e-10)
    np.testing.assert_allclose(streamed.weights_, memory.weights_, atol=1e-12)
    np.testing.assert_allclose(
        streamed.predict_proba(table, covariates=["age", "party"]), memory.predict_proba(frame[items], covariates=z),
        atol=1e-12,
    )  # fmt: skip
    with pytest.raises(mf.DataError, match="covariates= names their columns"):
        fit(table, z)
    with pytest.raises(mf.DataError, match=r"covariates must be the columns \['age', 'party'\]"):
        streamed.score(table, covariates=["party", "age"])
    code, out, _ = run(
        capsys, "fit", str(tmp_path / "d.csv"), "-f", "bernoulli", "-k", "2", "--covariates", "age,party",
        "--chunk-size", "300", "--seed", "0", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["log_likelihood"] == pytest.approx(memory.log_likelihood_, rel=1e-9)


def test_a_dask_dataframe_with_covariate_columns_equals_the_fit_in_memory():
    dd = pytest.importorskip("dask.dataframe")
    X, z, _ = simulated(1200, seed=3)
    items = [f"q{j}" for j in range(5)]
    frame = pd.DataFrame(X, columns=items).join(z)
    memory = fit(frame[items], z, n_init=1)
    collection = dd.from_pandas(frame, npartitions=4)
    on_dask = fit(collection, ["age", "party"], n_init=1)
    assert on_dask.log_likelihood_ == pytest.approx(memory.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(on_dask.covariate_coef_, memory.covariate_coef_, atol=1e-10)
    np.testing.assert_allclose(
        on_dask.predict_proba(collection, covariates=["age", "party"]), memory.predict_proba(frame[items], covariates=z),
        atol=1e-12,
    )  # fmt: skip


def test_log_likelihood_never_decreases_and_predictions_use_each_rows_prior():
    X, z, _ = simulated(800, seed=4)
    m = fit(X, z)  # the suite runs in debug mode: a decrease would raise
    assert np.all(np.diff(m.history_["log_likelihood"]) >= -1e-9)
    proba = m.predict_proba(X, covariates=z)
    prior = np.exp(log_softmax(np.c_[np.ones(len(X)), z.to_numpy()] @ m.covariate_coef_.T, axis=1))
    p = m.params_["p"]
    joint = np.exp(X @ np.log(p).T + (1 - X) @ np.log1p(-p).T) * prior
    np.testing.assert_allclose(proba, joint / joint.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(m.score_samples(X, covariates=z), np.log(joint.sum(axis=1)), rtol=1e-10)
    assert m.score(X, covariates=z) * len(X) == pytest.approx(m.log_likelihood_, rel=1e-10)
    assert m.bic(X, covariates=z) == pytest.approx(-2 * m.log_likelihood_ + 13 * np.log(len(X)), rel=1e-10)
    np.testing.assert_allclose(m.weights_, prior.mean(axis=0), rtol=1e-12)


def test_sample_draws_each_rows_class_from_its_prior():
    X, z, _ = simulated(800, seed=5)
    m = fit(X, z)
    many = pd.concat([z.iloc[:2]] * 5000, ignore_index=True)
    _, labels = m.sample(covariates=many)
    prior = np.exp(log_softmax(np.c_[np.ones(2), z.iloc[:2].to_numpy()] @ m.covariate_coef_.T, axis=1))
    share = np.array([labels[i::2].mean() for i in range(2)])  # share of class 1 per covariate row
    np.testing.assert_allclose(share, prior[:, 1], atol=4 * np.sqrt(0.25 / 5000))


def test_model_file_keeps_the_covariates(tmp_path):
    X, z, _ = simulated(300, seed=6)
    m = fit(X, z)
    m.save(tmp_path / "m.json")
    loaded = mf.load(tmp_path / "m.json")
    assert loaded.covariate_names_ == m.covariate_names_
    np.testing.assert_array_equal(loaded.predict_proba(X, covariates=z), m.predict_proba(X, covariates=z))
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["covariate_coef"][0][1] = 0.5  # the reference class must stay at 0
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(mf.ModelError, match="row 0 all zeros"):
        mf.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("covariates", "message"),
    [
        (
            lambda z: z.assign(age=z["age"].where(z.index != 7)),
            r"'age' has missing or infinite values in 1 row\(s\) \(7\)",
        ),
        (lambda z: z.assign(party=1.0), "'party' is constant"),
        (lambda z: z.assign(twice=2 * z["age"]), "collinear"),
        (lambda z: z.iloc[:10], "one row per row of X"),
        (lambda z: z.assign(party=["a"] * len(z)), "'party' is not numeric"),
    ],
)
def test_bad_covariates_are_refused_with_the_reason(covariates, message):
    X, z, _ = simulated(100, seed=7)
    with pytest.raises(mf.DataError, match=message):
        fit(X, covariates(z))


def test_classes_separated_by_a_covariate_are_said():
    X, z, labels = simulated(400, seed=10)
    z = z.assign(party=labels.astype(float))  # party is the class: perfect separation
    with pytest.warns(mf.IdentifiabilityWarning, match="'party' of class 1 .*separated by the covariates"):
        m = fit(X, z, max_iter=300)
    assert np.abs(m.covariate_coef_).max() > 30


def test_methods_ask_for_covariates_and_settings_that_cannot_combine_are_refused():
    X, z, _ = simulated(200, seed=8)
    m = fit(X, z)
    with pytest.raises(mf.DataError, match=r"fitted with covariates \['age', 'party'\].*pass covariates="):
        m.predict(X)
    with pytest.raises(mf.DataError, match="covariates must have the 2 columns"):
        m.predict(X, covariates=z[["age"]])
    plain = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X)
    with pytest.raises(mf.DataError, match="fitted without covariates"):
        plain.predict(X, covariates=z)
    with pytest.raises(mf.ModelError, match="weights_prior"):
        fit(X, z, weights_prior=2.0)
    with pytest.raises(mf.ModelError, match="partial_fit"):
        m.partial_fit(X)
    with pytest.raises(mf.ModelError, match="bootstrap is not available for a model with covariates"):
        m.bootstrap(X, n_boot=2)
    with pytest.raises(mf.DataError, match="other methods do not take models with covariates"):
        mf.check_identifiability(m, X)  # (goodness_of_fit took its place here: it now takes such models)


def test_cli_fits_a_latent_class_regression(tmp_path, capsys):
    X, z, _ = simulated(400, seed=9)
    frame = pd.DataFrame(X, columns=[f"q{j}" for j in range(5)]).join(z)
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, out, _ = run(
        capsys, "fit", str(tmp_path / "d.csv"), "-f", "bernoulli", "-k", "2", "--covariates", "age,party", "--json"
    )
    assert code == 0
    summary = json.loads(out)
    assert list(summary["covariate_coef"]) == ["(intercept)", "age", "party"]
    assert summary["n_parameters"] == 13
    assert sorted(summary["params"]["p"]) == [f"q{j}" for j in range(5)]  # covariates are not modelled
    code, out, _ = run(
        capsys, "fit", str(tmp_path / "d.csv"), "-f", "bernoulli", "--covariates", "age", "--se", "--json"
    )
    assert code == 0
    assert json.loads(out)["standard_errors"]["covariate_coef[1,1]"] > 0
    # goodness of fit of a covariate model: the patterns' expected counts over the rows' own priors
    code, out, _ = run(
        capsys, "fit", str(tmp_path / "d.csv"), "-f", "bernoulli", "--covariates", "age", "--gof", "--json"
    )
    assert code == 0
    fit = json.loads(out)["goodness_of_fit"]
    assert (
        fit["patterns"] == 2**6 and fit["g2"] > 0
    )  # five items and party, modelled here and any("own class probabilities" in n for n in fit["notes"])


def test_select_compares_latent_class_regressions_across_k():
    X, z, _ = simulated(1500, seed=3)
    result = mf.select(X, mf.Bernoulli(), range(1, 4), covariates=z, random_state=0, n_init=5)
    assert result.best_n_components == 2
    assert result.table["n_parameters"].tolist() == [5, 2 * 5 + 3, 3 * 5 + 2 * 3]  # K = 1 has no coefficients
    assert result.models[2].covariate_names_ == ["(intercept)", "age", "party"]
    plain = mf.select(X, mf.Bernoulli(), [2], random_state=0, n_init=5)
    assert result.table.loc[2, "log_likelihood"] > plain.table.loc[2, "log_likelihood"] + 50  # the covariates matter


def test_cli_select_takes_covariates(tmp_path, capsys):
    X, z, _ = simulated(800, seed=3)
    pd.DataFrame(X, columns=[f"q{j}" for j in range(5)]).join(z).to_csv(tmp_path / "d.csv", index=False)
    args = ["select", str(tmp_path / "d.csv"), "-f", "bernoulli", "-k", "1..3", "--n-init", "3", "--seed", "0"]
    code, out, _ = run(capsys, *args, "--covariates", "age,party", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["chosen"] == 2
    assert [row["n_parameters"] for row in doc["table"]] == [5, 13, 21]


def test_latent_class_regression_agrees_with_flexmix():
    """flexmix 2.3-18 (R 4.2.2) on the same 500 rows: ``stepFlexmix(cbind(q1, ..., q5) ~ 1, k = 2,
    nrep = 10, model = FLXMCmvbinary(), concomitant = FLXPmultinom(~ age + party), control =
    list(tol = 1e-12))``: log-likelihood -1449.06562046, class-2 coefficients 0.5734713,
    -1.3739387, -1.0872694, and ``summary(refit(fit), which = "concomitant")`` standard errors
    0.18164, 0.16174, 0.24637 (flexmix's numerical Hessian, printed to 5 digits)."""
    X, z, _ = simulated(500, seed=0)
    m = fit(X, z)
    assert m.log_likelihood_ == pytest.approx(-1449.06562046, abs=1e-7)
    np.testing.assert_allclose(m.covariate_coef_[1], [0.5734713, -1.3739387, -1.0872694], atol=1e-4)
    se = m.standard_errors(X, covariates=z).covariate_coef[1]
    np.testing.assert_allclose(se, [0.18164, 0.16174, 0.24637], rtol=1e-4)

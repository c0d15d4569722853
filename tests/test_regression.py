"""Regression components: mixtures of Gaussian, Poisson and binomial regressions (flexmix's
FLXMRglm, mixtools' regmixEM / poisregmixEM / logisregmixEM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit, logsumexp

import mixfit as mf
from mixfit import sources
from tests.test_cli import run


def two_lines(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    first = rng.random(n) < 0.4
    y = np.where(first, 1 + 2 * x, 20 - x) + rng.normal(0, np.where(first, 0.5, 1.0))
    return pd.DataFrame({"y": y, "x": x})


def two_rates(n=600, seed=0, exposure=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.uniform(0.5, 3, n) if exposure else np.ones(n)
    first = rng.random(n) < 0.5
    count = rng.poisson(t * np.exp(np.where(first, 0.5 + 1.0 * x, 2.0 - 0.5 * x)))
    return pd.DataFrame({"count": count, "x": x, "log_t": np.log(t)})


def two_logits(n=600, seed=0, n_trials=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    first = rng.random(n) < 0.5
    s = rng.binomial(n_trials, expit(np.where(first, -1 + 1.5 * x, 1.0 - 1.0 * x)))
    return pd.DataFrame({"s": s, "x": x, "n": n_trials})


def fit(family, frame, **settings):
    settings = {"n_components": 2, "random_state": 0, "order": "coef", "tol": 1e-12, **settings}
    return mf.Mixture(family, **settings).fit(frame)


def mixture_log_likelihood(weights, log_densities):
    return logsumexp(np.log(weights)[:, None] + log_densities, axis=0).sum()


def inverse_hessian_se(ll, theta, step=1e-4):
    """Standard errors from the inverse Hessian of a written-out log-likelihood, by central
    differences of ``step`` (exact to about 1e-6 relative at these scales)."""
    eye = np.eye(theta.size) * step
    hessian = np.array(
        [[ll(theta + a + b) - ll(theta + a - b) - ll(theta - a + b) + ll(theta - a - b) for b in eye] for a in eye]
    )
    return np.sqrt(np.diag(np.linalg.inv(-hessian / (4 * step**2))))


def gaussian_ll(frame, theta):
    w = expit(theta[0])
    coef, log_var = theta[1:5].reshape(2, 2), theta[5:7]
    mean = coef[:, :1] + coef[:, 1:] * frame["x"].to_numpy()
    dens = stats.norm(mean, np.exp(0.5 * log_var)[:, None]).logpdf(frame["y"].to_numpy())
    return mixture_log_likelihood(np.array([w, 1 - w]), dens)


def test_gaussian_regression_is_the_maximum_and_recovers_the_lines():
    frame = two_lines()
    m = fit(mf.Regression("gaussian", "y", ["x"]), frame)
    assert m.feature_names_ == ["(intercept)", "x"]
    np.testing.assert_allclose(m.params_["coef"], [[1, 2], [20, -1]], atol=0.25)  # noise sd 0.5 and 1
    theta = np.r_[np.log(m.weights_[0] / m.weights_[1]), m.params_["coef"].ravel(), np.log(m.params_["variance"])]
    assert gaussian_ll(frame, theta) == pytest.approx(m.log_likelihood_, rel=1e-12)  # every constant
    best = optimize.minimize(lambda t: -gaussian_ll(frame, t), theta, method="BFGS", options={"gtol": 1e-8})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    np.testing.assert_allclose(best.x, theta, atol=1e-3)
    errors = m.standard_errors(frame)  # observed information, as for every linear family
    assert np.all(errors.params["coef"] > 0) and np.all(errors.params["coef"] < 0.2)


def poisson_ll(frame, theta, offset):
    w = expit(theta[0])
    coef = theta[1:5].reshape(2, 2)
    eta = coef[:, :1] + coef[:, 1:] * frame["x"].to_numpy() + offset
    dens = stats.poisson(np.exp(eta)).logpmf(frame["count"].to_numpy())
    return mixture_log_likelihood(np.array([w, 1 - w]), dens)


@pytest.mark.parametrize("exposure", [False, True])
def test_poisson_regression_is_the_maximum_with_and_without_an_offset(exposure):
    frame = two_rates(exposure=exposure)
    family = mf.Regression("poisson", "count", ["x"], offset="log_t" if exposure else None)
    m = fit(family, frame)  # the suite runs in debug mode: a decrease would raise
    np.testing.assert_allclose(m.params_["coef"], [[0.5, 1.0], [2.0, -0.5]], atol=0.2)
    offset = frame["log_t"].to_numpy() if exposure else 0.0
    theta = np.r_[np.log(m.weights_[0] / m.weights_[1]), m.params_["coef"].ravel()]
    assert poisson_ll(frame, theta, offset) == pytest.approx(m.log_likelihood_, rel=1e-12)
    best = optimize.minimize(lambda t: -poisson_ll(frame, t, offset), theta, method="BFGS", options={"gtol": 1e-8})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    np.testing.assert_allclose(best.x, theta, atol=1e-3)
    # standard errors from analytic scores equal the inverse Hessian of the written-out likelihood
    expected = inverse_hessian_se(lambda t: poisson_ll(frame, t, offset), theta)[1:]
    np.testing.assert_allclose(m.standard_errors(frame).params["coef"].ravel(), expected, rtol=1e-4)


def test_binomial_regression_with_a_trials_column_is_the_maximum():
    frame = two_logits()
    m = fit(mf.Regression("binomial", "s", ["x"], n_trials="n"), frame)
    np.testing.assert_allclose(m.params_["coef"], [[-1.0, 1.5], [1.0, -1.0]], atol=0.25)
    coef = m.params_["coef"]
    dens = stats.binom(10, expit(coef[:, :1] + coef[:, 1:] * frame["x"].to_numpy())).logpmf(frame["s"].to_numpy())
    assert mixture_log_likelihood(m.weights_, dens) == pytest.approx(m.log_likelihood_, rel=1e-12)
    fixed = fit(mf.Regression("binomial", "s", ["x"], n_trials=10), frame[["s", "x"]])
    assert fixed.log_likelihood_ == pytest.approx(m.log_likelihood_, rel=1e-10)


def two_shifted_rates(n=800, seed=5):
    """Poisson counts whose log rate has a slope shared by both groups (a fixed effect) and
    intercepts 0.5 and 2.0 that differ."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    first = rng.random(n) < 0.4
    return pd.DataFrame({"count": rng.poisson(np.exp(np.where(first, 0.5, 2.0) + 0.7 * x)), "x": x})


def test_fixed_effects_are_one_shared_coefficient_at_the_maximum():
    """flexmix's FLXMRglmfix: the slope shared by the components, one parameter; the answer is the
    maximum of the written-out likelihood (3 coefficients and the weight) and its standard
    errors the inverse Hessian of it."""
    frame = two_shifted_rates()
    m = fit(mf.Regression("poisson", "count", ["x"], fixed=["x"]), frame)
    coef = m.params_["coef"]
    assert coef[0, 1] == coef[1, 1] and m.n_parameters() == 4
    np.testing.assert_allclose(coef, [[0.5, 0.7], [2.0, 0.7]], atol=0.15)

    def ll(t):
        both = np.array([[t[1], t[3]], [t[2], t[3]]])
        return poisson_ll(frame, np.r_[t[0], both.ravel()], 0.0)

    theta = np.r_[np.log(m.weights_[0] / m.weights_[1]), coef[:, 0], coef[0, 1]]
    assert ll(theta) == pytest.approx(m.log_likelihood_, rel=1e-12)
    best = optimize.minimize(lambda t: -ll(t), theta, method="BFGS", options={"gtol": 1e-8})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    expected = inverse_hessian_se(ll, theta)[1:]
    errors = m.standard_errors(frame).params["coef"]
    np.testing.assert_allclose([errors[0, 0], errors[1, 0], errors[0, 1]], expected, rtol=1e-4)
    assert errors[1, 1] == errors[0, 1]  # the shared coefficient's, in each component's row
    free = mf.Regression("poisson", "count", ["x"])
    assert fit(free, frame).log_likelihood_ >= m.log_likelihood_  # sharing is a constraint


def test_fixed_effects_in_blocks_and_in_the_model_file(monkeypatch, tmp_path):
    frame = two_shifted_rates(n=1500, seed=6)
    family = mf.Regression("poisson", "count", ["x"], fixed=["x"])
    whole = fit(family, frame, n_init=1)
    whole.save(tmp_path / "m.json")
    loaded = mf.load(tmp_path / "m.json")
    assert loaded.family_.fixed == ["x"] and loaded.n_parameters() == 4
    np.testing.assert_array_equal(loaded.predict_proba(frame), whole.predict_proba(frame))
    monkeypatch.setattr(sources.memory, "BLOCK_BYTES", 1)  # blocks of 256 rows
    chunked = fit(family, frame, n_init=1)
    np.testing.assert_allclose(chunked.params_["coef"], whole.params_["coef"], rtol=1e-10)


def test_newton_fits_in_blocks_equal_the_fit_in_one_block(monkeypatch):
    frame = two_rates(n=1500, seed=3)
    family = mf.Regression("poisson", "count", ["x"])
    whole = fit(family, frame, n_init=1)
    monkeypatch.setattr(sources.memory, "BLOCK_BYTES", 1)  # blocks of 256 rows
    chunked = fit(family, frame, n_init=1)
    assert chunked.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(chunked.params_["coef"], whole.params_["coef"], rtol=1e-10)


def test_a_regression_part_of_independent_and_the_model_file(tmp_path):
    frame = two_lines(seed=4)
    rng = np.random.default_rng(4)
    frame["flag"] = (rng.random(len(frame)) < np.where(frame["y"] > 2 * frame["x"] + 5, 0.2, 0.8)).astype(int)
    family = mf.Independent({("y", "x"): mf.Regression("gaussian", "y", ["x"]), "flag": mf.Bernoulli()})
    m = mf.Mixture(family, 2, random_state=0).fit(frame)
    assert set(m.params_) == {"y..x.coef", "y..x.variance", "flag.p"}
    m.save(tmp_path / "m.json")
    np.testing.assert_allclose(mf.load(tmp_path / "m.json").score_samples(frame), m.score_samples(frame), rtol=1e-12)


@pytest.mark.parametrize(
    ("family", "frame", "message"),
    [
        (mf.Regression("poisson", "count", ["x"]), two_rates().assign(count=-1), "whole counts >= 0"),
        (mf.Regression("binomial", "s", ["x"], n_trials=5), two_logits(), "between 0 and n_trials"),
        (mf.Regression("gaussian", "y", ["x", "x2"]), two_lines().assign(x2=lambda f: 3 * f["x"] + 1), "collinear"),
        (mf.Regression("gaussian", "y", ["x", "c"]), two_lines().assign(c=1.0), "'c' is constant"),
        (mf.Regression("gaussian", "y", ["nope"]), two_lines(), "column 'nope' not in"),
    ],
)
def test_bad_regression_data_are_refused(family, frame, message):
    with pytest.raises(mf.DataError, match=message):
        mf.Mixture(family, 2, random_state=0).fit(frame)


def test_bad_settings_and_unidentified_designs():
    with pytest.raises(mf.ModelError, match="needs n_trials"):
        mf.Regression("binomial", "s")
    with pytest.raises(mf.ModelError, match="kind must be one of"):
        mf.Regression("gamma", "y")
    frame = two_lines().assign(x=lambda f: (f["x"] > 5).astype(float))
    with pytest.warns(mf.IdentifiabilityWarning, match="Hennig"):
        mf.Mixture(mf.Regression("gaussian", "y", ["x"]), 2, random_state=0).fit(frame)
    m = fit(mf.Regression("poisson", "count", ["x"]), two_rates())
    with pytest.raises(mf.ModelError, match="drawing rows needs the predictors"):
        m.sample(5)
    with pytest.raises(mf.ModelError, match=r"fixed effects must be distinct predictors of \['x'\]; got \['z'\]"):
        mf.Regression("poisson", "count", ["x"], fixed=["z"])
    with pytest.raises(mf.ModelError, match="give predictors= listing them"):
        mf.Regression("poisson", "count", fixed=["x"])
    with pytest.raises(mf.ModelError, match=r"equal in every component for the fixed effects \['x'\]"):
        family = mf.Regression("poisson", "count", ["x"], fixed=["x"])
        mf.Mixture(family, 2, weights_init=[0.5, 0.5], params_init={"coef": [[0, 1], [1, 2]]}).fit(two_rates())


def test_cli_fits_a_mixture_of_poisson_regressions(tmp_path, capsys):
    two_rates().to_csv(tmp_path / "d.csv", index=False)
    code, out, _ = run(
        capsys, "fit", str(tmp_path / "d.csv"), "-f", "regression", "--kind", "poisson",
        "--response", "count", "--predictors", "x", "-k", "2", "--seed", "0", "--json",
    )  # fmt: skip
    assert code == 0
    assert list(__import__("json").loads(out)["params"]["coef"]) == ["(intercept)", "x"]
    code, _, err = run(capsys, "fit", str(tmp_path / "d.csv"), "-f", "regression", "--predictors", "x")
    assert code == 2 and "--response NAME" in err
    code, _, err = run(capsys, "fit", str(tmp_path / "d.csv"), "-f", "poisson", "--response", "count")
    assert code == 2 and "apply to --family regression only" in err
    code, out, _ = run(
        capsys, "fit", "examples/published/fabricfault.csv", "-f", "regression", "--kind", "poisson",
        "--response", "Faults", "--predictors", "logLength", "--fixed", "logLength", "-k", "2", "--seed", "0", "--json",
    )  # fmt: skip
    result = __import__("json").loads(out)
    assert code == 0 and result["n_parameters"] == 4
    assert result["log_likelihood"] == pytest.approx(-86.33119, abs=5e-4)  # flexmix's vignette


def test_fit_plot_draws_each_components_fitted_mean():
    pytest.importorskip("matplotlib")
    from mixfit.plots import all_figures

    frame = two_rates()
    m = fit(mf.Regression("poisson", "count", ["x"]), frame)
    figures = all_figures(m, frame)
    ax = figures["fit"].axes[0]
    assert ax.get_title().startswith("rows by most likely component and fitted means")
    lines = [line for line in ax.get_lines() if line.get_label().endswith("fitted mean")]
    x = np.linspace(frame["x"].min(), frame["x"].max(), 200)
    for line, coef in zip(lines, m.params_["coef"], strict=True):  # exp(b0 + b1 x) on the grid
        np.testing.assert_allclose(line.get_ydata(), np.exp(coef[0] + coef[1] * x), rtol=1e-12)


def test_streamed_and_dask_fits_equal_the_fit_in_memory():
    """Poisson regression with a covariate on class membership (flexmix's patent model), and with
    a fixed effect: a file read in chunks of 16 rows and a Dask DataFrame of 4 partitions give the
    fit in memory (the Newton statistics are sums over rows)."""
    dd = pytest.importorskip("dask.dataframe")
    path = "examples/published/patent.csv"
    frame = pd.read_csv(path)
    for family in (
        mf.Regression("poisson", "Patents", ["lgRD"]),
        mf.Regression("poisson", "Patents", ["lgRD"], fixed=["lgRD"]),
    ):
        settings = {"random_state": 0, "n_init": 2}
        memory = mf.Mixture(family, 3, **settings).fit(frame, covariates=frame[["RDS"]])
        for data in (mf.FileTable(path, chunk_rows=16), dd.from_pandas(frame, npartitions=4)):
            other = mf.Mixture(family, 3, **settings).fit(data, covariates=["RDS"])
            assert other.log_likelihood_ == pytest.approx(memory.log_likelihood_, rel=1e-12)
            np.testing.assert_allclose(other.params_["coef"], memory.params_["coef"], rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(other.covariate_coef_, memory.covariate_coef_, rtol=1e-8, atol=1e-10)


def test_standard_errors_of_a_regression_part_beside_binary_items():
    """Independent(Poisson regression, Bernoulli item): the regression's analytic scores and the
    item's scores from its natural parameters give the inverse Hessian of the written-out
    likelihood (before: 'standard errors are not available')."""
    frame = two_rates(seed=7).drop(columns="log_t")
    first = frame["count"].to_numpy() < np.median(frame["count"])
    rng = np.random.default_rng(7)
    frame["flag"] = (rng.random(len(frame)) < np.where(first, 0.25, 0.75)).astype(int)
    family = mf.Independent({("count", "x"): mf.Regression("poisson", "count", ["x"]), ("flag",): mf.Bernoulli()})
    m = fit(family, frame, order="weight")
    coef, p = m.params_["count..x.coef"], m.params_["flag.p"][:, 0]
    count, x, flag = (frame[c].to_numpy() for c in ("count", "x", "flag"))

    def ll(t):
        both = t[1:5].reshape(2, 2)
        dens = stats.poisson(np.exp(both[:, :1] + both[:, 1:] * x)).logpmf(count)
        dens = dens + stats.bernoulli(t[5:7][:, None]).logpmf(flag)
        return mixture_log_likelihood(np.array([t[0], 1 - t[0]]), dens)

    theta = np.r_[m.weights_[0], coef.ravel(), p]
    assert ll(theta) == pytest.approx(m.log_likelihood_, rel=1e-12)
    expected = inverse_hessian_se(ll, theta, step=1e-5)
    errors = m.standard_errors(frame)
    got = np.r_[errors.weights[0], errors.params["count..x.coef"].ravel(), errors.params["flag.p"].ravel()]
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_gaussian_fixed_effects_are_the_maximum_with_their_standard_errors():
    """A Gaussian regression with a predictor shared by three components (flexmix's
    FLXMRglmfix(fixed = ~ x2)): the M-step alternates the shared weighted least squares and the
    variances from the statistics; the answer is the maximum of the written-out likelihood and
    its standard errors its inverse Hessian."""
    rng = np.random.default_rng(3)
    n = 500
    x1, x2, z = rng.normal(size=n), rng.integers(0, 2, n).astype(float), rng.integers(0, 3, n)
    y = np.choose(z, [2 + 0 * x1, 5 * x1, -7 + 10 * x1]) + 5 * x2 + rng.normal(0, np.choose(z, [1.0, 1.5, 0.7]))
    frame = pd.DataFrame({"y": y, "x1": x1, "x2": x2})
    m = fit(mf.Regression("gaussian", "y", ["x1", "x2"], fixed=["x2"]), frame, n_components=3, max_iter=5000)
    coef, variance = m.params_["coef"], m.params_["variance"]
    assert m.n_parameters() == 12 and np.all(coef[:, 2] == coef[0, 2])
    assert coef[0, 2] == pytest.approx(5.0, abs=0.25)  # 3 standard errors

    def ll(t):
        w = np.r_[t[:2], 1 - t[:2].sum()]
        b = t[2:8].reshape(3, 2)
        mean = b[:, :1] + b[:, 1:] * x1 + t[8] * x2
        return mixture_log_likelihood(w, stats.norm(mean, np.sqrt(t[9:12])[:, None]).logpdf(y))

    theta = np.r_[m.weights_[:2], coef[:, :2].ravel(), coef[0, 2], variance]
    assert ll(theta) == pytest.approx(m.log_likelihood_, rel=1e-12)
    best = optimize.minimize(lambda t: -ll(t), theta, method="BFGS", options={"gtol": 1e-8})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    expected = inverse_hessian_se(ll, theta)
    errors = m.standard_errors(frame)
    se = errors.params["coef"]
    got = np.r_[errors.weights[:2], se[:, :2].ravel(), se[0, 2], errors.params["variance"]]
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_the_regression_fit_figure_draws_pearson_residuals_under_the_most_likely_component():
    from mixfit import plots

    patent = pd.read_csv(Path(__file__).resolve().parents[1] / "examples" / "published" / "patent.csv")
    family = mf.Regression("poisson", response="Patents", predictors=["lgRD"])
    m = mf.Mixture(family, 2, random_state=0).fit(patent)
    top, below = plots.plot_fit(m, patent).axes
    assert below.get_ylabel() == "Pearson residual"
    labels = m.predict(patent)
    coef = m.params_["coef"]
    mean = np.exp(coef[labels, 0] + coef[labels, 1] * patent["lgRD"].to_numpy())  # by hand
    expected = (patent["Patents"].to_numpy() - mean) / np.sqrt(mean)
    drawn = np.concatenate([c.get_offsets()[:, 1] for c in below.collections])
    np.testing.assert_allclose(np.sort(drawn), np.sort(expected), rtol=1e-9)

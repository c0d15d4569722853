"""Issue 4: the new families, missing data, priors, free-parameter counts and bad input."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.mixture import GaussianMixture

import mixfit as mf
from tests.conftest import SUM_RTOL, THREE_COINS

RNG = np.random.default_rng(0)
GAUSS_X = np.vstack([RNG.normal([0, 0, 0], [1, 2, 0.5], (300, 3)), RNG.normal([1.5, 1, -1], [0.5, 1, 1], (200, 3))])
W0, M0 = np.array([0.4, 0.6]), np.array([[0.5, 0, 0], [1, 0.5, -0.5]])
COV0 = {"full": np.array([np.eye(3)] * 2), "tied": np.eye(3), "diag": np.ones((2, 3)), "spherical": np.ones(2)}


# ----------------------------------------------------------------------------- Gaussian vs scikit-learn
@pytest.mark.parametrize("covariance", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("max_iter", [20, 5000])
def test_gaussian_equals_scikit_learn_from_the_same_start(covariance, max_iter):
    c0 = COV0[covariance]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(
            2,
            covariance_type=covariance,
            reg_covar=1e-6,
            tol=1e-14,
            max_iter=max_iter,
            weights_init=W0,
            means_init=M0,
            precisions_init=c0,  # identity: its own inverse
        ).fit(GAUSS_X)
        m = mf.Mixture(
            mf.Gaussian(covariance, reg_covar=1e-6),
            2,
            weights_init=W0,
            params_init={"mean": M0, "covariance": c0},
            tol=1e-14,
            max_iter=max_iter,
        ).fit(GAUSS_X)
    g_cov = g.covariances_[None] if covariance == "tied" else g.covariances_
    tol = 1e-9 if max_iter == 20 else 1e-6  # a fixed number of steps agrees to round-off
    assert m.log_likelihood_ == pytest.approx(g.score(GAUSS_X) * len(GAUSS_X), abs=1e-6)
    np.testing.assert_allclose(m.weights_, g.weights_, atol=tol)
    np.testing.assert_allclose(m.params_["mean"], g.means_, atol=tol)
    np.testing.assert_allclose(m.params_["covariance"], np.broadcast_to(g_cov, m.params_["covariance"].shape), atol=tol)
    assert m.n_parameters() == g._n_parameters()


def test_gaussian_log_density_has_every_constant():
    m = mf.Mixture(mf.Gaussian("full"), 1).fit(GAUSS_X)
    mean, cov = m.params_["mean"][0], m.params_["covariance"][0]
    np.testing.assert_allclose(
        m.score_samples(GAUSS_X), stats.multivariate_normal(mean, cov).logpdf(GAUSS_X), rtol=1e-12
    )
    np.testing.assert_allclose(mean, GAUSS_X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(GAUSS_X.T, bias=True), rtol=1e-10)


def test_gaussian_covariance_changed_in_place_is_factorised_again():
    # factorisations are remembered by the covariance's bytes, not the array's identity
    m = mf.Mixture(mf.Gaussian("full"), 1).fit(GAUSS_X)
    before = m.score_samples(GAUSS_X)
    m.params_["covariance"] *= 4.0
    after = m.score_samples(GAUSS_X)
    mean, cov = m.params_["mean"][0], m.params_["covariance"][0]
    np.testing.assert_allclose(after, stats.multivariate_normal(mean, cov).logpdf(GAUSS_X), rtol=1e-12)
    assert not np.allclose(before, after)


def test_gaussian_far_from_the_origin_keeps_its_accuracy():
    x = GAUSS_X + 1e6  # the centring before squares keeps the moments exact
    m = mf.Mixture(mf.Gaussian("diag"), 1).fit(x)
    np.testing.assert_allclose(m.params_["covariance"][0], GAUSS_X.var(axis=0), rtol=1e-8)


def _far_apart(rng, offset=1e7):
    """Two clusters of 200 rows, N(0, S) and N(offset, S) (S with correlation), and each cluster's
    exact maximum-likelihood moments: EM's responsibilities are 0 or 1 to machine precision."""
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    a = rng.multivariate_normal([0.0, 0.0], cov, size=200)
    b = rng.multivariate_normal([offset, offset / 2], cov, size=200)
    return np.vstack([a, b]), [(c.mean(axis=0), np.cov(c.T, bias=True)) for c in (a, b)]


@pytest.mark.parametrize("covariance", ["full", "tied", "diag", "spherical"])
def test_gaussian_clusters_far_apart_get_exact_moments(covariance):
    # Moments about one global centre cancel catastrophically here (variances of 0.9296875, or
    # every start refused as singular); about each component's own mean they are exact.
    x, exact = _far_apart(np.random.default_rng(0))
    m = mf.Mixture(mf.Gaussian(covariance), 2, random_state=0).fit(x)
    order = np.argsort(m.params_["mean"][:, 0])
    cov = m.params_["covariance"][order]
    expected = {
        "full": np.array([c for _, c in exact]),
        "tied": np.array([(exact[0][1] + exact[1][1]) / 2] * 2),
        "diag": np.array([np.diag(c) for _, c in exact]),
        "spherical": np.array([np.diag(c).mean() for _, c in exact]),
    }[covariance]
    np.testing.assert_allclose(cov, expected, rtol=1e-7)
    np.testing.assert_allclose(m.params_["mean"][order], [mu for mu, _ in exact], rtol=1e-12, atol=1e-7)


def test_gaussian_log_density_far_from_the_origin():
    x, exact = _far_apart(np.random.default_rng(0))
    m = mf.Mixture(mf.Gaussian("full"), 2, random_state=0).fit(x)
    log_density = [stats.multivariate_normal(mu, c).logpdf(x) for mu, c in exact]
    # the means at 1e7 are exact to float64's 2e-9 there, so a row's log-density to about 1e-8
    np.testing.assert_allclose(m.score_samples(x), np.logaddexp(*log_density) + np.log(0.5), rtol=0, atol=1e-7)


def test_gaussian_stats_of_chunks_pool_exactly_far_from_the_origin():
    x, _ = _far_apart(np.random.default_rng(1))
    fam = mf.Gaussian("full").fitted_to(x, ["a", "b"])
    design = fam.design(fam.validate(x, ["a", "b"]))
    resp = np.random.default_rng(2).dirichlet([1.0, 1.0], size=len(x))
    whole = fam.stats(design, resp)
    halves = fam.stats(design[::2], resp[::2]) + fam.stats(design[1::2], resp[1::2])
    np.testing.assert_allclose(halves.mean, whole.mean, rtol=1e-14, atol=1e-8)
    np.testing.assert_allclose(halves.scatter, whole.scatter, rtol=1e-12)
    scaled = whole * 0.25  # online EM scales the statistics: sums scale, means stay
    np.testing.assert_array_equal(scaled.mean, whole.mean)
    np.testing.assert_allclose(scaled.scatter, whole.scatter / 4)


def test_independent_gaussian_part_far_from_the_origin():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(200), rng.standard_normal(200) + 1e7
    counts = np.r_[rng.poisson(2, 200), rng.poisson(9, 200)]
    fam = mf.Independent({0: mf.Gaussian("diag"), 1: mf.Poisson()})
    m = mf.Mixture(fam, 2, random_state=0).fit(np.c_[np.r_[a, b], counts])
    order = np.argsort(m.params_["0.mean"][:, 0])
    np.testing.assert_allclose(m.params_["0.covariance"][order, 0], [a.var(), b.var()], rtol=1e-7)
    np.testing.assert_allclose(m.params_["1.rate"][order, 0], [counts[:200].mean(), counts[200:].mean()])


def test_singular_covariance_names_the_component():
    x = np.vstack([np.zeros((5, 2)), RNG.normal(size=(40, 2))])
    with pytest.raises(mf.ModelError, match=r"covariance of component 0 is singular.*reg_covar"):
        mf.Mixture(
            mf.Gaussian("full"),
            2,
            params_init={"mean": [[0, 0], [0, 0.1]], "covariance": [np.eye(2)] * 2},
            weights_init=[0.5, 0.5],
        ).fit(np.vstack([x, np.zeros((200, 2))]))
    m = mf.Mixture(mf.Gaussian("full", reg_covar=1e-6), 2, random_state=0).fit(np.vstack([x, np.zeros((200, 2))]))
    assert np.isfinite(m.log_likelihood_)


# ----------------------------------------------------------------------------- Poisson, Multinomial, Independent
def test_poisson_log_likelihood_and_mle():
    x = np.array([[0, 3], [1, 4], [0, 2], [9, 0], [11, 1], [10, 0]])
    m = mf.Mixture(mf.Poisson(), 2, params_init={"rate": [[1, 3], [9, 1]]}, tol=1e-12).fit(x)
    expected = np.log(
        sum(w * stats.poisson(r).pmf(x).prod(axis=1) for w, r in zip(m.weights_, m.params_["rate"], strict=True))
    )
    np.testing.assert_allclose(m.score_samples(x), expected, rtol=1e-12)
    resp = m.predict_proba(x)  # fixed point: rates are the responsibility-weighted means
    np.testing.assert_allclose(m.params_["rate"], (resp.T @ x) / resp.sum(axis=0)[:, None], rtol=1e-8)


def test_multinomial_log_likelihood_with_differing_totals():
    x = np.array([[5, 1, 0], [4, 2, 1], [0, 1, 6], [1, 0, 9], [2, 2, 2]])
    m = mf.Mixture(mf.Multinomial(), 2, random_state=0).fit(x)
    expected = np.log(
        sum(
            w * np.array([stats.multinomial(row.sum(), p).pmf(row) for row in x])
            for w, p in zip(m.weights_, m.params_["p"], strict=True)
        )
    )
    np.testing.assert_allclose(m.score_samples(x), expected, rtol=1e-12)
    np.testing.assert_allclose(m.params_["p"].sum(axis=1), 1.0)


def mixed_data(n=600, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    items = (rng.random((n, 3)) < np.where(z[:, None], 0.8, 0.2)).astype(float)
    counts = rng.poisson(np.where(z, 6.0, 1.0))
    height = rng.normal(np.where(z, 170.0, 160.0), 5.0)
    return np.column_stack([items, counts, height]), z


def test_independent_log_likelihood_is_the_sum_of_its_parts():
    X, _ = mixed_data()
    fam = mf.Independent({("x0", "x1", "x2"): mf.Bernoulli(), "x3": mf.Poisson(), "x4": mf.Gaussian("diag")})
    m = mf.Mixture(fam, 2, random_state=0, n_init=3).fit(X)
    p, rate = m.params_["x0..x2.p"], m.params_["x3.rate"]
    mean, var = m.params_["x4.mean"], m.params_["x4.covariance"]
    dens = sum(
        m.weights_[k]
        * stats.bernoulli(p[k]).pmf(X[:, :3]).prod(axis=1)
        * stats.poisson(rate[k, 0]).pmf(X[:, 3])
        * stats.norm(mean[k, 0], np.sqrt(var[k, 0])).pdf(X[:, 4])
        for k in range(2)
    )
    np.testing.assert_allclose(m.score_samples(X), np.log(dens), rtol=1e-10)
    assert sorted(m.params_["x3.rate"][:, 0].round(0).tolist()) == [1.0, 6.0]
    assert m.n_parameters() == 2 * 3 + 2 + 2 * 2 + 1
    parts = m.family_.part_stats(m.family_.named_stats(np.ones(2), np.arange(2 * 8.0).reshape(2, 8)))
    assert [part.t_sum.shape[1] for part in parts] == [3, 2, 2]  # (x), (x, -log x!), (z, z^2)


def test_independent_model_file_round_trip(tmp_path):
    X, _ = mixed_data(200)
    fam = mf.Independent({("x0", "x1", "x2"): mf.Bernoulli(), "x3": mf.Poisson(), "x4": mf.Gaussian("diag")})
    m = mf.Mixture(fam, 2, random_state=0).fit(X)
    m.save(tmp_path / "m.json")
    back = mf.load(tmp_path / "m.json")
    np.testing.assert_allclose(back.predict_proba(X), m.predict_proba(X), rtol=1e-12)


# ----------------------------------------------------------------------------- free parameters
@pytest.mark.parametrize(
    ("family", "X", "expected"),
    [
        (mf.Bernoulli(), np.eye(4, 5), 3 * 5 + 2),
        (mf.Binomial(n_trials=10), np.array([[0, 1], [3, 4], [5, 2], [10, 0], [7, 7]]), 3 * 2 + 2),
        (mf.Categorical(), np.array([["a", "x"], ["b", "y"], ["c", "x"], ["a", "z"]]), 3 * ((3 - 1) + (3 - 1)) + 2),
        (mf.Poisson(), np.arange(12).reshape(4, 3), 3 * 3 + 2),
        (mf.Multinomial(), np.arange(1, 13).reshape(4, 3), 3 * 2 + 2),
        (mf.Gaussian("full"), RNG.normal(size=(30, 4)), 3 * 4 + 3 * 10 + 2),
        (mf.Gaussian("tied"), RNG.normal(size=(30, 4)), 3 * 4 + 10 + 2),
        (mf.Gaussian("diag"), RNG.normal(size=(30, 4)), 3 * 4 + 3 * 4 + 2),
        (mf.Gaussian("spherical"), RNG.normal(size=(30, 4)), 3 * 4 + 3 + 2),
        (
            mf.Independent({("x0", "x1"): mf.Bernoulli(), "x2": mf.Poisson()}),
            np.array([[0, 1, 3], [1, 0, 0], [1, 1, 7], [0, 0, 2]]),
            3 * 2 + 3 + 2,
        ),
    ],
    ids=[
        "bernoulli",
        "binomial",
        "categorical",
        "poisson",
        "multinomial",
        "full",
        "tied",
        "diag",
        "spherical",
        "independent",
    ],
)
def test_exact_number_of_free_parameters(family, X, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mf.Mixture(family, 3, random_state=0, max_iter=3, params_init=None).fit(X)
    assert m.n_parameters() == expected
    total = -2 * m.score(X) * len(X)
    assert m.bic(X) == pytest.approx(total + expected * np.log(len(X)))
    assert m.aic(X) == pytest.approx(total + 2 * expected)


# ----------------------------------------------------------------------------- missing data
def brute_force_mle(X, start):
    """Maximise the marginal likelihood of a 2-class Bernoulli mixture with gaps by L-BFGS."""
    observed = ~np.isnan(X)
    x = np.nan_to_num(X)

    def negative_ll(theta):
        w = 1 / (1 + np.exp(-theta[0]))
        p = 1 / (1 + np.exp(-theta[1:].reshape(2, -1)))
        comp = [np.where(observed, x * np.log(p[k]) + (1 - x) * np.log1p(-p[k]), 0.0).sum(axis=1) for k in range(2)]
        return -np.logaddexp(np.log(w) + comp[0], np.log1p(-w) + comp[1]).sum()

    result = optimize.minimize(
        negative_ll, start, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000}
    )
    return -result.fun, result.x


def test_missing_values_fit_equals_brute_force_marginal_likelihood():
    rng = np.random.default_rng(3)
    z = rng.random(150) < 0.35
    X = (rng.random((150, 4)) < np.where(z[:, None], [0.9, 0.8, 0.7, 0.9], [0.2, 0.1, 0.3, 0.2])).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    m = mf.Mixture(mf.Bernoulli(), 2, tol=1e-14, max_iter=20_000, params_init={"p": [[0.8] * 4, [0.2] * 4]}).fit(X)
    assert m.family_.missing
    theta = np.concatenate(
        [[np.log(m.weights_[0] / m.weights_[1])], np.log(m.params_["p"] / (1 - m.params_["p"])).ravel()]
    )
    best_ll, _ = brute_force_mle(X, theta + 0.05)
    assert m.log_likelihood_ == pytest.approx(best_ll, abs=1e-6)
    assert m.log_likelihood_ >= best_ll - 1e-9
    proba = m.predict_proba(np.array([[1, np.nan, np.nan, 1], [np.nan, 0, 0, np.nan]]))
    assert proba[0, 0] > 0.9 and proba[1, 1] > 0.9


def test_binomial_missing_counts_fit_the_marginal_likelihood():
    rng = np.random.default_rng(5)
    z = rng.random(300) < 0.4
    X = rng.binomial(6, np.where(z[:, None], [0.8, 0.7, 0.2], [0.2, 0.4, 0.7])).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    m = mf.Mixture(mf.Binomial(n_trials=6), 2, random_state=0, tol=1e-14, max_iter=20_000, order="p").fit(X)
    assert m.family_.missing

    def log_likelihood(theta):
        w, p = stats.norm.cdf(theta[0]), 1 / (1 + np.exp(-theta[1:].reshape(2, 3)))
        seen = ~np.isnan(X)
        dens = [
            np.where(seen, stats.binom(6, p[k]).logpmf(np.nan_to_num(X)), 0.0).sum(axis=1) for k in range(2)
        ]  # each row sums over its observed columns
        return np.logaddexp(np.log(w) + dens[0], np.log1p(-w) + dens[1]).sum()

    theta = np.r_[stats.norm.ppf(m.weights_[0]), np.log(m.params_["p"] / (1 - m.params_["p"])).ravel()]
    assert log_likelihood(theta) == pytest.approx(m.log_likelihood_, rel=1e-12)  # every constant
    best = optimize.minimize(lambda t: -log_likelihood(t), theta, method="BFGS", options={"gtol": 1e-9})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    np.testing.assert_allclose(best.x, theta, atol=1e-3)
    proba = m.predict_proba(np.array([[np.nan, np.nan, 5.0], [5.0, np.nan, np.nan]]))
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5  # order="p": class 0 has the low p[:, 0]


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_gaussian_full_covariance_with_missing_entries_is_the_marginal_maximum(covariance):
    rng = np.random.default_rng(1)
    first = rng.random(300) < 0.4
    cov = np.array([[1, 0.6, 0.2], [0.6, 1.5, 0.3], [0.2, 0.3, 1]])
    X = np.where(
        first[:, None], rng.multivariate_normal([0, 0, 0], cov, 300), rng.multivariate_normal([3, 2, -2], cov, 300)
    )
    X[rng.random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    m = mf.Mixture(mf.Gaussian(covariance), 2, random_state=0, tol=1e-13, max_iter=5000, order="mean").fit(X)
    assert m.family_.missing
    seen = ~np.isnan(X)
    patterns = [(np.flatnonzero((seen == p).all(axis=1)), p) for p in np.unique(seen, axis=0)]

    def unpack(theta):
        w = 1 / (1 + np.exp(-theta[0]))
        means = theta[1:7].reshape(2, 3)
        chols = []
        for k in range(1 if covariance == "tied" else 2):
            lower = np.zeros((3, 3))
            lower[np.tril_indices(3)] = theta[7 + 6 * k : 13 + 6 * k]
            chols.append(lower)
        covs = [c @ c.T for c in chols] * (2 if covariance == "tied" else 1)
        return np.array([w, 1 - w]), means, covs

    def log_likelihood(theta):  # each row's marginal density over its observed entries
        weights, means, covs = unpack(theta)
        parts = np.zeros((2, len(X)))
        for k in range(2):
            for rows, o in patterns:
                parts[k, rows] = np.log(weights[k]) + stats.multivariate_normal(
                    means[k][o], covs[k][np.ix_(o, o)]
                ).logpdf(X[np.ix_(rows, o)])
        return np.logaddexp(*parts).sum()

    chols = [
        np.linalg.cholesky(c)[np.tril_indices(3)] for c in m.params_["covariance"][: 1 if covariance == "tied" else 2]
    ]
    theta = np.concatenate([[np.log(m.weights_[0] / m.weights_[1])], m.params_["mean"].ravel(), *chols])
    assert log_likelihood(theta) == pytest.approx(m.log_likelihood_, rel=1e-12)  # every constant
    best = optimize.minimize(lambda t: -log_likelihood(t), theta, method="BFGS", options={"gtol": 1e-7})
    assert -best.fun <= m.log_likelihood_ + 1e-6
    np.testing.assert_allclose(best.x, theta, atol=1e-3)
    with pytest.raises(mf.ModelError, match="standard errors are not available"):
        m.standard_errors(X)


def test_missing_completely_at_random_keeps_estimates_unbiased():
    truth = np.array([[0.85, 0.8, 0.2, 0.7], [0.15, 0.3, 0.75, 0.2]])
    errors = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        z = (rng.random(3000) < 0.4).astype(int)
        X = (rng.random((3000, 4)) < truth[1 - z]).astype(float)
        X[rng.random(X.shape) < 0.3] = np.nan
        X = X[~np.isnan(X).all(axis=1)]
        m = mf.Mixture(mf.Bernoulli(), 2, params_init={"p": truth}, tol=1e-10).fit(X)
        errors.append(m.params_["p"] - truth)
    bias = np.mean(errors, axis=0)
    spread = np.std(errors, axis=0) / np.sqrt(len(errors))
    assert np.all(np.abs(bias) < 4 * spread + 2e-3)


def test_missing_values_for_categorical_poisson_gaussian_and_independent():
    X, _ = mixed_data(400, seed=5)
    gaps = X.copy()
    gaps[np.random.default_rng(6).random(X.shape) < 0.15] = np.nan
    gaps = gaps[~np.isnan(gaps).all(axis=1)]
    fam = mf.Independent({("x0", "x1", "x2"): mf.Bernoulli(), "x3": mf.Poisson(), "x4": mf.Gaussian("diag")})
    m = mf.Mixture(fam, 2, random_state=0, n_init=2).fit(gaps)
    assert m.family_.missing and np.all(np.isfinite(m.predict_proba(gaps)))
    assert sorted(m.params_["x4.mean"][:, 0].round(-1).tolist()) == [160.0, 170.0]
    answers = np.array([["a", "x"], [None, "y"], ["b", None], ["a", "x"], ["b", "y"]], dtype=object)
    c = mf.Mixture(mf.Categorical(), 1).fit(answers)
    np.testing.assert_allclose(c.params_["p"][0], [[0.5, 0.5], [0.5, 0.5]])  # over observed entries only
    assert mf.Mixture(mf.Categorical(), 1).fit(answers).log_likelihood_ == pytest.approx(8 * np.log(0.5))


def test_missing_row_and_unsupported_family_errors():
    with pytest.raises(mf.DataError, match=r"row 1 is entirely missing"):
        mf.Mixture(mf.Poisson(), 1).fit([[1.0, 2.0], [np.nan, np.nan]])
    with pytest.raises(mf.DataError, match=r"must be finite; got NaN"):
        mf.Mixture(mf.Regression("gaussian", 0), 1).fit([[1.0, 2.0], [np.nan, 1.0], [0.5, 0.1]])


# ----------------------------------------------------------------------------- priors
def test_beta_prior_gives_the_posterior_mode_and_the_log_posterior_never_decreases():
    x = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0]])
    m = mf.Mixture(mf.Bernoulli(prior=(3, 2)), 1).fit(x)
    np.testing.assert_allclose(m.params_["p"][0], (x.sum(axis=0) + 2) / (4 + 3))
    X = np.random.default_rng(2).integers(0, 2, (200, 6))
    fit = mf.Mixture(mf.Bernoulli(prior=(2, 2)), 3, weights_prior=2.0, random_state=0, tol=1e-12).fit(X)
    posterior = fit.history_["log_posterior"].to_numpy()
    assert np.all(np.diff(posterior) >= -1e-9)
    assert fit.log_posterior_ == pytest.approx(posterior[-1])
    assert fit.log_posterior_ == pytest.approx(fit.log_likelihood_ + fit.history_["log_prior"].iloc[-1])
    assert fit.history_["log_prior"].iloc[-1] != 0


@pytest.mark.parametrize(
    ("family", "x", "expected"),
    [
        (mf.Poisson(prior=(3, 2)), [[1], [4], [2]], [[(7 + 2) / (3 + 2)]]),
        (mf.Categorical(prior=2), [["a"], ["a"], ["b"]], [[[3 / 5, 2 / 5]]]),
        (mf.Binomial(n_trials=4, prior=(2, 3)), [[1], [2]], [[(3 + 1) / (8 + 3)]]),
        (mf.Multinomial(prior=3), [[2, 0], [1, 1]], [[(3 + 2) / (4 + 4), (1 + 2) / (4 + 4)]]),
    ],
)
def test_conjugate_posterior_modes(family, x, expected):
    m = mf.Mixture(family, 1).fit(x)
    np.testing.assert_allclose(next(iter(m.params_.values())), expected)


@pytest.mark.filterwarnings("ignore")
def test_dirichlet_prior_on_weights():
    x = np.array([[0], [0], [0], [1]])
    m = mf.Mixture(
        mf.Bernoulli(), 2, weights_init=[0.5, 0.5], params_init={"p": [[0.01], [0.99]]}, weights_prior=3.0, max_iter=1
    ).fit(x)
    n_0 = 3 * 0.99 / (0.99 + 0.01) + 0.01 / (0.01 + 0.99)  # expected rows of component 0
    np.testing.assert_allclose(m.weights_, (np.array([n_0, 4 - n_0]) + 2) / (4 + 4))


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "X", "error", "message"),
    [
        (
            lambda: mf.Poisson(),
            [[1], [-2]],
            mf.DataError,
            r"column 'x0' must hold whole counts >= 0 for Poisson; got -2",
        ),
        (lambda: mf.Poisson(), [[1.5]], mf.DataError, r"whole counts"),
        (lambda: mf.Multinomial(), [[1, 2], [0, 0]], mf.DataError, r"row 1 has a total count of 0"),
        (lambda: mf.Bernoulli(prior=(0, 1)), [[1]], mf.ModelError, r"prior a must be positive; got 0"),
        (lambda: mf.Bernoulli(prior=(-1, 2)), [[1]], mf.ModelError, r"prior a must be positive"),
        (lambda: mf.Poisson(prior=(2, 0)), [[1]], mf.ModelError, r"prior rate must be positive"),
        (lambda: mf.Categorical(prior=0.5), [["a"]], mf.ModelError, r">= 1 for a MAP estimate"),
        (lambda: mf.Gaussian("full", reg_covar=-1), [[1.0]], mf.ModelError, r"reg_covar must be a finite number >= 0"),
        (lambda: mf.Gaussian("banana"), [[1.0]], mf.ModelError, r"covariance must be one of"),
        (lambda: mf.Independent({"a": mf.Bernoulli()}), [[1, 2]], mf.DataError, r"column 'a' not in the data"),
    ],
)
def test_statistics_bad_input(make, X, error, message):
    with pytest.raises(error, match=message):
        mf.Mixture(make(), 1).fit(X)


def test_weights_prior_must_be_positive_and_fewer_rows_than_parameters_warns():
    with pytest.raises(mf.ModelError, match=r"weights_prior \(Dirichlet concentration\) must be positive"):
        mf.Mixture(mf.Bernoulli(), 1, weights_prior=0).fit([[1]])
    with pytest.warns(mf.IdentifiabilityWarning, match=r"fewer rows \(3\) than free parameters \(11\)"):
        mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(np.eye(3, 5))


# ----------------------------------------------------------------------------- semi-supervised, label switching
def semi_supervised_data(seed=0):
    rng = np.random.default_rng(seed)
    z = (rng.random(500) < 0.5).astype(int)
    X = (rng.random((500, 5)) < np.where(z[:, None] == 1, 0.7, 0.3)).astype(int)
    return X, z


def test_semi_supervised_known_rows_hold_their_class():
    X, z = semi_supervised_data()
    y = np.where(np.arange(500) % 5 == 0, z, -1)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-12).fit(X, known_labels=y)
    assert np.all(np.diff(m.history_["log_likelihood"]) >= -1e-9)
    assert m.params_["p"][1].mean() > 0.6 > 0.4 > m.params_["p"][0].mean()  # labels fix the component names
    resp = m.predict_proba(X)
    known = y >= 0
    # the objective: unknown rows' log p(x) plus known rows' log p(x, z = y)
    joint = np.log(m.weights_) + X @ np.log(m.params_["p"]).T + (1 - X) @ np.log1p(-m.params_["p"]).T
    objective = np.logaddexp.reduce(joint[~known], axis=1).sum() + joint[known, y[known]].sum()
    assert m.log_likelihood_ == pytest.approx(objective, rel=1e-12)
    # the M-step uses the known rows' one-hot responsibilities and the others' posteriors
    r = resp.copy()
    r[known] = np.eye(2)[y[known]]
    np.testing.assert_allclose(m.params_["p"], (r.T @ X) / r.sum(axis=0)[:, None], rtol=1e-5)
    soft = np.full((500, 2), np.nan)
    soft[known] = np.eye(2)[y[known]]
    m2 = mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-12).fit(X, known_labels=soft)
    np.testing.assert_allclose(m2.params_["p"], m.params_["p"], rtol=1e-10)
    with pytest.raises(mf.DataError, match=r"known_labels must hold component numbers 0..1 or -1"):
        mf.Mixture(mf.Bernoulli(), 2).fit(X, known_labels=np.full(500, 2))
    # y is ignored, as by every unsupervised scikit-learn estimator; fit_predict forwards known_labels
    plain = mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-12)
    assert plain.fit(X, np.full(500, 7)).log_likelihood_ == plain.fit(X).log_likelihood_
    labels = mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-12).fit_predict(X, known_labels=y)
    np.testing.assert_array_equal(labels, m.predict(X))


def test_order_and_align():
    X, _ = semi_supervised_data(1)
    a = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.5, 0.5], params_init={"p": [[0.2] * 5, [0.8] * 5]}).fit(X)
    b = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.5, 0.5], params_init={"p": [[0.8] * 5, [0.2] * 5]}).fit(X)
    assert a.params_["p"][0, 0] < 0.5 < b.params_["p"][0, 0]
    aligned = mf.align(b, a)
    assert aligned.permutation_.tolist() == [1, 0]
    np.testing.assert_allclose(aligned.params_["p"], a.params_["p"], rtol=1e-6)
    np.testing.assert_allclose(aligned.predict_proba(X), a.predict_proba(X), rtol=1e-5, atol=1e-8)
    ordered = mf.Mixture(
        mf.Bernoulli(), 2, weights_init=[0.5, 0.5], params_init={"p": [[0.8] * 5, [0.2] * 5]}, order="p[2]"
    ).fit(X)
    assert ordered.params_["p"][0, 2] < ordered.params_["p"][1, 2]
    heavy = mf.Mixture(mf.Bernoulli(), 2, random_state=0, order="weight").fit(X)
    assert heavy.weights_[0] >= heavy.weights_[1]
    with pytest.raises(mf.ModelError, match=r"order must be 'weight' or a parameter"):
        mf.Mixture(mf.Bernoulli(), 2, random_state=0, order="banana").fit(X)


# ----------------------------------------------------------------------------- selection, inference, diagnostics
def lca_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.5
    return (rng.random((n, 6)) < np.where(z[:, None], 0.85, 0.15)).astype(int)


def test_select_table_criteria_and_parallel_reproducibility():
    X = lca_data()
    result = mf.select(X, mf.Bernoulli(), range(1, 4), n_init=3, random_state=0)
    table = result.table
    assert result.best_n_components == 2 and table["bic"].idxmin() == 2
    row = table.loc[2]
    model = result.models[2]
    n, p, ll = len(X), row["n_parameters"], row["log_likelihood"]
    assert p == 13 and ll == pytest.approx(model.log_likelihood_)
    assert row["bic"] == pytest.approx(model.bic(X)) and row["aic"] == pytest.approx(model.aic(X))
    assert row["sabic"] == pytest.approx(-2 * ll + p * np.log((n + 2) / 24))
    assert row["caic"] == pytest.approx(-2 * ll + p * (np.log(n) + 1))
    resp = model.predict_proba(X)
    entropy = -(resp * np.log(resp)).sum()
    assert row["icl"] == pytest.approx(row["bic"] + 2 * entropy)
    assert row["entropy_r2"] == pytest.approx(1 - entropy / (n * np.log(2)))
    assert table.loc[1, "entropy_r2"] == 1.0
    parallel = mf.select(X, mf.Bernoulli(), range(1, 4), n_init=3, random_state=0, n_jobs=2)
    np.testing.assert_allclose(parallel.table["log_likelihood"], table["log_likelihood"], rtol=SUM_RTOL)


def coverage_run(seed, n=800):
    """One simulated identifiable 2-class data set: does each 95% interval cover the truth?"""
    truth_w = np.array([0.4, 0.6])
    truth_p = np.array([[0.8, 0.7, 0.9, 0.2, 0.3], [0.2, 0.3, 0.2, 0.7, 0.8]])
    rng = np.random.default_rng(seed)
    z = rng.choice(2, n, p=truth_w)
    X = (rng.random((n, 5)) < truth_p[z]).astype(int)
    m = mf.Mixture(mf.Bernoulli(), 2, weights_init=truth_w, params_init={"p": truth_p}, tol=1e-12).fit(X)
    table = m.standard_errors(X).table
    truth = np.concatenate([truth_w, truth_p.ravel()])
    return ((table["lower95"] <= truth) & (truth <= table["upper95"])).to_numpy()


def test_standard_error_intervals_cover_the_truth():
    covered = np.concatenate([coverage_run(seed) for seed in range(40)])  # 40 x 12 intervals
    assert 0.91 <= covered.mean() <= 0.99  # benchmarks/bench_coverage.py runs the full version


def test_standard_errors_match_the_closed_form_for_one_component():
    x = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 0]] * 20)
    se = mf.Mixture(mf.Bernoulli(), 1).fit(x).standard_errors(x)
    p = x.mean(axis=0)
    np.testing.assert_allclose(se.params["p"][0], np.sqrt(p * (1 - p) / len(x)), rtol=1e-6)
    assert se.weights[0] == 0.0
    g = mf.Mixture(mf.Gaussian("diag"), 1).fit(GAUSS_X)
    se_g = g.standard_errors(GAUSS_X)
    var = GAUSS_X.var(axis=0)
    np.testing.assert_allclose(se_g.params["mean"][0], np.sqrt(var / len(GAUSS_X)), rtol=1e-5)
    np.testing.assert_allclose(se_g.params["covariance"][0], var * np.sqrt(2 / len(GAUSS_X)), rtol=1e-5)


def test_opg_and_bootstrap_agree_roughly_with_the_information():
    X = lca_data(800, seed=4)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=3, tol=1e-12).fit(X)
    observed = m.standard_errors(X).table["se"]
    opg = m.standard_errors(X, method="opg").table["se"]
    boot = m.bootstrap(X, n_boot=40, random_state=1).table["se"]
    ratio_opg, ratio_boot = (opg / observed).to_numpy(), (boot / observed).to_numpy()
    assert np.all((0.75 < ratio_opg) & (ratio_opg < 1.33))
    assert np.all((0.6 < ratio_boot) & (ratio_boot < 1.6))
    again = m.bootstrap(X, n_boot=40, random_state=1, n_jobs=2).replicates
    np.testing.assert_allclose(again.to_numpy(), m.bootstrap(X, n_boot=40, random_state=1).replicates.to_numpy())


def test_goodness_of_fit_by_hand():
    X = lca_data(300, seed=2)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=3).fit(X)
    gof = mf.goodness_of_fit(m, X)
    patterns, counts = np.unique(X, axis=0, return_counts=True)
    expected = len(X) * np.exp(m.score_samples(patterns))
    chi2 = ((counts - expected) ** 2 / expected).sum() + (len(X) - expected.sum())
    assert gof.chi2 == pytest.approx(chi2)
    assert gof.g2 == pytest.approx(2 * (counts * np.log(counts / expected)).sum())
    assert gof.df == 2**6 - 1 - 13 and gof.p_g2 == pytest.approx(stats.chi2.sf(gof.g2, 50))
    assert gof.table["observed"].sum() == len(X)
    assert any("too small for the chi-square" in note for note in gof.notes)
    with pytest.raises(mf.ModelError, match=r"discrete family"):
        mf.goodness_of_fit(mf.Mixture(mf.Gaussian("diag"), 1).fit(GAUSS_X), GAUSS_X)


def test_identifiability_check_on_the_single_flip_coins_of_seed_000():
    x = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.3, 0.7], params_init={"p": [[0.6], [0.8]]}).fit(x)
    with pytest.warns(mf.IdentifiabilityWarning, match=r"rank 1 < 3 free parameters"):
        report = mf.check_identifiability(m, x)
    assert not report.identified and report.information_rank == 1 and report.n_free_frequencies == 1
    good = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(lca_data())
    report = mf.check_identifiability(good, lca_data())
    assert report.identified and report.information_rank == 13


def test_bootstrap_lrt_rejects_too_few_components_and_not_enough():
    X = lca_data(300, seed=3)
    one = mf.bootstrap_lrt(X, mf.Bernoulli(), 1, n_boot=9, n_init=2, random_state=0)
    assert one.p_value == pytest.approx(0.1)  # every replicate below the observed statistic
    two = mf.bootstrap_lrt(X, mf.Bernoulli(), 2, n_boot=9, n_init=2, random_state=0)
    assert two.p_value > 0.1
    assert one.statistic == pytest.approx(2 * (one.alternative_model.log_likelihood_ - one.null_model.log_likelihood_))


def test_cli_select(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from mixfit.cli import app

    path = tmp_path / "lca.csv"
    pd.DataFrame(lca_data(), columns=[f"q{j}" for j in range(6)]).to_csv(path, index=False)
    result = CliRunner().invoke(
        app,
        [
            "select",
            str(path),
            "-f",
            "bernoulli",
            "-k",
            "1..3",
            "--seed",
            "0",
            "--plot",
            str(tmp_path / "c.png"),
            "--out",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "BIC chooses K = 2" in result.output
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert len(mf.load(tmp_path / "m.json").weights_) == 2
    bad = subprocess.run(
        [sys.executable, "-m", "mixfit", "select", str(path), "-f", "bernoulli", "-k", "two"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "error: -k must look like 1..6 or 1,2,4; got 'two'"


@pytest.mark.parametrize(
    "family",
    [mf.Gaussian("full"), mf.Gaussian("tied"), mf.Gaussian("spherical"), mf.Poisson()],
    ids=["full", "tied", "spherical", "poisson"],
)
def test_squarem_reaches_the_same_maximum_for_the_new_families(family):
    X = (
        GAUSS_X
        if isinstance(family, mf.Gaussian)
        else np.random.default_rng(0).poisson([[1, 5]] * 250 + [[3, 2]] * 250)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.MonotonicityWarning)
        # one start each, so that the passes compare the two algorithms alone (a kept start's
        # history also counts its plain screening iterations)
        options = dict(random_state=0, tol=1e-12, max_iter=5000, n_init=1)
        plain = mf.Mixture(family, 2, accelerate=None, **options).fit(X)
        fast = mf.Mixture(family, 2, accelerate="squarem", **options).fit(X)
    assert fast.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    assert fast.history_["e_steps"].iloc[-1] < plain.history_["e_steps"].iloc[-1]


def test_fit_warns_when_components_merge_at_the_estimate():
    X = np.random.default_rng(1).binomial(10, 0.4, size=(200, 1))  # one coin, fitted with two
    with pytest.warns(mf.IdentifiabilityWarning, match=r"rank 2 < 3 free parameters.*components may have merged"):
        mf.Mixture(mf.Binomial(n_trials=10), 2, weights_init=[0.5, 0.5], params_init={"p": [0.2, 0.6]}).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.IdentifiabilityWarning)
        mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(lca_data())  # identified: no warning


def test_csv_with_empty_fields_is_fitted_with_gaps(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("q1,q2,q3\n1,,1\n0,1,\n1,1,1\n0,0,0\n1,0,1\n,1,0\n1,1,1\n0,0,1\n")
    result = subprocess.run(
        [sys.executable, "-m", "mixfit", "fit", str(path), "-f", "categorical", "-k", "1", "--json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    assert summary["family"]["missing"] is True and summary["family"]["levels"][0] == [0, 1]
    assert summary["params"]["p"]["q1=1"] == [pytest.approx(4 / 7)]  # 7 observed answers to q1


def test_cli_fit_prints_standard_errors_and_goodness_of_fit(tmp_path):
    import json

    import pandas as pd

    path = tmp_path / "lca.csv"
    X = lca_data(300, seed=2)
    pd.DataFrame(X, columns=[f"x{j}" for j in range(6)]).to_csv(path, index=False)
    command = [sys.executable, "-m", "mixfit", "fit", str(path), "-f", "bernoulli", "-k", "2", "--seed", "0"]
    result = subprocess.run([*command, "--n-init", "3", "--se", "--gof", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=3).fit(pd.read_csv(path))
    expected_se = m.standard_errors(pd.read_csv(path)).table["se"]
    assert summary["standard_errors"]["p[0,0]"] == pytest.approx(expected_se["p[0,0]"], rel=1e-6)
    assert summary["goodness_of_fit"]["g2"] == pytest.approx(mf.goodness_of_fit(m, pd.read_csv(path)).g2)
    assert summary["goodness_of_fit"]["df"] == 2**6 - 1 - 13
    streamed = subprocess.run([*command, "--chunk-size", "50", "--se"], capture_output=True, text=True)
    assert (
        streamed.returncode == 2
        and "--gof, --known-labels and --weight-column need the data in memory" in streamed.stderr
    )


def test_classification_quality_by_hand_and_with_frequency_weights():
    """Two coins flipped 10 times, parameters fixed: the responsibilities are known in closed
    form, so every number of the classification table is checked against them."""
    from scipy.stats import binom

    from mixfit.diagnostics import classification_quality

    x = np.array(THREE_COINS)
    m = mf.Mixture(mf.Binomial(n_trials=10), 2, weights_init=[0.4, 0.6], params_init={"p": [0.3, 0.6]})
    m.weights_, m.params_ = np.array([0.4, 0.6]), {"p": np.array([[0.3], [0.6]])}
    joint = np.array([0.4, 0.6]) * binom.pmf(x[:, None], 10, [0.3, 0.6])
    resp = joint / joint.sum(axis=1, keepdims=True)
    q = classification_quality(m, x)
    modal = resp.argmax(axis=1)
    np.testing.assert_allclose(q.sizes["posterior size"], resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(q.sizes["modal size"], np.bincount(modal, minlength=2))
    for k in range(2):
        np.testing.assert_allclose(q.table.iloc[k], resp[modal == k].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(q.average_posterior, np.diag(q.table), rtol=0)
    entropy = -(resp * np.log(resp)).sum()
    assert q.entropy_r2 == pytest.approx(1 - entropy / (len(x) * np.log(2)), rel=1e-12)
    weights = np.arange(1, 21) % 3 + 1  # frequency weights count rows that often
    repeated = classification_quality(m, np.repeat(x, weights))
    weighted = classification_quality(m, x, sample_weight=weights)
    assert weighted.entropy_r2 == pytest.approx(repeated.entropy_r2, rel=1e-12)
    np.testing.assert_allclose(weighted.table, repeated.table, rtol=1e-12)


def test_boundary_estimates_are_flagged_in_the_standard_error_table():
    """An item answered 1 by every row of one class and 0 by every row of the other puts p at
    the clamp: held fixed, no standard error, and the table says so instead of a bare NaN."""
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, 400)
    X = np.column_stack([z, (rng.random((400, 4)) < np.where(z[:, None] == 1, 0.8, 0.2))]).astype(int)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X)
    with pytest.warns(mf.IdentifiabilityWarning, match="on the boundary of the parameter space"):
        table = m.standard_errors(X).table
    boundary = table.index.str.endswith(",0]") & table.index.str.startswith("p[")
    assert table.loc[boundary, "note"].eq("on the boundary: held fixed, no standard error").all()
    assert table.loc[boundary, "se"].isna().all()
    assert table.loc[~boundary, "note"].eq("").all() and table.loc[~boundary, "se"].notna().all()


@pytest.mark.parametrize("family", [mf.Bernoulli(), mf.Gaussian("full"), mf.Categorical()], ids=lambda f: f.name)
def test_row_scores_component_by_component_equal_all_at_once(rng, family, monkeypatch):
    from mixfit import inference, prepare
    from mixfit.em import EMState

    if family.name == "gaussian":
        X = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(3, 0.5, (40, 2))]
    elif family.name == "bernoulli":
        X = (rng.random((80, 6)) < np.where(rng.random((80, 1)) < 0.5, 0.2, 0.8)).astype(int)
    else:
        X = np.column_stack([rng.integers(0, n, 200) for n in (3, 2, 4)])
    model = mf.Mixture(family, 2, random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    train = prepare.training_data(model, X, None)
    state = EMState(model.weights_, model.params_)
    at_once = inference.row_scores(train.family, state, train.source)
    monkeypatch.setattr(inference, "DENSE_SCORES", 0)
    one_by_one = inference.row_scores(train.family, state, train.source)
    np.testing.assert_allclose(at_once, one_by_one, rtol=1e-12, atol=1e-12 * np.abs(at_once).max())


def test_select_warns_when_the_best_k_is_the_edge_of_the_range():
    X = lca_data()
    with pytest.warns(mf.RangeWarning, match="bic is lowest at K = 2, the largest K searched"):
        mf.select(X, mf.Bernoulli(), [1, 2], n_init=3, random_state=0)
    with pytest.warns(mf.RangeWarning, match="the smallest K searched: .* search smaller K, from 1"):
        mf.select(X, mf.Bernoulli(), [2, 3], n_init=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.RangeWarning)
        assert mf.select(X, mf.Bernoulli(), [1, 2, 3], n_init=3, random_state=0).best_n_components == 2


def test_the_identifiability_note_counts_parameters_as_n_parameters_does():
    from mixfit.diagnostics import free_count
    from mixfit.prepare import fitted

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (150, 3)), rng.normal(4, 1, (150, 3))]
    model = mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(X)
    assert free_count(*fitted(model)) == model.n_parameters() == 19  # 2 x (3 + 6) + 1, not 2 x (3 + 9) + 2


def test_both_icl_conventions_by_hand():
    X = lca_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mf.select(X, mf.Bernoulli(), [1, 2, 3], n_init=3, random_state=0)
    row, model = result.table.loc[2], result.models[2]
    resp = model.predict_proba(X)
    assert row["icl"] == pytest.approx(row["bic"] - 2 * (resp * np.log(resp)).sum(), rel=1e-12)
    assert row["icl_mclust"] == pytest.approx(row["bic"] - 2 * np.log(resp.max(axis=1)).sum(), rel=1e-12)
    assert row["bic"] <= row["icl_mclust"] <= row["icl"]


def test_the_enumeration_table_has_the_smallest_class_and_the_largest_bivariate_residual():
    from mixfit.diagnostics import bivariate_residuals

    X = lca_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mf.select(X, mf.Bernoulli(), [1, 2, 3], n_init=3, random_state=0)
    for k in (2, 3):
        model, row = result.models[k], result.table.loc[k]
        assert row["smallest_share"] == pytest.approx(model.predict_proba(X).mean(axis=0).min(), rel=1e-12)
        assert row["max_bvr"] == pytest.approx(bivariate_residuals(model, X)["bvr"].max(), rel=1e-12)
    assert result.table.loc[1, "smallest_share"] == 1.0
    gaussian = mf.select(np.random.default_rng(0).normal(size=(60, 2)), mf.Gaussian(), [1, 2], n_init=2, random_state=0)
    assert gaussian.table["max_bvr"].isna().all()

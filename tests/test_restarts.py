"""Starts that cannot trap EM, the screened restarts and their record, failed starts, and the
post-fit checks that never end a fit (issue: right answers by default)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from mixfit import restarts
from mixfit.init import initial_state
from mixfit.sources import as_source

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def quiet_fit(model, X, **kwargs):
    with warnings.catch_warnings():
        for category in (mf.IdentifiabilityWarning, mf.ConvergenceWarning, mf.EmptyComponentWarning):
            warnings.simplefilter("ignore", category)
        return model.fit(X, **kwargs)


def test_the_default_start_never_puts_a_probability_at_0_or_1():
    # two groups that never share an answer: hard k-means++ assignments give p exactly 0 and 1
    X = np.vstack([np.zeros((30, 4)), np.ones((30, 4))])
    family = mf.Bernoulli()
    source = as_source(family.validate(X, ["a", "b", "c", "d"]), family)
    for seed in range(10):
        rng = np.random.RandomState(seed)
        options = dict(n_components=2, n_features=4, weights_init=None, params_init=None, rng=rng)
        p = initial_state(family, source, init="k-means++", **options).params["p"]
        assert p.min() > 0.01 and p.max() < 0.99
        hard = initial_state(family, source, init="hard-k-means++", **options).params["p"]
        assert hard.min() < 1e-9 or hard.max() > 1 - 1e-9  # what the soft start avoids


def test_single_default_starts_no_longer_stop_at_the_trapped_maximum():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    hard = [
        quiet_fit(mf.Mixture(mf.Bernoulli(), 3, n_init=1, init="hard-k-means++", random_state=s), survey)
        for s in range(20)
    ]
    soft = [quiet_fit(mf.Mixture(mf.Bernoulli(), 3, n_init=1, random_state=s), survey) for s in range(20)]
    assert min(m.log_likelihood_ for m in hard) < -6700  # seed 10's trap: p exactly 0 and 1, one iteration
    assert all(m.log_likelihood_ == pytest.approx(-6443.2447, abs=1e-3) for m in soft)


def test_screening_keeps_the_best_starts_and_they_end_where_unscreened_starts_end():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    options = dict(n_init=8, init="random", random_state=3, tol=1e-10, accelerate=None)  # plain EM continues seamlessly
    every = quiet_fit(mf.Mixture(mf.Bernoulli(), 4, n_converge=8, **options), survey)
    screened = quiet_fit(mf.Mixture(mf.Bernoulli(), 4, n_converge=3, **options), survey)
    table = screened.restarts_
    assert len(table) == 8 and (table["status"] == "screened out").sum() == 5
    assert (table.loc[table["status"] == "screened out", "n_iter"] <= 30).all()
    kept = table.index[table["status"] != "screened out"]
    finals = every.restarts_.loc[kept, "log_likelihood"]
    np.testing.assert_array_equal(table.loc[kept, "log_likelihood"], finals)  # continued, not restarted
    assert screened.log_likelihood_ == every.restarts_.loc[kept, "log_likelihood"].max()
    assert (
        len(screened.history_) == screened.n_iter_ + 1 and screened.history_["e_steps"].iloc[-1] == screened.n_iter_ + 1
    )


def test_restarts_table_replication_line_and_distinct_maxima():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    with pytest.warns(mf.ReplicationWarning, match=r"best log-likelihood reached by 1 of 3 starts"):
        m = mf.Mixture(mf.Bernoulli(), 5, n_init=3, n_converge=3, init="random", random_state=3).fit(survey)
    assert m.replication_ == "best log-likelihood reached by 1 of 3 starts run to convergence (3 starts)"
    assert m.restarts_.loc[m.best_restart_, "status"] == "best"
    assert m.restarts_["log_likelihood"].max() == m.log_likelihood_
    maxima = m.maxima_
    assert maxima["log_likelihood"].iloc[0] == pytest.approx(m.log_likelihood_) and maxima["n_starts"].sum() == 3
    assert np.all(np.diff(maxima["log_likelihood"]) < 0)
    fine = quiet_fit(mf.Mixture(mf.Bernoulli(), 2, random_state=0), survey)
    reached, finished = restarts.replication(fine.restarts_["status"])
    assert finished == 4 and reached == 4 and "reached by 4 of 4 starts" in fine.replication_


def test_same_maximum_tolerance():
    assert restarts.same_maximum(-2754.5451, -2754.545)
    assert not restarts.same_maximum(-2755.6, -2754.545)
    assert restarts.same_maximum(-3.0e7 - 20, -3.0e7)  # 1e-6 relative on big data
    assert restarts.ranked([-3.0, float("nan"), -1.0, -1.0]) == [2, 3, 0, 1]


def test_a_failed_start_is_recorded_and_skipped_and_all_failing_is_one_error(monkeypatch):
    import mixfit.search

    survey = pd.read_csv(EXAMPLES / "survey.csv")
    real = mixfit.search.initial_state
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) % 2 == 0:
            raise mf.ModelError("covariance of component 1 is singular (a test's broken start)")
        return real(*args, **kwargs)

    monkeypatch.setattr(mixfit.search, "initial_state", flaky)
    m = quiet_fit(mf.Mixture(mf.Bernoulli(), 2, n_init=6, random_state=0), survey)
    failed = m.restarts_[m.restarts_["status"] == "failed"]
    assert failed.index.tolist() == [1, 3, 5] and failed["reason"].str.contains("broken start").all()
    assert "3 failed" in m.replication_ and m.best_restart_ in (0, 2, 4)

    def broken(*args, **kwargs):
        raise mf.ModelError("covariance of component 0 is singular")

    monkeypatch.setattr(mixfit.search, "initial_state", broken)
    with pytest.raises(mf.ModelError, match=r"every one of the 4 starts failed: covariance of component 0 is singular"):
        mf.Mixture(mf.Bernoulli(), 2, n_init=4).fit(survey)


def test_select_returns_a_row_for_every_k_on_near_singular_data():
    rng = np.random.default_rng(1)  # 60 rows on 12 points, a third of them jittered: K >= 5 collapses
    X = rng.normal(size=(12, 3))[rng.integers(0, 12, 60)]
    X += 1e-3 * rng.normal(size=(60, 3)) * (rng.random((60, 1)) < 0.3)
    result = mf.select(X, mf.Gaussian("full"), range(1, 10), n_init=4, random_state=0)
    assert result.table["n_components"].tolist() == list(range(1, 10))
    failed = result.table["status"] != "ok"
    assert failed.any() and result.table.loc[failed, "bic"].isna().all()
    assert result.table.loc[failed, "status"].str.startswith("not fitted: ").all()
    assert result.best_n_components in result.table.loc[~failed, "n_components"].tolist()


def test_the_post_fit_identifiability_check_is_capped_and_says_so():
    rng = np.random.default_rng(0)
    X = (rng.random((60, 500)) < 0.5).astype(int)
    m = quiet_fit(mf.Mixture(mf.Bernoulli(), 2, n_init=1, random_state=0, max_iter=50), X)
    assert len(m.fit_notes_) == 1 and m.fit_notes_[0].startswith("local identifiability not checked after the fit")


# ----------------------------------------------------------------------------- frequency weights
def pattern_table():
    """The survey as a frequency table: distinct rows and their counts."""
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    table = survey.value_counts().reset_index(name="count")
    return survey, table.drop(columns="count"), table["count"].to_numpy()


def test_weighted_table_and_expanded_rows_give_the_same_statistics():
    survey, patterns, counts = pattern_table()
    expanded = patterns.loc[patterns.index.repeat(counts)].reset_index(drop=True)
    m = quiet_fit(mf.Mixture(mf.Bernoulli(), 3, random_state=0, tol=1e-12), survey)
    assert m.score(patterns, sample_weight=counts) == pytest.approx(m.score(expanded), rel=1e-12)
    assert m.bic(patterns, sample_weight=counts) == pytest.approx(m.bic(expanded), rel=1e-12)
    assert m.aic(patterns, sample_weight=counts) == pytest.approx(m.aic(expanded), rel=1e-12)
    weighted = quiet_fit(mf.Mixture(mf.Bernoulli(), 3, random_state=0, tol=1e-12), patterns, sample_weight=counts)
    assert weighted.log_likelihood_ == pytest.approx(m.log_likelihood_, rel=1e-9)  # the same maximum


def test_select_with_frequency_weights_equals_select_on_expanded_rows():
    survey, patterns, counts = pattern_table()
    expanded = patterns.loc[patterns.index.repeat(counts)].reset_index(drop=True)
    options = dict(n_init=10, random_state=0, tol=1e-12)
    a = mf.select(patterns, mf.Bernoulli(), range(1, 4), sample_weight=counts, **options).table
    b = mf.select(expanded, mf.Bernoulli(), range(1, 4), **options).table
    # The two selections run their own starts (weights and repeated rows draw differently) to
    # the same maxima, stopping within tol = 1e-12 per row: the log-likelihood is flat there, so
    # it agrees to second order (1e-9), the entropy (first order in the parameters) to ~1e-6.
    for column in ("log_likelihood", "aic", "bic", "sabic", "caic"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-9, err_msg=column)
    for column in ("icl", "entropy_r2"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-6, err_msg=column)


def test_standard_errors_and_goodness_of_fit_of_a_weighted_table_equal_the_expanded_rows():
    survey, patterns, counts = pattern_table()
    expanded = patterns.loc[patterns.index.repeat(counts)].reset_index(drop=True)
    m = quiet_fit(mf.Mixture(mf.Bernoulli(), 2, random_state=0, tol=1e-12), survey)
    for method in ("observed", "opg"):
        weighted = m.standard_errors(patterns, method=method, sample_weight=counts).table["se"]
        plain = m.standard_errors(expanded, method=method).table["se"]
        # the same score sums in other groupings (~1e-13 relative), through a Hessian by central
        # differences of step >= 1e-6 (x 1/(2h)): ~1e-10 relative in the information; 1e-8 keeps 100x
        np.testing.assert_allclose(weighted, plain, rtol=1e-8, err_msg=method)
    a, b = mf.goodness_of_fit(m, patterns, counts), mf.goodness_of_fit(m, expanded)
    assert (a.chi2, a.g2, a.df) == pytest.approx((b.chi2, b.g2, b.df), rel=1e-10)


def test_a_degenerate_gaussian_maximum_loses_to_a_proper_one():
    from sklearn.datasets import load_iris

    X = load_iris().data  # duplicated rows let a component collapse onto a hyperplane
    m = quiet_fit(mf.Mixture(mf.Gaussian("full", reg_covar=1e-6), 4, random_state=1, tol=1e-10), X)
    # mclust 6.0.0, Mclust(X, G = 4, modelNames = "VVV", control = emControl(tol = 1e-10)): -165.5475
    assert m.log_likelihood_ > -165.5475
    spurious = m.restarts_[m.restarts_["reason"].str.startswith("degenerate")]
    assert len(spurious) >= 1 and (spurious["log_likelihood"] > m.log_likelihood_ + 50).all()
    assert m.family_.degenerate(m.params_) is None


def test_the_bootstrap_of_a_weighted_table_resamples_rows_by_weight():
    survey, patterns, counts = pattern_table()
    m = quiet_fit(mf.Mixture(mf.Bernoulli(), 2, random_state=0), patterns, sample_weight=counts)
    boot = m.bootstrap(patterns, n_boot=20, random_state=0, sample_weight=counts).table
    analytic = m.standard_errors(patterns, sample_weight=counts).table
    # 20 replicates of 1000 resampled people: the spread is that of the expanded rows (within the
    # bootstrap's own noise, ~1/sqrt(2 * 19) ~ 16%), not of the 100-odd distinct patterns
    ratio = boot.loc["weight[0]", "se"] / analytic.loc["weight[0]", "se"]
    assert 0.5 < ratio < 1.6


def test_parallel_final_starts_give_the_sequential_fit_and_screening_weights_are_kept():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    options = dict(n_init=6, n_converge=3, init="random", random_state=2, tol=1e-10)
    sequential = quiet_fit(mf.Mixture(mf.Bernoulli(), 3, **options), survey)
    parallel = quiet_fit(mf.Mixture(mf.Bernoulli(), 3, n_jobs=2, **options), survey)
    assert parallel.best_restart_ == sequential.best_restart_ and parallel.n_iter_ == sequential.n_iter_
    np.testing.assert_allclose(parallel.params_["p"], sequential.params_["p"], rtol=0, atol=1e-10)
    pd.testing.assert_series_equal(parallel.restarts_["status"], sequential.restarts_["status"])


def test_kmeans_plusplus_draws_scikit_learns_centres():
    from sklearn.cluster import kmeans_plusplus

    from mixfit.init import kmeans_plusplus as kmeans_plusplus_centres

    rng = np.random.default_rng(1)
    for case in range(60):
        n, d, k = int(rng.integers(5, 120)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        X = rng.integers(0, 2, (n, d)).astype(float) if case % 2 else rng.normal(size=(n, d))
        weight = None if case % 3 else rng.integers(1, 5, n).astype(float)
        seed = int(rng.integers(0, 2**31 - 1))
        expected, _ = kmeans_plusplus(X, k, sample_weight=weight, random_state=seed)
        np.testing.assert_array_equal(kmeans_plusplus_centres(X, k, weight, seed), expected)

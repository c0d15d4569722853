"""The estimator: recovery, reproducibility, restarts, weights, DataFrames, scikit-learn rules."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone

import mixfit as mf
from tests.conftest import THREE_COINS, latent_class_data


def _match(estimated: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Component order of ``estimated`` that best matches ``truth`` (Hungarian algorithm)."""
    cost = np.abs(estimated[:, None, :] - truth[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return rows[np.argsort(cols)]


def test_recovers_latent_class_parameters(rng):
    truth_p = rng.uniform(0.05, 0.95, size=(3, 20))
    truth_w = np.array([0.5, 0.3, 0.2])
    X, _ = latent_class_data(rng, 20000, truth_p, truth_w)
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=3, random_state=0).fit(X)
    order = _match(m.params_["p"], truth_p)
    np.testing.assert_allclose(m.params_["p"][order], truth_p, atol=0.04)
    np.testing.assert_allclose(m.weights_[order], truth_w, atol=0.015)
    assert m.converged_


def test_same_random_state_same_fit_and_restarts_keep_the_best(rng, monkeypatch):
    import mixfit.search

    X, _ = latent_class_data(rng, 500, rng.uniform(0.1, 0.9, (3, 6)), np.array([0.4, 0.4, 0.2]))
    runs = []

    def recording_fit_em(*args, **kwargs):
        runs.append(real_fit_em(*args, **kwargs))
        return runs[-1]

    real_fit_em = mixfit.search.fit_em
    monkeypatch.setattr(mixfit.search, "fit_em", recording_fit_em)
    a = mf.Mixture(mf.Bernoulli(), 3, n_init=6, n_converge=6, random_state=7, init="random", tol=1e-4).fit(X)
    lls = [r.log_likelihood for r in runs]
    assert len(lls) == 6 and len(set(np.round(lls, 6))) > 1  # the restarts really differ
    best = runs[int(np.argmax(lls))]
    assert a.log_likelihood_ == max(lls) and a.n_iter_ == best.n_iter and a.converged_ == best.converged
    assert len(a.history_) == len(best.history)
    b = mf.Mixture(mf.Bernoulli(), 3, n_init=6, n_converge=6, random_state=7, init="random", tol=1e-4).fit(X)
    np.testing.assert_array_equal(a.params_["p"], b.params_["p"])


def test_sample_weight_equals_repeating_rows():
    x = np.array(THREE_COINS)
    counts = np.arange(1, 21) % 3 + 1
    start = dict(weights_init=[0.5, 0.5], params_init={"p": [0.3, 0.6]}, compress=False)
    weighted = mf.Mixture(mf.Binomial(n_trials=10), 2, **start).fit(x, sample_weight=counts)
    repeated = mf.Mixture(mf.Binomial(n_trials=10), 2, **start).fit(np.repeat(x, counts))
    np.testing.assert_allclose(weighted.params_["p"], repeated.params_["p"], atol=1e-10)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-12)


def test_dataframe_columns_are_kept_and_checked(rng):
    frame = pd.DataFrame((rng.random((100, 3)) < 0.5).astype(int), columns=["q1", "q2", "q3"])
    m = mf.Mixture(mf.Bernoulli(), 1).fit(frame)
    assert list(m.feature_names_in_) == ["q1", "q2", "q3"]
    np.testing.assert_allclose(m.params_["p"][0], frame.mean().to_numpy())
    with pytest.raises(mf.DataError, match=r"columns must be \['q1', 'q2', 'q3'\]"):
        m.predict(frame[["q2", "q1", "q3"]])
    with pytest.raises(mf.DataError, match="is expecting 3 features as input"):
        m.predict(frame[["q1", "q2"]].to_numpy())


def test_trials_column_of_a_dataframe():
    frame = pd.DataFrame({"heads": THREE_COINS, "flips": 10})
    m = mf.Mixture(
        mf.Binomial(n_trials="flips"),
        3,
        weights_init=[0.25, 0.5, 0.25],
        params_init={"p": [0.4, 0.5, 0.65]},
        max_iter=1,
    )
    with pytest.warns(mf.ConvergenceWarning):
        m.fit(frame)
    np.testing.assert_allclose(m.weights_, [0.3337246, 0.5261878, 0.1400877], atol=5e-8)
    assert m.feature_names_ == ["heads"]


def test_fit_predict_equals_fit_then_predict(rng):
    X, _ = latent_class_data(rng, 300, rng.uniform(0.1, 0.9, (2, 8)), np.array([0.5, 0.5]))
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=3)
    labels = m.fit_predict(X)
    np.testing.assert_array_equal(labels, clone(m).fit(X).predict(X))
    np.testing.assert_array_equal(labels, m.predict_proba(X).argmax(axis=1))


def test_scikit_learn_parameters_and_clone():
    m = mf.Mixture(mf.Bernoulli(), 4, n_init=2, tol=1e-6)
    assert m.get_params()["n_components"] == 4
    c = clone(m).set_params(n_components=2)
    assert c.n_components == 2 and m.n_components == 4
    assert repr(mf.Binomial(n_trials=10)) == "Binomial(n_trials=10)"


def test_hand_set_parameters_are_the_model():
    m = mf.Mixture(mf.Bernoulli(), 2)
    m.weights_ = np.array([0.3, 0.7])
    m.params_ = {"p": np.array([[0.6], [0.8]])}
    assert m.score([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]) == pytest.approx(-0.928686, abs=1e-6)
    m.params_ = {"p": np.array([[0.1], [0.8]])}
    assert m.predict([0, 1]).tolist() == [0, 1]


def test_categorical_with_strings_predicts_new_data_the_same_way(rng):
    levels = np.array(["never", "sometimes", "often"])
    group = rng.integers(0, 2, 400)
    X = np.column_stack(
        [levels[np.where(group == 0, rng.integers(0, 2, 400), rng.integers(1, 3, 400))] for _ in range(4)]
    )
    m = mf.Mixture(mf.Categorical(), 2, random_state=0, n_init=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.IdentifiabilityWarning)
        m.fit(pd.DataFrame(X, columns=list("abcd")))
    assert m.family_.levels[0].tolist() == ["never", "often", "sometimes"]
    assert m.params_["p"].shape == (2, 4, 3)
    new = pd.DataFrame([["often"] * 4, ["never"] * 4], columns=list("abcd"))
    assert m.predict(new)[0] != m.predict(new)[1]
    with pytest.raises(mf.DataError, match="level 'always' not seen at fit"):
        m.predict(pd.DataFrame([["always"] * 4], columns=list("abcd")))


def test_sample_then_refit_recovers_the_model():
    m = mf.Mixture(mf.Binomial(n_trials=20), 2, random_state=5)
    m.weights_, m.params_ = np.array([0.3, 0.7]), {"p": np.array([[0.2], [0.7]])}
    X, labels = m.sample(5000)
    assert X.shape == (5000, 1) and abs(labels.mean() - 0.7) < 0.03
    fit = mf.Mixture(mf.Binomial(n_trials=20), 2, weights_init=[0.5, 0.5], params_init={"p": [0.1, 0.9]}).fit(X)
    np.testing.assert_allclose(fit.params_["p"][:, 0], [0.2, 0.7], atol=0.01)


def test_information_criteria_count_free_parameters():
    m = mf.Mixture(
        mf.Binomial(n_trials=10), 3, weights_init=[0.25, 0.5, 0.25], params_init={"p": [0.4, 0.5, 0.65]}
    ).fit(THREE_COINS)
    assert m.n_parameters() == 3 + 2
    assert m.bic(THREE_COINS) == pytest.approx(-2 * m.log_likelihood_ + 5 * np.log(20))
    assert m.aic(THREE_COINS) == pytest.approx(-2 * m.log_likelihood_ + 10)


def test_compression_is_automatic_when_it_pays_and_exact(rng):
    from mixfit.sources import as_source

    x = rng.binomial(10, 0.4, size=(100_000, 1)).astype(float)
    fam = mf.Binomial(n_trials=10)
    data = fam.validate(x, ["x"])
    assert as_source(data, fam).compressed and as_source(data, fam).design.shape[0] <= 11
    wide = (rng.random((5000, 40)) < 0.5).astype(float)
    assert not as_source(wide, mf.Bernoulli()).compressed
    start = dict(weights_init=[0.5, 0.5], params_init={"p": [0.3, 0.5]}, max_iter=20, tol=0)
    with pytest.warns(mf.ConvergenceWarning):
        a = mf.Mixture(fam, 2, **start).fit(x)
    with pytest.warns(mf.ConvergenceWarning):
        b = mf.Mixture(fam, 2, compress=False, **start).fit(x)
    # The two fits add the same 1e5 terms in different groupings and orders (and BLAS may split
    # the sums over threads): each sum is exact to n * eps = 1e5 * 1.1e-16 ~ 1e-11 relative, and
    # 20 contracting EM steps do not amplify that; rtol 1e-10 leaves a margin of 10.
    np.testing.assert_allclose(a.params_["p"], b.params_["p"], rtol=1e-10)
    # A responsibility moves by at most |d r / d p| * dp <= x / (p (1 - p)) * dp ~ 50 * 1e-11 here;
    # responsibilities can be tiny, so the bound is absolute.
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), rtol=0, atol=1e-9)


def test_a_warning_raised_many_times_by_one_fit_is_shown_once():
    """fit re-emits what it caught: each distinct warning once, not once per start and iteration."""

    class Noisy(mf.Bernoulli):
        def m_step(self, stats):
            warnings.warn("a family note", UserWarning, stacklevel=1)
            return super().m_step(stats)

        def fitted_to(self, X, columns):
            return self

    X = (np.random.default_rng(0).random((100, 4)) < 0.3).astype(float)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        m = mf.Mixture(Noisy(), 2, n_init=5, random_state=0, max_iter=20).fit(X)
    assert [str(w.message) for w in shown].count("a family note") == 1
    assert m.fit_warnings_.count("UserWarning: a family note") == 1

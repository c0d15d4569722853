"""EM invariants over random data and random starts (hypothesis), and the engine's contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.base as sk_base
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import mixfit as mf
from mixfit.config import config_context
from mixfit.em import EMSettings, EMState, fit_em
from mixfit.sources import as_source

FAMILIES = {
    "bernoulli": (mf.Bernoulli, lambda rng, n: (rng.random((n, 5)) < rng.random(5)).astype(float)),
    "binomial": (lambda: mf.Binomial(n_trials=6), lambda rng, n: rng.binomial(6, rng.random(2), size=(n, 2))),
    "categorical": (mf.Categorical, lambda rng, n: rng.integers(0, 4, size=(n, 3))),
}


def _fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mf.IdentifiabilityWarning)
        warnings.simplefilter("ignore", mf.ConvergenceWarning)
        warnings.simplefilter("ignore", mf.EmptyComponentWarning)
        return model.fit(X)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=hs.sampled_from(sorted(FAMILIES)),
    seed=hs.integers(0, 2**31 - 1),
    n_rows=hs.integers(8, 120),
    k=hs.integers(1, 4),
    init=hs.sampled_from(["k-means++", "random"]),
)
def test_em_invariants(name, seed, n_rows, k, init):
    make_family, make_data = FAMILIES[name]
    rng = np.random.default_rng(seed)
    X = make_data(rng, n_rows)
    k = min(k, len(np.unique(X, axis=0)))
    options = dict(n_components=k, init=init, random_state=seed, max_iter=200, tol=1e-10)
    plain = _fit_quietly(mf.Mixture(make_family(), compress=False, **options), X)
    # the same start, compressed to distinct rows with counts
    start = {
        "weights_init": plain.history_.filter(like="weight[").iloc[0].to_numpy(),
        "params_init": {"p": _first_params(plain)},
    }
    # 10 EM steps from the same start, on all rows and on distinct rows with counts. The steps
    # are fixed: where p runs to 0 or 1, 1 - p carries round-off of 1e-16 / (1 - p) relative,
    # so sums taken in another order drift apart over hundreds of steps on such data.
    same_start = mf.Mixture(make_family(), compress=False, **{**options, "max_iter": 10, "tol": 1e-9}, **start)
    plain = _fit_quietly(same_start, X)
    packed = _fit_quietly(sk_base.clone(same_start).set_params(compress=True), X)

    ll = plain.history_["log_likelihood"].to_numpy()
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]).clip(1))
    resp = plain.predict_proba(X)
    assert np.all(np.isfinite(resp)) and np.allclose(resp.sum(axis=1), 1, atol=1e-12)
    p = plain.params_["p"]
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.isfinite(p))
    assert plain.weights_.sum() == pytest.approx(1, abs=1e-12)
    assert plain.score_samples(X).sum() == pytest.approx(plain.log_likelihood_, rel=1e-10)

    assert packed.n_iter_ == plain.n_iter_
    np.testing.assert_allclose(packed.weights_, plain.weights_, atol=1e-10)
    np.testing.assert_allclose(packed.params_["p"], plain.params_["p"], atol=1e-10)
    assert packed.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-10)


def _first_params(model):
    row = model.history_.filter(like="p[").iloc[0]
    return row.to_numpy().reshape(model.params_["p"].shape)


def test_history_row_i_holds_the_parameters_entering_iteration_i():
    X = np.random.default_rng(1).binomial(10, 0.4, size=(200, 1))
    m = mf.Mixture(mf.Binomial(n_trials=10), 2, weights_init=[0.5, 0.5], params_init={"p": [0.2, 0.6]})
    m.fit(X)
    h = m.history_
    assert len(h) == m.n_iter_ + 1
    assert h.loc[0, "p[0,0]"] == 0.2 and h.loc[0, "weight[1]"] == 0.5
    assert h["log_likelihood"].iloc[-1] == m.log_likelihood_
    assert h.loc[m.n_iter_, "p[1,0]"] == m.params_["p"][1, 0]


def test_tolerance_is_on_the_mean_log_likelihood_per_row():
    """Duplicating the data 10x multiplies the log-likelihood but not the number of iterations."""
    X = np.random.default_rng(2).binomial(10, [0.3], size=(300, 1))
    start = dict(weights_init=[0.5, 0.5], params_init={"p": [0.2, 0.5]}, tol=1e-6, compress=False)
    one = mf.Mixture(mf.Binomial(n_trials=10), 2, **start).fit(X)
    ten = mf.Mixture(mf.Binomial(n_trials=10), 2, **start).fit(np.tile(X, (10, 1)))
    assert ten.n_iter_ == one.n_iter_
    assert ten.log_likelihood_ == pytest.approx(10 * one.log_likelihood_, rel=1e-12)


def test_a_decrease_raises_in_debug_runs_and_warns_otherwise():
    class Broken(mf.Bernoulli):
        """An M-step that moves away from the maximum: the log-likelihood must drop."""

        def m_step(self, stats):
            return {"p": 1 - super().m_step(stats)["p"]}

    X = np.random.default_rng(3).random((100, 6)) < 0.2
    source = as_source(X.astype(float), Broken())
    state = EMState(np.array([0.5, 0.5]), {"p": np.full((2, 6), 0.2) + [[0.0], [0.05]]})
    with pytest.raises(mf.MonotonicityError, match="decreased at iteration 1"):
        fit_em(Broken(), source, state, EMSettings(max_iter=5, tol=0, debug=True))
    with pytest.warns(mf.MonotonicityWarning):
        fit_em(Broken(), source, state, EMSettings(max_iter=1, tol=0, debug=False))


def test_an_emptied_component_is_frozen_with_a_warning_never_nan():
    X = np.array([[1.0, 1.0]] * 10 + [[0.0, 0.0]] * 10)
    m = mf.Mixture(
        mf.Bernoulli(),
        3,
        weights_init=[0.5, 0.5, 0.0],
        params_init={"p": [[0.9, 0.9], [0.1, 0.1], [0.5, 0.5]]},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mf.IdentifiabilityWarning)
        m.fit(X)
    assert m.weights_[2] == 0 and np.all(np.isfinite(m.params_["p"]))
    assert np.all(np.isfinite(m.predict_proba(X)))


@pytest.mark.parametrize("kind", ["select", "bootstrap_lrt"])
def test_model_selection_shows_a_monotonicity_warning_it_does_not_silence_everything(kind):
    """select and the bootstrap LRT silence the warnings they report otherwise (convergence,
    identifiability), never a decrease of the log-likelihood, which is a bug."""

    class Broken(mf.Bernoulli):
        """Every M-step halves the MLE once more: the log-likelihood falls at every iteration."""

        calls = 0

        def m_step(self, stats):
            Broken.calls += 1
            return {"p": super().m_step(stats)["p"] * 0.5**Broken.calls}

        def fitted_to(self, X, columns):
            return self

    X = (np.random.default_rng(4).random((200, 5)) < 0.4).astype(float)
    with config_context(debug=False), pytest.warns(mf.MonotonicityWarning, match="decreased at iteration"):
        if kind == "select":
            mf.select(X, Broken(), [1], n_init=1, max_iter=3)
        else:
            mf.bootstrap_lrt(X, Broken(), 1, n_boot=1, n_init=1, max_iter=3, random_state=0)


def test_history_rows_computed_later_equal_rows_computed_at_once(monkeypatch):
    """Small fits leave each history row's Q, entropy, ELBO and parameter columns until the
    history is read; the frame is the one computed at once, to the bit, columns in order."""
    import mixfit.em
    from tests.conftest import THREE_COINS

    def fit():
        start = {"weights_init": [0.3, 0.7], "params_init": {"p": [0.2, 0.7]}}
        return mf.Mixture(mf.Binomial(n_trials=10), 2, **start).fit(THREE_COINS).history_

    later = fit()
    monkeypatch.setattr(mixfit.em, "DEFER_SIZE", 0)
    at_once = fit()
    assert list(later.columns) == list(at_once.columns)
    pd.testing.assert_frame_equal(later, at_once, check_exact=True)
    assert later["kl_after_m"].iloc[:-1].notna().all() and np.isnan(later["kl_after_m"].iloc[-1])


def test_a_component_that_receives_no_responsibility_is_reported_once_and_frozen(rng):
    X = rng.normal(size=(50, 1))
    start = {"weights_init": [0.5, 0.5], "params_init": {"mean": [[0.0], [1e4]], "covariance": [[1.0], [1.0]]}}
    model = mf.Mixture(mf.Gaussian("diag"), 2, max_iter=5, tol=0.0, **start)
    with pytest.warns(
        mf.EmptyComponentWarning, match=r"component\(s\) \[1\] received no responsibility at iteration 1"
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mf.ConvergenceWarning)
            model.fit(X)
    assert model.weights_[1] == 0.0 and model.weights_[0] == 1.0

"""Starts screened side by side (``mixfit.screen``) follow the iterates each start follows alone."""

from __future__ import annotations

import numpy as np
import pytest

import mixfit as mf
from mixfit.em import EMSettings, EMState, fit_em
from mixfit.screen import screen_together
from mixfit.sources import as_source
from tests.conftest import latent_class_data


def _starts(family, source, k, n_starts, seed):
    from mixfit.init import initial_state

    rng = np.random.RandomState(seed)
    options = dict(n_components=k, n_features=0, weights_init=None, params_init=None, rng=rng)
    return [initial_state(family, source, init="random-rows", **options) for _ in range(n_starts)]


def _cases(rng):
    p = np.array([[0.2, 0.7, 0.6, 0.3], [0.8, 0.4, 0.3, 0.6], [0.5, 0.5, 0.9, 0.1]])
    binary, _ = latent_class_data(rng, 400, p, np.array([0.5, 0.3, 0.2]))
    levels = np.column_stack([rng.integers(0, n, 500) for n in (3, 2, 4)])
    counts = rng.poisson(np.where(rng.random((300, 1)) < 0.4, [1.0, 2.0], [4.0, 6.0]))
    trials = rng.binomial(10, np.where(rng.random((300, 1)) < 0.5, [0.2, 0.3], [0.7, 0.6]))
    return [
        (mf.Bernoulli(), binary),
        (mf.Categorical(), levels),
        (mf.Poisson(), counts),
        (mf.Binomial(n_trials=10), trials),
    ]


@pytest.mark.parametrize("case", range(4), ids=["bernoulli", "categorical", "poisson", "binomial"])
def test_side_by_side_equals_one_by_one(case, rng):
    family, X = _cases(rng)[case]
    family = family.fitted_to(np.asarray(X, dtype=object if case == 1 else float), [str(j) for j in range(X.shape[1])])
    source = as_source(family.validate(np.asarray(X), [str(j) for j in range(X.shape[1])]), family)
    starts = _starts(family, source, 3, 6, seed=case)
    settings = EMSettings(max_iter=26, tol=(1e-4, 1e-4, 2e-5, 1e-5)[case])  # some starts converge, some not
    together = screen_together(family, source, starts, settings)
    assert together is not None
    for start, result in zip(starts, together, strict=True):
        alone = fit_em(family, source, start, settings)
        assert not isinstance(result, str)
        assert (result.n_iter, result.converged) == (alone.n_iter, alone.converged)
        # the same iterates; stacking changes only the order of round-off
        assert result.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-12)
        np.testing.assert_allclose(result.state.weights, alone.state.weights, rtol=1e-9, atol=1e-12)
        for name, value in alone.state.params.items():
            np.testing.assert_allclose(result.state.params[name], value, rtol=1e-9, atol=1e-12)
    assert any(r.converged for r in together) and any(not r.converged for r in together)


def test_a_start_that_fails_is_its_reason_and_the_others_go_on():
    X = np.array([[0, 1], [1, 1], [0, 0], [1, 0]] * 5)
    family = mf.Bernoulli()
    source = as_source(X.astype(float), family)
    good = EMState(np.array([0.5, 0.5]), {"p": np.array([[0.3, 0.6], [0.7, 0.4]])})
    bad = EMState(np.array([np.nan, np.nan]), {"p": np.array([[0.3, 0.6], [0.7, 0.4]])})
    together = screen_together(family, source, [good, bad, good], EMSettings(max_iter=5, tol=0.0))
    assert together is not None
    with pytest.raises(mf.ModelError) as alone_error:
        fit_em(family, source, bad, EMSettings(max_iter=5, tol=0.0))
    assert together[1] == str(alone_error.value)  # the reason the loop gives
    alone = fit_em(family, source, good, EMSettings(max_iter=5, tol=0.0))
    for result in (together[0], together[2]):
        assert not isinstance(result, str) and result.n_iter == 5
        assert result.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-12)


def test_what_cannot_run_side_by_side_is_left_to_the_loop(rng):
    X = rng.normal(size=(50, 2))
    gaussian = mf.Gaussian("diag")
    starts = [EMState(np.array([0.5, 0.5]), {"mean": rng.normal(size=(2, 2)), "covariance": np.ones((2, 2))})] * 2
    assert screen_together(gaussian, as_source(X, gaussian), starts, EMSettings(5, 1e-8)) is None
    binary = (X > 0).astype(float)
    prior = mf.Bernoulli(prior=(2.0, 2.0))
    coins = [EMState(np.array([0.5, 0.5]), {"p": np.full((2, 2), 0.4)})] * 2
    assert screen_together(prior, as_source(binary, prior), coins, EMSettings(5, 1e-8)) is None
    plain = mf.Bernoulli()
    assert screen_together(plain, as_source(binary, plain), coins, EMSettings(5, 1e-8, weights_prior=2.0)) is None


def test_a_default_fit_screens_side_by_side_and_keeps_its_answer(rng, monkeypatch):
    """A many-start fit of a small table: its answer does not depend on how the starts were
    screened (side by side, or one by one as before)."""
    import mixfit.search as search

    p = np.array([[0.1, 0.8, 0.7, 0.2, 0.9], [0.9, 0.3, 0.2, 0.8, 0.4]])
    X, _ = latent_class_data(rng, 300, p, np.array([0.6, 0.4]))
    fitted = mf.Mixture(mf.Bernoulli(), 2, n_init=12, random_state=0, tol=1e-10).fit(X)
    monkeypatch.setattr(search, "screen_together", lambda *args: None)
    alone = mf.Mixture(mf.Bernoulli(), 2, n_init=12, random_state=0, tol=1e-10).fit(X)
    # (which of two starts at the same maximum ranks first in screening is round-off's choice,
    # so the record of each start may differ; the answer may not)
    assert fitted.log_likelihood_ == pytest.approx(alone.log_likelihood_, abs=1e-8)


def test_progress_reports_every_iteration_of_every_start_in_order(rng, monkeypatch):
    """``on_iteration`` hears the same calls, in the same order, as when the starts are
    screened one by one (the CLI's progress bar and ``verbose`` rely on them)."""
    import mixfit.search as search

    p = np.array([[0.2, 0.8, 0.7], [0.8, 0.3, 0.2]])
    X, _ = latent_class_data(rng, 200, p, np.array([0.5, 0.5]))

    def calls() -> list[tuple[int, int, float]]:
        heard: list[tuple[int, int, float]] = []
        m = mf.Mixture(mf.Bernoulli(), 2, n_init=6, random_state=1, tol=1e-10)
        m.fit(X, on_iteration=lambda restart, iteration, ll: heard.append((restart, iteration, ll)))
        return heard

    def screening(heard: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
        """The calls before the final runs: starts 0..5 in turn (the final runs start again
        from a lower start number)."""
        ends = [i for i in range(1, len(heard)) if heard[i][0] < heard[i - 1][0]]
        return heard[: ends[0]] if ends else heard

    together = screening(calls())
    monkeypatch.setattr(search, "screen_together", lambda *args: None)
    alone = screening(calls())
    assert [c[:2] for c in together] == [c[:2] for c in alone]
    np.testing.assert_allclose([c[2] for c in together], [c[2] for c in alone], rtol=1e-12)
    assert [c[0] for c in together if c[1] == 1] == list(range(6))  # every start, in order


@pytest.mark.parametrize("accelerate", ["auto", None])
def test_n_iter_and_history_count_the_kept_starts_screening_iterations(rng, accelerate):
    """A default fit screens 20 starts for 30 iterations: the kept start's n_iter_ and history_
    include those iterations, with or without SQUAREM after."""
    p = rng.uniform(0.1, 0.9, (3, 7))
    X = (rng.random((400, 7)) < p[rng.choice(3, 400)]).astype(float)
    m = mf.Mixture(mf.Bernoulli(), 3, random_state=0, accelerate=accelerate, tol=1e-10).fit(X)
    history = m.history_
    assert len(history) == m.n_iter_ + 1 and m.n_iter_ > 30
    assert m.restarts_.loc[m.best_restart_, "n_iter"] == m.n_iter_
    ll = history["log_likelihood"].to_numpy()
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))  # EM, then SQUAREM: never lower
    assert np.all(np.diff(history["e_steps"].to_numpy()) >= 1)
    # every row complete, screening rows too (the last has no M-step after it)
    assert history.iloc[:-1, :12].notna().all().all()
    # each row holds its own parameters: the start, then each iteration's (the first iterations move)
    for row in (0, 1, 29):  # the log-likelihood of each row is that of its own parameters
        at = mf.Mixture(mf.Bernoulli(), 3)
        at.weights_ = history.filter(like="weight[").iloc[row].to_numpy()
        at.params_ = {"p": history.filter(like="p[").iloc[row].to_numpy().reshape(3, 7)}
        assert at.score_samples(X).sum() == pytest.approx(ll[row], rel=1e-10)
    # the first 30 rows are the screening's plain EM iterations: one pass each
    np.testing.assert_array_equal(history["e_steps"].to_numpy()[:30], np.arange(1, 31))
